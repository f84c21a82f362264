import { act, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it, vi } from 'vitest'
import Dashboard, { DASHBOARD_POLL_MS } from '../components/dashboard/Dashboard.jsx'
import { useDashboardStore } from '../stores/dashboardStore.js'
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
