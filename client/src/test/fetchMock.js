// A tiny fetch double for unit tests: routes are "METHOD /path" (path without /api and without
// the query string) mapped to a response spec or a function of the call. Every call is recorded.
import { vi } from 'vitest'

export function jsonResponse(status, body, statusText = '') {
  const text = body === undefined || body === null ? '' : JSON.stringify(body)
  return new Response(status === 204 ? null : text, {
    status,
    statusText,
    headers: { 'Content-Type': 'application/json' },
  })
}

/**
 * `routes`: { 'GET /batches': [batch], 'POST /batches/stop': (call) => ({status: 200, body}) }.
 * A plain value means 200 with that JSON body; `{status, body}` objects set the status.
 */
export function mockFetch(routes = {}) {
  const calls = []
  const fn = vi.fn(async (input, init = {}) => {
    const url = new URL(String(input), 'http://localhost')
    const path = url.pathname.replace(/^\/api/, '')
    const method = (init.method || 'GET').toUpperCase()
    let body
    if (typeof init.body === 'string') body = JSON.parse(init.body)
    else body = init.body
    const call = {
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      body,
      headers: init.headers || {},
      url: url.pathname + url.search,
    }
    calls.push(call)
    const key = `${method} ${path}`
    if (!(key in routes)) return jsonResponse(404, { error: 'not_found', message: `No mock for ${key}` })
    let spec = routes[key]
    if (typeof spec === 'function') spec = await spec(call)
    if (spec instanceof Response) return spec
    if (spec && typeof spec === 'object' && 'status' in spec && ('body' in spec || spec.status === 204)) {
      return jsonResponse(spec.status, spec.body, spec.statusText)
    }
    return jsonResponse(200, spec)
  })
  vi.stubGlobal('fetch', fn)
  return { fn, calls, routes }
}

let counter = 0

// What the server's state table allows per status (batches/state.py `allowed_actions`).
const SERVER_ACTIONS = {
  queued: ['stop', 'reorder', 'delete'],
  in_progress: ['stop', 'delete'],
  paused: ['resume', 'delete'],
  done: ['start', 'delete'],
}

export function makeBatch(overrides = {}) {
  counter += 1
  const status = overrides.status || 'queued'
  return {
    allowed_actions: SERVER_ACTIONS[status],
    id: `b${counter}`,
    niche_id: 'n1',
    niche: { id: 'n1', name: 'Fitness', profile_count: 10 },
    status: 'queued',
    queue_position: 1,
    total_profiles: 10,
    completed_profiles: 0,
    successful_checks: 0,
    failed_checks: 0,
    stories_found: 0,
    checks_failed: 0,
    profiles_with_stories: [],
    rate_per_minute: 0,
    eta_seconds: null,
    created_at: `2025-01-01T10:${String(counter % 60).padStart(2, '0')}:00+00:00`,
    completed_at: null,
    ...overrides,
  }
}

export function makeProfile(id, overrides = {}) {
  return {
    id,
    username: `user_${id}`,
    url: `https://instagram.com/user_${id}`,
    niche_id: 'n1',
    niche: 'Fitness',
    status: 'active',
    active_story: false,
    total_checks: 0,
    total_detections: 0,
    detection_rate: 0,
    last_checked: null,
    last_detected: null,
    ...overrides,
  }
}
