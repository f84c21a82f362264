// Every setting of docs/API.md, grouped for the form, with the server's ranges (the settings
// model in src/storycheck/settings/schemas.py is the source; tests/test_settings_source.py keeps
// names, types, ranges and defaults here equal to it). The form
// validates with these before saving; the server validates again (its 400s show inline too).

export const SETTINGS_GROUPS = [
  {
    title: 'Throughput',
    fields: [
      {
        name: 'profiles_per_minute',
        label: 'Profiles per minute',
        type: 'int',
        min: 0,
        max: 100000,
        default: 0,
        help: 'Global cap on checks per minute; 0 = unlimited',
      },
      { name: 'max_threads', label: 'Max requests in flight', type: 'int', min: 1, max: 256, default: 8 },
      { name: 'max_concurrent_batches', label: 'Batches running at once', type: 'int', min: 1, max: 20, default: 1 },
      { name: 'default_batch_size', label: 'Default batch size', type: 'int', min: 1, max: 100000, default: 100 },
    ],
  },
  {
    title: 'Proxy + session pairs',
    fields: [
      { name: 'proxy_hourly_limit', label: 'Requests per pair per hour', type: 'int', min: 1, max: 100000, default: 150 },
      { name: 'lookup_hourly_limit', label: 'Username lookups per pair per hour', type: 'int', min: 1, max: 100000, default: 60 },
      {
        name: 'min_request_interval',
        label: 'Seconds between requests of a pair',
        type: 'float',
        min: 0,
        max: 3600,
        step: 0.1,
        default: 2.0,
      },
      { name: 'reel_ids_per_request', label: 'Accounts per story request', type: 'int', min: 1, max: 50, default: 20 },
      { name: 'proxy_test_timeout', label: 'Request timeout (seconds)', type: 'int', min: 1, max: 120, default: 10 },
      {
        name: 'proxy_max_failures',
        label: 'Errors before a pair pauses',
        type: 'int',
        min: 1,
        max: 100,
        default: 3,
        help: 'Transport errors before the circuit opens',
      },
      {
        name: 'max_attempts',
        label: 'Attempts per account',
        type: 'int',
        min: 1,
        max: 10,
        default: 3,
        help: 'Transient failures before a check fails',
      },
      {
        name: 'request_jitter',
        label: 'Random spread of the gap between requests',
        type: 'float',
        min: 0,
        max: 0.9,
        step: 0.05,
        default: 0.4,
        help: '0.4 = each gap is the interval ±40 %',
      },
      {
        name: 'action_block_cooldown_hours',
        label: 'Pause after "Action Blocked" (hours)',
        type: 'float',
        min: 0.5,
        max: 72,
        step: 0.5,
        default: 6,
      },
      {
        name: 'not_found_recheck_days',
        label: 'Re-check "not found" accounts after (days)',
        type: 'int',
        min: 1,
        max: 365,
        default: 1,
      },
      {
        name: 'dense_doc_id',
        label: 'GraphQL doc_id for dense story requests',
        type: 'digits',
        default: '',
        help: 'Empty = off (v1 reels_media, 20 accounts per request)',
      },
    ],
  },
  {
    title: 'Stories and automation',
    fields: [
      { name: 'story_retention_hours', label: 'Keep detections for (hours)', type: 'int', min: 1, max: 720, default: 24 },
      { name: 'auto_trigger_enabled', label: 'Auto-create batches for niches under target', type: 'bool', default: false },
      { name: 'min_trigger_interval', label: 'Minutes between automatic batches', type: 'int', min: 1, max: 1440, default: 60 },
    ],
  },
  {
    title: 'Notifications',
    fields: [
      { name: 'notifications_enabled', label: 'Notifications enabled', type: 'bool', default: true },
      { name: 'notification_email', label: 'Notification email', type: 'email', default: null, help: 'Leave empty for none' },
    ],
  },
]

export const SETTINGS_FIELDS = SETTINGS_GROUPS.flatMap((g) => g.fields)
export const SETTINGS_BY_NAME = Object.fromEntries(SETTINGS_FIELDS.map((f) => [f.name, f]))

/** `1–256`, `≥ 0`, `0–3600` — the range text shown next to a field. */
export function rangeText(field) {
  if (field.type !== 'int' && field.type !== 'float') return ''
  if (field.max === undefined) return `≥ ${field.min}`
  return `${field.min}–${field.max}`
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

/** Checks one raw form value; returns an error sentence or null. */
export function validateSetting(field, raw) {
  if (field.type === 'bool') return null
  const text = raw === null || raw === undefined ? '' : String(raw).trim()
  if (field.type === 'email') {
    return text && !EMAIL_RE.test(text) ? 'Enter a valid email address (or leave it empty)' : null
  }
  if (field.type === 'digits') {
    return text && !/^[0-9]{1,64}$/.test(text) ? 'Digits only (or leave it empty for off)' : null
  }
  if (text === '') return `Required (${rangeText(field)})`
  const n = Number(text)
  if (!Number.isFinite(n)) return `Must be a number (${rangeText(field)})`
  if (field.type === 'int' && !Number.isInteger(n)) return `Must be a whole number (${rangeText(field)})`
  if (n < field.min || (field.max !== undefined && n > field.max)) return `Must be ${rangeText(field)}`
  return null
}

/** Converts a raw form value to what the API expects. */
export function parseSetting(field, raw) {
  if (field.type === 'bool') return Boolean(raw)
  if (field.type === 'email') {
    const text = (raw ?? '').toString().trim()
    return text || null
  }
  if (field.type === 'digits') return (raw ?? '').toString().trim()
  return Number(String(raw).trim())
}

/** Server value → form value (inputs hold strings, checkboxes booleans). */
export function formValue(field, value) {
  if (field.type === 'bool') return Boolean(value ?? field.default)
  if (value === null || value === undefined) return field.default === null ? '' : String(field.default)
  return String(value)
}

const camelToSnake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/** Finds the setting an error names: an exact field name, or one mentioned in a sentence. */
export function fieldOf(nameOrText) {
  if (!nameOrText) return null
  const text = String(nameOrText)
  if (SETTINGS_BY_NAME[text]) return text
  if (SETTINGS_BY_NAME[camelToSnake(text)]) return camelToSnake(text)
  const names = SETTINGS_FIELDS.map((f) => f.name).sort((a, b) => b.length - a.length)
  return names.find((name) => text.includes(name)) || null
}

/**
 * Spreads a settings 400 over the fields: `details.field` (+ `valid_range`), each of `errors[]`
 * (strings or `{field, message}`); what names no field becomes the form-level message.
 */
export function settingsErrorsFrom(err) {
  const data = err?.data && typeof err.data === 'object' ? err.data : {}
  const fieldErrors = {}
  const general = []
  const add = (field, message) => {
    if (field) fieldErrors[field] = fieldErrors[field] ? `${fieldErrors[field]}; ${message}` : message
    else general.push(message)
  }
  const list = Array.isArray(data.errors) ? data.errors : []
  for (const item of list) {
    if (item && typeof item === 'object')
      add(fieldOf(item.field) || fieldOf(item.message), item.message || item.error || String(item.field))
    else add(fieldOf(item), String(item))
  }
  const details = data.details && typeof data.details === 'object' ? data.details : null
  const detailField = details ? fieldOf(details.field) : null
  if (detailField && !fieldErrors[detailField]) {
    const range =
      details.valid_range !== undefined && details.valid_range !== null
        ? ` (valid: ${typeof details.valid_range === 'object' ? JSON.stringify(details.valid_range) : details.valid_range})`
        : ''
    add(detailField, `${err.message}${range}`)
  }
  if (!Object.keys(fieldErrors).length && !general.length) general.push(err?.message || 'Could not save the settings')
  return { fieldErrors, formError: general.join(' ') || null }
}
