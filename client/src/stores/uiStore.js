// App-wide UI state: the dismissable error banner, short success notices and the API token
// prompt. Stores report failures here so every error shows the server's own message.
import { create } from 'zustand'

let nextId = 1

export const useUiStore = create((set, get) => ({
  errors: [],
  notices: [],
  tokenPrompt: null, // {rejected, resolve} while the "API token" prompt is open

  /** Shows an error (an ApiError, an Error or a string) in the banner; repeats are merged. */
  showError(err) {
    const message = typeof err === 'string' ? err : err?.message || 'Something went wrong'
    if (err && err.name === 'AbortError') return
    const existing = get().errors.find((e) => e.message === message)
    if (existing) {
      set({ errors: get().errors.map((e) => (e === existing ? { ...e, count: e.count + 1 } : e)) })
      return
    }
    set({ errors: [...get().errors, { id: nextId++, message, status: err?.status ?? null, count: 1 }] })
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

export const showError = (err) => useUiStore.getState().showError(err)
export const notify = (message, timeoutMs) => useUiStore.getState().notify(message, timeoutMs)
