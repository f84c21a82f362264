// Niches: the list shown in the sidebar with live profile counts.
import { create } from 'zustand'
import { niches as nichesApi } from '../api/index.js'
import { showError } from './uiStore.js'

function sortNiches(list) {
  return [...list].sort((a, b) => (a.order ?? 0) - (b.order ?? 0) || String(a.name).localeCompare(String(b.name)))
}

export const useNicheStore = create((set, get) => ({
  niches: [],
  loading: false,
  loaded: false,

  async fetchNiches() {
    set({ loading: true })
    try {
      const list = await nichesApi.list()
      set({ niches: Array.isArray(list) ? list : [], loaded: true })
    } catch (err) {
      showError(err)
    } finally {
      set({ loading: false })
    }
  },

  /** Creates a niche at the end of the list; resolves to it, or null on failure. */
  async createNiche(name) {
    const trimmed = name.trim()
    if (!trimmed) return null
    try {
      const maxOrder = get().niches.reduce((m, n) => Math.max(m, n.order ?? 0), -1)
      const niche = await nichesApi.create({ name: trimmed, order: maxOrder + 1 })
      set({ niches: sortNiches([...get().niches.filter((n) => n.id !== niche.id), niche]) })
      return niche
    } catch (err) {
      showError(err)
      return null
    }
  },

  /** Saves changed fields (name, daily_story_target); resolves to true when saved. */
  async updateNiche(id, changes) {
    try {
      const niche = await nichesApi.update(id, changes)
      set({ niches: sortNiches(get().niches.map((n) => (n.id === id ? { ...n, ...niche } : n))) })
      return true
    } catch (err) {
      showError(err)
      return false
    }
  },

  renameNiche(id, name) {
    const trimmed = name.trim()
    const current = get().niches.find((n) => n.id === id)
    if (!trimmed || !current || current.name === trimmed) return Promise.resolve(false)
    return get().updateNiche(id, { name: trimmed })
  },

  async deleteNiche(id) {
    try {
      await nichesApi.delete(id)
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
