// "Stories now": every account whose story is live, across niches. Rows come from
// GET /stories/live (cursor pages appended by "load more"); the event stream adds new
// detections (`story_detected`) and removes expired ones (`story_expired`), and the page's
// clock removes a row when its countdown reaches zero.
import { create } from 'zustand'
import { stories as storiesApi } from '../api/index.js'
import { insertStory, isLive, matchesFilters, serverOffsetMs, storyQuery, storyUrl } from '../lib/stories.js'
import { notify, settle, showError } from './uiStore.js'

export const STORIES_PAGE_SIZE = 100
const COUNTS_DELAY_MS = 400
// How many accounts the list speaks for changes with every check; reloaded at most this often.
const COVERAGE_DELAY_MS = 5000

export const initialStoriesState = {
  stories: [],
  total: 0,
  nextCursor: null,
  loading: false,
  loadingMore: false,
  loaded: false,
  nicheId: null,
  search: '',
  since: '',
  sort: 'posted',
  order: 'desc',
  counts: { total: 0, niches: [] },
  countsLoaded: false,
  coverage: null, // {profiles, checked, not_checked, window_hours, last_checked_at} of the niche shown
  offsetMs: 0, // server clock − browser clock
  selectedIds: new Set(),
}

let requestSeq = 0
let countsTimer = null
let coverageTimer = null
let coverageSeq = 0

/** Server time now (ms), as the countdowns see it. */
export function serverNow(state) {
  return Date.now() + (state.offsetMs || 0)
}

export const useStoriesStore = create((set, get) => {
  const refilter = (changes) => {
    set({ ...changes, selectedIds: new Set() })
    return get().fetchStories()
  }

  /**
   * Counts change with every event; one reload of the niche counts and of the list's total
   * for a burst of them. (An event cannot tell whether a row beyond the loaded pages was
   * already counted, so the server counts.)
   */
  const scheduleCounts = () => {
    if (!coverageTimer) {
      coverageTimer = setTimeout(() => {
        coverageTimer = null
        get().fetchCoverage()
      }, COVERAGE_DELAY_MS)
    }
    if (countsTimer) return
    countsTimer = setTimeout(() => {
      countsTimer = null
      get().fetchCounts()
      if (get().loaded) get().fetchTotal()
    }, COUNTS_DELAY_MS)
  }

  return {
    ...initialStoriesState,

    query() {
      return storyQuery(get())
    },

    /** First page for the current filters (replaces the rows). */
    async fetchStories({ quiet = false } = {}) {
      const seq = ++requestSeq
      if (!quiet) set({ loading: true })
      try {
        const data = await storiesApi.live({ ...get().query(), limit: STORIES_PAGE_SIZE })
        if (seq !== requestSeq) return
        const rows = Array.isArray(data?.stories) ? data.stories : []
        set({
          stories: rows,
          total: Number(data?.total) || 0,
          nextCursor: data?.next_cursor || null,
          loaded: true,
          offsetMs: rows.length ? serverOffsetMs(rows) : get().offsetMs,
        })
        settle('stories:load')
      } catch (err) {
        if (seq === requestSeq) showError(err, 'stories:load')
      } finally {
        if (seq === requestSeq) set({ loading: false })
      }
    },

    /** Appends the next cursor page. */
    async loadMore() {
      const { nextCursor, loadingMore } = get()
      if (!nextCursor || loadingMore) return
      const seq = requestSeq
      set({ loadingMore: true })
      try {
        const data = await storiesApi.live({ ...get().query(), limit: STORIES_PAGE_SIZE, cursor: nextCursor })
        if (seq !== requestSeq) return // the filters changed meanwhile
        const seen = new Set(get().stories.map((s) => s.profile_id))
        const rows = (Array.isArray(data?.stories) ? data.stories : []).filter((s) => !seen.has(s.profile_id))
        set({
          stories: [...get().stories, ...rows],
          total: Number(data?.total) || get().total,
          nextCursor: data?.next_cursor || null,
        })
      } catch (err) {
        showError(err)
      } finally {
        set({ loadingMore: false })
      }
    },

    /** The list's total under the current filters (without reloading the rows). */
    async fetchTotal() {
      const seq = requestSeq
      try {
        const data = await storiesApi.live({ ...get().query(), limit: 1 })
        if (seq === requestSeq && data && Number.isFinite(Number(data.total))) set({ total: Number(data.total) })
      } catch {
        // The next event or reload corrects it; a failed recount is not worth a banner.
      }
    },

    async fetchCounts() {
      try {
        const data = await storiesApi.counts()
        set({
          counts: {
            total: Number(data?.total) || 0,
            checked_recently: data?.checked_recently,
            seen_recently: data?.seen_recently,
            niches: Array.isArray(data?.niches) ? data.niches : [],
          },
          countsLoaded: true,
        })
        settle('stories:counts')
      } catch (err) {
        if (!get().countsLoaded) showError(err, 'stories:counts')
      }
    },

    /** How many accounts in the niche shown (or all) were checked within a story's lifetime:
     * an empty list proves "no story" only for those. */
    async fetchCoverage(nicheId = get().nicheId) {
      const seq = ++coverageSeq
      try {
        const data = await storiesApi.coverage(nicheId ? { niche_id: nicheId } : {})
        if (seq === coverageSeq && data) set({ coverage: data })
      } catch {
        // The next load or event tries again; the list itself is what the banner is for.
      }
    },

    setNiche(nicheId) {
      const next = nicheId || null
      if (next !== get().nicheId) {
        set({ coverage: null })
        get().fetchCoverage(next)
      }
      return refilter({ nicheId: next })
    },
    setSearch(search) {
      if (search === get().search) return Promise.resolve()
      return refilter({ search })
    },
    setSince: (since) => refilter({ since }),
    /** Picks the sort field; picking the current one flips the order. */
    setSort(sort) {
      const { sort: current, order } = get()
      const next = current === sort ? (order === 'desc' ? 'asc' : 'desc') : sort === 'expires' ? 'asc' : 'desc'
      return refilter({ sort, order: next })
    },

    setOrdering: (sort, order) => refilter({ sort, order: order === 'asc' ? 'asc' : 'desc' }),
    clearFilters() {
      if (get().nicheId) get().fetchCoverage(null)
      return refilter({ nicheId: null, search: '', since: '' })
    },

    // --- live updates ----------------------------------------------------------------------

    /** `story_detected` {profile_id, username, niche_id, posted_at, expires_at, item_count}. */
    applyDetected(event) {
      if (!event || !event.profile_id) return
      scheduleCounts()
      const state = get()
      if (!state.loaded) return
      const now = serverNow(state)
      const niche = state.counts.niches.find((n) => n.niche_id === event.niche_id)
      const row = {
        niche_name: niche?.name ?? null,
        first_posted_at: event.posted_at,
        checked_at: null,
        story_url: storyUrl(event.username),
        ...event,
      }
      if (!matchesFilters(row, state, now)) return
      const known = state.stories.some((s) => s.profile_id === row.profile_id)
      const stories = insertStory(state.stories, row, { sort: state.sort, order: state.order, complete: !state.nextCursor })
      // A row that lands inside the loaded range and was not there is new; anything else is
      // left to the recount.
      const added = !known && stories.some((s) => s.profile_id === row.profile_id)
      set({ stories, total: added ? state.total + 1 : state.total })
    },

    /** `story_expired` {profile_id, niche_id}. */
    applyExpired(event) {
      if (!event || !event.profile_id) return
      scheduleCounts()
      get().dropStories([event.profile_id])
    },

    dropStories(profileIds) {
      const gone = new Set(profileIds)
      const { stories, total, selectedIds } = get()
      const kept = stories.filter((s) => !gone.has(s.profile_id))
      if (kept.length === stories.length) return
      const selected = new Set([...selectedIds].filter((id) => !gone.has(id)))
      set({ stories: kept, total: Math.max(0, total - (stories.length - kept.length)), selectedIds: selected })
    },

    /** Removes rows whose countdown reached zero (called by the page's clock). */
    pruneExpired() {
      const now = serverNow(get())
      const expired = get()
        .stories.filter((s) => !isLive(s, now))
        .map((s) => s.profile_id)
      if (expired.length) {
        get().dropStories(expired)
        scheduleCounts()
      }
    },

    // --- selection -------------------------------------------------------------------------

    toggle(profileId) {
      const next = new Set(get().selectedIds)
      if (next.has(profileId)) next.delete(profileId)
      else next.add(profileId)
      set({ selectedIds: next })
    },
    selectAllLoaded() {
      set({ selectedIds: new Set(get().stories.map((s) => s.profile_id)) })
    },
    clearSelection() {
      set({ selectedIds: new Set() })
    },
    selectedUsernames() {
      const selected = get().selectedIds
      return get()
        .stories.filter((s) => selected.has(s.profile_id))
        .map((s) => s.username)
    },

    /** Copies the selected usernames (one per line); resolves to how many were copied. */
    async copySelected() {
      const names = get().selectedUsernames()
      if (!names.length) return 0
      try {
        await copyText(names.join('\n'))
        notify(`Copied ${names.length} username${names.length === 1 ? '' : 's'}`)
        return names.length
      } catch {
        showError('Could not copy to the clipboard (the browser refused)')
        return 0
      }
    },
  }
})

/** Clipboard API where allowed; the old selection trick otherwise (plain HTTP, old browsers). */
export async function copyText(text) {
  if (typeof navigator !== 'undefined' && navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text)
      return
    } catch {
      // Permission denied or not focused: fall through to the selection trick.
    }
  }
  const area = document.createElement('textarea')
  area.value = text
  area.setAttribute('readonly', '')
  area.style.position = 'fixed'
  area.style.opacity = '0'
  document.body.appendChild(area)
  area.select()
  const ok = typeof document.execCommand === 'function' && document.execCommand('copy')
  area.remove()
  if (!ok) throw new Error('copy refused')
}
