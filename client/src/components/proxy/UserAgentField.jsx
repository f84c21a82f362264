/** The default a pair sends when it has no user agent of its own (server: DEFAULT_USER_AGENT). */
export const DEFAULT_USER_AGENT_HINT = 'Empty = a current desktop Chrome (142). Use the user agent of the browser the session comes from.'

/** The pair's user agent (optional); empty means the server's default desktop Chrome. */
export default function UserAgentField({ value, onChange, error, testId = 'proxy-field-user_agent' }) {
  return (
    <label className="field">
      <span>User agent (optional)</span>
      <input
        value={value}
        onChange={(e) => onChange(e.target.value)}
        autoComplete="off"
        spellCheck={false}
        placeholder="Mozilla/5.0 (Windows NT 10.0; Win64; x64) … Chrome/142.0.0.0 Safari/537.36"
        aria-invalid={Boolean(error)}
        aria-describedby={`${testId}-hint`}
        data-testid={testId}
      />
      <span id={`${testId}-hint`} className="muted small">
        {DEFAULT_USER_AGENT_HINT}
      </span>
      {error && <span className="field-error">{error}</span>}
    </label>
  )
}
