// The one HTTP client of the app: every call to the storycheck JSON API goes through `request`.
//
// * Base URL: `/api` (same origin as the page; Vite proxies it in development), overridable at
//   build time with VITE_API_BASE.
// * Errors: every non-2xx answer (and a network failure) rejects with an ApiError whose message
//   is the server's `message`, else its `error`, else the HTTP status text.
// * Bearer token: when one is stored (localStorage), every request sends
//   `Authorization: Bearer <token>`. A 401 `{error: "unauthorized"}` asks the registered
//   token handler (the app's "API token" prompt) for a token, stores it and retries.
// * No automatic retries otherwise: POST and DELETE are not idempotent (the original client's
//   retry-everything interceptor duplicated batches and imports).

export const API_BASE = (import.meta.env.VITE_API_BASE || '/api').replace(/\/+$/, '')

export const TOKEN_STORAGE_KEY = 'storycheck.apiToken'

export class ApiError extends Error {
  constructor(message, { status = 0, data = null, statusText = '' } = {}) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.data = data
    this.statusText = statusText
  }

  /** Axios-like view, so code written for the original client (`err.response.data`) works. */
  get response() {
    return this.status ? { status: this.status, data: this.data, statusText: this.statusText } : undefined
  }

  /** The server's machine-readable error code (`error`), if any. */
  get code() {
    return this.data && typeof this.data === 'object' ? this.data.error : undefined
  }
}

export function getToken() {
  try {
    return window.localStorage.getItem(TOKEN_STORAGE_KEY) || null
  } catch {
    return null
  }
}

export function setToken(token) {
  memoryToken = null
  try {
    if (token) window.localStorage.setItem(TOKEN_STORAGE_KEY, token)
    else window.localStorage.removeItem(TOKEN_STORAGE_KEY)
  } catch {
    // Storage can be unavailable (private mode); the token then lives for this page only.
    memoryToken = token || null
  }
}

export function clearToken() {
  setToken(null)
}

let memoryToken = null
let tokenHandler = null
let pendingTokenRequest = null

/**
 * Register the function that asks the user for an API token. It receives `{rejected}` (true when
 * a stored token was refused) and resolves to the token, or to null when the user cancels.
 */
export function setTokenHandler(handler) {
  tokenHandler = handler
}

function currentToken() {
  return getToken() || memoryToken
}

/** One prompt for any number of requests that hit 401 at the same time. */
function askForToken(rejected) {
  if (!tokenHandler) return Promise.resolve(null)
  if (!pendingTokenRequest) {
    pendingTokenRequest = Promise.resolve(tokenHandler({ rejected }))
      .then((token) => {
        if (token) setToken(token)
        return token || null
      })
      .finally(() => {
        pendingTokenRequest = null
      })
  }
  return pendingTokenRequest
}

/** A path (without `/api`) with its query string, for `apiUrl` and `downloadWithToken`. */
export function withQuery(path, query) {
  return apiUrl(path, query).slice(API_BASE.length)
}

/** `/api` + path + query string; null, undefined and '' query values are left out. */
export function apiUrl(path, query) {
  let url = `${API_BASE}${path}`
  if (query) {
    const params = new URLSearchParams()
    for (const [key, value] of Object.entries(query)) {
      if (value === null || value === undefined || value === '') continue
      if (Array.isArray(value)) value.forEach((v) => params.append(key, String(v)))
      else params.append(key, String(value))
    }
    const qs = params.toString()
    if (qs) url += `?${qs}`
  }
  return url
}

async function readBody(response) {
  if (response.status === 204) return null
  const text = await response.text()
  if (!text) return null
  const type = response.headers.get('content-type') || ''
  if (type.includes('json')) {
    try {
      return JSON.parse(text)
    } catch {
      return text
    }
  }
  return text
}

export function errorMessage(data, status, statusText) {
  if (data && typeof data === 'object') {
    if (typeof data.message === 'string' && data.message) return data.message
    if (typeof data.error === 'string' && data.error) return data.error
  }
  if (statusText) return statusText
  return status ? `Request failed (HTTP ${status})` : 'Unknown error'
}

function isUnauthorized(status, data) {
  return status === 401 && data && typeof data === 'object' && data.error === 'unauthorized'
}

/**
 * Send one request. `body` is sent as JSON, `form` (FormData) as multipart. Resolves to the
 * parsed body (null for 204), or to `{status, data}` when `withStatus` is set.
 */
export async function request(method, path, { query, body, form, signal, withStatus = false } = {}) {
  let promptedAlready = false
  for (;;) {
    const headers = { Accept: 'application/json' }
    let payload
    if (form) payload = form
    else if (body !== undefined) {
      headers['Content-Type'] = 'application/json'
      payload = JSON.stringify(body)
    }
    const token = currentToken()
    if (token) headers.Authorization = `Bearer ${token}`

    let response
    try {
      response = await fetch(apiUrl(path, query), { method, headers, body: payload, signal })
    } catch (err) {
      if (err && err.name === 'AbortError') throw err
      throw new ApiError('Cannot reach the storycheck server (network error)', { status: 0 })
    }
    const data = await readBody(response)
    if (response.ok) return withStatus ? { status: response.status, data } : data

    if (isUnauthorized(response.status, data)) {
      const newToken = await askForToken(Boolean(token) || promptedAlready)
      promptedAlready = true
      if (newToken) continue
    }
    throw new ApiError(errorMessage(data, response.status, response.statusText), {
      status: response.status,
      data,
      statusText: response.statusText,
    })
  }
}

const get = (path, query, opts) => request('GET', path, { ...opts, query })
const post = (path, body, opts) => request('POST', path, { ...opts, body })
const put = (path, body) => request('PUT', path, { body })
const patch = (path, body) => request('PATCH', path, { body })
const del = (path, body) => request('DELETE', path, { body })

const enc = encodeURIComponent

export const niches = {
  list: () => get('/niches'),
  get: (id) => get(`/niches/${enc(id)}`),
  create: (data) => post('/niches', data),
  update: (id, data) => put(`/niches/${enc(id)}`, data),
  delete: (id) => del(`/niches/${enc(id)}`),
  reorder: (nicheIds) => post('/niches/reorder', { niche_ids: nicheIds }),
}

export const profiles = {
  list: (params, opts) => get('/profiles', params, opts),
  ids: (filters) => get('/profiles/ids', filters),
  get: (id) => get(`/profiles/${enc(id)}`),
  create: (data) => post('/profiles', data),
  update: (id, data) => put(`/profiles/${enc(id)}`, data),
  bulk: (profileIds, changes) => post('/profiles/bulk', { profile_ids: profileIds, ...changes }),
  delete: (id) => del(`/profiles/${enc(id)}`),
  reactivate: (id) => post(`/profiles/${enc(id)}/reactivate`),
  /** Multipart upload of one file; resolves to the import report (201 or 207). */
  import: (nicheId, file) => {
    const form = new FormData()
    form.append('file', file, file.name || 'import.txt')
    return request('POST', `/profiles/niches/${enc(nicheId)}/import`, { form })
  },
  refreshStories: () => post('/profiles/refresh-stories'),
  stories: (id) => get(`/profiles/${enc(id)}/stories`),
  clearNotFound: (profileIds) => post('/profiles/clear-not-found', { profile_ids: profileIds }),
  /** The filtered list as CSV (same filters as GET /profiles, without paging). */
  exportCsvPath: (filters) => withQuery('/profiles/export.csv', filters),
}

/** Who has a live story now (GET /stories/live and its streamed exports). */
export const stories = {
  live: (query, opts) => get('/stories/live', query, opts),
  counts: () => get('/stories/live/counts'),
  coverage: (query) => get('/stories/live/coverage', query),
  exportPath: (format, query) => withQuery(`/stories/live.${format}`, query),
}

export const batches = {
  list: (params) => get('/batches', params),
  get: (id, params) => get(`/batches/${enc(id)}`, params),
  create: (data) => post('/batches', data),
  start: (batchIds) => post('/batches/start', { batch_ids: batchIds }),
  stop: (batchIds) => post('/batches/stop', { batch_ids: batchIds }),
  resume: (batchIds) => post('/batches/resume', { batch_ids: batchIds }),
  delete: (batchIds) => del('/batches', { batch_ids: batchIds }),
  reorder: (batchIds) => post('/batches/reorder', { batch_ids: batchIds }),
  retryFailed: (id) => post(`/batches/${enc(id)}/retry-failed`),
  logs: (id, params) => get(`/batches/${enc(id)}/logs`, params),
  resultsCsvUrl: (id) => apiUrl(`/batches/${enc(id)}/results.csv`),
  /** One page of a batch's items by outcome (story | no_story | private | failed | all). */
  results: (id, query, opts) => get(`/batches/${enc(id)}/results`, query, opts),
  resultsPath: (id, format, query) => withQuery(`/batches/${enc(id)}/results.${format}`, query),
}

export const settings = {
  get: () => get('/settings'),
  update: (data) => put('/settings', data),
}

export const proxies = {
  list: () => get('/proxies'),
  create: (data) => post('/proxies', data),
  import: (lines) => post('/proxies/import', { lines }),
  setStatus: (id, status) => patch(`/proxies/${enc(id)}/status`, { status }),
  replaceSession: (id, session, extra = {}) => put(`/proxies/${enc(id)}/session`, { session, ...extra }),
  setUserAgent: (id, userAgent) => put(`/proxies/${enc(id)}/user-agent`, { user_agent: userAgent || null }),
  delete: (id) => del(`/proxies/${enc(id)}`),
  errorLogs: (id, params) => get(`/proxies/${enc(id)}/error-logs`, params),
  /** One lookup through the pair, reported per step (POST /proxies/{id}/test). */
  test: (id) => post(`/proxies/${enc(id)}/test`),
  /** "Test all": every switched-on pair, or `ids`; resolves to the list of reports. */
  testAll: (ids) => post('/proxies/test', ids ? { ids } : {}),
  lastTest: (id) => get(`/proxies/${enc(id)}/test`),
}

export const dashboard = {
  get: () => get('/dashboard'),
}

export const health = () => get('/health')

/**
 * Download a file from the API. Without a token a plain link does the job; with one the file is
 * fetched with the Authorization header and saved through an object URL.
 */
export async function downloadWithToken(path, filename) {
  const token = currentToken()
  const response = await fetch(apiUrl(path), { headers: token ? { Authorization: `Bearer ${token}` } : {} })
  if (!response.ok) {
    const data = await readBody(response)
    throw new ApiError(errorMessage(data, response.status, response.statusText), {
      status: response.status,
      data,
      statusText: response.statusText,
    })
  }
  const blob = await response.blob()
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = filename
  document.body.appendChild(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

export function hasToken() {
  return Boolean(currentToken())
}

const api = { niches, profiles, stories, batches, settings, proxies, dashboard, health }
export default api
