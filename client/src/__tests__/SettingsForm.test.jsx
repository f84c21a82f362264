import { act, fireEvent, render, screen } from '@testing-library/react'
import { beforeEach, describe, expect, it } from 'vitest'
import SettingsForm from '../components/settings/SettingsForm.jsx'
import { SETTINGS_FIELDS, settingsErrorsFrom, validateSetting } from '../lib/settingsSchema.js'
import { useSettingsStore } from '../stores/settingsStore.js'
import { mockFetch } from '../test/fetchMock.js'

const initial = useSettingsStore.getState()
beforeEach(() => useSettingsStore.setState(initial, true))

const SETTINGS = {
  profiles_per_minute: 0,
  max_threads: 8,
  max_concurrent_batches: 1,
  default_batch_size: 100,
  story_retention_hours: 24,
  auto_trigger_enabled: false,
  min_trigger_interval: 60,
  proxy_test_timeout: 10,
  proxy_max_failures: 3,
  proxy_hourly_limit: 150,
  lookup_hourly_limit: 60,
  min_request_interval: 2.0,
  reel_ids_per_request: 20,
  max_attempts: 3,
  request_jitter: 0.4,
  action_block_cooldown_hours: 6,
  not_found_recheck_days: 1,
  dense_doc_id: '',
  notifications_enabled: true,
  notification_email: null,
}

async function renderForm(routes = {}) {
  const mock = mockFetch({ 'GET /settings': SETTINGS, ...routes })
  await act(async () => {
    render(<SettingsForm />)
  })
  return mock
}

describe('settings schema', () => {
  it('covers every setting of the API', () => {
    expect(SETTINGS_FIELDS.map((f) => f.name).sort()).toEqual(Object.keys(SETTINGS).sort())
  })

  it('validates ranges, whole numbers and emails', () => {
    const field = (name) => SETTINGS_FIELDS.find((f) => f.name === name)
    expect(validateSetting(field('max_threads'), '0')).toBe('Must be 1–256')
    expect(validateSetting(field('max_threads'), '2.5')).toMatch(/whole number/)
    expect(validateSetting(field('max_threads'), '')).toMatch(/Required/)
    expect(validateSetting(field('profiles_per_minute'), '-1')).toBe('Must be 0–100000')
    expect(validateSetting(field('min_request_interval'), '0.5')).toBeNull()
    expect(validateSetting(field('notification_email'), 'nope')).toMatch(/email/)
    expect(validateSetting(field('notification_email'), '')).toBeNull()
  })

  it('spreads a server 400 over the fields', () => {
    const err = {
      message: 'max_threads must be between 1 and 256',
      data: {
        error: 'validation_error',
        errors: ['max_threads must be between 1 and 256', 'something else'],
        details: { field: 'max_threads', valid_range: '1-256' },
      },
    }
    const { fieldErrors, formError } = settingsErrorsFrom(err)
    expect(fieldErrors.max_threads).toBe('max_threads must be between 1 and 256')
    expect(formError).toBe('something else')
    const camel = settingsErrorsFrom({ message: 'Bad', data: { details: { field: 'profilesPerMinute', valid_range: '>=0' } } })
    expect(camel.fieldErrors.profiles_per_minute).toBe('Bad (valid: >=0)')
  })
})

describe('SettingsForm', () => {
  it('shows every setting with its range', async () => {
    await renderForm()
    for (const f of SETTINGS_FIELDS) expect(screen.getByTestId(`settings-field-${f.name}`)).toBeInTheDocument()
    expect(screen.getByTestId('settings-field-max_threads')).toHaveValue(8)
    expect(screen.getByLabelText('Max requests in flight')).toBe(screen.getByTestId('settings-field-max_threads'))
    expect(screen.getByText('Range 1–256')).toBeInTheDocument()
  })

  it('shows inline validation next to the field and does not send invalid values', async () => {
    const { calls } = await renderForm()
    fireEvent.change(screen.getByTestId('settings-field-max_threads'), { target: { value: '300' } })
    expect(screen.getByTestId('settings-error-max_threads')).toHaveTextContent('Must be 1–256')
    fireEvent.change(screen.getByTestId('settings-field-reel_ids_per_request'), { target: { value: '0' } })
    expect(screen.getByTestId('settings-error-reel_ids_per_request')).toHaveTextContent('Must be 1–50')
    await act(async () => {
      fireEvent.click(screen.getByTestId('settings-save'))
    })
    expect(calls.filter((c) => c.method === 'PUT')).toHaveLength(0)
    fireEvent.change(screen.getByTestId('settings-field-max_threads'), { target: { value: '16' } })
    expect(screen.queryByTestId('settings-error-max_threads')).not.toBeInTheDocument()
  })

  it('saves only the changed fields and confirms', async () => {
    const { calls } = await renderForm({ 'PUT /settings': (call) => ({ status: 200, body: { ...SETTINGS, ...call.body } }) })
    fireEvent.change(screen.getByTestId('settings-field-max_threads'), { target: { value: '16' } })
    fireEvent.click(screen.getByTestId('settings-field-auto_trigger_enabled'))
    fireEvent.change(screen.getByTestId('settings-field-notification_email'), { target: { value: 'ops@example.com' } })
    await act(async () => {
      fireEvent.click(screen.getByTestId('settings-save'))
    })
    expect(calls.find((c) => c.method === 'PUT').body).toEqual({
      max_threads: 16,
      auto_trigger_enabled: true,
      notification_email: 'ops@example.com',
    })
    expect(screen.getByTestId('settings-saved')).toBeInTheDocument()
  })

  it('shows a server 400 inline next to the named field', async () => {
    await renderForm({
      'PUT /settings': {
        status: 400,
        body: {
          error: 'validation_error',
          message: 'min_request_interval is out of range',
          errors: ['min_request_interval is out of range'],
          details: { field: 'min_request_interval', valid_range: '0-3600' },
        },
      },
    })
    fireEvent.change(screen.getByTestId('settings-field-min_request_interval'), { target: { value: '3' } })
    await act(async () => {
      fireEvent.click(screen.getByTestId('settings-save'))
    })
    expect(screen.getByTestId('settings-error-min_request_interval')).toHaveTextContent('min_request_interval is out of range')
  })
})
