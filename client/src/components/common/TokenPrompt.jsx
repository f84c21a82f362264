import { useState } from 'react'
import { useUiStore } from '../../stores/uiStore.js'
import Modal from './Modal.jsx'

/** Asks for the server's API token when a request answered 401 `unauthorized`. */
export default function TokenPrompt() {
  const prompt = useUiStore((s) => s.tokenPrompt)
  const answer = useUiStore((s) => s.answerTokenPrompt)
  const [token, setToken] = useState('')
  if (!prompt) return null
  const submit = (event) => {
    event.preventDefault()
    if (!token.trim()) return
    answer(token)
    setToken('')
  }
  return (
    <Modal title="API token" onClose={() => answer(null)} testId="token-prompt">
      <form onSubmit={submit} className="stack">
        <p>
          {prompt.rejected
            ? 'The server refused the stored token. Enter the current API token.'
            : 'This storycheck server requires an API token (STORYCHECK_API_TOKEN).'}
        </p>
        <label className="field">
          <span>API token</span>
          <input
            type="password"
            autoComplete="off"
            autoFocus
            value={token}
            onChange={(e) => setToken(e.target.value)}
            data-testid="token-input"
          />
        </label>
        <div className="row">
          <button type="submit" className="primary" disabled={!token.trim()} data-testid="token-save">
            Save and retry
          </button>
          <button type="button" onClick={() => answer(null)}>
            Cancel
          </button>
        </div>
        <p className="muted small">The token is kept in this browser (localStorage) and sent as a Bearer token.</p>
      </form>
    </Modal>
  )
}
