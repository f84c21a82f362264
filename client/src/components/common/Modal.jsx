import { useEffect, useId, useRef, useState } from 'react'

const FOCUSABLE = [
  'a[href]',
  'button:not([disabled])',
  'input:not([disabled]):not([type="hidden"])',
  'select:not([disabled])',
  'textarea:not([disabled])',
  '[tabindex]:not([tabindex="-1"])',
].join(', ')

// Open dialogs, the topmost last: only the topmost traps focus and answers Escape.
const openDialogs = []

function focusables(dialog) {
  return [...dialog.querySelectorAll(FOCUSABLE)].filter((el) => !el.closest('[hidden], [inert]'))
}

/**
 * A dialog: focus moves into it and stays there (Tab and Shift+Tab cycle inside), Escape or the
 * × closes it, and focus returns to where it was afterwards.
 */
export default function Modal({ title, onClose, children, footer, wide = false, testId }) {
  const titleId = useId()
  const ref = useRef(null)
  const onCloseRef = useRef(onClose)
  onCloseRef.current = onClose
  // Read while rendering, before a field inside takes the focus with autoFocus.
  const [opener] = useState(() => document.activeElement)

  useEffect(() => {
    const dialog = ref.current
    // A dialog opened inside another one sits above it, even when both open at once.
    const inner = openDialogs.findIndex((open) => dialog.contains(open))
    if (inner >= 0) openDialogs.splice(inner, 0, dialog)
    else openDialogs.push(dialog)
    // A field with autoFocus already has the focus; otherwise the dialog itself takes it.
    if (!dialog.contains(document.activeElement)) dialog.focus()
    const topmost = () => openDialogs[openDialogs.length - 1] === dialog

    const onKeyDown = (event) => {
      if (!topmost()) return
      if (event.key === 'Escape') {
        onCloseRef.current()
        return
      }
      if (event.key !== 'Tab') return
      const items = focusables(dialog)
      if (!items.length) {
        event.preventDefault()
        dialog.focus()
        return
      }
      const first = items[0]
      const last = items[items.length - 1]
      const active = document.activeElement
      if (event.shiftKey && (active === first || active === dialog || !dialog.contains(active))) {
        event.preventDefault()
        last.focus()
      } else if (!event.shiftKey && (active === last || !dialog.contains(active))) {
        event.preventDefault()
        first.focus()
      }
    }
    // Focus that lands outside (a click on the page behind, a screen reader jump) comes back.
    const onFocusIn = (event) => {
      if (topmost() && !dialog.contains(event.target)) dialog.focus()
    }
    document.addEventListener('keydown', onKeyDown)
    document.addEventListener('focusin', onFocusIn)
    return () => {
      document.removeEventListener('keydown', onKeyDown)
      document.removeEventListener('focusin', onFocusIn)
      openDialogs.splice(openDialogs.indexOf(dialog), 1)
      if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus()
    }
  }, [opener])

  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div
        className={`modal${wide ? ' modal-wide' : ''}`}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        tabIndex={-1}
        ref={ref}
        data-testid={testId}
      >
        <header className="modal-header">
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        {/* Focusable, so a keyboard can scroll a long body (axe: scrollable-region-focusable). */}
        <div className="modal-body" tabIndex={0}>
          {children}
        </div>
        {footer && <footer className="modal-footer">{footer}</footer>}
      </div>
    </div>
  )
}
