import { Fragment, useState } from 'react'
import { formatDateTime, formatNumber, formatPercent, maskSecret } from '../../lib/format.js'
import { useProxyStore } from '../../stores/proxyStore.js'
import Modal from '../common/Modal.jsx'
import StatusChip from '../common/StatusChip.jsx'
import {
  HEALTH_KIND,
  STEP_WORDS,
  TEST_KIND,
  healthLabel,
  healthTitle,
  proxyHealth,
  proxySession,
  testLabel,
  testState,
  testTitle,
} from './proxyFormat.js'
import SessionInput from './SessionInput.jsx'
import UserAgentField from './UserAgentField.jsx'

function ReplaceSessionModal({ proxy, onClose }) {
  const replaceSession = useProxyStore((s) => s.replaceSession)
  const [session, setSession] = useState('')
  const [userAgent, setUserAgent] = useState(proxy.user_agent || '')
  const [busy, setBusy] = useState(false)
  const submit = async (event) => {
    event.preventDefault()
    if (!session.trim()) return
    setBusy(true)
    const changed = userAgent.trim() !== (proxy.user_agent || '')
    const ok = await replaceSession(proxy.id, session.trim(), changed ? { user_agent: userAgent.trim() } : {})
    setBusy(false)
    if (ok) onClose()
  }
  return (
    <Modal title={`Replace session of ${proxy.ip}:${proxy.port}`} onClose={onClose} testId="replace-session-modal">
      <form onSubmit={submit} className="stack">
        <SessionInput value={session} onChange={setSession} testId="replace-session-input" autoFocus />
        <UserAgentField value={userAgent} onChange={setUserAgent} testId="replace-session-user-agent" />
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

const STEP_KIND = { ok: 'ok', failed: 'bad', unknown: 'warn', skipped: 'muted' }
const COLUMNS = 10

/** A pair test's report, step by step, in the row under its pair. */
function TestReport({ report, onClose }) {
  return (
    <tr className="test-report-row" data-testid="proxy-test-report" data-result={report.result}>
      <td colSpan={COLUMNS}>
        <div className="test-report" role="status">
          <div className="row">
            <strong data-testid="proxy-test-summary">{report.summary}</strong>
            <span className="muted small">
              test of @{report.username}, {formatDateTime(report.tested_at)}
            </span>
            <button type="button" onClick={onClose} aria-label={`Hide the test report of ${report.proxy}`}>
              Hide
            </button>
          </div>
          <ol className="test-steps">
            {report.steps.map((step) => (
              <li key={step.name} data-testid="proxy-test-step" data-step={step.name} data-status={step.status}>
                <StatusChip kind={STEP_KIND[step.status] || 'neutral'}>{STEP_WORDS[step.status] || step.status}</StatusChip>{' '}
                <span className="step-title">{step.title}</span>: <span className="step-detail">{step.detail}</span>
              </li>
            ))}
          </ol>
        </div>
      </td>
    </tr>
  )
}

/** Every proxy + session pair with its health, test state, usage and actions. */
export default function ProxyTable({ onShowErrors }) {
  const proxies = useProxyStore((s) => s.proxies)
  const testing = useProxyStore((s) => s.testing)
  const testingAll = useProxyStore((s) => s.testingAll)
  const reports = useProxyStore((s) => s.reports)
  const { setEnabled, removeProxy, testPair, dismissReport } = useProxyStore.getState()
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
            <th scope="col">Test</th>
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
            const tested = testState(p)
            const report = reports[p.id]
            const busy = Boolean(testing[p.id]) || testingAll
            return (
              <Fragment key={p.id}>
                <tr data-testid="proxy-row" data-health={health} data-test-state={tested} data-proxy-id={p.id} tabIndex={0}>
                  <td>
                    <StatusChip kind={HEALTH_KIND[health] || 'neutral'} title={healthTitle(health)} data-testid="proxy-health">
                      {healthLabel(p)}
                    </StatusChip>
                  </td>
                  <td className="test-col">
                    <StatusChip kind={TEST_KIND[tested] || 'neutral'} title={testTitle(p)} data-testid="proxy-test-state">
                      {busy ? 'testing…' : testLabel(p)}
                    </StatusChip>
                  </td>
                  <td>
                    <span className="mono">{address}</span> <span className="muted small">{p.scheme || 'http'}</span>
                    {p.username && <div className="muted small">user {p.username}</div>}
                  </td>
                  <td data-testid="proxy-session">
                    <span className="mono">{session ? maskSecret(session.session) : '—'}</span>
                    {session && Array.isArray(session.cookies) && (
                      <div className="muted small" title={session.cookies.join(', ')} data-testid="proxy-cookies">
                        {session.cookies.length} cookie{session.cookies.length === 1 ? '' : 's'}
                        {session.cookies.length < 6 ? ' (paste the full cookie string for all 6)' : ''}
                      </div>
                    )}
                    <div className="muted small" title={p.user_agent || 'default desktop Chrome'} data-testid="proxy-user-agent">
                      {p.user_agent ? 'own user agent' : 'default user agent'}
                    </div>
                  </td>
                  <td className="num">{formatNumber(p.total_requests ?? 0)}</td>
                  <td className="num">
                    {formatNumber(p.requests_this_hour ?? 0)}
                    {p.learned_hourly_limit != null && (
                      <div
                        className="muted small"
                        data-testid="proxy-learned-limit"
                        title="Instagram refused this pair at a higher rate; the engine keeps it below that (it recovers after quiet periods)"
                      >
                        learned limit {formatNumber(p.learned_hourly_limit)}/h
                      </div>
                    )}
                  </td>
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
                    <div className="actions pair-actions">
                      <button
                        type="button"
                        onClick={() => testPair(p.id)}
                        disabled={busy}
                        data-testid="proxy-test"
                        aria-label={`Test ${address}`}
                        title="Send one lookup through this pair and report each step"
                      >
                        {busy ? 'Testing…' : 'Test'}
                      </button>
                      <button
                        type="button"
                        onClick={() => setReplacing(p)}
                        data-testid="proxy-replace-session"
                        aria-label={`Replace session of ${address}`}
                      >
                        Session…
                      </button>
                      <button
                        type="button"
                        onClick={() => onShowErrors(p)}
                        data-testid="proxy-errors"
                        aria-label={`Errors of ${address}`}
                      >
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
                {report && <TestReport report={report} onClose={() => dismissReport(p.id)} />}
              </Fragment>
            )
          })}
        </tbody>
      </table>
      {replacing && <ReplaceSessionModal proxy={replacing} onClose={() => setReplacing(null)} />}
    </div>
  )
}
