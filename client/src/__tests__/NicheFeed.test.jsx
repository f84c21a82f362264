import { act, fireEvent, render, screen, within } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import NicheFeed from '../components/niche/NicheFeed.jsx'
import { useBatchStore } from '../stores/batchStore.js'
import { useNicheStore } from '../stores/nicheStore.js'
import { initialProfileState, useProfileStore } from '../stores/profileStore.js'
import { makeBatch, makeProfile, mockFetch } from '../test/fetchMock.js'

const niches = [
  { id: 'n1', name: 'Fitness', order: 0, profile_count: 3 },
  { id: 'n2', name: 'Empty', order: 1, profile_count: 0 },
]
const initialNiche = useNicheStore.getState()
const initialBatch = useBatchStore.getState()

beforeEach(() => {
  useNicheStore.setState(initialNiche, true)
  useBatchStore.setState(initialBatch, true)
  useProfileStore.setState({ ...initialProfileState, selectedIds: new Set() })
})
afterEach(() => window.history.replaceState(null, '', '/'))

function routes(extra = {}) {
  return {
    'GET /niches': niches,
    'GET /profiles': (call) =>
      call.query.niche_id === 'n2'
        ? { profiles: [], total: 0 }
        : { profiles: ['a', 'b', 'c'].map((id) => makeProfile(id, { active_story: id === 'b' })), total: 3 },
    ...extra,
  }
}

async function renderFeed(extra) {
  const mock = mockFetch(routes(extra))
  await act(async () => {
    render(<NicheFeed />)
  })
  return mock
}

async function chooseNiche(name) {
  const item = screen.getAllByTestId('niche-item').find((el) => el.textContent.includes(name))
  await act(async () => {
    fireEvent.click(within(item).getByRole('button', { pressed: false }))
  })
}

describe('NicheFeed', () => {
  it('checks the selected profiles of a niche and goes to Batches', async () => {
    const created = makeBatch({ id: 'new', status: 'in_progress', queue_position: 0 })
    const { calls } = await renderFeed({ 'POST /batches': { status: 201, body: created } })
    expect(screen.getByTestId('check-selected')).toBeDisabled()
    await chooseNiche('Fitness')
    const rows = screen.getAllByTestId('profile-row')
    fireEvent.click(rows[0])
    fireEvent.click(rows[2], { shiftKey: true })
    expect(screen.getByTestId('selection-count')).toHaveTextContent('3 selected')
    await act(async () => {
      fireEvent.click(screen.getByTestId('check-selected'))
    })
    const post = calls.find((c) => c.method === 'POST' && c.path === '/batches')
    expect(post.body).toEqual({ niche_id: 'n1', profile_ids: ['a', 'b', 'c'] })
    expect(window.location.pathname).toBe('/batches')
    expect(useProfileStore.getState().selectedIds.size).toBe(0)
  })

  it('checks a whole niche with all_profiles', async () => {
    const { calls } = await renderFeed({ 'POST /batches': { status: 201, body: makeBatch() } })
    await chooseNiche('Fitness')
    await act(async () => {
      fireEvent.click(screen.getByTestId('check-niche'))
    })
    expect(calls.find((c) => c.method === 'POST').body).toEqual({ niche_id: 'n1', all_profiles: true })
  })

  it('invites a file drop for a niche without profiles', async () => {
    await renderFeed()
    await chooseNiche('Empty')
    expect(screen.getByTestId('import-dropzone')).toHaveTextContent('Drop a .txt/.csv file of usernames here')
    expect(screen.queryByTestId('profile-table')).not.toBeInTheDocument()
    expect(screen.getByTestId('check-niche')).toBeDisabled()
  })

  it('toggles rows with Space and sorts from the headers', async () => {
    const { calls } = await renderFeed()
    const row = screen.getAllByTestId('profile-row')[1]
    fireEvent.keyDown(row, { key: ' ' })
    expect(row).toHaveAttribute('aria-selected', 'true')
    fireEvent.keyDown(row, { key: ' ' })
    expect(row).toHaveAttribute('aria-selected', 'false')
    await act(async () => {
      fireEvent.click(screen.getByTestId('sort-niche'))
    })
    expect(calls[calls.length - 1].query).toMatchObject({ sort_by: 'niche__name', sort_direction: 'asc' })
    expect(screen.getByTestId('sort-niche').closest('th')).toHaveAttribute('aria-sort', 'ascending')
    expect(screen.getByTestId('profile-pager-range')).toHaveTextContent('1–3 of 3')
  })

  it('debounces the search box', async () => {
    const { calls } = await renderFeed()
    const before = calls.length
    fireEvent.change(screen.getByTestId('profile-search'), { target: { value: 'a' } })
    fireEvent.change(screen.getByTestId('profile-search'), { target: { value: 'al' } })
    fireEvent.change(screen.getByTestId('profile-search'), { target: { value: 'ali' } })
    expect(calls.length).toBe(before)
    await act(async () => {
      await new Promise((r) => setTimeout(r, 350))
    })
    const searches = calls.slice(before).filter((c) => c.path === '/profiles')
    expect(searches).toHaveLength(1)
    expect(searches[0].query.search).toBe('ali')
  })

  it('says how to start when there are no niches', async () => {
    mockFetch({ 'GET /niches': [], 'GET /profiles': { profiles: [], total: 0 } })
    await act(async () => {
      render(<NicheFeed />)
    })
    expect(screen.getByTestId('empty-no-niches')).toHaveTextContent('Create a niche to start')
  })
})
