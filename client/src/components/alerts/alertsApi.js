// Calls of the Alerts page and the header bell (the shared `request` does auth and errors).
import { request } from '../../api/index.js'

const enc = encodeURIComponent

export const EVENT_TYPES = [
  { value: 'story.detected', label: 'Story detected' },
  { value: 'niche.target_reached', label: 'Niche reached its daily target' },
  { value: 'batch.completed', label: 'Batch completed' },
  { value: 'batch.stalled', label: 'Batch stalled' },
  { value: 'pair.needs_attention', label: 'Pair needs attention' },
]

export const alertsApi = {
  channels: () => request('GET', '/alerts/channels'),
  createChannel: (data) => request('POST', '/alerts/channels', { body: data }),
  updateChannel: (id, data) => request('PUT', `/alerts/channels/${enc(id)}`, { body: data }),
  deleteChannel: (id) => request('DELETE', `/alerts/channels/${enc(id)}`),
  testChannel: (id) => request('POST', `/alerts/channels/${enc(id)}/test`),
  deliveries: (query) => request('GET', '/alerts/deliveries', { query }),
  retry: (id) => request('POST', `/alerts/deliveries/${enc(id)}/retry`),
  events: (query) => request('GET', '/alerts/events', { query }),
}

/** "3 min ago"-style age of an ISO timestamp, relative to `now` (ms). */
export function age(iso, now = Date.now()) {
  if (!iso) return ''
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  if (seconds < 60) return `${seconds}s ago`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`
  return `${Math.floor(seconds / 86400)} d ago`
}
