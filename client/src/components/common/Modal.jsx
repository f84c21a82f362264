import { useEffect, useId, useRef } from 'react'
import { useEscape } from '../../lib/hooks.js'

/** A dialog: focus moves into it, Escape or the × closes it, focus returns afterwards. */
export default function Modal({ title, onClose, children, footer, wide = false, testId }) {
  const titleId = useId()
  const ref = useRef(null)
  useEscape(onClose)
  useEffect(() => {
    const previous = document.activeElement
    ref.current?.focus()
    return () => {
      if (previous && typeof previous.focus === 'function') previous.focus()
    }
  }, [])
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
        <div className="modal-body">{children}</div>
        {footer && <footer className="modal-footer">{footer}</footer>}
      </div>
    </div>
  )
}
