import { useCallback, useEffect, useState } from 'react'
import { batches as batchesApi } from '../../api/index.js'
import { formatDateTime } from '../../lib/format.js'
import Modal from '../common/Modal.jsx'
import Pager from '../common/Pager.jsx'
import StatusChip from '../common/StatusChip.jsx'

export const LOG_PAGE_SIZE = 50
export const LOG_EVENT_TYPES = [
  'STATE_CHANGE',
  'INFO',
  'PAIR_ASSIGNED',
  'RATE_LIMITED',
  'RETRY',
  'STORY_FOUND',
  'CHECK_FAILED',
  'PROGRESS',
  'BATCH_END',
]

const EVENT_KIND = {
  STATE_CHANGE: 'queued',
  STORY_FOUND: 'ok',
  CHECK_FAILED: 'bad',
  RATE_LIMITED: 'warn',
  RETRY: 'warn',
  BATCH_END: 'done',
}

/** A batch's log, newest first, 50 rows a page, filterable by event type. */
export default function BatchLogModal({ batch, onClose }) {
  const [page, setPage] = useState(1)
  const [eventType, setEventType] = useState('')
  const [data, setData] = useState({ logs: [], total: 0 })
  const [loading, setLoading] = useState(true)
  const [error, setError] = useState(null)

  const load = useCallback(async () => {
    setLoading(true)
    setError(null)
    try {
      const result = await batchesApi.logs(batch.id, {
        limit: LOG_PAGE_SIZE,
        offset: (page - 1) * LOG_PAGE_SIZE,
        event_type: eventType || undefined,
      })
      setData({ logs: Array.isArray(result?.logs) ? result.logs : [], total: Number(result?.total) || 0 })
    } catch (err) {
      setError(err.message)
    } finally {
      setLoading(false)
    }
  }, [batch.id, page, eventType])

  useEffect(() => {
    load()
  }, [load])

  const pages = Math.max(1, Math.ceil(data.total / LOG_PAGE_SIZE))
  const from = data.logs.length ? (page - 1) * LOG_PAGE_SIZE + 1 : 0
  const to = data.logs.length ? from + data.logs.length - 1 : 0

  return (
    <Modal
      title={`Log — ${batch.niche?.name || 'batch'} (${formatDateTime(batch.created_at)})`}
      onClose={onClose}
      wide
      testId="batch-log-modal"
    >
      <div className="toolbar">
        <label className="inline-field">
          <span>Event type</span>
          <select
            value={eventType}
            onChange={(e) => {
              setEventType(e.target.value)
              setPage(1)
            }}
            data-testid="log-event-filter"
          >
            <option value="">all</option>
            {LOG_EVENT_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={load} disabled={loading}>
          {loading ? 'Loading…' : 'Refresh'}
        </button>
      </div>
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
      <div className="table-wrap log-table" aria-busy={loading} tabIndex={0}>
        <table className="data-table compact stack-table">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Event</th>
              <th scope="col">Message</th>
            </tr>
          </thead>
          <tbody>
            {data.logs.map((log) => (
              <tr key={log.id} data-testid="log-row" data-event-type={log.event_type}>
                <td className="nowrap stack-title">{formatDateTime(log.timestamp)}</td>
                <td className="stack-inline">
                  <StatusChip kind={EVENT_KIND[log.event_type] || 'neutral'}>{log.event_type}</StatusChip>
                </td>
                <td className="wrap">{log.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {!loading && !error && !data.logs.length && <p className="empty">No log entries{eventType ? ` of type ${eventType}` : ''}.</p>}
      </div>
      <Pager from={from} to={to} total={data.total} page={page} pages={pages} onPage={setPage} label="Log pages" testId="log-pager" />
    </Modal>
  )
}
