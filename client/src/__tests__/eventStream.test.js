import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { TOKEN_STORAGE_KEY } from '../api/index.js'
import { useBatchStore } from '../stores/batchStore.js'
import { POLL_INTERVAL_MS, isPolling, setBatchesVisible, startEventStream, stopEventStream, useStreamStore } from '../stores/eventStream.js'
import { useProxyStore } from '../stores/proxyStore.js'
import { initialStoriesState, useStoriesStore } from '../stores/storiesStore.js'
import { makeBatch, mockFetch } from '../test/fetchMock.js'

class FakeEventSource {
  static instances = []
  constructor(url) {
    this.url = url
    this.readyState = 0
    this.listeners = {}
    FakeEventSource.instances.push(this)
  }
  addEventListener(type, fn) {
    ;(this.listeners[type] ||= []).push(fn)
  }
  emit(type, data) {
    if (type === 'open') this.readyState = 1
    for (const fn of this.listeners[type] || []) fn({ type, data: data === undefined ? undefined : JSON.stringify(data) })
  }
  close() {
    this.readyState = 2
  }
}

const initialBatch = useBatchStore.getState()
const initialProxy = useProxyStore.getState()

beforeEach(() => {
  FakeEventSource.instances = []
  useBatchStore.setState(initialBatch, true)
  useProxyStore.setState(initialProxy, true)
})

afterEach(() => {
  stopEventStream()
  setBatchesVisible(false)
  vi.useRealTimers()
})

describe('event stream', () => {
  it('feeds story_detected and story_expired to the Stories now list', () => {
    mockFetch({ 'GET /stories/live/counts': { total: 1, niches: [] } })
    useStoriesStore.setState({ ...initialStoriesState, selectedIds: new Set(), loaded: true })
    startEventStream({ EventSource: FakeEventSource })
    const es = FakeEventSource.instances[0]
    es.emit('open')
    const soon = new Date(Date.now() + 3600_000).toISOString()
    es.emit('story_detected', {
      profile_id: 'p1',
      username: 'amy',
      niche_id: 'n1',
      posted_at: new Date().toISOString(),
      expires_at: soon,
      item_count: 1,
    })
    expect(useStoriesStore.getState().stories.map((s) => s.username)).toEqual(['amy'])
    expect(useStoriesStore.getState().total).toBe(1)
    es.emit('story_expired', { profile_id: 'p1', niche_id: 'n1' })
    expect(useStoriesStore.getState().stories).toEqual([])
    expect(useStoriesStore.getState().total).toBe(0)
  })

  it('applies batch, batch_deleted and proxy events to the stores', () => {
    startEventStream({ EventSource: FakeEventSource })
    const es = FakeEventSource.instances[0]
    expect(es.url).toBe('/api/events')
    es.emit('open')
    expect(useStreamStore.getState().mode).toBe('live')
    const b = makeBatch({ id: 'b1', status: 'in_progress', queue_position: 0 })
    es.emit('batch', b)
    expect(useBatchStore.getState().batches.map((x) => x.id)).toEqual(['b1'])
    es.emit('batch', { ...b, completed_profiles: 7 })
    expect(useBatchStore.getState().batches[0].completed_profiles).toBe(7)
    es.emit('batch_deleted', { id: 'b1' })
    expect(useBatchStore.getState().batches).toEqual([])
    es.emit('proxy', { id: 'x1', ip: '127.0.0.1', port: 8080, health: 'cooling' })
    expect(useProxyStore.getState().proxies[0].health).toBe('cooling')
  })

  it('keeps a deleted pair off screen: neither a late proxy event nor a stale list brings it back', async () => {
    const pair = { id: 'x1', ip: '127.0.0.1', port: 8080, health: 'disabled' }
    let answerList
    mockFetch({
      'GET /proxies': () => new Promise((resolve) => (answerList = resolve)),
      'DELETE /proxies/x1': { status: 204 },
    })
    startEventStream({ EventSource: FakeEventSource })
    const es = FakeEventSource.instances[0]
    es.emit('open')
    es.emit('proxy', pair)
    const listing = useProxyStore.getState().fetchProxies({ quiet: true }) // asked before the delete
    await useProxyStore.getState().removeProxy('x1')
    expect(useProxyStore.getState().proxies).toEqual([])
    es.emit('proxy', pair)
    answerList([pair])
    await listing
    expect(useProxyStore.getState().proxies).toEqual([])
  })

  it('passes a stored token as ?token= (EventSource cannot send headers)', () => {
    window.localStorage.setItem(TOKEN_STORAGE_KEY, 'tok en')
    startEventStream({ EventSource: FakeEventSource })
    expect(FakeEventSource.instances[0].url).toBe('/api/events?token=tok+en')
  })

  it('falls back to polling GET /batches every 3 s while the Batches tab is shown', async () => {
    vi.useFakeTimers()
    const { calls } = mockFetch({ 'GET /batches': [] })
    startEventStream({ EventSource: FakeEventSource })
    const es = FakeEventSource.instances[0]
    es.emit('open')
    setBatchesVisible(true)
    expect(isPolling()).toBe(false)
    es.emit('error')
    expect(useStreamStore.getState().mode).toBe('polling')
    expect(isPolling()).toBe(true)
    await vi.advanceTimersByTimeAsync(POLL_INTERVAL_MS * 2 + 10)
    expect(calls.filter((c) => c.path === '/batches')).toHaveLength(2)
    setBatchesVisible(false)
    expect(isPolling()).toBe(false)
    await vi.advanceTimersByTimeAsync(POLL_INTERVAL_MS * 2)
    expect(calls.filter((c) => c.path === '/batches')).toHaveLength(2)
    // the browser reconnects: polling stops, and the list is reloaded once
    setBatchesVisible(true)
    es.emit('open')
    expect(isPolling()).toBe(false)
    expect(useStreamStore.getState().mode).toBe('live')
  })

  it('polls when EventSource is not available', () => {
    vi.useFakeTimers()
    mockFetch({ 'GET /batches': [] })
    startEventStream({ EventSource: null })
    setBatchesVisible(true)
    expect(useStreamStore.getState().mode).toBe('polling')
    expect(isPolling()).toBe(true)
  })

  it('reconnects after the browser gave up on the stream', async () => {
    vi.useFakeTimers()
    mockFetch({ 'GET /batches': [] })
    startEventStream({ EventSource: FakeEventSource })
    const es = FakeEventSource.instances[0]
    es.readyState = 2
    es.emit('error')
    expect(useStreamStore.getState().mode).toBe('polling')
    await vi.advanceTimersByTimeAsync(10000)
    expect(FakeEventSource.instances).toHaveLength(2)
  })
})
