// Niches: the list shown in the sidebar with live profile counts.
import { create } from 'zustand'
import { niches as nichesApi } from '../api/index.js'
import { settle, showError } from './uiStore.js'

function sortNiches(list) {
  return [...list].sort((a, b) => (a.order ?? 0) - (b.order ?? 0) || String(a.name).localeCompare(String(b.name)))
}

// A list read that started before a change the server confirmed (a niche created, renamed,
// deleted, reordered) may not contain it: such a list is read again rather than shown, and only
// the newest read is applied.
let readSeq = 0
let changeSeq = 0

export const useNicheStore = create((set, get) => ({
  niches: [],
  loading: false,
  loaded: false,

  async fetchNiches() {
    const seq = ++readSeq
    const changesBefore = changeSeq
    set({ loading: true })
    try {
      const list = await nichesApi.list()
      if (seq !== readSeq) return
      if (changesBefore !== changeSeq) {
        await get().fetchNiches()
        return
      }
      set({ niches: Array.isArray(list) ? list : [], loaded: true })
      settle('niches:load')
    } catch (err) {
      if (seq === readSeq) showError(err, 'niches:load')
    } finally {
      if (seq === readSeq) set({ loading: false })
    }
  },

  /**
   * Creates a niche at the end of the list; resolves to {niche} or {error} (the server's message,
   * for the form to show next to the name it kept).
   */
  async addNiche(name) {
    const trimmed = name.trim()
    if (!trimmed) return { error: 'Enter a name' }
    try {
      const maxOrder = get().niches.reduce((m, n) => Math.max(m, n.order ?? 0), -1)
      const niche = await nichesApi.create({ name: trimmed, order: maxOrder + 1 })
      changeSeq += 1
      set({ niches: sortNiches([...get().niches.filter((n) => n.id !== niche.id), niche]) })
      return { niche }
    } catch (err) {
      return { error: err?.message || 'Could not create the niche' }
    }
  },

  /** Creates a niche; resolves to it, or null on failure (shown in the banner). */
  async createNiche(name) {
    const { niche, error } = await get().addNiche(name)
    if (error) showError(error)
    return niche || null
  },

  /** Saves changed fields (name, daily_story_target); resolves to null when saved, else the
   *  server's message (no banner: inline edits show it next to the value they kept). */
  async saveNiche(id, changes) {
    try {
      const niche = await nichesApi.update(id, changes)
      changeSeq += 1
      set({ niches: sortNiches(get().niches.map((n) => (n.id === id ? { ...n, ...niche } : n))) })
      return null
    } catch (err) {
      return err?.message || 'Could not save the niche'
    }
  },

  /** Saves changed fields; resolves to true when saved (a failure goes to the banner). */
  async updateNiche(id, changes) {
    const error = await get().saveNiche(id, changes)
    if (error) showError(error, `niche:${id}`)
    else settle(`niche:${id}`)
    return !error
  },

  /** Renames a niche; resolves to null when saved (or nothing to do), else the server's message. */
  renameNiche(id, name) {
    const trimmed = name.trim()
    const current = get().niches.find((n) => n.id === id)
    if (!trimmed) return Promise.resolve('A niche needs a name')
    if (!current || current.name === trimmed) return Promise.resolve(null)
    return get().saveNiche(id, { name: trimmed })
  },

  async deleteNiche(id) {
    try {
      await nichesApi.delete(id)
      changeSeq += 1
      set({ niches: get().niches.filter((n) => n.id !== id) })
      // Its profiles moved to another niche, so counts changed.
      get().fetchNiches()
      return true
    } catch (err) {
      showError(err)
      return false
    }
  },

  /** Applies the new order at once and saves it; reloads on failure. */
  async reorderNiches(orderedIds) {
    const byId = new Map(get().niches.map((n) => [n.id, n]))
    const optimistic = orderedIds.filter((id) => byId.has(id)).map((id, index) => ({ ...byId.get(id), order: index }))
    set({ niches: optimistic })
    try {
      const list = await nichesApi.reorder(orderedIds)
      changeSeq += 1
      if (Array.isArray(list)) set({ niches: list })
      return true
    } catch (err) {
      showError(err)
      get().fetchNiches()
      return false
    }
  },

  /** Adjusts one niche's count locally (e.g. after an import) before the next reload. */
  setProfileCount(id, count) {
    set({ niches: get().niches.map((n) => (n.id === id ? { ...n, profile_count: count } : n)) })
  },
}))
