import { useState } from 'react'
import { EVENT_TYPES } from './alertsApi.js'

const EMPTY = {
  name: '',
  kind: 'webhook',
  url: '',
  secret: '',
  template: '',
  host: '',
  port: '',
  security: 'starttls',
  username: '',
  from_address: '',
  to: '',
  digest_minutes: '0',
  rate_limit_per_minute: '30',
  event_types: [],
}

/** The request body for POST /alerts/channels from the form's values. */
export function channelPayload(values) {
  const config =
    values.kind === 'webhook'
      ? { url: values.url.trim(), ...(values.template.trim() ? { template: values.template } : {}) }
      : {
          host: values.host.trim(),
          security: values.security,
          from_address: values.from_address.trim(),
          to: values.to.trim(),
          digest_minutes: Number(values.digest_minutes) || 0,
          ...(values.port.trim() ? { port: Number(values.port) } : {}),
          ...(values.username.trim() ? { username: values.username.trim() } : {}),
        }
  return {
    name: values.name.trim(),
    kind: values.kind,
    event_types: values.event_types,
    rate_limit_per_minute: Number(values.rate_limit_per_minute) || 0,
    config,
    ...(values.secret ? { secret: values.secret } : {}),
  }
}

/** Adds a webhook or email channel; the server validates and names a bad field. */
export default function ChannelForm({ onCreate }) {
  const [values, setValues] = useState(EMPTY)
  const [error, setError] = useState(null)
  const [field, setField] = useState(null)
  const [busy, setBusy] = useState(false)

  const set = (name) => (e) => setValues({ ...values, [name]: e.target.value })
  const toggleType = (type) =>
    setValues({
      ...values,
      event_types: values.event_types.includes(type) ? values.event_types.filter((t) => t !== type) : [...values.event_types, type],
    })

  const submit = async (event) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    setField(null)
    try {
      await onCreate(channelPayload(values))
      setValues(EMPTY)
    } catch (err) {
      setError(err.message)
      setField(err?.data?.details?.field || null)
    } finally {
      setBusy(false)
    }
  }

  const input = (name, label, props = {}) => (
    <label className="field">
      <span>{label}</span>
      <input value={values[name]} onChange={set(name)} aria-invalid={field === name} data-testid={`channel-field-${name}`} {...props} />
    </label>
  )

  return (
    <form className="card channel-form" onSubmit={submit} aria-label="Add an alert channel" data-testid="channel-form" noValidate>
      <h2>Add a channel</h2>
      <div className="grid-fields">
        {input('name', 'Name', { placeholder: 'Ops webhook', autoComplete: 'off' })}
        <label className="field">
          <span>Kind</span>
          <select value={values.kind} onChange={set('kind')} data-testid="channel-field-kind">
            <option value="webhook">Webhook</option>
            <option value="email">Email (SMTP)</option>
          </select>
        </label>
        {values.kind === 'webhook' ? (
          <>
            {input('url', 'URL', { placeholder: 'https://example.com/hooks/storycheck', autoComplete: 'off', inputMode: 'url' })}
            {input('secret', 'Signing secret (optional)', { type: 'password', autoComplete: 'new-password' })}
            {input('template', 'Chat template (optional)', { placeholder: '{summary} {story_url}', autoComplete: 'off' })}
          </>
        ) : (
          <>
            {input('host', 'SMTP host', { placeholder: 'smtp.example.com', autoComplete: 'off' })}
            {input('port', 'Port (optional)', { inputMode: 'numeric', placeholder: '587' })}
            <label className="field">
              <span>Security</span>
              <select value={values.security} onChange={set('security')} data-testid="channel-field-security">
                <option value="starttls">STARTTLS</option>
                <option value="ssl">SSL/TLS</option>
                <option value="none">None</option>
              </select>
            </label>
            {input('username', 'User (optional)', { autoComplete: 'off' })}
            {input('secret', 'Password (optional)', { type: 'password', autoComplete: 'new-password' })}
            {input('from_address', 'From', { placeholder: 'alerts@example.com', autoComplete: 'off' })}
            {input('to', 'To (empty: notification email)', { placeholder: 'ops@example.com, me@example.com', autoComplete: 'off' })}
            {input('digest_minutes', 'Digest every N minutes (0: each event)', { inputMode: 'numeric' })}
          </>
        )}
        {input('rate_limit_per_minute', 'Messages per minute (0: no limit)', { inputMode: 'numeric' })}
      </div>
      <fieldset className="event-types">
        <legend className="muted">Events (none ticked: all)</legend>
        {EVENT_TYPES.map((t) => (
          <label key={t.value}>
            <input type="checkbox" checked={values.event_types.includes(t.value)} onChange={() => toggleType(t.value)} /> {t.label}
          </label>
        ))}
      </fieldset>
      {error && (
        <p className="inline-error" role="alert" data-testid="channel-form-error">
          {error}
        </p>
      )}
      <button type="submit" className="primary" disabled={busy} data-testid="channel-submit">
        {busy ? 'Adding…' : 'Add channel'}
      </button>
    </form>
  )
}
