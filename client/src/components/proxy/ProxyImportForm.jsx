import { useState } from 'react'
import { useProxyStore } from '../../stores/proxyStore.js'

/** Bulk import of `proxy_url|session` lines (a sessionid or a cookie string) with a per-line report. */
export default function ProxyImportForm() {
  const importProxies = useProxyStore((s) => s.importProxies)
  const [lines, setLines] = useState('')
  const [report, setReport] = useState(null)
  const [error, setError] = useState(null)
  const [busy, setBusy] = useState(false)

  const submit = async (event) => {
    event.preventDefault()
    if (!lines.trim()) return
    setBusy(true)
    setError(null)
    setReport(null)
    try {
      const result = await importProxies(lines)
      setReport(result)
      if (!result?.errors?.length) setLines('')
    } catch (err) {
      setError(err.message)
    } finally {
      setBusy(false)
    }
  }

  const created = Array.isArray(report?.created) ? report.created.length : 0
  const errors = Array.isArray(report?.errors) ? report.errors : []
  return (
    <form className="card proxy-import-form" onSubmit={submit} aria-label="Import pairs">
      <h2>Bulk import</h2>
      <label className="field">
        <span>One pair per line: proxy_url|session (a sessionid or a cookie string)</span>
        <textarea
          rows={5}
          value={lines}
          onChange={(e) => setLines(e.target.value)}
          placeholder={'http://user:pass@203.0.113.5:8080|IGSESSIONID\nsocks5://203.0.113.6:1080|OTHERSESSION'}
          spellCheck={false}
          data-testid="proxy-import-textarea"
        />
      </label>
      <button type="submit" disabled={busy || !lines.trim()} data-testid="proxy-import-submit">
        {busy ? 'Importing…' : 'Import'}
      </button>
      {error && (
        <p className="inline-error" role="alert">
          Import failed: {error}
        </p>
      )}
      {report && (
        <div className={`import-report${errors.length ? ' has-errors' : ''}`} data-testid="proxy-import-report">
          <strong>
            Added {created} pair{created === 1 ? '' : 's'}
            {errors.length ? `, ${errors.length} line${errors.length === 1 ? '' : 's'} rejected:` : ''}
          </strong>
          {errors.length > 0 && (
            <ul className="report-lines">
              {errors.map((e, i) => (
                <li key={i} data-testid="proxy-import-error">
                  {e.line_number ? <span className="muted">#{e.line_number} </span> : null}
                  <code>{e.line}</code>: {e.error}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </form>
  )
}
