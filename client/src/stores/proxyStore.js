// Proxy + session pairs.
import { create } from 'zustand'
import { proxies as proxiesApi } from '../api/index.js'
import { notify, settle, showError } from './uiStore.js'

function sortProxies(list) {
  return [...list].sort(
    (a, b) => String(a.created_at || '').localeCompare(String(b.created_at || '')) || String(a.id).localeCompare(String(b.id)),
  )
}

function upsert(list, proxy) {
  const found = list.some((p) => p.id === proxy.id)
  return sortProxies(found ? list.map((p) => (p.id === proxy.id ? { ...p, ...proxy } : p)) : [...list, proxy])
}

export const useProxyStore = create((set, get) => ({
  proxies: [],
  deletedIds: [],
  loading: false,
  loaded: false,

  async fetchProxies({ quiet = false } = {}) {
    if (!quiet) set({ loading: true })
    try {
      const list = await proxiesApi.list()
      set({ proxies: sortProxies(Array.isArray(list) ? list : []), loaded: true })
      settle('proxies:load')
    } catch (err) {
      if (!quiet) showError(err, 'proxies:load')
    } finally {
      set({ loading: false })
    }
  },

  /** Adds one pair; rejects with the ApiError so the form can show it next to its fields. */
  async addProxy(data) {
    const proxy = await proxiesApi.create(data)
    if (proxy && proxy.id) set({ proxies: upsert(get().proxies, proxy) })
    notify('Proxy + session pair added')
    return proxy
  },

  /** Imports `proxy_url|sessionid` lines; resolves to the per-line report. */
  async importProxies(lines) {
    const report = await proxiesApi.import(lines)
    const created = Array.isArray(report?.created) ? report.created : []
    let proxies = get().proxies
    created.forEach((p) => {
      proxies = upsert(proxies, p)
    })
    set({ proxies })
    return report
  },

  async setEnabled(id, enabled) {
    try {
      const proxy = await proxiesApi.setStatus(id, enabled ? 'active' : 'disabled')
      if (proxy && proxy.id) set({ proxies: upsert(get().proxies, proxy) })
      else get().fetchProxies({ quiet: true })
      return true
    } catch (err) {
      showError(err)
      return false
    }
  },

  /** Replaces a pair's session; `extra` may carry `user_agent` (empty string = the default). */
  async replaceSession(id, session, extra = {}) {
    try {
      const proxy = await proxiesApi.replaceSession(id, session, extra)
      if (proxy && proxy.id) set({ proxies: upsert(get().proxies, proxy) })
      notify('Session replaced; the pair is ready again')
      return true
    } catch (err) {
      showError(err)
      return false
    }
  },

  async setUserAgent(id, userAgent) {
    try {
      const proxy = await proxiesApi.setUserAgent(id, userAgent)
      if (proxy && proxy.id) set({ proxies: upsert(get().proxies, proxy) })
      notify(userAgent ? 'User agent saved' : 'User agent reset to the default')
      return true
    } catch (err) {
      showError(err)
      return false
    }
  },

  async removeProxy(id) {
    try {
      await proxiesApi.delete(id)
      get().dropProxy(id)
      notify('Proxy deleted')
      return true
    } catch (err) {
      showError(err)
      return false
    }
  },

  applyProxy(proxy) {
    // A late event must not bring back a pair that was just deleted.
    if (proxy && proxy.id && !get().deletedIds.includes(proxy.id)) {
      set({ proxies: upsert(get().proxies, proxy) })
    }
  },

  dropProxy(id) {
    set({
      proxies: get().proxies.filter((p) => p.id !== id),
      deletedIds: [...get().deletedIds.slice(-49), id],
    })
  },
}))
