import { useEffect, useId, useRef, useState } from 'react'
import { formatTime } from '../../lib/format.js'
import { usePolling, useSavedMark } from '../../lib/hooks.js'
import { useDashboardStore } from '../../stores/dashboardStore.js'
import { useNicheStore } from '../../stores/nicheStore.js'
import StatusChip from '../common/StatusChip.jsx'
import { HEALTH_KIND } from '../proxy/proxyFormat.js'

export const DASHBOARD_POLL_MS = 10000
const HEALTH_STATES = ['ready', 'cooling', 'open', 'invalid', 'challenge', 'disabled']

/**
 * A niche's daily target, saved on Enter or blur. A value the server refuses (or that is not a
 * whole number) stays in the box with the reason under it; a saved one shows "saved".
 */
function TargetInput({ niche, onSaved }) {
  const saveNiche = useNicheStore((s) => s.saveNiche)
  const current = niche.daily_story_target
  const [value, setValue] = useState(String(current ?? ''))
  const [error, setError] = useState(null)
  const [savedAs, setSavedAs] = useState(null) // {value, at} of the last save
  const saved = useSavedMark(savedAs?.at)
  const feedbackId = useId()
  // A new target from the server (a save, another tab) shows, unless a refused value is kept.
  const keptRef = useRef(false)
  keptRef.current = Boolean(error)
  useEffect(() => {
    if (!keptRef.current) setValue(String(current ?? ''))
  }, [current])

  const save = async () => {
    const text = value.trim()
    const n = Number(text)
    if (text === '' || !Number.isInteger(n) || n < 0) {
      setError('Enter a whole number, 0 or more')
      return
    }
    if (n === current) {
      setError(null)
      return
    }
    const refused = await saveNiche(niche.id, { daily_story_target: n })
    setError(refused)
    if (!refused) {
      setSavedAs({ value: n, at: Date.now() })
      onSaved()
    }
  }
  return (
    <>
      <input
        className="target-input"
        type="number"
        min={0}
        step={1}
        value={value}
        aria-label={`Daily story target of ${niche.name}`}
        aria-invalid={Boolean(error)}
        aria-describedby={error ? feedbackId : undefined}
        data-testid="target-input"
        onChange={(e) => setValue(e.target.value)}
        onBlur={save}
        onKeyDown={(e) => e.key === 'Enter' && e.currentTarget.blur()}
      />
      {error && (
        <span id={feedbackId} className="target-feedback field-error" role="alert" data-testid="target-error">
          {error}
        </span>
      )}
      {saved && !error && (
        <span className="target-feedback saved-mark" role="status" data-testid="target-saved">
          saved: {savedAs.value}
        </span>
      )}
    </>
  )
}

/** Per niche: accounts with a story seen today against the niche's daily target. */
function NicheTargets({ niches, onSaved }) {
  if (!niches.length) return <p className="empty">No niches yet.</p>
  return (
    <ul className="target-list">
      <li className="target-row target-head" aria-hidden="true">
        <span>Niche</span>
        <span />
        <span className="target-numbers">today / target</span>
        <span>target</span>
      </li>
      {niches.map((n) => {
        const target = Number(n.daily_story_target) || 0
        const today = Number(n.stories_today) || 0
        const pct = target > 0 ? Math.min(100, (today / target) * 100) : today > 0 ? 100 : 0
        const met = target > 0 && today >= target
        return (
          <li key={n.id} className="target-row" data-testid="dashboard-niche">
            <span className="target-name" title={`${n.profile_count ?? 0} profiles`}>
              {n.name}
              {n.checked_today === false && (
                <span
                  className="small muted target-unchecked"
                  data-testid="dashboard-niche-unchecked"
                  title="No account of this niche was checked today: its stories today are unknown, not zero"
                >
                  not checked today
                </span>
              )}
              {n.checked_today !== false && n.seen_today === false && (
                <span
                  className="small muted target-unchecked"
                  data-testid="dashboard-niche-unseen"
                  title="This niche's checks today could not see any story (private accounts no session follows): its stories today are unknown, not zero"
                >
                  none seen today
                </span>
              )}
            </span>
            <div
              className="target-track"
              role="meter"
              aria-label={`${n.name}: ${today} of ${target} stories today`}
              aria-valuemin={0}
              aria-valuemax={target || 1}
              aria-valuenow={today}
            >
              <div className={`target-fill${met ? ' met' : ''}`} style={{ width: `${pct}%` }} />
            </div>
            <span className="target-numbers" data-testid="dashboard-niche-numbers">
              {today} / {target}
            </span>
            <TargetInput niche={n} onSaved={onSaved} />
          </li>
        )
      })}
    </ul>
  )
}

/** Checks per minute over the last hour as SVG bars (oldest left, now right). */
export function ThroughputChart({ points }) {
  const width = 600
  const height = 120
  const data = Array.isArray(points) ? points.slice(-60) : []
  const max = Math.max(1, ...data.map((p) => Number(p.checks) || 0))
  const slot = width / 60
  const offset = 60 - data.length
  const total = data.reduce((sum, p) => sum + (Number(p.checks) || 0), 0)
  const last = data.length ? Number(data[data.length - 1].checks) || 0 : 0
  return (
    <figure className="chart" data-testid="throughput-chart">
      <svg
        viewBox={`0 0 ${width} ${height + 16}`}
        role="img"
        aria-label={`Checks per minute, last hour: ${total} in total, ${last} in the last minute`}
      >
        <line x1="0" y1={height} x2={width} y2={height} className="axis" />
        <line x1="0" y1="0" x2={width} y2="0" className="gridline" />
        {data.map((p, i) => {
          const value = Number(p.checks) || 0
          const h = (value / max) * (height - 4)
          return (
            <rect key={p.minute ?? i} x={(offset + i) * slot + 1} y={height - h} width={Math.max(1, slot - 2)} height={h} className="bar">
              <title>{`${formatTime(p.minute)}: ${value} checks`}</title>
            </rect>
          )
        })}
        <text x="2" y={height + 13} className="chart-label">
          −60 min
        </text>
        <text x={width - 2} y={height + 13} className="chart-label" textAnchor="end">
          now
        </text>
        <text x="4" y="12" className="chart-label">
          {max}/min
        </text>
      </svg>
      <figcaption>
        {total.toLocaleString('en-US')} checks in the last hour · {last.toLocaleString('en-US')} in the last minute
      </figcaption>
    </figure>
  )
}

function PairHealth({ pairs }) {
  return (
    <ul className="health-summary">
      {HEALTH_STATES.map((state) => (
        <li key={state} data-testid={`pair-health-${state}`}>
          <StatusChip kind={HEALTH_KIND[state]}>{state}</StatusChip>
          <span className="health-count">{Number(pairs?.[state]) || 0}</span>
        </li>
      ))}
    </ul>
  )
}

/** What holds the pairs back, budgets left, and running batches that wait or stalled. */
function PoolSummary({ pool }) {
  if (!pool) return null
  const waiting = (pool.running_batches || []).filter((b) => b.waiting_reason || b.stalled)
  return (
    <div data-testid="pool-summary">
      {pool.waiting_reason && (
        <p className="row-note row-note-bad" role="status" data-testid="pool-waiting-reason">
          {pool.waiting_reason}
        </p>
      )}
      <p>{pool.summary}</p>
      <p className="small muted">
        Left in this window: {Number(pool.lookups_left) || 0} lookups, {Number(pool.requests_left) || 0} requests · per hour:{' '}
        {Number(pool.lookups_per_hour) || 0} lookups, {Number(pool.requests_per_hour) || 0} requests
      </p>
      {waiting.length > 0 && (
        <ul className="pool-notes">
          {waiting.map((b) => (
            <li key={b.id} className={`row-note${b.stalled ? ' row-note-bad' : ''}`} data-testid="pool-batch-note">
              {b.stalled ? 'Stalled batch: ' : 'Batch waits: '}
              {b.waiting_reason || 'no progress'}
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}

/** The Dashboard tab, refreshed every 10 s while visible. */
export default function Dashboard() {
  const data = useDashboardStore((s) => s.data)
  const loading = useDashboardStore((s) => s.loading)
  const updatedAt = useDashboardStore((s) => s.updatedAt)
  const fetchDashboard = useDashboardStore((s) => s.fetchDashboard)

  useEffect(() => {
    fetchDashboard()
  }, [fetchDashboard])
  usePolling(() => fetchDashboard({ quiet: true }), DASHBOARD_POLL_MS)

  return (
    <div className="page dashboard" data-testid="dashboard">
      <header className="page-header">
        <h1>Dashboard</h1>
        <span className="muted small">{updatedAt ? `Updated ${formatTime(updatedAt)} · every 10 s` : loading ? 'Loading…' : ''}</span>
      </header>
      {data && (
        <div className="dashboard-grid">
          <section className="card">
            <h2>Stories today vs daily target</h2>
            <NicheTargets niches={Array.isArray(data.niches) ? data.niches : []} onSaved={() => fetchDashboard({ quiet: true })} />
          </section>
          <section className="card">
            <h2>Checks per minute</h2>
            <ThroughputChart points={data.throughput} />
          </section>
          <section className="card">
            <h2>Pair health</h2>
            <PairHealth pairs={data.pairs} />
            <PoolSummary pool={data.pool} />
          </section>
        </div>
      )}
    </div>
  )
}
