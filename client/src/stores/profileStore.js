// Profiles of the Niche Feed: filters, sort and server-side pagination, plus the selection
// (a Set of ids that survives paging, so "select all N matching" can span every page).
import { create } from 'zustand'
import { profiles as profilesApi } from '../api/index.js'
import { checkboxSelection, clickSelection, pageSelection } from '../lib/selection.js'
import { useNicheStore } from './nicheStore.js'
import { notify, settle, showError } from './uiStore.js'

export const PAGE_SIZES = [25, 50, 100]
export const PROFILE_STATUSES = ['active', 'inactive', 'deleted', 'suspended']
export const MAX_SELECT_ALL = 100000

/** Client column → server `sort_by` value (the original contract's names). */
export const SORT_COLUMNS = {
  username: 'username',
  niche: 'niche__name',
  status: 'status',
  last_checked: 'last_checked',
  last_detected: 'last_detected',
  detection_rate: 'detection_rate',
  total_checks: 'total_checks',
}

export const initialProfileState = {
  profiles: [],
  total: 0,
  page: 1,
  pageSize: 50,
  nicheId: null, // null = all niches
  search: '',
  status: 'any', // any | active | inactive | deleted | suspended
  story: 'any', // any | a story answer of the server: live | none | unknown
  notFound: 'any', // any | true (Instagram says the account does not exist) | false
  sortBy: null, // a key of SORT_COLUMNS
  sortDirection: 'asc',
  loading: false,
  loaded: false,
  selectedIds: new Set(),
  anchorId: null,
}

/** The story answers the Story filter offers (`?story=`; not_found has its own filter). */
export const STORY_FILTERS = ['live', 'none', 'unknown']

/** Query of GET /profiles/ids: the filters without paging or sorting. */
export function buildFilterParams(state) {
  const params = {}
  if (state.nicheId) params.niche_id = state.nicheId
  if (state.status && state.status !== 'any') params.status = state.status
  const search = (state.search || '').trim()
  if (search) params.search = search
  if (STORY_FILTERS.includes(state.story)) params.story = state.story
  if (state.notFound === 'true' || state.notFound === 'false') params.not_found = state.notFound
  return params
}

/** Query of GET /profiles for the current page. */
export function buildProfileParams(state) {
  const params = { page: state.page, page_size: state.pageSize, ...buildFilterParams(state) }
  if (state.sortBy && SORT_COLUMNS[state.sortBy]) {
    params.sort_by = SORT_COLUMNS[state.sortBy]
    params.sort_direction = state.sortDirection === 'desc' ? 'desc' : 'asc'
  }
  return params
}

/** `{from, to}` of the rows shown ("x–y of total"); zeros for an empty result. */
export function pageRange({ page, pageSize, total, profiles }) {
  if (!total || !profiles.length) return { from: 0, to: 0 }
  const from = (page - 1) * pageSize + 1
  return { from, to: from + profiles.length - 1 }
}

export function pageCount({ total, pageSize }) {
  return Math.max(1, Math.ceil((total || 0) / pageSize))
}

let requestSeq = 0

export const useProfileStore = create((set, get) => {
  /** Changes filters, goes back to page 1 and reloads. */
  const refilter = (changes) => {
    set({ ...changes, page: 1 })
    return get().fetchProfiles()
  }

  return {
    ...initialProfileState,

    async fetchProfiles() {
      const seq = ++requestSeq
      set({ loading: true })
      try {
        const data = await profilesApi.list(buildProfileParams(get()))
        if (seq !== requestSeq) return // a newer request is on its way
        const profiles = Array.isArray(data?.profiles) ? data.profiles : []
        const total = Number(data?.total) || 0
        set({ profiles, total, loaded: true })
        settle('profiles:load')
        // A page past the end (after a delete or a filter change elsewhere): go to the last one.
        const last = pageCount({ total, pageSize: get().pageSize })
        if (!profiles.length && total > 0 && get().page > last) {
          set({ page: last })
          await get().fetchProfiles()
        }
      } catch (err) {
        if (seq === requestSeq) showError(err, 'profiles:load')
      } finally {
        if (seq === requestSeq) set({ loading: false })
      }
    },

    /** Shows one niche (null = all); the selection belongs to a niche, so it is cleared. */
    setNiche(nicheId) {
      return refilter({ nicheId: nicheId || null, selectedIds: new Set(), anchorId: null })
    },
    setSearch(search) {
      if (search === get().search) return Promise.resolve()
      return refilter({ search })
    },
    setStatus(status) {
      return refilter({ status })
    },
    setStory(story) {
      return refilter({ story })
    },
    /** The accounts of one story answer in a niche (null = all), opened from another page. */
    showStoryAnswer(nicheId, story) {
      return refilter({
        nicheId: nicheId || null,
        story,
        search: '',
        notFound: 'any',
        selectedIds: new Set(),
        anchorId: null,
      })
    },
    setNotFound(notFound) {
      return refilter({ notFound })
    },
    setPageSize(pageSize) {
      return refilter({ pageSize: Number(pageSize) })
    },
    setPage(page) {
      const last = pageCount(get())
      const next = Math.min(Math.max(1, page), last)
      set({ page: next })
      return get().fetchProfiles()
    },
    /** Clicking a header sorts by it ascending; clicking it again flips the direction. */
    setSort(column) {
      if (!SORT_COLUMNS[column]) return Promise.resolve()
      const { sortBy, sortDirection } = get()
      const direction = sortBy === column && sortDirection === 'asc' ? 'desc' : 'asc'
      return refilter({ sortBy: column, sortDirection: direction })
    },

    // --- selection -------------------------------------------------------------------------

    pageIds() {
      return get().profiles.map((p) => p.id)
    },
    clickRow(id, mods) {
      const { selectedIds, anchorId } = get()
      const next = clickSelection({ selected: selectedIds, anchorId }, get().pageIds(), id, mods)
      set({ selectedIds: next.selected, anchorId: next.anchorId })
    },
    toggleRow(id, mods) {
      const { selectedIds, anchorId } = get()
      const next = checkboxSelection({ selected: selectedIds, anchorId }, get().pageIds(), id, mods)
      set({ selectedIds: next.selected, anchorId: next.anchorId })
    },
    selectPage() {
      set({ selectedIds: pageSelection(get().selectedIds, get().pageIds()) })
    },
    deselectPage() {
      set({ selectedIds: pageSelection(get().selectedIds, get().pageIds(), true) })
    },
    clearSelection() {
      set({ selectedIds: new Set(), anchorId: null })
    },
    /** Selects every profile matching the filters (all pages). */
    async selectAllMatching() {
      try {
        const data = await profilesApi.ids(buildFilterParams(get()))
        const ids = Array.isArray(data?.ids) ? data.ids : []
        set({ selectedIds: new Set(ids), anchorId: null })
        if ((data?.total ?? ids.length) > ids.length) {
          notify(
            `Selected the first ${ids.length.toLocaleString('en-US')} of ${Number(data.total).toLocaleString('en-US')} matching profiles`,
          )
        }
        return ids.length
      } catch (err) {
        showError(err)
        return 0
      }
    },
    /** Selects every profile matching the filters that has an active story right now. */
    async selectActiveStories() {
      try {
        const data = await profilesApi.ids({ ...buildFilterParams(get()), active_story: 'true' })
        const ids = Array.isArray(data?.ids) ? data.ids : []
        set({ selectedIds: new Set(ids), anchorId: null })
        notify(
          ids.length
            ? `Selected ${ids.length.toLocaleString('en-US')} accounts with an active story`
            : 'No account has an active story right now',
        )
        return ids.length
      } catch (err) {
        showError(err)
        return 0
      }
    },

    // --- bulk actions ----------------------------------------------------------------------

    /** Clears the "not found" flag of the selected profiles by hand (they are checked again). */
    async clearNotFound() {
      const ids = [...get().selectedIds]
      if (!ids.length) return false
      try {
        const result = await profilesApi.clearNotFound(ids)
        const count = Number(result?.cleared ?? result?.updated ?? ids.length)
        settle('profiles:clear-not-found')
        notify(`Cleared "not found" on ${count.toLocaleString('en-US')} profile${count === 1 ? '' : 's'}`)
        await get().fetchProfiles()
        return true
      } catch (err) {
        showError(err, 'profiles:clear-not-found')
        return false
      }
    },

    /** POST /profiles/bulk with `{status}` or `{niche_id}` for the selection; reloads after. */
    async bulkUpdate(changes) {
      const ids = [...get().selectedIds]
      if (!ids.length) return false
      try {
        const result = await profilesApi.bulk(ids, changes)
        const count = result?.updated ?? ids.length
        settle('profiles:bulk')
        notify(`Updated ${count.toLocaleString('en-US')} profile${count === 1 ? '' : 's'}`)
        if (changes.niche_id !== undefined) set({ selectedIds: new Set(), anchorId: null })
        await Promise.all([get().fetchProfiles(), useNicheStore.getState().fetchNiches()])
        return true
      } catch (err) {
        showError(err, 'profiles:bulk')
        return false
      }
    },
  }
})
