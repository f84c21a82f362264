import { useEffect, useState } from 'react'
import { proxies as proxiesApi } from '../../api/index.js'
import { formatDateTime } from '../../lib/format.js'
import Modal from '../common/Modal.jsx'
import Pager from '../common/Pager.jsx'

const PAGE_SIZE = 20

/** A pair's error log, newest first, with paging. */
export default function ProxyErrorLogModal({ proxy, onClose }) {
  const [page, setPage] = useState(1)
  const [data, setData] = useState({ logs: [], total: 0 })
  const [loading, setLoading] = useState(true)
  const [error, setError] = useState(null)

  useEffect(() => {
    let cancelled = false
    setLoading(true)
    proxiesApi
      .errorLogs(proxy.id, { limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE })
      .then((result) => {
        if (!cancelled) setData({ logs: Array.isArray(result?.logs) ? result.logs : [], total: Number(result?.total) || 0 })
      })
      .catch((err) => !cancelled && setError(err.message))
      .finally(() => !cancelled && setLoading(false))
    return () => {
      cancelled = true
    }
  }, [proxy.id, page])

  const pages = Math.max(1, Math.ceil(data.total / PAGE_SIZE))
  const from = data.logs.length ? (page - 1) * PAGE_SIZE + 1 : 0
  const to = data.logs.length ? from + data.logs.length - 1 : 0
  return (
    <Modal title={`Errors of ${proxy.ip}:${proxy.port}`} onClose={onClose} wide testId="proxy-error-modal">
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
      <div className="table-wrap log-table" aria-busy={loading} tabIndex={0}>
        <table className="data-table compact stack-table" data-testid="proxy-error-table">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Error</th>
              <th scope="col">State change</th>
              <th scope="col">Recovers</th>
            </tr>
          </thead>
          <tbody>
            {data.logs.map((log) => (
              <tr key={log.id} data-testid="proxy-error-row">
                <td className="nowrap stack-title">{formatDateTime(log.timestamp)}</td>
                <td className="wrap">{log.error_message}</td>
                <td className="wrap" data-label="State change">
                  {log.state_change ? log.transition_reason || 'yes' : '—'}
                </td>
                <td className="nowrap" data-label="Recovers">
                  {formatDateTime(log.recovery_time)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {!loading && !error && !data.logs.length && <p className="empty">No errors recorded.</p>}
      </div>
      <Pager from={from} to={to} total={data.total} page={page} pages={pages} onPage={setPage} label="Error log pages" />
    </Modal>
  )
}
