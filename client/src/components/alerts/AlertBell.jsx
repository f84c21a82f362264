import { useCallback, useEffect, useRef, useState } from 'react'
import { Link } from '../../lib/router.js'
import { usePolling } from '../../lib/hooks.js'
import { age, alertsApi } from './alertsApi.js'
import './alerts.css'

const SEEN_KEY = 'storycheck.alertsSeenAt'

function readSeen() {
  try {
    return window.localStorage.getItem(SEEN_KEY) || ''
  } catch {
    return ''
  }
}

function writeSeen(value) {
  try {
    window.localStorage.setItem(SEEN_KEY, value)
  } catch {
    // Private mode: the unread count resets with the page.
  }
}

/** The header bell: the latest events, and how many arrived since it was last opened. */
export default function AlertBell() {
  const [events, setEvents] = useState([])
  const [open, setOpen] = useState(false)
  const [seenAt, setSeenAt] = useState(readSeen)
  const box = useRef(null)

  const load = useCallback(async () => {
    try {
      const data = await alertsApi.events({ limit: 10 })
      setEvents(Array.isArray(data?.events) ? data.events : [])
    } catch {
      // The bell is secondary: a failure here must not cover the page with errors.
    }
  }, [])

  useEffect(() => {
    load()
  }, [load])
  usePolling(load, 30000)

  useEffect(() => {
    if (!open) return undefined
    const close = (e) => {
      if (e.type === 'keydown' ? e.key === 'Escape' : !box.current?.contains(e.target)) setOpen(false)
    }
    document.addEventListener('keydown', close)
    document.addEventListener('mousedown', close)
    return () => {
      document.removeEventListener('keydown', close)
      document.removeEventListener('mousedown', close)
    }
  }, [open])

  const unread = events.filter((e) => !seenAt || e.created_at > seenAt).length
  const toggle = () => {
    if (!open && events.length) {
      writeSeen(events[0].created_at)
      setSeenAt(events[0].created_at)
    }
    setOpen(!open)
    if (!open) load()
  }

  return (
    <div className="alert-bell" ref={box}>
      <button
        type="button"
        onClick={toggle}
        aria-expanded={open}
        aria-label={unread ? `Alerts: ${unread} new` : 'Alerts'}
        data-testid="alert-bell"
      >
        <svg className="bell-icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
          <path
            fill="currentColor"
            d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-5-1.6-1.6V11a5.4 5.4 0 0 0-4.4-5.3V4.5a1 1 0 1 0-2 0v1.2A5.4 5.4 0 0 0 6.6 11v4.4L5 17v1h14v-1Z"
          />
        </svg>
        {unread > 0 && (
          <span className="bell-count" data-testid="alert-bell-count">
            {unread}
          </span>
        )}
      </button>
      {open && (
        <div className="bell-panel" role="dialog" aria-label="Latest alerts" data-testid="alert-bell-panel">
          {events.length ? (
            <ol>
              {events.map((e) => (
                <li key={e.id} data-testid="alert-bell-event">
                  <div>{e.summary}</div>
                  <small className="muted">
                    {e.type} · {age(e.created_at)}
                  </small>
                </li>
              ))}
            </ol>
          ) : (
            <p className="empty">No alerts yet</p>
          )}
          <div className="bell-footer">
            <Link to="/alerts" onClick={() => setOpen(false)}>
              Alert channels and deliveries
            </Link>
          </div>
        </div>
      )}
    </div>
  )
}
