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

/** The pair as a stored test leaves it (a test that was not sent changes nothing). */
function withTest(proxy, report) {
  if (!report || report.result === 'not_sent') return proxy
  return {
    ...proxy,
    test_state: report.ok ? 'ok' : 'failed',
    last_test: { tested_at: report.tested_at, ok: report.ok, summary: report.summary },
  }
}

export const useProxyStore = create((set, get) => ({
  proxies: [],
  deletedIds: [],
  loading: false,
  loaded: false,
  testing: {}, // proxy id → true while its test runs
  testingAll: false,
  reports: {}, // proxy id → the report of its last test on this page (with the steps)

  async fetchProxies({ quiet = false } = {}) {
    if (!quiet) set({ loading: true })
    try {
      const list = await proxiesApi.list()
      // A list asked for before a delete may answer after it: it must not bring the pair back.
      const deleted = get().deletedIds
      const kept = (Array.isArray(list) ? list : []).filter((p) => !deleted.includes(p.id))
      set({ proxies: sortProxies(kept), loaded: true })
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

  /** Stores test results on their pairs; `shown` reports open under their pair (steps). */
  applyReports(list, shown = list) {
    const reports = { ...get().reports }
    const byId = {}
    list.forEach((report) => {
      byId[report.proxy_id] = report
      delete reports[report.proxy_id]
    })
    shown.forEach((report) => {
      reports[report.proxy_id] = report
    })
    set({ reports, proxies: get().proxies.map((p) => withTest(p, byId[p.id])) })
  },

  /** Tests one pair; resolves to its report (null when the request failed). */
  async testPair(id) {
    set({ testing: { ...get().testing, [id]: true } })
    try {
      const report = await proxiesApi.test(id)
      get().applyReports([report])
      notify(`${report.proxy}: ${report.summary}`)
      return report
    } catch (err) {
      showError(err)
      return null
    } finally {
      const { [id]: _done, ...rest } = get().testing
      set({ testing: rest })
    }
  },

  /** "Test all": every switched-on pair, a few at once on the server. */
  async testAll() {
    set({ testingAll: true })
    try {
      const list = await proxiesApi.testAll()
      const reports = Array.isArray(list) ? list : []
      // The pairs that work say so in their chip; the others open their steps.
      get().applyReports(
        reports,
        reports.filter((r) => !r.ok),
      )
      const ok = reports.filter((r) => r.ok).length
      const notSent = reports.filter((r) => r.result === 'not_sent').length
      const failed = reports.length - ok - notSent
      notify(
        reports.length
          ? `Tested ${reports.length} pair${reports.length === 1 ? '' : 's'}: ${ok} ok, ${failed} failed` +
              (notSent ? `, ${notSent} not sent (budget)` : '')
          : 'No switched-on pair to test',
      )
      return reports
    } catch (err) {
      showError(err)
      return null
    } finally {
      set({ testingAll: false })
    }
  },

  dismissReport(id) {
    const { [id]: _gone, ...rest } = get().reports
    set({ reports: rest })
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
