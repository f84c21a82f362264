import { useRef, useState } from 'react'
import { profiles as profilesApi } from '../../api/index.js'

const ACCEPT = '.txt,.csv,.list,text/plain,text/csv'

function hasFiles(event) {
  return Array.from(event.dataTransfer?.types || []).includes('Files')
}

/** The per-line result of an import: how many were created and each error as `line: error`. */
export function ImportReport({ report, onClose }) {
  const errors = Array.isArray(report.errors) ? report.errors : []
  const created = report.created_count ?? (Array.isArray(report.created) ? report.created.length : 0)
  return (
    <section className={`import-report${errors.length ? ' has-errors' : ''}`} data-testid="import-report" aria-label="Import report">
      <div className="row between">
        <strong data-testid="import-created">
          Imported {created.toLocaleString('en-US')} profile{created === 1 ? '' : 's'}
          {report.total !== undefined ? ` from ${report.total.toLocaleString('en-US')} lines` : ''}
        </strong>
        {onClose && (
          <button type="button" className="icon-button" aria-label="Close import report" onClick={onClose}>
            ×
          </button>
        )}
      </div>
      {errors.length > 0 && (
        <>
          <p>
            Import completed with {errors.length} error{errors.length === 1 ? '' : 's'}
            {report.duplicate_count ? ` — ${report.duplicate_count} duplicate` : ''}
            {report.invalid_format_count ? `, ${report.invalid_format_count} invalid format` : ''}:
          </p>
          <ul className="report-lines">
            {errors.map((e, i) => (
              <li key={`${e.line_number ?? i}-${i}`} data-testid="import-error">
                {e.line_number ? <span className="muted">#{e.line_number} </span> : null}
                <code>{e.line}</code>: {e.error}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  )
}

/**
 * Drop a .txt/.csv file of usernames here (or pick one) to import it into `niche`.
 * `large` renders the empty-niche variant.
 */
export default function ImportDropzone({ niche, onImported, large = false }) {
  const inputRef = useRef(null)
  const [over, setOver] = useState(false)
  const [busy, setBusy] = useState(false)
  const [report, setReport] = useState(null)
  const [error, setError] = useState(null)
  const disabled = !niche || busy

  const upload = async (file) => {
    if (!file || !niche) return
    setBusy(true)
    setError(null)
    setReport(null)
    try {
      const result = await profilesApi.import(niche.id, file)
      setReport(result || { created: [], errors: [] })
      if (onImported) onImported(result)
    } catch (err) {
      // ApiError's message is the server's `message`, else its `error`.
      setError(err.message)
    } finally {
      setBusy(false)
      if (inputRef.current) inputRef.current.value = ''
    }
  }

  const onDrop = (event) => {
    if (!hasFiles(event)) return
    event.preventDefault()
    setOver(false)
    if (disabled) return
    upload(event.dataTransfer.files[0])
  }

  return (
    <div className="import">
      <div
        className={`dropzone${large ? ' large' : ''}${over ? ' over' : ''}${disabled ? ' disabled' : ''}`}
        data-testid="import-dropzone"
        aria-busy={busy}
        aria-disabled={!niche}
        onDragEnter={(e) => hasFiles(e) && setOver(true)}
        onDragOver={(e) => {
          if (!hasFiles(e)) return
          e.preventDefault()
          e.dataTransfer.dropEffect = disabled ? 'none' : 'copy'
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
      >
        <span className="dropzone-text">
          {busy
            ? 'Importing…'
            : niche
              ? large
                ? 'Drop a .txt/.csv file of usernames here'
                : `Drop a .txt/.csv file of usernames here to import into ${niche.name}`
              : 'Select a niche to import usernames into it'}
        </span>
        <label className={`button${disabled ? ' disabled' : ''}`}>
          Choose file…
          <input
            ref={inputRef}
            type="file"
            accept={ACCEPT}
            className="visually-hidden"
            aria-label="Import usernames from a file"
            data-testid="import-file-input"
            disabled={disabled}
            onChange={(e) => upload(e.target.files?.[0])}
          />
        </label>
      </div>
      {error && (
        <div className="inline-error" role="alert" data-testid="import-error-message">
          Import failed: {error}
        </div>
      )}
      {report && <ImportReport report={report} onClose={() => setReport(null)} />}
    </div>
  )
}
