import { act, fireEvent, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import Dashboard, { DASHBOARD_POLL_MS } from '../components/dashboard/Dashboard.jsx'
import { useDashboardStore } from '../stores/dashboardStore.js'
import { useUiStore } from '../stores/uiStore.js'
import { mockFetch } from '../test/fetchMock.js'

afterEach(() => {
  vi.useRealTimers()
  useDashboardStore.setState({ data: null, updatedAt: null, failed: false })
})

const data = {
  niches: [
    { id: 'n1', name: 'Fitness', daily_story_target: 10, stories_today: 4, profile_count: 50 },
    { id: 'n2', name: 'Travel', daily_story_target: 5, stories_today: 7, profile_count: 20 },
  ],
  throughput: Array.from({ length: 60 }, (_, i) => ({ minute: `2025-01-01T10:${String(i).padStart(2, '0')}:00+00:00`, checks: i })),
  pairs: { ready: 3, cooling: 1, open: 0, invalid: 2, challenge: 0, disabled: 1 },
}

describe('Dashboard', () => {
  it('shows targets, throughput and pair health, and polls every 10 s', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    const { calls } = mockFetch({ 'GET /dashboard': data })
    await act(async () => {
      render(<Dashboard />)
    })
    const numbers = screen.getAllByTestId('dashboard-niche-numbers').map((e) => e.textContent)
    expect(numbers).toEqual(['4 / 10', '7 / 5'])
    expect(screen.getByRole('meter', { name: 'Fitness: 4 of 10 stories today' })).toBeInTheDocument()
    expect(screen.getByTestId('throughput-chart').querySelectorAll('rect')).toHaveLength(60)
    expect(screen.getByTestId('throughput-chart')).toHaveTextContent('1,770 checks in the last hour')
    expect(screen.getByTestId('pair-health-invalid')).toHaveTextContent('2')
    expect(calls).toHaveLength(1)
    await act(async () => {
      vi.advanceTimersByTime(DASHBOARD_POLL_MS)
    })
    expect(calls).toHaveLength(2)
  })

  it('says which niches nobody checked today: their 0 is unknown', async () => {
    const niches = [
      { id: 'n1', name: 'Fitness', daily_story_target: 10, stories_today: 0, profile_count: 50, checked_today: true },
      { id: 'n2', name: 'Travel', daily_story_target: 5, stories_today: 0, profile_count: 20, checked_today: false },
    ]
    mockFetch({ 'GET /dashboard': { ...data, niches } })
    await act(async () => {
      render(<Dashboard />)
    })
    const rows = screen.getAllByTestId('dashboard-niche')
    expect(rows[0]).not.toHaveTextContent('not checked today')
    expect(rows[1]).toHaveTextContent('not checked today')
  })

  it('says which niches were checked today but none could be seen: their 0 is unknown too', async () => {
    const niches = [
      { id: 'n1', name: 'Fitness', daily_story_target: 10, stories_today: 0, profile_count: 50, checked_today: true, seen_today: true },
      { id: 'n2', name: 'Private', daily_story_target: 5, stories_today: 0, profile_count: 20, checked_today: true, seen_today: false },
    ]
    mockFetch({ 'GET /dashboard': { ...data, niches } })
    await act(async () => {
      render(<Dashboard />)
    })
    const rows = screen.getAllByTestId('dashboard-niche')
    expect(rows[0]).not.toHaveTextContent('none seen today')
    expect(rows[1]).toHaveTextContent('none seen today')
    expect(rows[1]).not.toHaveTextContent('not checked today')
  })

  it('keeps an invalid target in the box with the reason, and says "saved" for a good one', async () => {
    const { calls } = mockFetch({
      'GET /dashboard': data,
      'PUT /niches/n1': (call) =>
        call.body.daily_story_target > 1000
          ? { status: 400, body: { error: 'validation_error', message: 'daily_story_target must be between 0 and 1000' } }
          : { id: 'n1', name: 'Fitness', daily_story_target: call.body.daily_story_target },
    })
    await act(async () => {
      render(<Dashboard />)
    })
    const input = screen.getAllByTestId('target-input')[0]
    const put = () => calls.filter((c) => c.method === 'PUT')

    // Not a whole number: nothing is sent, the text stays, the reason shows.
    fireEvent.change(input, { target: { value: '2.5' } })
    await act(async () => {
      fireEvent.blur(input)
    })
    expect(put()).toHaveLength(0)
    expect(input).toHaveValue(2.5)
    expect(screen.getByTestId('target-error')).toHaveTextContent('Enter a whole number, 0 or more')
    expect(input).toHaveAttribute('aria-invalid', 'true')

    // Refused by the server: its message, the typed value kept, no banner.
    fireEvent.change(input, { target: { value: '5000' } })
    await act(async () => {
      fireEvent.blur(input)
    })
    expect(put()).toHaveLength(1)
    expect(input).toHaveValue(5000)
    expect(screen.getByTestId('target-error')).toHaveTextContent('daily_story_target must be between 0 and 1000')
    expect(useUiStore.getState().errors).toEqual([])

    // Accepted: the reason goes, "saved" shows.
    fireEvent.change(input, { target: { value: '12' } })
    await act(async () => {
      fireEvent.keyDown(input, { key: 'Enter' })
      fireEvent.blur(input)
    })
    expect(put()[1].body).toEqual({ daily_story_target: 12 })
    expect(screen.queryByTestId('target-error')).not.toBeInTheDocument()
    expect(screen.getByTestId('target-saved')).toHaveTextContent('saved: 12')
    expect(input).toHaveValue(12)
  })

  it('shows what holds the pool and which running batch is stalled', async () => {
    const pool = {
      pairs: 3,
      ready: 0,
      usable: 1,
      lookups_left: 0,
      requests_left: 40,
      lookups_per_hour: 60,
      requests_per_hour: 150,
      summary: '0 of 3 pairs ready; 2 invalid (new session needed), 1 cooling until 14:05 UTC (in 3 min)',
      waiting_reason: 'no usable pair: 2 invalid (new session needed), 1 cooling until 14:05 UTC (in 3 min)',
      running_batches: [{ id: 'b1', stalled: true, waiting_reason: 'no usable pair: 2 invalid (new session needed)' }],
    }
    mockFetch({ 'GET /dashboard': { ...data, pool } })
    await act(async () => {
      render(<Dashboard />)
    })
    expect(screen.getByTestId('pool-waiting-reason')).toHaveTextContent('no usable pair: 2 invalid (new session needed)')
    expect(screen.getByTestId('pool-summary')).toHaveTextContent('0 of 3 pairs ready')
    expect(screen.getByTestId('pool-batch-note')).toHaveTextContent('Stalled batch: no usable pair')
  })
})
