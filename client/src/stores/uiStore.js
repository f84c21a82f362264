// App-wide UI state: the dismissable error banner, short success notices and the API token
// prompt. Stores report failures here so every error shows the server's own message.
//
// An error belongs to the page (path) and, when given, the action (`source`) that raised it:
// leaving the page clears it, and so does the next success of the same action.
import { create } from 'zustand'
import { currentPath } from '../lib/router.js'

let nextId = 1

export const useUiStore = create((set, get) => ({
  errors: [],
  notices: [],
  tokenPrompt: null, // {rejected, resolve} while the "API token" prompt is open

  /**
   * Shows an error (an ApiError, an Error or a string) in the banner; repeats are merged. With a
   * `source` (e.g. "proxies:load"), a newer error of that action replaces the older one and
   * `settle(source)` removes it.
   */
  showError(err, source = null) {
    const message = typeof err === 'string' ? err : err?.message || 'Something went wrong'
    if (err && err.name === 'AbortError') return
    const path = currentPath()
    const others = source ? get().errors.filter((e) => e.source !== source) : get().errors
    const existing = others.find((e) => e.message === message)
    if (existing) {
      set({ errors: others.map((e) => (e === existing ? { ...e, count: e.count + 1, path } : e)) })
      return
    }
    set({ errors: [...others, { id: nextId++, message, status: err?.status ?? null, count: 1, path, source }] })
  },

  /** The action `source` succeeded: its error, if any, is no longer true. */
  settle(source) {
    if (get().errors.some((e) => e.source === source)) set({ errors: get().errors.filter((e) => e.source !== source) })
  },

  /** The user is now on `path`: errors raised on other pages go away. */
  leavePage(path) {
    if (get().errors.some((e) => e.path !== path)) set({ errors: get().errors.filter((e) => e.path === path) })
  },

  dismissError(id) {
    set({ errors: get().errors.filter((e) => e.id !== id) })
  },

  clearErrors() {
    set({ errors: [] })
  },

  /** A short success message that disappears by itself. */
  notify(message, timeoutMs = 4000) {
    const id = nextId++
    set({ notices: [...get().notices, { id, message }] })
    if (timeoutMs > 0) setTimeout(() => get().dismissNotice(id), timeoutMs)
  },

  dismissNotice(id) {
    set({ notices: get().notices.filter((n) => n.id !== id) })
  },

  /** Opens the token prompt; resolves to the entered token or null (cancelled). */
  requestToken({ rejected = false } = {}) {
    const open = get().tokenPrompt
    if (open) return open.promise
    let resolve
    const promise = new Promise((r) => {
      resolve = r
    })
    set({ tokenPrompt: { rejected, resolve, promise } })
    return promise
  },

  answerTokenPrompt(token) {
    const prompt = get().tokenPrompt
    if (!prompt) return
    set({ tokenPrompt: null })
    prompt.resolve(token ? token.trim() : null)
  },
}))

export const showError = (err, source) => useUiStore.getState().showError(err, source)
export const settle = (source) => useUiStore.getState().settle(source)
export const notify = (message, timeoutMs) => useUiStore.getState().notify(message, timeoutMs)
