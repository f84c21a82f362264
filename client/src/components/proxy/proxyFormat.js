import { formatTime } from '../../lib/format.js'

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
    cooling: 'Rate limited by Instagram; waits, then continues by itself',
    open: 'Too many transport errors in a row; probes again after a cooldown',
    invalid: 'The session was logged out: paste a new sessionid cookie',
    challenge: 'Instagram asks for a checkpoint/challenge: solve it in a browser, then replace the session',
    disabled: 'Disabled by you',
  }[health]
}

export function proxySession(proxy) {
  const sessions = Array.isArray(proxy.sessions) ? proxy.sessions : []
  return sessions.find((s) => s.status === 'active') || sessions[0] || null
}
