import { useEffect, useMemo, useState } from 'react'
import { clearToken, hasToken } from '../../api/index.js'
import { formatTime } from '../../lib/format.js'
import { SETTINGS_FIELDS, SETTINGS_GROUPS, formValue, parseSetting, rangeText, validateSetting } from '../../lib/settingsSchema.js'
import { useSettingsStore } from '../../stores/settingsStore.js'
import { notify } from '../../stores/uiStore.js'

function initialValues(settings) {
  return Object.fromEntries(SETTINGS_FIELDS.map((f) => [f.name, formValue(f, settings ? settings[f.name] : undefined)]))
}

function SettingField({ field, value, error, onChange }) {
  const id = `setting-${field.name}`
  const hintId = `${id}-hint`
  const errorId = `${id}-error`
  const describedBy = [hintId, error ? errorId : null].filter(Boolean).join(' ')
  const range = rangeText(field)

  if (field.type === 'bool') {
    return (
      <div className="setting setting-bool">
        <label htmlFor={id} className="checkbox-label">
          <input
            id={id}
            type="checkbox"
            checked={Boolean(value)}
            onChange={(e) => onChange(e.target.checked)}
            data-testid={`settings-field-${field.name}`}
            aria-describedby={describedBy}
          />
          {field.label}
        </label>
        <span id={hintId} className="hint">
          {field.help || ''}
        </span>
        {error && (
          <span id={errorId} className="field-error" data-testid={`settings-error-${field.name}`} role="alert">
            {error}
          </span>
        )}
      </div>
    )
  }

  return (
    <div className="setting">
      <label htmlFor={id}>{field.label}</label>
      <input
        id={id}
        type={field.type === 'email' ? 'email' : field.type === 'digits' ? 'text' : 'number'}
        inputMode={field.type === 'float' ? 'decimal' : field.type === 'int' ? 'numeric' : undefined}
        min={field.min}
        max={field.max}
        step={field.type === 'float' ? field.step || 'any' : field.type === 'int' ? 1 : undefined}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={Boolean(error)}
        aria-describedby={describedBy}
        data-testid={`settings-field-${field.name}`}
      />
      <span id={hintId} className="hint">
        {[range && `Range ${range}`, field.help].filter(Boolean).join(' · ')}
      </span>
      {error && (
        <span id={errorId} className="field-error" data-testid={`settings-error-${field.name}`} role="alert">
          {error}
        </span>
      )}
    </div>
  )
}

function TokenSection() {
  const [stored, setStored] = useState(hasToken())
  if (!stored) return null
  return (
    <section className="card settings-group">
      <h2>API token</h2>
      <p className="row">
        <span>An API token is stored in this browser.</span>
        <button
          type="button"
          onClick={() => {
            clearToken()
            setStored(false)
            notify('API token removed from this browser')
          }}
        >
          Forget token
        </button>
      </p>
    </section>
  )
}

/** Every setting, grouped, validated inline against the API's ranges before saving. */
export default function SettingsForm() {
  const settings = useSettingsStore((s) => s.settings)
  const loading = useSettingsStore((s) => s.loading)
  const saving = useSettingsStore((s) => s.saving)
  const serverErrors = useSettingsStore((s) => s.serverErrors)
  const formError = useSettingsStore((s) => s.formError)
  const savedAt = useSettingsStore((s) => s.savedAt)
  const { load, save, clearServerError, resetFeedback } = useSettingsStore.getState()
  const [values, setValues] = useState(() => initialValues(settings))
  const [touched, setTouched] = useState({})
  const [submitted, setSubmitted] = useState(false)

  useEffect(() => {
    load()
    return resetFeedback
  }, [load, resetFeedback])
  useEffect(() => {
    if (settings) setValues(initialValues(settings))
  }, [settings])

  const clientErrors = useMemo(
    () => Object.fromEntries(SETTINGS_FIELDS.map((f) => [f.name, validateSetting(f, values[f.name])]).filter(([, e]) => e)),
    [values],
  )

  const changes = useMemo(() => {
    const out = {}
    for (const f of SETTINGS_FIELDS) {
      if (clientErrors[f.name]) continue
      const next = parseSetting(f, values[f.name])
      const current = settings ? settings[f.name] : undefined
      if (next !== (current === undefined ? undefined : current)) out[f.name] = next
    }
    return out
  }, [values, settings, clientErrors])

  const onChange = (name, value) => {
    setValues((v) => ({ ...v, [name]: value }))
    setTouched((t) => ({ ...t, [name]: true }))
    clearServerError(name)
  }

  const submit = async (event) => {
    event.preventDefault()
    setSubmitted(true)
    if (Object.keys(clientErrors).length) return
    if (!Object.keys(changes).length) {
      notify('Nothing changed')
      return
    }
    if (await save(changes)) {
      setTouched({})
      setSubmitted(false)
    }
  }

  const errorOf = (name) => serverErrors[name] || ((touched[name] || submitted) && clientErrors[name]) || null
  const invalidCount = Object.keys(clientErrors).length

  return (
    <form className="page settings-form" onSubmit={submit} noValidate aria-busy={loading} data-testid="settings-form">
      <header className="page-header">
        <h1>Settings</h1>
        {loading && <span className="muted">Loading…</span>}
      </header>
      {SETTINGS_GROUPS.map((group) => (
        <fieldset key={group.title} className="card settings-group" disabled={!settings}>
          <legend>{group.title}</legend>
          {group.fields.map((field) => (
            <SettingField
              key={field.name}
              field={field}
              value={values[field.name]}
              error={errorOf(field.name)}
              onChange={(v) => onChange(field.name, v)}
            />
          ))}
        </fieldset>
      ))}
      <div className="form-footer">
        <button type="submit" className="primary" disabled={saving} data-testid="settings-save">
          {saving ? 'Saving…' : 'Save'}
        </button>
        {submitted && invalidCount > 0 && (
          <span className="field-error" role="alert">
            Fix the {invalidCount} highlighted field{invalidCount === 1 ? '' : 's'} first.
          </span>
        )}
        {formError && (
          <span className="field-error" role="alert" data-testid="settings-form-error">
            {formError}
          </span>
        )}
        {savedAt && !formError && (
          <span className="success-text" role="status" data-testid="settings-saved">
            Saved at {formatTime(savedAt)}
          </span>
        )}
      </div>
      <TokenSection />
    </form>
  )
}
