import { useEffect, useRef, useState, useSyncExternalStore } from 'react'

/** The value, once it has stopped changing for `delay` ms. */
export function useDebouncedValue(value, delay = 300) {
  const [debounced, setDebounced] = useState(value)
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), delay)
    return () => clearTimeout(timer)
  }, [value, delay])
  return debounced
}

function subscribeVisibility(callback) {
  document.addEventListener('visibilitychange', callback)
  return () => document.removeEventListener('visibilitychange', callback)
}

/** True while the browser tab is visible. */
export function useDocumentVisible() {
  return useSyncExternalStore(
    subscribeVisibility,
    () => document.visibilityState !== 'hidden',
    () => true,
  )
}

/**
 * Calls `fn` every `intervalMs` while `enabled` and the browser tab is visible (the first call
 * happens after one interval; callers load initial data themselves).
 */
export function usePolling(fn, intervalMs, enabled = true) {
  const visible = useDocumentVisible()
  const fnRef = useRef(fn)
  fnRef.current = fn
  useEffect(() => {
    if (!enabled || !visible) return undefined
    const timer = setInterval(() => fnRef.current(), intervalMs)
    return () => clearInterval(timer)
  }, [enabled, visible, intervalMs])
}

/** Closes on Escape. */
export function useEscape(onEscape) {
  const ref = useRef(onEscape)
  ref.current = onEscape
  useEffect(() => {
    const handler = (event) => {
      if (event.key === 'Escape') ref.current()
    }
    document.addEventListener('keydown', handler)
    return () => document.removeEventListener('keydown', handler)
  }, [])
}

/** `Date.now()`, refreshed every `intervalMs` (for countdowns and "posted … ago"). */
export function useNow(intervalMs = 1000) {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs)
    return () => clearInterval(timer)
  }, [intervalMs])
  return now
}

/** True for `ms` after `savedAt` (a timestamp) changes: how long a "saved" mark stays. */
export function useSavedMark(savedAt, ms = 3000) {
  const [shown, setShown] = useState(false)
  useEffect(() => {
    if (!savedAt) return undefined
    setShown(true)
    const timer = setTimeout(() => setShown(false), ms)
    return () => clearTimeout(timer)
  }, [savedAt, ms])
  return shown
}
