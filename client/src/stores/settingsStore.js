// Settings: loaded from GET /settings, saved with PUT /settings (only the changed fields).
import { create } from 'zustand'
import { settings as settingsApi } from '../api/index.js'
import { settingsErrorsFrom } from '../lib/settingsSchema.js'
import { notify, settle, showError } from './uiStore.js'

export const useSettingsStore = create((set, get) => ({
  settings: null,
  loading: false,
  saving: false,
  serverErrors: {}, // field → message from the last 400
  formError: null,
  savedAt: null,

  async load() {
    set({ loading: true })
    try {
      set({ settings: await settingsApi.get() })
      settle('settings:load')
    } catch (err) {
      showError(err, 'settings:load')
    } finally {
      set({ loading: false })
    }
  },

  /** Saves `changes` (snake_case); resolves to true on success. Validation errors stay inline. */
  async save(changes) {
    set({ saving: true, serverErrors: {}, formError: null, savedAt: null })
    try {
      const saved = await settingsApi.update(changes)
      set({ settings: saved && typeof saved === 'object' ? { ...get().settings, ...saved } : get().settings, savedAt: Date.now() })
      settle('settings:save')
      notify('Settings saved')
      return true
    } catch (err) {
      if (err?.status === 400) {
        const { fieldErrors, formError } = settingsErrorsFrom(err)
        set({ serverErrors: fieldErrors, formError })
      } else {
        showError(err, 'settings:save')
      }
      return false
    } finally {
      set({ saving: false })
    }
  },

  /** Forgets the last save's messages (they belong to the visit of the page that saved). */
  resetFeedback() {
    set({ serverErrors: {}, formError: null, savedAt: null })
  },

  clearServerError(name) {
    if (!get().serverErrors[name]) return
    const serverErrors = { ...get().serverErrors }
    delete serverErrors[name]
    set({ serverErrors })
  },
}))
