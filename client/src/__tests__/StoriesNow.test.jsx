import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import StoriesNow from '../components/stories/StoriesNow.jsx'
import { initialProfileState, useProfileStore } from '../stores/profileStore.js'
import { initialStoriesState, useStoriesStore } from '../stores/storiesStore.js'
import { useUiStore } from '../stores/uiStore.js'
import { mockFetch } from '../test/fetchMock.js'

const initialUi = useUiStore.getState()

beforeEach(() => {
  useStoriesStore.setState({ ...initialStoriesState, selectedIds: new Set() })
  useProfileStore.setState({ ...initialProfileState, selectedIds: new Set() })
  useUiStore.setState(initialUi, true)
  window.history.replaceState(null, '', '/')
})
afterEach(() => {
  vi.unstubAllGlobals()
})

const iso = (offsetSeconds) => new Date(Date.now() + offsetSeconds * 1000).toISOString()

function live(id, { posted = -3 * 3600 - 30, expires = 20 * 3600, niche = 'n1', ...extra } = {}) {
  return {
    profile_id: id,
    username: `user_${id}`,
    niche_id: niche,
    niche_name: niche === 'n1' ? 'Fitness' : 'Travel',
    posted_at: iso(posted),
    first_posted_at: iso(posted),
    expires_at: iso(expires),
    expires_in_seconds: expires,
    item_count: 2,
    checked_at: iso(-60),
    story_url: `https://www.instagram.com/stories/user_${id}/`,
    ...extra,
  }
}

const counts = {
  total: 3,
  niches: [
    { niche_id: 'n1', name: 'Fitness', count: 2 },
    { niche_id: 'n2', name: 'Travel', count: 1 },
  ],
}

async function renderPage(routes) {
  const mock = mockFetch({ 'GET /stories/live/counts': counts, ...routes })
  await act(async () => {
    render(<StoriesNow />)
  })
  return mock
}

const rowIds = () => screen.queryAllByTestId('story-row').map((r) => r.dataset.profileId)

describe('Stories now', () => {
  it('lists live stories with niche, posted time, countdown, items and the story link', async () => {
    await renderPage({
      'GET /stories/live': { stories: [live('a'), live('b', { niche: 'n2', posted: -600 })], next_cursor: null, total: 2 },
    })
    expect(rowIds()).toEqual(['a', 'b'])
    const row = screen.getAllByTestId('story-row')[0]
    expect(row).toHaveTextContent('Fitness')
    expect(within(row).getByTestId('story-posted')).toHaveTextContent('posted 3 h ago')
    expect(within(row).getByTestId('story-posted').getAttribute('title')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
    expect(within(row).getByTestId('story-expires').textContent).toMatch(/^(20h 00m|19h 59m)$/)
    const link = within(row).getByTestId('story-link')
    expect(link).toHaveAttribute('href', 'https://www.instagram.com/stories/user_a/')
    expect(link).toHaveAttribute('target', '_blank')
    expect(link).toHaveAttribute('rel', 'noopener')
    expect(screen.getByTestId('stories-total')).toHaveTextContent('2 live stories')
    const niches = screen.getAllByTestId('story-niche').map((el) => el.textContent)
    expect(niches).toEqual(['All niches3', 'Fitness2', 'Travel1'])
  })

  it('shows a dash, not 0, for a niche nobody checked in a story\'s lifetime', async () => {
    await renderPage({
      'GET /stories/live/counts': {
        total: 2,
        checked_recently: true,
        niches: [
          { niche_id: 'n1', name: 'Fitness', count: 2, checked_recently: true },
          { niche_id: 'n2', name: 'Travel', count: 0, checked_recently: false },
          { niche_id: 'n3', name: 'Food', count: 0, checked_recently: true },
        ],
      },
      'GET /stories/live': { stories: [live('a'), live('b')], next_cursor: null, total: 2 },
    })
    const niches = screen.getAllByTestId('story-niche').map((el) => el.textContent)
    expect(niches).toEqual(['All niches2', 'Fitness2', 'Travel—', 'Food0'])
    const travel = screen.getAllByTestId('story-niche-count')[2]
    expect(travel).toHaveAttribute('data-unknown', 'true')
    expect(travel).toHaveAttribute('aria-label', 'not checked in the last 24 hours: unknown')
  })

  it('shows a dash for a niche whose recent checks could not see any story', async () => {
    await renderPage({
      'GET /stories/live/counts': {
        total: 0,
        checked_recently: true,
        seen_recently: true,
        niches: [
          { niche_id: 'n1', name: 'Private', count: 0, checked_recently: true, seen_recently: false },
          { niche_id: 'n2', name: 'Public', count: 0, checked_recently: true, seen_recently: true },
        ],
      },
      'GET /stories/live': { stories: [], next_cursor: null, total: 0 },
    })
    const niches = screen.getAllByTestId('story-niche').map((el) => el.textContent)
    expect(niches).toEqual(['All niches0', 'Private—', 'Public0'])
    const hidden = screen.getAllByTestId('story-niche-count')[1]
    expect(hidden).toHaveAttribute('data-unknown', 'true')
    expect(hidden).toHaveAttribute('aria-label', 'checked, but no check could see a story in the last 24 hours: unknown')
  })

  it('shows a dash for all niches when nothing was checked anywhere', async () => {
    await renderPage({
      'GET /stories/live/counts': {
        total: 0,
        checked_recently: false,
        niches: [{ niche_id: 'n1', name: 'Fitness', count: 0, checked_recently: false }],
      },
      'GET /stories/live': { stories: [], next_cursor: null, total: 0 },
    })
    const niches = screen.getAllByTestId('story-niche').map((el) => el.textContent)
    expect(niches).toEqual(['All niches—', 'Fitness—'])
  })

  it('filters by niche from the sidebar and exports the filtered set', async () => {
    const { calls } = await renderPage({
      'GET /stories/live': (call) => ({
        stories: call.query.niche_id === 'n2' ? [live('b', { niche: 'n2' })] : [live('a'), live('b', { niche: 'n2' })],
        next_cursor: null,
        total: call.query.niche_id === 'n2' ? 1 : 2,
      }),
    })
    const travel = screen.getAllByTestId('story-niche').find((el) => el.textContent.startsWith('Travel'))
    await act(async () => {
      fireEvent.click(within(travel).getByRole('button'))
    })
    expect(rowIds()).toEqual(['b'])
    expect(calls.at(-1).query).toMatchObject({ niche_id: 'n2', sort: 'posted', order: 'desc' })
    await act(async () => {
      fireEvent.change(screen.getByTestId('stories-since'), { target: { value: '2h' } })
    })
    expect(calls.at(-1).query).toMatchObject({ niche_id: 'n2', since: '2h' })
    expect(screen.getByTestId('stories-export-csv').getAttribute('href')).toBe(
      '/api/stories/live.csv?niche_id=n2&since=2h&sort=posted&order=desc',
    )
    expect(screen.getByTestId('stories-export-json').getAttribute('href')).toBe(
      '/api/stories/live.json?niche_id=n2&since=2h&sort=posted&order=desc',
    )
  })

  it('sorts by expiry and loads more with the cursor', async () => {
    const { calls } = await renderPage({
      'GET /stories/live': (call) =>
        call.query.cursor === 'c2'
          ? { stories: [live('c')], next_cursor: null, total: 3 }
          : { stories: [live('a'), live('b')], next_cursor: 'c2', total: 3 },
    })
    expect(screen.getByTestId('stories-shown')).toHaveTextContent('Showing 2 of 3')
    await act(async () => {
      fireEvent.click(screen.getByTestId('stories-load-more'))
    })
    expect(rowIds()).toEqual(['a', 'b', 'c'])
    expect(calls.at(-1).query).toMatchObject({ cursor: 'c2', limit: '100' })
    expect(screen.queryByTestId('stories-load-more')).not.toBeInTheDocument()
    await act(async () => {
      fireEvent.click(screen.getByTestId('stories-sort-expires'))
    })
    expect(calls.at(-1).query).toMatchObject({ sort: 'expires', order: 'asc' })
    expect(calls.at(-1).query.cursor).toBeUndefined()
  })

  it('adds new detections and drops expired stories live', async () => {
    await renderPage({ 'GET /stories/live': { stories: [live('a', { posted: -7200 })], next_cursor: null, total: 1 } })
    act(() =>
      useStoriesStore.getState().applyDetected({
        profile_id: 'new',
        username: 'fresh_one',
        niche_id: 'n2',
        posted_at: iso(-30),
        expires_at: iso(86370),
        item_count: 1,
      }),
    )
    expect(rowIds()).toEqual(['new', 'a'])
    const fresh = screen.getAllByTestId('story-row')[0]
    expect(fresh).toHaveTextContent('Travel')
    expect(within(fresh).getByTestId('story-link')).toHaveAttribute('href', 'https://www.instagram.com/stories/fresh_one/')
    expect(screen.getByTestId('stories-total')).toHaveTextContent('2 live stories')
    act(() => useStoriesStore.getState().applyExpired({ profile_id: 'a', niche_id: 'n1' }))
    expect(rowIds()).toEqual(['new'])
    expect(screen.getByTestId('stories-total')).toHaveTextContent('1 live story')
  })

  it('ignores a detection outside the current filters', async () => {
    await renderPage({ 'GET /stories/live': { stories: [live('a')], next_cursor: null, total: 1 } })
    await act(async () => useStoriesStore.getState().setNiche('n1'))
    act(() =>
      useStoriesStore.getState().applyDetected({
        profile_id: 'other',
        username: 'elsewhere',
        niche_id: 'n2',
        posted_at: iso(-30),
        expires_at: iso(600),
        item_count: 1,
      }),
    )
    expect(rowIds()).toEqual(['a'])
  })

  it('removes a row when its countdown reaches zero', async () => {
    await renderPage({
      'GET /stories/live': { stories: [live('a'), live('soon', { expires: 1 })], next_cursor: null, total: 2 },
    })
    expect(rowIds()).toEqual(['a', 'soon'])
    await waitFor(() => expect(rowIds()).toEqual(['a']), { timeout: 4000 })
    expect(screen.getByTestId('stories-total')).toHaveTextContent('1 live story')
  })

  it('copies the selected usernames and says so', async () => {
    const writeText = vi.fn(async () => {})
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } })
    await renderPage({ 'GET /stories/live': { stories: [live('a'), live('b'), live('c')], next_cursor: null, total: 3 } })
    expect(screen.getByTestId('copy-usernames')).toBeDisabled()
    fireEvent.click(screen.getByRole('checkbox', { name: 'Select user_a' }))
    fireEvent.click(screen.getByRole('checkbox', { name: 'Select user_c' }))
    expect(screen.getByTestId('stories-selection-count')).toHaveTextContent('2 selected')
    await act(async () => {
      fireEvent.click(screen.getByTestId('copy-usernames'))
    })
    expect(writeText).toHaveBeenCalledWith('user_a\nuser_c')
    expect(screen.getByTestId('copy-confirmation')).toHaveTextContent('Copied 2 usernames')
  })

  it('tells a new user what to do when nothing is live', async () => {
    await renderPage({
      'GET /stories/live': { stories: [], next_cursor: null, total: 0 },
      'GET /stories/live/counts': { total: 0, niches: [] },
    })
    const empty = screen.getByTestId('stories-empty')
    expect(within(empty).getByRole('link', { name: 'Import accounts' })).toHaveAttribute('href', '/niches')
    expect(within(empty).getByRole('link', { name: 'Add a proxy + session pair' })).toHaveAttribute('href', '/proxies')
    expect(empty).toHaveTextContent('Run a check')
  })

  it('never says "no one has a story" for accounts nobody checked', async () => {
    const coverage = { at: '2026-12-01T12:00:00Z', window_hours: 24, profiles: 3000, checked: 0, not_checked: 3000, last_checked_at: null }
    await renderPage({
      'GET /stories/live': { stories: [], next_cursor: null, total: 0 },
      'GET /stories/live/counts': { total: 0, niches: [] },
      'GET /stories/live/coverage': coverage,
    })
    const empty = screen.getByTestId('stories-empty')
    expect(empty).toHaveTextContent("Nothing checked in the last 24 hours: no one's story is known yet.")
    expect(empty).not.toHaveTextContent('No live story')
    expect(within(empty).queryByRole('link', { name: 'Import accounts' })).not.toBeInTheDocument()
    expect(within(empty).getByRole('link', { name: 'Check whole niche' })).toHaveAttribute('href', '/niches')
    expect(screen.getByTestId('stories-coverage')).toHaveTextContent('0 of 3,000 accounts checked in the last 24 h')
  })

  it('says an empty list speaks only for the accounts checked, and the rest are unknown', async () => {
    await renderPage({
      'GET /stories/live': { stories: [], next_cursor: null, total: 0 },
      'GET /stories/live/counts': { total: 0, niches: [] },
      'GET /stories/live/coverage': {
        at: '2026-12-01T12:00:00Z',
        window_hours: 24,
        profiles: 3000,
        checked: 2400,
        answered: 2346,
        private_unknown: 54,
        not_checked: 600,
        last_checked_at: new Date(Date.now() - 120000).toISOString(),
      },
    })
    expect(screen.getByTestId('stories-empty')).toHaveTextContent('No live story among the 2,346 accounts checked in the last 24 hours.')
    expect(screen.getByTestId('stories-unknown')).toHaveTextContent(
      '600 accounts not checked in that time and 54 private that no checking session follows: whether they have a story is unknown.',
    )
    expect(screen.getByTestId('stories-coverage')).toHaveTextContent(
      '2,400 of 3,000 accounts checked in the last 24 h (54 private: unknown) · last check 2 min ago',
    )
  })

  it('opens the unknown accounts of the shown niche in the Niche Feed', async () => {
    const { calls } = await renderPage({
      'GET /stories/live': { stories: [], next_cursor: null, total: 0 },
      'GET /stories/live/counts': { total: 0, niches: [{ niche_id: 'n2', name: 'Travel', count: 0, checked_recently: true, seen_recently: false }] },
      'GET /stories/live/coverage': {
        at: '2026-12-01T12:00:00Z',
        window_hours: 24,
        profiles: 20,
        checked: 20,
        answered: 0,
        private_unknown: 20,
        not_checked: 0,
        last_checked_at: null,
      },
      'GET /profiles': { profiles: [], total: 0, page: 1, page_size: 50 },
    })
    await act(async () => useStoriesStore.getState().setNiche('n2'))
    useProfileStore.setState({ search: 'old search', story: 'live' })
    const link = within(screen.getByTestId('stories-coverage')).getByRole('link', { name: 'show the unknown' })
    expect(link).toHaveAttribute('href', '/niches')
    await act(async () => {
      fireEvent.click(link)
    })
    expect(window.location.pathname).toBe('/niches')
    const state = useProfileStore.getState()
    expect([state.nicheId, state.story, state.search, state.page]).toEqual(['n2', 'unknown', '', 1])
    const listed = calls.filter((c) => c.method === 'GET' && c.path === '/profiles').at(-1)
    expect(listed.query).toMatchObject({ niche_id: 'n2', story: 'unknown' })
  })

  it('offers no unknown link when every account was checked and could be seen', async () => {
    await renderPage({
      'GET /stories/live/coverage': {
        at: '2026-12-01T12:00:00Z', window_hours: 24, profiles: 3, checked: 3, answered: 3, private_unknown: 0, not_checked: 0, last_checked_at: null,
      },
    })
    expect(within(screen.getByTestId('stories-coverage')).queryByRole('link')).not.toBeInTheDocument()
  })

  it('says when the filters match nothing', async () => {
    await renderPage({
      'GET /stories/live': (call) =>
        call.query.search ? { stories: [], next_cursor: null, total: 0 } : { stories: [live('a')], next_cursor: null, total: 1 },
    })
    await act(async () => useStoriesStore.getState().setSearch('zzz'))
    expect(screen.getByTestId('stories-none-match')).toBeInTheDocument()
    expect(screen.queryByTestId('stories-empty')).not.toBeInTheDocument()
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Clear filters' }))
    })
    expect(rowIds()).toEqual(['a'])
  })
})

describe('Stories now counts', () => {
  it('recounts from the server after events instead of guessing beyond the loaded page', async () => {
    let total = 150
    const { calls } = await renderPage({
      'GET /stories/live': (call) => ({
        stories: call.query.limit === '1' ? [] : [live('a'), live('b')],
        next_cursor: call.query.limit === '1' ? null : 'more',
        total,
      }),
    })
    expect(screen.getByTestId('stories-total')).toHaveTextContent('150 live stories')
    // A detection that sorts after the loaded rows (already counted by the server).
    total = 150
    await act(async () =>
      useStoriesStore.getState().applyDetected({
        profile_id: 'old',
        username: 'old_one',
        niche_id: 'n1',
        posted_at: iso(-20 * 3600),
        expires_at: iso(4 * 3600),
        item_count: 1,
      }),
    )
    expect(rowIds()).toEqual(['a', 'b'])
    expect(screen.getByTestId('stories-total')).toHaveTextContent('150 live stories')
    total = 149
    act(() => useStoriesStore.getState().applyExpired({ profile_id: 'zzz', niche_id: 'n1' }))
    await waitFor(() => expect(screen.getByTestId('stories-total')).toHaveTextContent('149 live stories'))
    expect(calls.some((c) => c.path === '/stories/live' && c.query.limit === '1')).toBe(true)
  })
})
