import { useState } from 'react'
import { useProxyStore } from '../../stores/proxyStore.js'
import SessionInput from './SessionInput.jsx'
import UserAgentField from './UserAgentField.jsx'

const EMPTY = { ip: '', port: '', scheme: 'http', username: '', password: '', session: '', url: '', user_agent: '' }

function fieldErrorsOf(err) {
  const details = err?.data?.details
  const errors = {}
  if (details && typeof details === 'object') {
    if (typeof details.field === 'string') errors[details.field] = err.message
    if (Array.isArray(details.missing_fields)) details.missing_fields.forEach((f) => (errors[f] = 'Required'))
  }
  return errors
}

/** Adds one proxy + session pair, from separate fields or from one pasted proxy URL. */
export default function ProxyAddForm() {
  const addProxy = useProxyStore((s) => s.addProxy)
  const [mode, setMode] = useState('fields')
  const [values, setValues] = useState(EMPTY)
  const [errors, setErrors] = useState({})
  const [formError, setFormError] = useState(null)
  const [busy, setBusy] = useState(false)

  const setValue = (name, value) => {
    setValues((current) => ({ ...current, [name]: value }))
    if (errors[name]) setErrors({ ...errors, [name]: undefined })
  }
  const set = (name) => (e) => setValue(name, e.target.value)

  const validate = () => {
    const next = {}
    if (mode === 'url') {
      if (!/^(https?|socks5h?):\/\/.+:\d+\/?$/i.test(values.url.trim()))
        next.url = 'Use scheme://[user:pass@]host:port (http, https or socks5)'
    } else {
      if (!values.ip.trim()) next.ip = 'Required'
      const port = Number(values.port)
      if (!Number.isInteger(port) || port < 1 || port > 65535) next.port = 'A port 1–65535'
    }
    if (!values.session.trim()) next.session = 'Required: the Instagram session (cookie string, export or sessionid)'
    return next
  }

  const submit = async (event) => {
    event.preventDefault()
    const next = validate()
    setErrors(next)
    setFormError(null)
    if (Object.keys(next).length) return
    const userAgent = values.user_agent.trim() ? { user_agent: values.user_agent.trim() } : {}
    const payload =
      mode === 'url'
        ? { url: values.url.trim(), session: values.session.trim(), ...userAgent }
        : {
            ip: values.ip.trim(),
            port: Number(values.port),
            scheme: values.scheme,
            session: values.session.trim(),
            ...(values.username.trim() ? { username: values.username.trim() } : {}),
            ...(values.password ? { password: values.password } : {}),
            ...userAgent,
          }
    setBusy(true)
    try {
      await addProxy(payload)
      setValues(EMPTY)
    } catch (err) {
      setErrors(fieldErrorsOf(err))
      setFormError(err.message)
    } finally {
      setBusy(false)
    }
  }

  const field = (name, label, props = {}) => (
    <label className="field">
      <span>{label}</span>
      <input
        value={values[name]}
        onChange={set(name)}
        aria-invalid={Boolean(errors[name])}
        data-testid={`proxy-field-${name}`}
        {...props}
      />
      {errors[name] && <span className="field-error">{errors[name]}</span>}
    </label>
  )

  return (
    <form className="card proxy-add-form" onSubmit={submit} data-testid="proxy-add-form" aria-label="Add a proxy + session pair" noValidate>
      <div className="row between">
        <h2>Add a pair</h2>
        <div className="segmented" role="group" aria-label="How to enter the proxy">
          <button type="button" aria-pressed={mode === 'fields'} onClick={() => setMode('fields')}>
            Fields
          </button>
          <button type="button" aria-pressed={mode === 'url'} onClick={() => setMode('url')} data-testid="proxy-mode-url">
            Paste URL
          </button>
        </div>
      </div>
      {mode === 'url' ? (
        field('url', 'Proxy URL', { placeholder: 'socks5://user:pass@203.0.113.5:1080', autoComplete: 'off' })
      ) : (
        <div className="grid-fields">
          {field('ip', 'Host / IP', { placeholder: '203.0.113.5', autoComplete: 'off' })}
          {field('port', 'Port', { inputMode: 'numeric', placeholder: '8080' })}
          <label className="field">
            <span>Scheme</span>
            <select value={values.scheme} onChange={set('scheme')} data-testid="proxy-field-scheme">
              <option value="http">http</option>
              <option value="https">https</option>
              <option value="socks5">socks5</option>
            </select>
          </label>
          {field('username', 'Proxy user (optional)', { autoComplete: 'off' })}
          {field('password', 'Proxy password (optional)', { type: 'password', autoComplete: 'new-password' })}
        </div>
      )}
      <SessionInput value={values.session} onChange={(v) => setValue('session', v)} error={errors.session} />
      <UserAgentField value={values.user_agent} onChange={(v) => setValue('user_agent', v)} error={errors.user_agent} />
      {formError && (
        <p className="inline-error" role="alert" data-testid="proxy-add-error">
          {formError}
        </p>
      )}
      <button type="submit" className="primary" disabled={busy} data-testid="proxy-add-submit">
        {busy ? 'Adding…' : 'Add pair'}
      </button>
    </form>
  )
}
