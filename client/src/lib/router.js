// A tiny client-side router: the path lives in `location.pathname`, `navigate` uses
// history.pushState, and `useRoute` re-renders on navigation and on back/forward.
import { createElement, useSyncExternalStore } from 'react'

const NAVIGATE_EVENT = 'storycheck:navigate'

function subscribe(callback) {
  window.addEventListener('popstate', callback)
  window.addEventListener(NAVIGATE_EVENT, callback)
  return () => {
    window.removeEventListener('popstate', callback)
    window.removeEventListener(NAVIGATE_EVENT, callback)
  }
}

export function currentPath() {
  const path = window.location.pathname.replace(/\/+$/, '')
  return path || '/'
}

export function navigate(path, { replace = false } = {}) {
  if (path === currentPath()) return
  if (replace) window.history.replaceState(null, '', path)
  else window.history.pushState(null, '', path)
  window.dispatchEvent(new Event(NAVIGATE_EVENT))
}

export function useRoute() {
  return useSyncExternalStore(subscribe, currentPath, () => '/')
}

/** An <a> that navigates without reloading (modified clicks keep the browser's behaviour). */
export function Link({ to, onClick, ...props }) {
  const handleClick = (event) => {
    if (onClick) onClick(event)
    if (event.defaultPrevented || event.button !== 0) return
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
    event.preventDefault()
    navigate(to)
  }
  return createElement('a', { href: to, onClick: handleClick, ...props })
}
