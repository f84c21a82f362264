// Pure helpers of the "Stories now" page: filters, ordering, clock and wording. The page keeps
// rows that arrive over the event stream in the same order and under the same filters as the
// server (GET /api/stories/live), so these rules mirror the API's.

export const SINCE_OPTIONS = [
  { value: '', label: 'any time' },
  { value: '30m', label: 'last 30 min' },
  { value: '1h', label: 'last hour' },
  { value: '2h', label: 'last 2 hours' },
  { value: '6h', label: 'last 6 hours' },
  { value: '12h', label: 'last 12 hours' },
]

const UNIT_SECONDS = { m: 60, h: 3600, d: 86400 }

/** How long a story lives (the server's STORY_LIFETIME_SECONDS, which the coverage answer also
 * gives as `window_hours`): a check older than this says nothing about a story now. */
export const STORY_LIFETIME_HOURS = 24

/** `30m` / `2h` / `1d` → seconds; null for '' or anything else. */
export function sinceSeconds(since) {
  const match = /^(\d+)([mhd])$/.exec(String(since || '').trim())
  return match ? Number(match[1]) * UNIT_SECONDS[match[2]] : null
}

/** Epoch milliseconds of an ISO-8601 string or epoch-seconds number; null when unknown. */
export function toMs(value) {
  if (value === null || value === undefined || value === '') return null
  if (typeof value === 'number') return value < 1e12 ? value * 1000 : value
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? null : ms
}

/**
 * How far the server's clock is ahead of the browser's (ms), from one live-story answer: the
 * server says a row expires at `expires_at`, in `expires_in_seconds`. Countdowns use the
 * server's clock, so a skewed browser clock never shows a dead story as live.
 */
export function serverOffsetMs(stories, browserNow = Date.now()) {
  for (const story of stories || []) {
    const expires = toMs(story.expires_at)
    if (expires !== null && Number.isFinite(Number(story.expires_in_seconds))) {
      return expires - Number(story.expires_in_seconds) * 1000 - browserNow
    }
  }
  return 0
}

/** Seconds until the story expires at server time `nowMs` (0 when already gone). */
export function expiresInSeconds(story, nowMs) {
  const expires = toMs(story.expires_at)
  if (expires === null) return null
  return Math.max(0, Math.floor((expires - nowMs) / 1000))
}

export function isLive(story, nowMs) {
  const expires = toMs(story.expires_at)
  return expires !== null && expires > nowMs
}

/** `just now`, `12 min ago`, `3 h ago`, `2 d ago`. */
export function timeAgo(value, nowMs) {
  const ms = toMs(value)
  if (ms === null) return '—'
  const s = Math.max(0, Math.round((nowMs - ms) / 1000))
  if (s < 60) return 'just now'
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`
  return `${Math.floor(s / 86400)} d ago`
}

/** Exact local time for a title attribute: `2025-03-01 14:05:09`. */
export function exactTime(value) {
  const ms = toMs(value)
  if (ms === null) return undefined
  const d = new Date(ms)
  const pad = (n) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** Compact countdown: `23h 59m`, `4m 05s`, `12s`, `expired`. */
export function formatCountdown(seconds) {
  if (seconds === null || seconds === undefined) return '—'
  const s = Math.max(0, Math.floor(seconds))
  if (s === 0) return 'expired'
  const pad = (n) => String(n).padStart(2, '0')
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`
  return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`
}

export function storyUrl(username) {
  return `https://www.instagram.com/stories/${encodeURIComponent(username)}/`
}

/** The query of GET /stories/live (and its .csv/.json exports) for these filters. */
export function storyQuery({ nicheId, search, since, sort, order }) {
  const query = {}
  if (nicheId) query.niche_id = nicheId
  const text = (search || '').trim()
  if (text) query.search = text
  if (since) query.since = since
  if (sort) query.sort = sort
  if (order) query.order = order
  return query
}

/** True when a row (e.g. from a `story_detected` event) belongs under these filters. */
export function matchesFilters(story, { nicheId, search, since }, nowMs) {
  if (nicheId && story.niche_id !== nicheId) return false
  const text = (search || '').trim().toLowerCase()
  if (
    text &&
    !String(story.username || '')
      .toLowerCase()
      .includes(text)
  )
    return false
  const window = sinceSeconds(since)
  if (window !== null) {
    const posted = toMs(story.posted_at)
    if (posted === null || posted < nowMs - window * 1000) return false
  }
  return isLive(story, nowMs)
}

/** Comparator for `sort` (posted | expires) and `order` (desc | asc); username breaks ties. */
export function storyComparator(sort = 'posted', order = 'desc') {
  const field = sort === 'expires' ? 'expires_at' : 'posted_at'
  const sign = order === 'asc' ? 1 : -1
  return (a, b) => {
    const diff = (toMs(a[field]) ?? 0) - (toMs(b[field]) ?? 0)
    if (diff) return sign * diff
    return String(a.username).localeCompare(String(b.username))
  }
}

/**
 * Puts `story` into the loaded rows at its place (replacing a row of the same profile). When
 * more pages exist (`complete` false), a row that sorts after the last loaded one is left for
 * "load more".
 */
export function insertStory(stories, story, { sort, order, complete }) {
  const rest = stories.filter((s) => s.profile_id !== story.profile_id)
  const compare = storyComparator(sort, order)
  const index = rest.findIndex((s) => compare(story, s) < 0)
  if (index < 0 && !complete) return rest
  const at = index < 0 ? rest.length : index
  return [...rest.slice(0, at), story, ...rest.slice(at)]
}
