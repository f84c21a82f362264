import { useCallback, useEffect, useState } from 'react'
import { usePolling } from '../../lib/hooks.js'
import { useUiStore } from '../../stores/uiStore.js'
import StatusChip from '../common/StatusChip.jsx'
import { age, alertsApi, EVENT_TYPES } from './alertsApi.js'
import ChannelForm from './ChannelForm.jsx'
import './alerts.css'

const STATUS_CHIP = { delivered: 'ok', pending: 'queued', in_flight: 'running', failed: 'bad' }
const LABELS = Object.fromEntries(EVENT_TYPES.map((t) => [t.value, t.label]))

function target(channel) {
  const c = channel.config || {}
  if (channel.kind === 'webhook') return c.url
  const to = c.to && c.to.length ? c.to.join(', ') : 'the notification email'
  return `${c.host}:${c.port} → ${to}${c.digest_minutes ? ` (digest every ${c.digest_minutes} min)` : ''}`
}

function ChannelCard({ channel, onChanged, onDeleted }) {
  const showError = useUiStore((s) => s.showError)
  const [test, setTest] = useState(null)
  const [busy, setBusy] = useState(false)
  const [confirming, setConfirming] = useState(false)

  const run = async (fn) => {
    setBusy(true)
    try {
      await fn()
    } catch (err) {
      showError(err)
    } finally {
      setBusy(false)
    }
  }

  const sendTest = async () => {
    setBusy(true)
    setTest(null)
    try {
      await alertsApi.testChannel(channel.id)
      setTest({ ok: true, message: 'Test message delivered' })
    } catch (err) {
      setTest({ ok: false, message: err.message })
    } finally {
      setBusy(false)
    }
  }

  const types = channel.event_types.length ? channel.event_types.map((t) => LABELS[t] || t).join(', ') : 'All events'
  return (
    <li className="card channel" data-testid="channel-row" data-kind={channel.kind}>
      <div className="row between">
        <strong>{channel.name}</strong>
        <span>
          <StatusChip kind="muted">{channel.kind}</StatusChip>{' '}
          <StatusChip kind={channel.enabled ? 'ok' : 'paused'}>{channel.enabled ? 'on' : 'off'}</StatusChip>
        </span>
      </div>
      <span className="muted" data-testid="channel-target">
        {target(channel)}
      </span>
      <small className="muted">
        {types} · {channel.rate_limit_per_minute ? `≤ ${channel.rate_limit_per_minute}/min` : 'no rate limit'}
        {channel.secret ? ` · ${channel.kind === 'webhook' ? 'signed, secret' : 'password'} hidden (${channel.secret})` : ''}
      </small>
      <div className="channel-actions">
        <button type="button" onClick={sendTest} disabled={busy} data-testid="channel-test">
          Send test
        </button>
        <button
          type="button"
          disabled={busy}
          onClick={() => run(async () => onChanged(await alertsApi.updateChannel(channel.id, { enabled: !channel.enabled })))}
          data-testid="channel-toggle"
        >
          {channel.enabled ? 'Disable' : 'Enable'}
        </button>
        {confirming ? (
          <button
            type="button"
            className="danger"
            disabled={busy}
            onClick={() => run(async () => onDeleted(channel.id, await alertsApi.deleteChannel(channel.id)))}
            data-testid="channel-delete-confirm"
          >
            Really delete
          </button>
        ) : (
          <button type="button" className="danger" onClick={() => setConfirming(true)} data-testid="channel-delete">
            Delete
          </button>
        )}
      </div>
      {test && (
        <p className={`test-result${test.ok ? '' : ' bad'}`} role="status" data-testid="channel-test-result">
          {test.message}
        </p>
      )}
    </li>
  )
}

function DeliveryLog({ deliveries, total, status, setStatus, onRetry }) {
  return (
    <section aria-label="Delivery log">
      <div className="page-header">
        <h2>Deliveries</h2>
        <label className="log-filters">
          <span className="muted">Status</span>
          <select value={status} onChange={(e) => setStatus(e.target.value)} data-testid="delivery-status-filter">
            <option value="">All</option>
            <option value="pending">Waiting</option>
            <option value="in_flight">Sending</option>
            <option value="delivered">Delivered</option>
            <option value="failed">Failed</option>
          </select>
        </label>
        <span className="muted">{total} in the log</span>
      </div>
      {deliveries.length ? (
        <div className="table-wrap">
          <table className="data-table">
            <thead>
              <tr>
                <th>Event</th>
                <th className="hide-narrow">Channel</th>
                <th>Status</th>
                <th className="hide-narrow">Attempts</th>
                <th className="hide-narrow">Last error</th>
                <th className="hide-narrow">Next try</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {deliveries.map((d) => (
                <tr key={d.id} data-testid="delivery-row" data-status={d.status}>
                  <td>
                    {d.event_summary}
                    <br />
                    <small className="muted">{LABELS[d.event_type] || d.event_type}</small>
                    <small className="narrow-only muted">
                      {d.channel_name} · {d.attempts} attempt{d.attempts === 1 ? '' : 's'}
                      {d.last_error ? ` · ${d.last_error}` : ''}
                    </small>
                  </td>
                  <td className="hide-narrow">{d.channel_name}</td>
                  <td>
                    <StatusChip kind={STATUS_CHIP[d.status]}>{d.status.replace('_', ' ')}</StatusChip>
                  </td>
                  <td className="hide-narrow">{d.attempts}</td>
                  <td className="hide-narrow delivery-error">{d.last_error || '–'}</td>
                  <td className="hide-narrow">{d.next_attempt_at ? new Date(d.next_attempt_at).toLocaleTimeString() : '–'}</td>
                  <td>
                    {(d.status === 'failed' || d.status === 'pending') && (
                      <button type="button" onClick={() => onRetry(d.id)} data-testid="delivery-retry">
                        Retry now
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p className="empty-state" data-testid="deliveries-empty">
          No deliveries {status ? 'with this status' : 'yet'}
        </p>
      )}
    </section>
  )
}

/** The Alerts tab: channels with "Send test", a form to add one, and the delivery log. */
export default function AlertsPage() {
  const showError = useUiStore((s) => s.showError)
  const [channels, setChannels] = useState([])
  const [loaded, setLoaded] = useState(false)
  const [log, setLog] = useState({ deliveries: [], total: 0 })
  const [status, setStatus] = useState('')

  const loadChannels = useCallback(async () => {
    try {
      setChannels(await alertsApi.channels())
    } catch (err) {
      showError(err)
    } finally {
      setLoaded(true)
    }
  }, [showError])

  const loadLog = useCallback(
    async (quiet = false) => {
      try {
        setLog(await alertsApi.deliveries({ limit: 100, ...(status ? { status } : {}) }))
      } catch (err) {
        if (!quiet) showError(err)
      }
    },
    [status, showError],
  )

  useEffect(() => {
    loadChannels()
  }, [loadChannels])
  useEffect(() => {
    loadLog()
  }, [loadLog])
  usePolling(() => loadLog(true), 5000)

  const create = async (payload) => {
    const channel = await alertsApi.createChannel(payload)
    setChannels((list) => [...list, channel].sort((a, b) => a.name.localeCompare(b.name)))
  }
  const retry = async (id) => {
    try {
      const updated = await alertsApi.retry(id)
      setLog((current) => ({ ...current, deliveries: current.deliveries.map((d) => (d.id === id ? updated : d)) }))
    } catch (err) {
      showError(err)
    }
  }

  return (
    <div className="page alerts-page">
      <header className="page-header">
        <h1>Alerts</h1>
        <span className="muted">
          Webhooks and email for new stories, daily targets, finished or stalled batches and pairs that need a human.
        </span>
      </header>
      {loaded && !channels.length && (
        <p className="empty-state" data-testid="channels-empty">
          No alert channels yet — add a webhook or an email channel below
        </p>
      )}
      <ul className="channel-list" aria-label="Alert channels">
        {channels.map((c) => (
          <ChannelCard
            key={c.id}
            channel={c}
            onChanged={(updated) => setChannels((list) => list.map((x) => (x.id === updated.id ? updated : x)))}
            onDeleted={(id) => setChannels((list) => list.filter((x) => x.id !== id))}
          />
        ))}
      </ul>
      <ChannelForm onCreate={create} />
      <DeliveryLog deliveries={log.deliveries} total={log.total} status={status} setStatus={setStatus} onRetry={retry} />
    </div>
  )
}
