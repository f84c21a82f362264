import { useEffect, useState } from 'react'
import { batches as batchesApi, downloadWithToken, hasToken } from '../../api/index.js'
import { batchStatusLabel, formatDateTime, formatDuration, formatNumber, formatRate, queuePositionLabel } from '../../lib/format.js'
import { allSelected, modifiers } from '../../lib/selection.js'
import { useBatchStore } from '../../stores/batchStore.js'
import { setBatchesVisible } from '../../stores/eventStream.js'
import { showError } from '../../stores/uiStore.js'
import ProgressBar from '../common/ProgressBar.jsx'
import StreamBadge from '../common/StreamBadge.jsx'
import StatusChip from '../common/StatusChip.jsx'
import BatchLogModal from './BatchLogModal.jsx'
import BatchResultsModal from './BatchResultsModal.jsx'

const BATCH_DRAG_TYPE = 'application/x-storycheck-batch'
const STATUS_KIND = { queued: 'queued', in_progress: 'running', paused: 'paused', done: 'done' }

export function storiesFound(batch) {
  return batch.stories_found ?? batch.successful_checks ?? 0
}

/** Ids of the batches whose server-computed `allowed_actions` include `action`. */
function eligible(batches, action) {
  return batches.filter((b) => (b.allowed_actions || []).includes(action)).map((b) => b.id)
}

function Toolbar({ onOpenLogs }) {
  const batches = useBatchStore((s) => s.batches)
  const selectedIds = useBatchStore((s) => s.selectedIds)
  const busy = useBatchStore((s) => s.busy)
  const { start, stop, resume, remove, retryFailed, moveSelection } = useBatchStore.getState()
  const selected = batches.filter((b) => selectedIds.has(b.id))

  const startIds = eligible(selected, 'start')
  const stopIds = eligible(selected, 'stop')
  const resumeIds = eligible(selected, 'resume')
  const retryIds = selected.filter((b) => (b.checks_failed ?? b.failed_checks ?? 0) > 0).map((b) => b.id)

  const queue = batches.filter((b) => b.status === 'queued').map((b) => b.id)
  const queuedSelected = queue.filter((id) => selectedIds.has(id))
  const canMoveUp = queuedSelected.some((id) => {
    const i = queue.indexOf(id)
    return i > 0 && !selectedIds.has(queue[i - 1])
  })
  const canMoveDown = queuedSelected.some((id) => {
    const i = queue.indexOf(id)
    return i < queue.length - 1 && !selectedIds.has(queue[i + 1])
  })

  const confirmDelete = () => {
    const n = selected.length
    if (window.confirm(`Delete ${n} batch${n === 1 ? '' : 'es'}? Their results and logs are deleted too.`))
      remove(selected.map((b) => b.id))
  }

  return (
    <div className="toolbar batch-toolbar" aria-label="Batch actions">
      <span className="selection-count" data-testid="batch-selection-count">
        {selected.length} selected
      </span>
      <button
        type="button"
        className="primary"
        disabled={busy || !startIds.length}
        onClick={() => start(startIds)}
        data-testid="batch-start"
        title="Run a finished batch again"
      >
        Start
      </button>
      <button type="button" disabled={busy || !stopIds.length} onClick={() => stop(stopIds)} data-testid="batch-stop">
        Pause
      </button>
      <button type="button" disabled={busy || !resumeIds.length} onClick={() => resume(resumeIds)} data-testid="batch-resume">
        Resume
      </button>
      <button type="button" disabled={busy || !retryIds.length} onClick={() => retryFailed(retryIds)} data-testid="batch-retry-failed">
        Retry failed
      </button>
      <button
        type="button"
        disabled={busy || !canMoveUp}
        onClick={() => moveSelection(-1)}
        data-testid="batch-move-up"
        aria-label="Move up the selected queued batches"
      >
        ↑ Move up
      </button>
      <button
        type="button"
        disabled={busy || !canMoveDown}
        onClick={() => moveSelection(1)}
        data-testid="batch-move-down"
        aria-label="Move down the selected queued batches"
      >
        ↓ Move down
      </button>
      <button type="button" className="danger" disabled={busy || !selected.length} onClick={confirmDelete} data-testid="batch-delete">
        Delete
      </button>
      {selected.length === 1 && (
        <button type="button" onClick={() => onOpenLogs(selected[0])}>
          Logs
        </button>
      )}
      <span className="spacer" />
      <StreamBadge />
    </div>
  )
}

function exportCsv(event, batch) {
  if (!hasToken()) return // a plain link works
  event.preventDefault()
  downloadWithToken(`/batches/${encodeURIComponent(batch.id)}/results.csv`, `batch-${batch.id}.csv`).catch(showError)
}

/** Why the batch is not moving (server-computed), and a stalled batch's banner. */
function WaitingNote({ batch }) {
  if (!batch.waiting_reason && !batch.stalled) return null
  return (
    <div
      className={`row-note${batch.stalled ? ' row-note-bad' : batch.waiting_code === 'no_usable_pair' ? ' row-note-warn' : ''}`}
      data-testid="batch-waiting-reason"
    >
      {batch.stalled && <strong data-testid="batch-stalled">Stalled · </strong>}
      {batch.waiting_reason || 'no progress'}
    </div>
  )
}

/** The model's range and the constraint that binds it ("bound by lookups: 340 new accounts"). */
function EtaDetail({ batch }) {
  const range = Array.isArray(batch.eta_range_seconds) ? batch.eta_range_seconds : null
  if (!range && !batch.eta_bound_by) return null
  return (
    <div className="small muted eta-detail">
      {range && range[0] !== range[1] && (
        <div data-testid="batch-eta-range">
          {formatDuration(range[0])}–{formatDuration(range[1])}
        </div>
      )}
      {batch.eta_bound_by && <div data-testid="batch-eta-bound">{batch.eta_bound_by}</div>}
    </div>
  )
}

function BatchRow({ batch, selected, onOpenLogs, onOpenResults, dragId, setDragId }) {
  const { clickRow, toggleRow, moveBatchTo } = useBatchStore.getState()
  const [over, setOver] = useState(false)
  const queued = batch.status === 'queued'
  const failed = batch.checks_failed ?? batch.failed_checks ?? 0
  // Part of `failed`: accounts two pairs confirmed do not exist. An answer, not a failure.
  const notFound = batch.not_found_profiles ?? 0
  const unanswered = Math.max(0, failed - notFound)
  const stories = storiesFound(batch)
  const unknown = batch.private_profiles ?? 0
  const done = batch.status === 'done'

  const onKeyDown = (event) => {
    if (event.target !== event.currentTarget) return
    if (event.key === ' ') {
      event.preventDefault()
      toggleRow(batch.id, modifiers(event))
    } else if (event.key === 'Enter') {
      event.preventDefault()
      onOpenLogs(batch)
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault()
      const next = event.key === 'ArrowDown' ? event.currentTarget.nextElementSibling : event.currentTarget.previousElementSibling
      if (next) next.focus()
    }
  }

  return (
    <tr
      data-testid="batch-row"
      data-batch-id={batch.id}
      data-status={batch.status}
      className={`${selected ? 'selected' : ''}${over ? ' drop-target' : ''}${dragId === batch.id ? ' dragging' : ''}`.trim() || undefined}
      aria-selected={selected}
      tabIndex={0}
      draggable={queued}
      onClick={(e) => clickRow(batch.id, modifiers(e))}
      onMouseDown={(e) => e.shiftKey && e.preventDefault()}
      onKeyDown={onKeyDown}
      onDragStart={(e) => {
        e.dataTransfer.setData(BATCH_DRAG_TYPE, batch.id)
        e.dataTransfer.effectAllowed = 'move'
        setDragId(batch.id)
      }}
      onDragEnd={() => setDragId(null)}
      onDragOver={(e) => {
        if (!queued || !e.dataTransfer.types.includes(BATCH_DRAG_TYPE)) return
        e.preventDefault()
        setOver(true)
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        setOver(false)
        const id = e.dataTransfer.getData(BATCH_DRAG_TYPE)
        if (!queued || !id) return
        e.preventDefault()
        moveBatchTo(id, batch.id)
      }}
    >
      <td className="check-col" onClick={(e) => e.stopPropagation()}>
        {/* onClick (not onChange) sees the shift key, for range selection */}
        <input
          type="checkbox"
          aria-label={`Select batch of ${batch.niche?.name || 'unknown niche'} created ${formatDateTime(batch.created_at)}`}
          checked={selected}
          onChange={() => {}}
          onClick={(e) => toggleRow(batch.id, modifiers(e))}
        />
      </td>
      <td>
        {queued && (
          <span className="drag-handle" aria-hidden="true" title="Drag to reorder the queue">
            ⋮⋮{' '}
          </span>
        )}
        {batch.niche?.name || '—'}
      </td>
      <td>
        <StatusChip kind={STATUS_KIND[batch.status] || 'neutral'} data-testid="batch-status">
          {batchStatusLabel(batch.status)}
        </StatusChip>
        <WaitingNote batch={batch} />
      </td>
      <td>
        <ProgressBar value={batch.completed_profiles || 0} max={batch.total_profiles || 0} label="Progress" testId="batch-progress" />
      </td>
      <td className="num" data-testid="batch-queue-position">
        {queuePositionLabel(batch)}
      </td>
      <td className="num">
        <button
          type="button"
          className="link-button"
          data-testid="batch-stories"
          aria-label={`${stories} stories found; show accounts`}
          onClick={(e) => {
            e.stopPropagation()
            onOpenResults(batch, 'story')
          }}
        >
          {formatNumber(stories)}
        </button>
        {unknown > 0 && (
          <button
            type="button"
            className="link-button small muted unknown-note"
            data-testid="batch-unknown"
            title="Private accounts the checking sessions do not follow: whether they have a story is unknown"
            aria-label={`${unknown} unknown (private, not followed); show accounts`}
            onClick={(e) => {
              e.stopPropagation()
              onOpenResults(batch, 'private')
            }}
          >
            {formatNumber(unknown)} unknown
          </button>
        )}
      </td>
      <td className={`num${unanswered ? ' warn-text' : ''}`}>
        <button
          type="button"
          className={`link-button${unanswered ? ' inherit-color' : ''}`}
          data-testid="batch-failed"
          aria-label={`${failed} failed${notFound ? `, of which ${notFound} do not exist` : ''}; show accounts and reasons`}
          onClick={(e) => {
            e.stopPropagation()
            onOpenResults(batch, 'failed')
          }}
        >
          {formatNumber(failed)}
        </button>
        {notFound > 0 && (
          <div
            className="small muted"
            data-testid="batch-not-found"
            title="Accounts two pairs confirmed do not exist on Instagram: an answer, not a failed check"
          >
            {formatNumber(notFound)} not found
          </div>
        )}
      </td>
      <td className="num">{batch.status === 'in_progress' ? formatRate(batch.rate_per_minute) : '—'}</td>
      <td className="num" data-testid="batch-eta" title={batch.eta_bound_by || undefined}>
        {done ? '-' : formatDuration(batch.eta_seconds)}
        {!done && <EtaDetail batch={batch} />}
      </td>
      <td>{formatDateTime(batch.created_at)}</td>
      <td>{formatDateTime(batch.completed_at)}</td>
      <td onClick={(e) => e.stopPropagation()}>
        <div className="actions">
          <button
            type="button"
            data-testid="batch-logs"
            onClick={() => onOpenLogs(batch)}
            aria-label={`Logs of batch ${batch.niche?.name || ''}`.trim()}
          >
            Logs
          </button>
          <a
            className="button"
            href={batchesApi.resultsCsvUrl(batch.id)}
            download={`batch-${batch.id}.csv`}
            data-testid="batch-export"
            aria-label="Export results as CSV"
            title="Export results as CSV"
            onClick={(e) => exportCsv(e, batch)}
          >
            CSV
          </a>
        </div>
      </td>
    </tr>
  )
}

/** The Batches tab: every batch with its state, progress and queue place, and the actions. */
export default function BatchTable() {
  const batches = useBatchStore((s) => s.batches)
  const loading = useBatchStore((s) => s.loading)
  const loaded = useBatchStore((s) => s.loaded)
  const selectedIds = useBatchStore((s) => s.selectedIds)
  const { fetchBatches, selectAll, clearSelection } = useBatchStore.getState()
  const [logBatch, setLogBatch] = useState(null)
  const [results, setResults] = useState(null) // {id, outcome}
  const [dragId, setDragId] = useState(null)

  useEffect(() => {
    fetchBatches()
    setBatchesVisible(true)
    return () => setBatchesVisible(false)
  }, [fetchBatches])

  const ids = batches.map((b) => b.id)
  const everySelected = allSelected(selectedIds, ids)
  // Modals follow live updates of their batch.
  const resultsBatch = results ? batches.find((b) => b.id === results.id) : null

  return (
    <div className="page batches-page">
      <header className="page-header">
        <h1>Batches</h1>
        <button type="button" onClick={() => fetchBatches()} disabled={loading} data-testid="batch-refresh">
          {loading ? 'Refreshing…' : 'Refresh'}
        </button>
      </header>
      <Toolbar onOpenLogs={setLogBatch} />
      <div className="table-wrap" aria-busy={loading}>
        <table className="data-table" data-testid="batch-table">
          <thead>
            <tr>
              <th scope="col" className="check-col">
                <input
                  type="checkbox"
                  aria-label="Select all batches"
                  checked={everySelected}
                  disabled={!ids.length}
                  onChange={() => (everySelected ? clearSelection() : selectAll())}
                />
              </th>
              <th scope="col">Niche</th>
              <th scope="col">Status</th>
              <th scope="col" className="progress-col">
                Progress
              </th>
              <th scope="col" className="num">
                Queue
              </th>
              <th scope="col" className="num">
                Stories found
              </th>
              <th scope="col" className="num">
                Failed
              </th>
              <th scope="col" className="num">
                Rate/min
              </th>
              <th scope="col" className="num">
                ETA
              </th>
              <th scope="col">Created</th>
              <th scope="col">Completed</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {batches.map((b) => (
              <BatchRow
                key={b.id}
                batch={b}
                selected={selectedIds.has(b.id)}
                onOpenLogs={setLogBatch}
                onOpenResults={(batch, outcome) => setResults({ id: batch.id, outcome })}
                dragId={dragId}
                setDragId={setDragId}
              />
            ))}
          </tbody>
        </table>
        {!loaded && loading && <p className="empty">Loading batches…</p>}
        {loaded && !batches.length && (
          <p className="empty" data-testid="batches-empty">
            No batches yet — select profiles in the Niche Feed and press “Check selected”.
          </p>
        )}
      </div>
      {logBatch && <BatchLogModal batch={logBatch} onClose={() => setLogBatch(null)} />}
      {resultsBatch && (
        <BatchResultsModal
          key={`${results.id}-${results.outcome}`}
          batch={resultsBatch}
          initialOutcome={results.outcome}
          onClose={() => setResults(null)}
        />
      )}
    </div>
  )
}
