import { formatDateTime, formatTime } from '../../lib/format.js'

export const HEALTH_KIND = { ready: 'ok', cooling: 'warn', open: 'bad', invalid: 'bad', challenge: 'bad', disabled: 'muted' }

/** The pair's health; falls back to the original's `status` when the server sends no `health`. */
export function proxyHealth(proxy) {
  if (proxy.health) return proxy.health
  if (proxy.status === 'disabled' || proxy.is_active === false) return 'disabled'
  if (proxy.status === 'rate_limited') return 'cooling'
  return 'ready'
}

export function healthLabel(proxy) {
  const health = proxyHealth(proxy)
  if (health === 'cooling' && proxy.cooldown_until) return `cooling until ${formatTime(proxy.cooldown_until)}`
  if (health === 'open') return 'open (errors)'
  return health
}

export function healthTitle(health) {
  return {
    ready: 'Ready to check',
    cooling:
      'Waits, then continues by itself: rate limited, action blocked (hours), address blocked at the edge, or user agent refused — the last error says which',
    open: 'Too many connection errors in a row; probes again after a cooldown',
    invalid: 'The session was logged out or is no longer honoured: paste a new session (full cookie string)',
    challenge: 'Instagram asks for a checkpoint/challenge: solve it in a browser, then replace the session',
    disabled: 'Disabled by you',
  }[health]
}

export function proxySession(proxy) {
  const sessions = Array.isArray(proxy.sessions) ? proxy.sessions : []
  return sessions.find((s) => s.status === 'active') || sessions[0] || null
}

export const TEST_KIND = { untested: 'warn', ok: 'ok', failed: 'bad' }
export const STEP_WORDS = { ok: 'ok', failed: 'failed', unknown: 'not known', skipped: 'not tried' }

/** `untested` until a test proved the pair (servers without pair tests: no state). */
export function testState(proxy) {
  return proxy.test_state || (proxy.last_test ? (proxy.last_test.ok ? 'ok' : 'failed') : 'untested')
}

/** The chip's words: `untested`, or the last result ("ok — logged in as 1234567"). */
export function testLabel(proxy) {
  const state = testState(proxy)
  if (state === 'untested' || !proxy.last_test) return 'untested'
  return proxy.last_test.summary || state
}

export function testTitle(proxy) {
  if (!proxy.last_test) return 'Not tested since it was added or edited: press Test to send one lookup through it'
  return `Last tested ${formatDateTime(proxy.last_test.tested_at)}`
}
