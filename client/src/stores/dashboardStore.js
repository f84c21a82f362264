// Dashboard numbers from GET /dashboard.
import { create } from 'zustand'
import { dashboard as dashboardApi } from '../api/index.js'
import { settle, showError } from './uiStore.js'

export const useDashboardStore = create((set, get) => ({
  data: null,
  loading: false,
  updatedAt: null,
  failed: false,

  async fetchDashboard({ quiet = false } = {}) {
    if (!quiet) set({ loading: true })
    try {
      const data = await dashboardApi.get()
      set({ data, updatedAt: Date.now(), failed: false })
      settle('dashboard:load')
    } catch (err) {
      // Polling keeps trying; show the message once, not every 10 s.
      if (!get().failed) showError(err, 'dashboard:load')
      set({ failed: true })
    } finally {
      set({ loading: false })
    }
  },
}))
