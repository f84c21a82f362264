import { beforeEach, describe, expect, it, vi } from 'vitest'
import { mergeBatches, queuedIds, sortBatches, useBatchStore } from '../stores/batchStore.js'
import { useUiStore } from '../stores/uiStore.js'
import { makeBatch, mockFetch } from '../test/fetchMock.js'

const initialBatch = useBatchStore.getState()
const initialUi = useUiStore.getState()

beforeEach(() => {
  useBatchStore.setState(initialBatch, true)
  useUiStore.setState(initialUi, true)
})

const running = makeBatch({ id: 'run', status: 'in_progress', queue_position: 0 })
const q1 = makeBatch({ id: 'q1', status: 'queued', queue_position: 1 })
const q2 = makeBatch({ id: 'q2', status: 'queued', queue_position: 2 })
const paused = makeBatch({ id: 'p', status: 'paused', queue_position: null, created_at: '2025-01-02T00:00:00+00:00' })
const done = makeBatch({ id: 'd', status: 'done', queue_position: null, created_at: '2025-01-01T00:00:00+00:00' })

describe('batchStore helpers', () => {
  it('orders running first, then the queue, then newest', () => {
    expect(sortBatches([done, q2, paused, q1, running]).map((b) => b.id)).toEqual(['run', 'q1', 'q2', 'p', 'd'])
  })

  it('merges by id and keeps the order', () => {
    const merged = mergeBatches(
      [running, q1, q2],
      [
        { ...q2, queue_position: 1 },
        { ...q1, queue_position: 2 },
      ],
    )
    expect(merged.map((b) => b.id)).toEqual(['run', 'q2', 'q1'])
    expect(queuedIds(merged)).toEqual(['q2', 'q1'])
  })
})

describe('batchStore actions', () => {
  it('fetches GET /batches', async () => {
    const { calls } = mockFetch({ 'GET /batches': [q1, running] })
    await useBatchStore.getState().fetchBatches()
    expect(calls[0]).toMatchObject({ method: 'GET', path: '/batches' })
    expect(useBatchStore.getState().batches.map((b) => b.id)).toEqual(['run', 'q1'])
    expect(useBatchStore.getState().loaded).toBe(true)
  })

  it('start posts batch_ids to /batches/start and merges the answer', async () => {
    useBatchStore.setState({ batches: [running, paused] })
    const { calls } = mockFetch({
      'POST /batches/start': [{ ...paused, status: 'queued', queue_position: 1 }],
      'GET /batches': [running, { ...paused, status: 'queued', queue_position: 1 }],
    })
    await useBatchStore.getState().start(['p'])
    expect(calls[0]).toMatchObject({ method: 'POST', path: '/batches/start', body: { batch_ids: ['p'] } })
    expect(useBatchStore.getState().batches.find((b) => b.id === 'p')).toMatchObject({ status: 'queued', queue_position: 1 })
  })

  it('stop posts to /batches/stop and shows the paused batch at once', async () => {
    useBatchStore.setState({ batches: [running, q1] })
    const pausedRun = { ...running, status: 'paused', queue_position: null }
    let release
    const { calls } = mockFetch({
      'POST /batches/stop': [pausedRun],
      'GET /batches': () => new Promise((r) => (release = () => r({ status: 200, body: [pausedRun, q1] }))),
    })
    await useBatchStore.getState().stop(['run'])
    expect(calls[0]).toMatchObject({ method: 'POST', path: '/batches/stop', body: { batch_ids: ['run'] } })
    // merged before the reload answers
    expect(useBatchStore.getState().batches.find((b) => b.id === 'run').status).toBe('paused')
    expect(calls[1]).toMatchObject({ method: 'GET', path: '/batches' })
    release()
  })

  it('resume posts to /batches/resume', async () => {
    useBatchStore.setState({ batches: [paused] })
    const { calls } = mockFetch({
      'POST /batches/resume': [{ ...paused, status: 'in_progress', queue_position: 0 }],
      'GET /batches': [{ ...paused, status: 'in_progress', queue_position: 0 }],
    })
    await useBatchStore.getState().resume(['p'])
    expect(calls[0]).toMatchObject({ method: 'POST', path: '/batches/resume', body: { batch_ids: ['p'] } })
    expect(useBatchStore.getState().batches[0].status).toBe('in_progress')
  })

  it('delete sends DELETE /batches with a body and drops the rows and their selection', async () => {
    useBatchStore.setState({ batches: [running, q1, q2], selectedIds: new Set(['q1', 'q2']) })
    const { calls } = mockFetch({ 'DELETE /batches': { status: 204 }, 'GET /batches': [running, q2] })
    await useBatchStore.getState().remove(['q1'])
    expect(calls[0]).toMatchObject({ method: 'DELETE', path: '/batches', body: { batch_ids: ['q1'] } })
    expect(useBatchStore.getState().batches.map((b) => b.id)).not.toContain('q1')
    expect([...useBatchStore.getState().selectedIds]).toEqual(['q2'])
  })

  it('reorder posts the full queued order and applies positions at once', async () => {
    useBatchStore.setState({ batches: [running, q1, q2] })
    const { calls } = mockFetch({
      'POST /batches/reorder': [
        { ...q2, queue_position: 1 },
        { ...q1, queue_position: 2 },
      ],
    })
    const pending = useBatchStore.getState().reorder(['q2', 'q1'])
    expect(useBatchStore.getState().batches.map((b) => b.id)).toEqual(['run', 'q2', 'q1'])
    await pending
    expect(calls[0]).toMatchObject({ method: 'POST', path: '/batches/reorder', body: { batch_ids: ['q2', 'q1'] } })
    expect(useBatchStore.getState().batches.find((b) => b.id === 'q2').queue_position).toBe(1)
  })

  it('move up/down reorders the selected queued batches', async () => {
    const q3 = makeBatch({ id: 'q3', status: 'queued', queue_position: 3 })
    useBatchStore.setState({ batches: [running, q1, q2, q3], selectedIds: new Set(['q3']) })
    const { calls } = mockFetch({
      'POST /batches/reorder': (call) => ({
        status: 200,
        body: call.body.batch_ids.map((id, i) => ({ id, status: 'queued', queue_position: i + 1 })),
      }),
    })
    await useBatchStore.getState().moveSelection(-1)
    expect(calls[0].body).toEqual({ batch_ids: ['q1', 'q3', 'q2'] })
    useBatchStore.setState({ selectedIds: new Set(['q1']) })
    await useBatchStore.getState().moveSelection(1)
    expect(calls[1].body).toEqual({ batch_ids: ['q3', 'q1', 'q2'] })
  })

  it('sends queue moves one at a time and keeps the newest order on screen', async () => {
    useBatchStore.setState({ batches: [running, q1, q2], selectedIds: new Set(['q2']) })
    let releaseFirst
    const firstHeld = new Promise((resolve) => {
      releaseFirst = resolve
    })
    const answer = (ids) => ids.map((id, i) => ({ id, status: 'queued', queue_position: i + 1 }))
    const { calls } = mockFetch({
      'POST /batches/reorder': async (call) => {
        if (calls.length === 1) await firstHeld
        return { status: 200, body: answer(call.body.batch_ids) }
      },
    })
    const up = useBatchStore.getState().moveSelection(-1)
    const down = useBatchStore.getState().moveSelection(1)
    await Promise.resolve()
    expect(calls).toHaveLength(1)
    releaseFirst()
    await Promise.all([up, down])
    expect(calls.map((c) => c.body.batch_ids)).toEqual([
      ['q2', 'q1'],
      ['q1', 'q2'],
    ])
    const queued = useBatchStore.getState().batches.filter((b) => b.status === 'queued')
    expect(queued.map((b) => [b.id, b.queue_position])).toEqual([
      ['q1', 1],
      ['q2', 2],
    ])
  })

  it('does not call the server when the order did not change', async () => {
    useBatchStore.setState({ batches: [q1, q2], selectedIds: new Set(['q1']) })
    const { calls } = mockFetch({})
    await useBatchStore.getState().moveSelection(-1)
    expect(calls).toHaveLength(0)
  })

  it('retry-failed posts per batch', async () => {
    useBatchStore.setState({ batches: [done] })
    const { calls } = mockFetch({ 'POST /batches/d/retry-failed': { ...done, status: 'queued', queue_position: 1 }, 'GET /batches': [] })
    await useBatchStore.getState().retryFailed(['d'])
    expect(calls[0]).toMatchObject({ method: 'POST', path: '/batches/d/retry-failed' })
  })

  it('creates a batch with POST /batches', async () => {
    const created = makeBatch({ id: 'new', status: 'in_progress', queue_position: 0 })
    const { calls } = mockFetch({ 'POST /batches': { status: 201, body: created } })
    const batch = await useBatchStore.getState().createBatch({ niche_id: 'n1', all_profiles: true })
    expect(batch.id).toBe('new')
    expect(calls[0].body).toEqual({ niche_id: 'n1', all_profiles: true })
    expect(useBatchStore.getState().batches[0].id).toBe('new')
  })

  it('shows a 409 message with the running batches', async () => {
    useBatchStore.setState({ batches: [running, done] })
    mockFetch({
      'POST /batches/start': {
        status: 409,
        body: { error: 'conflict', message: 'Another batch is already running.', running_batch_ids: ['run'] },
      },
      'GET /batches': [running, done],
    })
    expect(await useBatchStore.getState().start(['d'])).toBe(false)
    const [error] = useUiStore.getState().errors
    expect(error.message).toContain('Another batch is already running.')
    expect(error.message).toContain('Fitness (run)')
  })

  it('applies live events', () => {
    useBatchStore.setState({ batches: [running, q1], selectedIds: new Set(['q1']) })
    useBatchStore.getState().applyBatch({ ...running, completed_profiles: 5 })
    expect(useBatchStore.getState().batches[0].completed_profiles).toBe(5)
    useBatchStore.getState().removeBatch('q1')
    expect(useBatchStore.getState().batches.map((b) => b.id)).toEqual(['run'])
    expect(useBatchStore.getState().selectedIds.size).toBe(0)
  })

  it('selects with shift-click over the displayed order', () => {
    useBatchStore.setState({ batches: [running, q1, q2, paused] })
    const s = useBatchStore.getState()
    s.clickRow('run', {})
    s.clickRow('q2', { shift: true })
    expect([...useBatchStore.getState().selectedIds].sort()).toEqual(['q1', 'q2', 'run'])
  })

  it('does not report an error for a quiet reload failure', async () => {
    mockFetch({ 'GET /batches': { status: 500, body: { error: 'x', message: 'boom' } } })
    await useBatchStore.getState().fetchBatches({ quiet: true })
    expect(useUiStore.getState().errors).toHaveLength(0)
    await useBatchStore.getState().fetchBatches()
    expect(useUiStore.getState().errors[0].message).toBe('boom')
    vi.restoreAllMocks()
  })
})
