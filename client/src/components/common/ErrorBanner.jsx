import { useUiStore } from '../../stores/uiStore.js'

/** Errors with the server's message, each dismissable; plus short success notices. */
export default function ErrorBanner() {
  const errors = useUiStore((s) => s.errors)
  const notices = useUiStore((s) => s.notices)
  const dismissError = useUiStore((s) => s.dismissError)
  const dismissNotice = useUiStore((s) => s.dismissNotice)
  return (
    <div className="messages">
      {errors.length > 0 && (
        <div className="error-banner" role="alert" data-testid="error-banner">
          {errors.map((e) => (
            <div className="error-banner-item" key={e.id}>
              <span className="error-banner-text" data-testid="error-message">
                {e.message}
                {e.count > 1 && <span className="muted"> (×{e.count})</span>}
              </span>
              <button type="button" className="icon-button" aria-label="Dismiss error" onClick={() => dismissError(e.id)}>
                ×
              </button>
            </div>
          ))}
        </div>
      )}
      {notices.length > 0 && (
        <div className="notices" role="status" aria-live="polite">
          {notices.map((n) => (
            <div className="notice" key={n.id} data-testid="notice">
              <span>{n.message}</span>
              <button type="button" className="icon-button" aria-label="Dismiss message" onClick={() => dismissNotice(n.id)}>
                ×
              </button>
            </div>
          ))}
        </div>
      )}
    </div>
  )
}
