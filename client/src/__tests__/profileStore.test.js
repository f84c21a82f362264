import { beforeEach, describe, expect, it } from 'vitest'
import { useNicheStore } from '../stores/nicheStore.js'
import { buildFilterParams, buildProfileParams, initialProfileState, pageRange, useProfileStore } from '../stores/profileStore.js'
import { makeProfile, mockFetch } from '../test/fetchMock.js'

beforeEach(() => {
  useProfileStore.setState({ ...initialProfileState, selectedIds: new Set() })
  useNicheStore.setState({ niches: [], loaded: false })
})

function pageOf(ids, total = ids.length) {
  return { profiles: ids.map((id) => makeProfile(id)), total, page: 1, page_size: 50 }
}

describe('profile query parameters', () => {
  it('always sends page and page_size, and only the filters that are set', () => {
    expect(buildProfileParams(initialProfileState)).toEqual({ page: 1, page_size: 50 })
    const state = {
      ...initialProfileState,
      nicheId: 'n1',
      status: 'inactive',
      search: '  bob ',
      story: 'none',
      sortBy: 'niche',
      sortDirection: 'desc',
      page: 3,
      pageSize: 25,
    }
    expect(buildProfileParams(state)).toEqual({
      page: 3,
      page_size: 25,
      niche_id: 'n1',
      status: 'inactive',
      search: 'bob',
      story: 'none',
      sort_by: 'niche__name',
      sort_direction: 'desc',
    })
    expect(buildFilterParams(state)).toEqual({ niche_id: 'n1', status: 'inactive', search: 'bob', story: 'none' })
  })

  it('computes the "x–y of total" range', () => {
    expect(pageRange({ page: 2, pageSize: 25, total: 60, profiles: new Array(25) })).toEqual({ from: 26, to: 50 })
    expect(pageRange({ page: 1, pageSize: 25, total: 0, profiles: [] })).toEqual({ from: 0, to: 0 })
  })
})

describe('profileStore', () => {
  it('fetches with filters and resets to page 1 when a filter changes', async () => {
    const { calls } = mockFetch({ 'GET /profiles': pageOf(['a', 'b'], 120) })
    useProfileStore.setState({ page: 3 })
    await useProfileStore.getState().setStatus('active')
    expect(calls[0].query).toMatchObject({ page: '1', page_size: '50', status: 'active' })
    expect(useProfileStore.getState().total).toBe(120)
    await useProfileStore.getState().setSearch('ali')
    expect(calls[1].query).toMatchObject({ search: 'ali', status: 'active' })
    await useProfileStore.getState().setStory('unknown')
    expect(calls[2].query.story).toBe('unknown')
    expect(calls[2].query.active_story).toBeUndefined()
  })

  it('sorts by a column, then flips the direction on a second click', async () => {
    const { calls } = mockFetch({ 'GET /profiles': pageOf(['a']) })
    await useProfileStore.getState().setSort('last_checked')
    expect(calls[0].query).toMatchObject({ sort_by: 'last_checked', sort_direction: 'asc' })
    await useProfileStore.getState().setSort('last_checked')
    expect(calls[1].query).toMatchObject({ sort_by: 'last_checked', sort_direction: 'desc' })
    await useProfileStore.getState().setSort('username')
    expect(calls[2].query).toMatchObject({ sort_by: 'username', sort_direction: 'asc' })
  })

  it('pages within bounds and changes page size', async () => {
    const { calls } = mockFetch({ 'GET /profiles': pageOf(['a'], 120) })
    await useProfileStore.getState().fetchProfiles()
    await useProfileStore.getState().setPage(3)
    expect(calls[1].query.page).toBe('3')
    await useProfileStore.getState().setPage(99)
    expect(calls[2].query.page).toBe('3')
    await useProfileStore.getState().setPageSize('100')
    expect(calls[3].query).toMatchObject({ page: '1', page_size: '100' })
  })

  it('clears the selection when the niche changes', async () => {
    const { calls } = mockFetch({ 'GET /profiles': pageOf(['a']) })
    useProfileStore.setState({ selectedIds: new Set(['a']) })
    await useProfileStore.getState().setNiche('n2')
    expect(calls[0].query.niche_id).toBe('n2')
    expect(useProfileStore.getState().selectedIds.size).toBe(0)
  })

  it('selects with click, shift-click range and ctrl-click toggle over the page', async () => {
    mockFetch({ 'GET /profiles': pageOf(['a', 'b', 'c', 'd', 'e']) })
    await useProfileStore.getState().fetchProfiles()
    const s = useProfileStore.getState()
    s.clickRow('b', {})
    s.clickRow('d', { shift: true })
    expect([...useProfileStore.getState().selectedIds].sort()).toEqual(['b', 'c', 'd'])
    s.clickRow('a', { toggle: true })
    expect([...useProfileStore.getState().selectedIds].sort()).toEqual(['a', 'b', 'c', 'd'])
    s.clickRow('c', { toggle: true })
    expect([...useProfileStore.getState().selectedIds].sort()).toEqual(['a', 'b', 'd'])
    s.clickRow('e', {})
    expect([...useProfileStore.getState().selectedIds]).toEqual(['e'])
  })

  it('selects a page and keeps selections across pages', async () => {
    mockFetch({ 'GET /profiles': (call) => pageOf(call.query.page === '1' ? ['a', 'b'] : ['c', 'd'], 4) })
    await useProfileStore.getState().fetchProfiles()
    useProfileStore.getState().selectPage()
    await useProfileStore.getState().setPage(2)
    useProfileStore.getState().toggleRow('c', {})
    expect([...useProfileStore.getState().selectedIds].sort()).toEqual(['a', 'b', 'c'])
  })

  it('"select all matching" asks /profiles/ids with the same filters', async () => {
    const { calls } = mockFetch({ 'GET /profiles/ids': { ids: ['a', 'b', 'c'], total: 3 } })
    useProfileStore.setState({ nicheId: 'n1', status: 'active', search: 'x', sortBy: 'username', page: 2 })
    await useProfileStore.getState().selectAllMatching()
    expect(calls[0].query).toEqual({ niche_id: 'n1', status: 'active', search: 'x' })
    expect(useProfileStore.getState().selectedIds.size).toBe(3)
  })

  it('"select accounts with active stories" adds active_story=true', async () => {
    const { calls } = mockFetch({ 'GET /profiles/ids': { ids: ['s1'], total: 1 } })
    useProfileStore.setState({ nicheId: 'n1' })
    await useProfileStore.getState().selectActiveStories()
    expect(calls[0].query).toEqual({ niche_id: 'n1', active_story: 'true' })
    expect([...useProfileStore.getState().selectedIds]).toEqual(['s1'])
  })

  it('bulk status and niche changes go to POST /profiles/bulk', async () => {
    const { calls } = mockFetch({ 'POST /profiles/bulk': { updated: 2 }, 'GET /profiles': pageOf([]), 'GET /niches': [] })
    useProfileStore.setState({ selectedIds: new Set(['a', 'b']) })
    await useProfileStore.getState().bulkUpdate({ status: 'inactive' })
    expect(calls[0]).toMatchObject({ method: 'POST', path: '/profiles/bulk', body: { profile_ids: ['a', 'b'], status: 'inactive' } })
    await useProfileStore.getState().bulkUpdate({ niche_id: 'n2' })
    const move = calls.filter((c) => c.path === '/profiles/bulk')[1]
    expect(move.body).toEqual({ profile_ids: ['a', 'b'], niche_id: 'n2' })
    expect(useProfileStore.getState().selectedIds.size).toBe(0)
  })

  it('ignores an answer that a newer request overtook', async () => {
    let first
    mockFetch({
      'GET /profiles': (call) => (call.query.search === 'old' ? new Promise((r) => (first = r)) : pageOf(['new'])),
    })
    useProfileStore.setState({ search: 'old' })
    const slow = useProfileStore.getState().fetchProfiles()
    await useProfileStore.getState().setSearch('new')
    first({ status: 200, body: pageOf(['old']) })
    await slow
    expect(useProfileStore.getState().profiles.map((p) => p.id)).toEqual(['new'])
  })
})
