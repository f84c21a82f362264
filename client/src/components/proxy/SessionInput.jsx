import { useRef, useState } from 'react'

const KEPT = ['sessionid', 'csrftoken', 'ds_user_id', 'mid', 'ig_did', 'rur']

/**
 * Which format a pasted session is in and which Instagram cookies it holds (names only), so the
 * form can say what it understood before anything is sent. The server parses it for real.
 */
export function describeSession(text) {
  const value = (text || '').trim()
  if (!value) return null
  let format = 'a bare sessionid'
  let names = ['sessionid']
  if (value.startsWith('[') || value.startsWith('{')) {
    format = 'a JSON cookie export'
    try {
      const data = JSON.parse(value)
      const list = Array.isArray(data) ? data : Array.isArray(data?.cookies) ? data.cookies : []
      names = list
        .filter((c) => c && /(^|\.)instagram\.com$/i.test(String(c.domain || 'instagram.com').replace(/^\./, '')))
        .map((c) => c.name)
    } catch {
      return { format, names: [], problem: 'This is not valid JSON' }
    }
  } else if (value.includes('\t') || value.startsWith('# Netscape') || value.startsWith('# HTTP Cookie')) {
    format = 'a cookies.txt file'
    names = value
      .split(/\r?\n/)
      .map((line) => line.replace(/^#HttpOnly_/, ''))
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => line.split('\t'))
      .filter((f) => f.length >= 7 && /instagram\.com$/i.test(f[0]))
      .map((f) => f[5])
  } else if (value.includes('=')) {
    format = 'a cookie string'
    names = value
      .replace(/^cookie:\s*/i, '')
      .split(';')
      .map((part) => part.split('=')[0].trim())
  }
  const kept = KEPT.filter((name) => names.includes(name))
  return { format, names: kept, problem: kept.includes('sessionid') ? null : 'No Instagram sessionid cookie found' }
}

/**
 * The session field of the pair forms: paste a sessionid, a cookie string, or load a browser
 * cookie export (JSON or cookies.txt). Shows the format and cookie names it recognised, never
 * the values.
 */
export default function SessionInput({ value, onChange, error, testId = 'proxy-field-session', autoFocus = false }) {
  const fileRef = useRef(null)
  const [fileName, setFileName] = useState(null)
  const described = describeSession(value)

  const load = async (event) => {
    const file = event.target.files?.[0]
    event.target.value = ''
    if (!file) return
    setFileName(file.name)
    onChange(await file.text())
  }

  return (
    <div className="field session-input">
      <label htmlFor={testId}>Instagram session</label>
      <textarea
        id={testId}
        className="secret-text mono"
        rows={3}
        value={value}
        autoFocus={autoFocus}
        autoComplete="off"
        autoCapitalize="off"
        spellCheck={false}
        placeholder="sessionid=…; csrftoken=…; ds_user_id=…; mid=…; ig_did=…; rur=…"
        onChange={(e) => {
          setFileName(null)
          onChange(e.target.value)
        }}
        aria-invalid={Boolean(error)}
        aria-describedby={`${testId}-hint`}
        data-testid={testId}
      />
      <div className="row wrap session-input-tools">
        <button type="button" onClick={() => fileRef.current?.click()} data-testid={`${testId}-file`}>
          Load cookie export…
        </button>
        <input ref={fileRef} type="file" accept=".json,.txt,application/json,text/plain" hidden onChange={load} />
        <span id={`${testId}-hint`} className="muted small" data-testid={`${testId}-summary`}>
          {described
            ? `${fileName ? `${fileName}: ` : ''}${described.format}${described.names.length ? ` — ${described.names.join(', ')}` : ''}`
            : 'Paste the whole cookie string of a logged-in browser (best), a browser cookie export (JSON or cookies.txt), or just the sessionid.'}
        </span>
      </div>
      {(error || described?.problem) && <span className="field-error">{error || described.problem}</span>}
    </div>
  )
}
