// Live updates. One EventSource on /api/events feeds the stores:
//   event: batch          data: Batch  → batchStore.applyBatch
//   event: batch_deleted  data: {id}   → batchStore.removeBatch
//   event: proxy          data: Proxy  → proxyStore.applyProxy
//   event: proxy_deleted  data: {id}   → proxyStore.dropProxy
//   event: story_detected data: {profile_id, username, niche_id, posted_at, …} → storiesStore
//   event: story_expired  data: {profile_id, niche_id} → storiesStore.applyExpired
// While the stream is down (error, or no EventSource at all) the Batches tab polls
// GET /api/batches every 3 s instead, but only while it is shown and the browser tab is visible.
// EventSource cannot send headers, so a stored API token travels as `?token=`.
import { create } from 'zustand'
import { apiUrl, getToken } from '../api/index.js'
import { useBatchStore } from './batchStore.js'
import { useProxyStore } from './proxyStore.js'
import { useStoriesStore } from './storiesStore.js'

export const POLL_INTERVAL_MS = 3000
export const RECONNECT_DELAY_MS = 10000

/** `mode`: connecting | live | polling (stream down) | off (not started). */
export const useStreamStore = create(() => ({ mode: 'off' }))

let source = null
let pollTimer = null
let reconnectTimer = null
let batchesVisible = false
let wasLive = false
let EventSourceImpl = null

const setMode = (mode) => useStreamStore.setState({ mode })

function parse(event) {
  try {
    return JSON.parse(event.data)
  } catch {
    return null
  }
}

function pageVisible() {
  return typeof document === 'undefined' || document.visibilityState !== 'hidden'
}

function updatePolling() {
  const mode = useStreamStore.getState().mode
  const shouldPoll = mode !== 'live' && mode !== 'off' && batchesVisible && pageVisible()
  if (shouldPoll && !pollTimer) {
    pollTimer = setInterval(() => useBatchStore.getState().fetchBatches({ quiet: true }), POLL_INTERVAL_MS)
  } else if (!shouldPoll && pollTimer) {
    clearInterval(pollTimer)
    pollTimer = null
  }
}

/** After a gap in the stream, reload what may have changed meanwhile. */
function resync() {
  useBatchStore.getState().fetchBatches({ quiet: true })
  if (useProxyStore.getState().loaded) useProxyStore.getState().fetchProxies({ quiet: true })
  if (useStoriesStore.getState().loaded) {
    useStoriesStore.getState().fetchStories({ quiet: true })
    useStoriesStore.getState().fetchCounts()
  }
}

function connect() {
  reconnectTimer = null
  if (!EventSourceImpl) {
    setMode('polling')
    updatePolling()
    return
  }
  const token = getToken()
  let es
  try {
    es = new EventSourceImpl(apiUrl('/events', token ? { token } : undefined))
  } catch {
    setMode('polling')
    updatePolling()
    return
  }
  source = es
  setMode('connecting')
  updatePolling()

  es.addEventListener('open', () => {
    if (source !== es) return
    const reconnected = wasLive || useStreamStore.getState().mode === 'polling'
    wasLive = true
    setMode('live')
    updatePolling()
    if (reconnected) resync()
  })
  es.addEventListener('batch', (event) => {
    const batch = parse(event)
    if (batch) useBatchStore.getState().applyBatch(batch)
  })
  es.addEventListener('batch_deleted', (event) => {
    const data = parse(event)
    if (data && data.id) useBatchStore.getState().removeBatch(data.id)
  })
  es.addEventListener('proxy', (event) => {
    const proxy = parse(event)
    if (proxy) useProxyStore.getState().applyProxy(proxy)
  })
  es.addEventListener('proxy_deleted', (event) => {
    const data = parse(event)
    if (data && data.id) useProxyStore.getState().dropProxy(data.id)
  })
  es.addEventListener('story_detected', (event) => {
    const data = parse(event)
    if (data) useStoriesStore.getState().applyDetected(data)
  })
  es.addEventListener('story_expired', (event) => {
    const data = parse(event)
    if (data) useStoriesStore.getState().applyExpired(data)
  })
  es.addEventListener('error', () => {
    if (source !== es) return
    setMode('polling')
    updatePolling()
    // CLOSED = the browser gave up (HTTP error, wrong content type): try again later ourselves.
    // Otherwise it is already reconnecting on its own.
    if (es.readyState === 2) {
      es.close()
      source = null
      if (!reconnectTimer) reconnectTimer = setTimeout(connect, RECONNECT_DELAY_MS)
    }
  })
}

function onVisibilityChange() {
  updatePolling()
}

/** Opens the stream (idempotent). `EventSource` can be injected for tests. */
export function startEventStream({ EventSource: Impl } = {}) {
  if (source || reconnectTimer || useStreamStore.getState().mode !== 'off') return
  EventSourceImpl = Impl !== undefined ? Impl : typeof window !== 'undefined' ? window.EventSource : undefined
  wasLive = false
  if (typeof document !== 'undefined') document.addEventListener('visibilitychange', onVisibilityChange)
  connect()
}

export function stopEventStream() {
  if (source) source.close()
  source = null
  if (reconnectTimer) clearTimeout(reconnectTimer)
  reconnectTimer = null
  if (pollTimer) clearInterval(pollTimer)
  pollTimer = null
  if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', onVisibilityChange)
  setMode('off')
}

/** Reconnects with the current token (after the user entered one). */
export function restartEventStream() {
  const Impl = EventSourceImpl
  stopEventStream()
  startEventStream({ EventSource: Impl })
}

/** The Batches tab tells the stream whether it is on screen (polling happens only then). */
export function setBatchesVisible(visible) {
  batchesVisible = visible
  updatePolling()
}

export function isPolling() {
  return pollTimer !== null
}
