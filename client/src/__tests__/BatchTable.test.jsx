import { act, fireEvent, render, screen, within } from '@testing-library/react'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import BatchTable from '../components/batch/BatchTable.jsx'
import { useBatchStore } from '../stores/batchStore.js'
import { useUiStore } from '../stores/uiStore.js'
import { makeBatch, mockFetch } from '../test/fetchMock.js'

const initialBatch = useBatchStore.getState()
const initialUi = useUiStore.getState()

beforeEach(() => {
  useBatchStore.setState(initialBatch, true)
  useUiStore.setState(initialUi, true)
})

const running = makeBatch({
  id: 'run',
  status: 'in_progress',
  queue_position: 0,
  completed_profiles: 4,
  total_profiles: 10,
  rate_per_minute: 12,
  eta_seconds: 30,
})
const q1 = makeBatch({ id: 'q1', status: 'queued', queue_position: 1, niche: { id: 'n2', name: 'Travel' } })
const q2 = makeBatch({ id: 'q2', status: 'queued', queue_position: 2 })
const paused = makeBatch({ id: 'p', status: 'paused', queue_position: null, created_at: '2025-02-01T00:00:00+00:00' })
const done = makeBatch({
  id: 'd',
  status: 'done',
  queue_position: null,
  completed_profiles: 10,
  total_profiles: 10,
  stories_found: 2,
  successful_checks: 2,
  failed_checks: 1,
  checks_failed: 1,
  profiles_with_stories: ['alice', 'bob'],
  completed_at: '2025-01-01T12:00:00+00:00',
})

function rows() {
  return screen.getAllByTestId('batch-row')
}
function row(id) {
  return rows().find((r) => r.dataset.batchId === id)
}

async function renderTable(list, extraRoutes = {}) {
  const mock = mockFetch({ 'GET /batches': list, ...extraRoutes })
  await act(async () => {
    render(<BatchTable />)
  })
  return mock
}

describe('BatchTable', () => {
  it('shows status, queue position and progress like the original client', async () => {
    await renderTable([done, q2, paused, q1, running])
    expect(rows().map((r) => r.dataset.batchId)).toEqual(['run', 'q1', 'q2', 'p', 'd'])
    const queue = (id) => within(row(id)).getByTestId('batch-queue-position').textContent
    expect(queue('run')).toBe('0 (Running)')
    expect(queue('q1')).toBe('#1')
    expect(queue('q2')).toBe('#2')
    expect(queue('p')).toBe('-')
    expect(queue('d')).toBe('-')
    expect(row('run').dataset.status).toBe('in_progress')
    expect(within(row('run')).getByTestId('batch-status').textContent).toBe('running')
    expect(within(row('p')).getByTestId('batch-status').textContent).toBe('paused')
    expect(within(row('run')).getByTestId('batch-progress').textContent).toContain('4/10')
    expect(within(row('q1')).getByText('Travel')).toBeInTheDocument()
    expect(within(row('d')).getByTestId('batch-export').getAttribute('href')).toBe('/api/batches/d/results.csv')
  })

  it('enables only the actions that fit the selection', async () => {
    await renderTable([running, q1, paused])
    const start = screen.getByTestId('batch-start')
    const stop = screen.getByTestId('batch-stop')
    const resume = screen.getByTestId('batch-resume')
    expect(start).toBeDisabled()
    expect(screen.getByTestId('batch-delete')).toBeDisabled()
    fireEvent.click(row('p'))
    expect(resume).toBeEnabled()
    expect(start).toBeDisabled() // resume, not start, is what a paused batch offers
    expect(stop).toBeDisabled()
    fireEvent.click(row('run'))
    expect(stop).toBeEnabled()
    expect(resume).toBeDisabled()
  })

  it('follows the allowed_actions the server sends, not the status', async () => {
    await renderTable([{ ...running, allowed_actions: ['delete'] }])
    fireEvent.click(row('run'))
    expect(screen.getByTestId('batch-stop')).toBeDisabled()
    expect(screen.getByTestId('batch-stop').textContent).toBe('Pause')
    expect(screen.getByTestId('batch-delete')).toBeEnabled()
  })

  it('stops the selected batch through POST /batches/stop', async () => {
    const { calls } = await renderTable([running, q1], {
      'POST /batches/stop': [{ ...running, status: 'paused', queue_position: null }],
    })
    fireEvent.click(row('run'))
    await act(async () => {
      fireEvent.click(screen.getByTestId('batch-stop'))
    })
    expect(calls.find((c) => c.method === 'POST')).toMatchObject({ path: '/batches/stop', body: { batch_ids: ['run'] } })
  })

  it('moves a queued batch up with POST /batches/reorder', async () => {
    const { calls } = await renderTable([running, q1, q2], {
      'POST /batches/reorder': [
        { ...q2, queue_position: 1 },
        { ...q1, queue_position: 2 },
      ],
    })
    fireEvent.click(row('q2'))
    expect(screen.getByTestId('batch-move-down')).toBeDisabled()
    await act(async () => {
      fireEvent.click(screen.getByTestId('batch-move-up'))
    })
    expect(calls.find((c) => c.path === '/batches/reorder').body).toEqual({ batch_ids: ['q2', 'q1'] })
    expect(within(row('q2')).getByTestId('batch-queue-position').textContent).toBe('#1')
  })

  it('asks before deleting and sends DELETE /batches', async () => {
    const confirm = vi.spyOn(window, 'confirm').mockReturnValue(true)
    const { calls } = await renderTable([q1, paused], { 'DELETE /batches': { status: 204 } })
    fireEvent.click(row('q1'))
    fireEvent.click(row('p'), { ctrlKey: true })
    await act(async () => {
      fireEvent.click(screen.getByTestId('batch-delete'))
    })
    expect(confirm).toHaveBeenCalled()
    expect(calls.find((c) => c.method === 'DELETE').body).toEqual({ batch_ids: ['q1', 'p'] })
  })

  it('shows a refused start with the server message and the running batch', async () => {
    await renderTable([running, done], {
      'POST /batches/start': {
        status: 409,
        body: { error: 'conflict', message: 'A batch is already running.', running_batch_ids: ['run'] },
      },
    })
    fireEvent.click(row('d'))
    await act(async () => {
      fireEvent.click(screen.getByTestId('batch-start'))
    })
    const messages = useUiStore.getState().errors.map((e) => e.message)
    expect(messages[0]).toMatch(/A batch is already running\. Running: Fitness \(run\)/)
  })

  it('toggles selection with Space and opens the log with Enter', async () => {
    await renderTable([q1], {
      'GET /batches/q1/logs': {
        logs: [{ id: 'l1', timestamp: '2025-01-01T10:00:00+00:00', event_type: 'INFO', message: 'hello' }],
        total: 1,
        limit: 50,
        offset: 0,
      },
    })
    const r = row('q1')
    fireEvent.keyDown(r, { key: ' ' })
    expect(useBatchStore.getState().selectedIds.has('q1')).toBe(true)
    fireEvent.keyDown(r, { key: ' ' })
    expect(useBatchStore.getState().selectedIds.has('q1')).toBe(false)
    await act(async () => {
      fireEvent.keyDown(r, { key: 'Enter' })
    })
    expect(await screen.findByTestId('log-row')).toHaveTextContent('hello')
  })

  it('pages the log 50 at a time and filters by event type', async () => {
    const logs = Array.from({ length: 50 }, (_, i) => ({
      id: `l${i}`,
      timestamp: '2025-01-01T10:00:00+00:00',
      event_type: 'PROGRESS',
      message: `m${i}`,
    }))
    const { calls } = await renderTable([q1], { 'GET /batches/q1/logs': { logs, total: 120, limit: 50, offset: 0 } })
    await act(async () => {
      fireEvent.click(within(row('q1')).getByTestId('batch-logs'))
    })
    expect(await screen.findAllByTestId('log-row')).toHaveLength(50)
    expect(screen.getByTestId('log-pager-range').textContent).toBe('1–50 of 120')
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Next page' }))
    })
    await act(async () => {
      fireEvent.change(screen.getByTestId('log-event-filter'), { target: { value: 'STORY_FOUND' } })
    })
    const logCalls = calls.filter((c) => c.path === '/batches/q1/logs').map((c) => c.query)
    expect(logCalls[0]).toEqual({ limit: '50', offset: '0' })
    expect(logCalls[1]).toEqual({ limit: '50', offset: '50' })
    expect(logCalls[logCalls.length - 1]).toEqual({ limit: '50', offset: '0', event_type: 'STORY_FOUND' })
  })

  it('lists every account with a story, paged and searchable, when the count is clicked', async () => {
    const counts = { story: 120, no_story: 7, private: 2, failed: 1, pending: 0 }
    const storyRow = (i) => ({
      profile_id: `p${i}`,
      username: `user${String(i).padStart(3, '0')}`,
      outcome: 'story',
      posted_at: '2025-01-01T10:00:00+00:00',
      expires_at: '2025-01-02T10:00:00+00:00',
      checked_at: '2025-01-01T11:00:00+00:00',
      item_count: 2,
      failure_kind: null,
      error: null,
    })
    const { calls } = await renderTable([{ ...done, stories_found: 120 }], {
      'GET /batches/d/results': (call) => {
        const page = Number(call.query.page)
        const size = Number(call.query.page_size)
        const all = Array.from({ length: 120 }, (_, i) => storyRow(i)).filter((r) => r.username.includes(call.query.search || ''))
        return { results: all.slice((page - 1) * size, page * size), total: all.length, page, page_size: size, counts }
      },
    })
    await act(async () => {
      fireEvent.click(within(row('d')).getByTestId('batch-stories'))
    })
    const dialog = screen.getByTestId('batch-results-modal')
    expect(within(dialog).getByTestId('results-story-count')).toHaveTextContent('120')
    expect(within(dialog).getByTestId('results-tab-story')).toHaveAttribute('aria-selected', 'true')
    expect(within(dialog).getAllByTestId('result-row')).toHaveLength(50)
    expect(within(dialog).getByTestId('results-pager-range')).toHaveTextContent('1–50 of 120')
    await act(async () => {
      fireEvent.click(within(dialog).getByRole('button', { name: 'Last page' }))
    })
    expect(within(dialog).getAllByTestId('result-row')).toHaveLength(20)
    expect(within(dialog).getByTestId('results-pager-range')).toHaveTextContent('101–120 of 120')
    expect(calls.filter((c) => c.path === '/batches/d/results').map((c) => c.query.outcome)).toContain('story')
    expect(within(dialog).getByTestId('results-csv')).toHaveAttribute('href', '/api/batches/d/results.csv')
    expect(within(dialog).getByTestId('results-json')).toHaveAttribute('href', '/api/batches/d/results.json')
  })

  it('opens the failed accounts with their reasons from the Failed count', async () => {
    const failed = [
      { profile_id: 'f1', username: 'gone', outcome: 'failed', failure_kind: 'not_found', error: 'User not found' },
      { profile_id: 'f2', username: 'flaky', outcome: 'failed', failure_kind: 'transient', error: 'HTTP 500' },
    ]
    const privateRows = [{ profile_id: 'x', username: 'secret', outcome: 'private', failure_kind: null }]
    const counts = { story: 2, no_story: 5, private: 1, failed: 2, pending: 0, not_found: 1 }
    const { calls } = await renderTable([done], {
      'GET /batches/d/results': (call) => {
        const list = call.query.outcome === 'failed' ? failed : call.query.outcome === 'private' ? privateRows : []
        return { results: list, total: list.length, page: 1, page_size: 50, counts }
      },
    })
    await act(async () => {
      fireEvent.click(within(row('d')).getByTestId('batch-failed'))
    })
    const dialog = screen.getByTestId('batch-results-modal')
    expect(within(dialog).getByTestId('results-tab-failed')).toHaveAttribute('aria-selected', 'true')
    const labels = within(dialog)
      .getAllByTestId('result-label')
      .map((el) => el.textContent)
    expect(labels).toEqual(['not found', 'check failed (unknown)'])
    expect(dialog).toHaveTextContent('User not found')
    // Of the failed accounts, those confirmed not to exist are an answer, counted apart.
    expect(within(dialog).getByTestId('results-not-found-count')).toHaveTextContent('(1 not found)')
    await act(async () => {
      fireEvent.click(within(dialog).getByTestId('results-tab-private'))
    })
    expect(within(dialog).getByTestId('result-label')).toHaveTextContent('private (unknown)')
    expect(calls.filter((c) => c.path === '/batches/d/results').map((c) => c.query.outcome)).toEqual(['failed', 'private'])
  })

  it('says how many accounts are unknown (private) and opens them', async () => {
    const privateRows = [{ profile_id: 'x', username: 'secret', outcome: 'private', failure_kind: null }]
    const counts = { story: 2, no_story: 5, private: 1, failed: 0, pending: 0 }
    const { calls } = await renderTable([{ ...done, private_profiles: 1 }], {
      'GET /batches/d/results': () => ({ results: privateRows, total: 1, page: 1, page_size: 50, counts }),
    })
    const note = within(row('d')).getByTestId('batch-unknown')
    expect(note).toHaveTextContent('1 unknown')
    await act(async () => {
      fireEvent.click(note)
    })
    const dialog = screen.getByTestId('batch-results-modal')
    expect(within(dialog).getByTestId('results-tab-private')).toHaveAttribute('aria-selected', 'true')
    expect(calls.filter((c) => c.path === '/batches/d/results').map((c) => c.query.outcome)).toEqual(['private'])
    expect(useBatchStore.getState().selectedIds.size).toBe(0) // the click did not select the row
  })

  it('shows no unknown note when every account answered', async () => {
    await renderTable([{ ...done, private_profiles: 0 }])
    expect(within(row('d')).queryByTestId('batch-unknown')).not.toBeInTheDocument()
  })

  it('says which failed accounts do not exist, and warns only of checks that could not be made', async () => {
    await renderTable([{ ...done, checks_failed: 38, failed_checks: 38, not_found_profiles: 38 }])
    const failedCell = within(row('d')).getByTestId('batch-failed').closest('td')
    expect(within(row('d')).getByTestId('batch-failed')).toHaveTextContent('38')
    expect(within(row('d')).getByTestId('batch-not-found')).toHaveTextContent('38 not found')
    expect(failedCell).not.toHaveClass('warn-text') // every one of them is an answer
  })

  it('warns of failed checks beside the accounts that do not exist', async () => {
    await renderTable([{ ...done, checks_failed: 40, failed_checks: 40, not_found_profiles: 38 }])
    expect(within(row('d')).getByTestId('batch-not-found')).toHaveTextContent('38 not found')
    expect(within(row('d')).getByTestId('batch-failed').closest('td')).toHaveClass('warn-text')
  })

  it('shows an empty state', async () => {
    await renderTable([])
    expect(screen.getByTestId('batches-empty')).toBeInTheDocument()
  })

  it('updates when the store receives a live event', async () => {
    await renderTable([running])
    act(() => useBatchStore.getState().applyBatch({ ...running, completed_profiles: 9 }))
    expect(within(row('run')).getByTestId('batch-progress').textContent).toContain('9/10')
    act(() => useBatchStore.getState().applyBatch({ ...running, status: 'done', queue_position: null }))
    expect(within(row('run')).getByTestId('batch-queue-position').textContent).toBe('-')
  })

  it('shows why a batch waits, a stalled banner, and the ETA range with what binds it', async () => {
    const waiting = makeBatch({
      id: 'w',
      status: 'in_progress',
      queue_position: 0,
      waiting_reason: 'no usable pair: 2 invalid (new session needed)',
      waiting_code: 'no_usable_pair',
      stalled: true,
    })
    const moving = makeBatch({
      id: 'm',
      status: 'in_progress',
      queue_position: 0,
      eta_seconds: 1500,
      eta_range_seconds: [1400, 2100],
      eta_bound_by: 'bound by lookups: 340 new accounts',
      waiting_reason: null,
    })
    await renderTable([waiting, moving])
    const note = within(row('w')).getByTestId('batch-waiting-reason')
    expect(note).toHaveTextContent('Stalled · no usable pair: 2 invalid (new session needed)')
    expect(within(row('m')).queryByTestId('batch-waiting-reason')).toBeNull()
    expect(within(row('m')).getByTestId('batch-eta')).toHaveTextContent('25m 00s')
    expect(within(row('m')).getByTestId('batch-eta-range')).toHaveTextContent('23m 20s–35m 00s')
    expect(within(row('m')).getByTestId('batch-eta-bound')).toHaveTextContent('bound by lookups: 340 new accounts')
  })
})
