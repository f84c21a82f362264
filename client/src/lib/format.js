// Small display helpers shared by the tables. Pure functions, so they are easy to test.

const pad = (n) => String(n).padStart(2, '0')

/** `2025-03-01 14:05` in the browser's time zone, or an em dash for no value. */
export function formatDateTime(value) {
  if (!value) return '—'
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) return '—'
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
}

/** `14:05:09` in the browser's time zone. */
export function formatTime(value) {
  if (!value) return '—'
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) return '—'
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** Human duration: `45s`, `3m 20s`, `2h 05m`, `1d 4h`; em dash when unknown. */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return '—'
  const s = Math.max(0, Math.round(Number(seconds)))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`
}

export function formatNumber(value) {
  if (value === null || value === undefined || value === '') return '—'
  const n = Number(value)
  return Number.isFinite(n) ? n.toLocaleString('en-US') : '—'
}

/** Percent from a 0–100 value: `12.5%`. */
export function formatPercent(value, digits = 1) {
  if (value === null || value === undefined) return '—'
  const n = Number(value)
  return Number.isFinite(n) ? `${n.toFixed(digits)}%` : '—'
}

export function formatRate(value) {
  if (value === null || value === undefined) return '—'
  const n = Number(value)
  if (!Number.isFinite(n)) return '—'
  return n >= 10 ? String(Math.round(n)) : n.toFixed(1)
}

/** Queue column exactly as the original client shows it: `0 (Running)`, `#2`, `-`. */
export function queuePositionLabel(batch) {
  if (batch.status === 'in_progress') return '0 (Running)'
  if (batch.status === 'queued') return `#${batch.queue_position ?? '?'}`
  return '-'
}

const BATCH_STATUS_LABELS = { queued: 'queued', in_progress: 'running', paused: 'paused', done: 'done' }

export function batchStatusLabel(status) {
  return BATCH_STATUS_LABELS[status] || status || 'unknown'
}

/** `completed/total` as a 0–100 number (0 for an empty batch). */
export function batchProgress(batch) {
  const total = Number(batch.total_profiles) || 0
  const done = Number(batch.completed_profiles) || 0
  return total > 0 ? Math.min(100, (done / total) * 100) : 0
}

/** Masks a secret the way the server does when it somehow arrives unmasked. */
export function maskSecret(value) {
  if (!value) return '—'
  if (value.includes('…')) return value
  return value.length > 10 ? `${value.slice(0, 4)}…${value.slice(-4)}` : '…'
}

export function pluralize(count, word, plural = `${word}s`) {
  return `${formatNumber(count)} ${count === 1 ? word : plural}`
}
