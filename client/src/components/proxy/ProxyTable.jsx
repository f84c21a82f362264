import { useState } from 'react'
import { formatDateTime, formatNumber, formatPercent, maskSecret } from '../../lib/format.js'
import { useProxyStore } from '../../stores/proxyStore.js'
import Modal from '../common/Modal.jsx'
import StatusChip from '../common/StatusChip.jsx'
import { HEALTH_KIND, healthLabel, healthTitle, proxyHealth, proxySession } from './proxyFormat.js'

function ReplaceSessionModal({ proxy, onClose }) {
  const replaceSession = useProxyStore((s) => s.replaceSession)
  const [session, setSession] = useState('')
  const [busy, setBusy] = useState(false)
  const submit = async (event) => {
    event.preventDefault()
    if (!session.trim()) return
    setBusy(true)
    const ok = await replaceSession(proxy.id, session.trim())
    setBusy(false)
    if (ok) onClose()
  }
  return (
    <Modal title={`Replace session of ${proxy.ip}:${proxy.port}`} onClose={onClose} testId="replace-session-modal">
      <form onSubmit={submit} className="stack">
        <label className="field">
          <span>New sessionid cookie</span>
          <input
            type="password"
            autoComplete="off"
            autoFocus
            value={session}
            onChange={(e) => setSession(e.target.value)}
            data-testid="replace-session-input"
          />
        </label>
        <div className="row">
          <button type="submit" className="primary" disabled={busy || !session.trim()} data-testid="replace-session-save">
            Replace session
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Modal>
  )
}

/** Every proxy + session pair with its health, usage and actions. */
export default function ProxyTable({ onShowErrors }) {
  const proxies = useProxyStore((s) => s.proxies)
  const { setEnabled, removeProxy } = useProxyStore.getState()
  const [replacing, setReplacing] = useState(null)

  const remove = (proxy) => {
    if (window.confirm(`Delete the pair ${proxy.ip}:${proxy.port}? Its session is deleted too.`)) removeProxy(proxy.id)
  }

  return (
    <div className="table-wrap">
      <table className="data-table" data-testid="proxy-table">
        <thead>
          <tr>
            <th scope="col">Health</th>
            <th scope="col">Proxy</th>
            <th scope="col">Session</th>
            <th scope="col" className="num">
              Requests
            </th>
            <th scope="col" className="num">
              This hour
            </th>
            <th scope="col" className="num">
              Error rate
            </th>
            <th scope="col">Last error</th>
            <th scope="col">Enabled</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {proxies.map((p) => {
            const health = proxyHealth(p)
            const session = proxySession(p)
            const enabled = health !== 'disabled'
            const address = `${p.ip}:${p.port}`
            return (
              <tr key={p.id} data-testid="proxy-row" data-health={health} data-proxy-id={p.id} tabIndex={0}>
                <td>
                  <StatusChip kind={HEALTH_KIND[health] || 'neutral'} title={healthTitle(health)} data-testid="proxy-health">
                    {healthLabel(p)}
                  </StatusChip>
                </td>
                <td>
                  <span className="mono">{address}</span> <span className="muted small">{p.scheme || 'http'}</span>
                  {p.username && <div className="muted small">user {p.username}</div>}
                </td>
                <td className="mono" data-testid="proxy-session">
                  {session ? maskSecret(session.session) : '—'}
                </td>
                <td className="num">{formatNumber(p.total_requests ?? 0)}</td>
                <td className="num">{formatNumber(p.requests_this_hour ?? 0)}</td>
                <td className="num">{formatPercent(p.error_rate ?? 0)}</td>
                <td
                  className="last-error"
                  title={p.last_error ? `${p.last_error}${p.last_used ? ` (last used ${formatDateTime(p.last_used)})` : ''}` : undefined}
                >
                  {p.last_error || '—'}
                </td>
                <td>
                  <label className="switch">
                    <input
                      type="checkbox"
                      role="switch"
                      checked={enabled}
                      aria-label={`${enabled ? 'Disable' : 'Enable'} ${address}`}
                      data-testid="proxy-toggle"
                      onChange={(e) => setEnabled(p.id, e.target.checked)}
                    />
                    <span aria-hidden="true">{enabled ? 'on' : 'off'}</span>
                  </label>
                </td>
                <td>
                  <div className="actions">
                    <button
                      type="button"
                      onClick={() => setReplacing(p)}
                      data-testid="proxy-replace-session"
                      aria-label={`Replace session of ${address}`}
                    >
                      Session…
                    </button>
                    <button type="button" onClick={() => onShowErrors(p)} data-testid="proxy-errors" aria-label={`Error log of ${address}`}>
                      Errors
                    </button>
                    <button
                      type="button"
                      className="danger"
                      onClick={() => remove(p)}
                      data-testid="proxy-delete"
                      aria-label={`Delete ${address}`}
                    >
                      Delete
                    </button>
                  </div>
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
      {replacing && <ReplaceSessionModal proxy={replacing} onClose={() => setReplacing(null)} />}
    </div>
  )
}
