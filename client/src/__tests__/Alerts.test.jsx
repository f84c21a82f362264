import { act, fireEvent, render, screen, within } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import AlertBell from '../components/alerts/AlertBell.jsx'
import AlertsPage from '../components/alerts/AlertsPage.jsx'
import { channelPayload } from '../components/alerts/ChannelForm.jsx'
import { useUiStore } from '../stores/uiStore.js'
import { mockFetch } from '../test/fetchMock.js'

const channel = (id, overrides = {}) => ({
  id,
  name: `hook ${id}`,
  kind: 'webhook',
  enabled: true,
  event_types: [],
  niche_ids: [],
  rate_limit_per_minute: 30,
  config: { url: `https://hooks.example.com/${id}`, timeout_seconds: 10, max_attempts: 6 },
  secret: '…',
  ...overrides,
})

const delivery = (id, overrides = {}) => ({
  id,
  event_id: `e-${id}`,
  event_type: 'story.detected',
  event_summary: '@anna posted a story (Fitness)',
  channel_id: 'c1',
  channel_name: 'hook c1',
  status: 'delivered',
  attempts: 1,
  last_error: null,
  next_attempt_at: null,
  delivered_at: '2025-01-01T10:00:00+00:00',
  created_at: '2025-01-01T10:00:00+00:00',
  ...overrides,
})

beforeEach(() => {
  window.localStorage.clear()
  useUiStore.setState({ errors: [], notices: [] })
})
afterEach(() => window.localStorage.clear())

async function renderPage(routes) {
  const mock = mockFetch({
    'GET /alerts/channels': [channel('c1')],
    'GET /alerts/deliveries': { deliveries: [delivery('d1')], total: 1, limit: 100, offset: 0 },
    ...routes,
  })
  await act(async () => {
    render(<AlertsPage />)
  })
  return mock
}

describe('Alerts page', () => {
  it('lists channels with their target and a masked secret', async () => {
    await renderPage({})
    const row = screen.getByTestId('channel-row')
    expect(within(row).getByTestId('channel-target')).toHaveTextContent('https://hooks.example.com/c1')
    expect(row).toHaveTextContent('signed, secret hidden (…)')
    expect(row).toHaveTextContent('All events')
  })

  it('shows what "Send test" answered, good or bad', async () => {
    let answer = { status: 200, body: { ok: true, event_id: 'x', channel_id: 'c1' } }
    await renderPage({ 'POST /alerts/channels/c1/test': () => answer })
    await act(async () => {
      fireEvent.click(screen.getByTestId('channel-test'))
    })
    expect(screen.getByTestId('channel-test-result')).toHaveTextContent('Test message delivered')
    answer = {
      status: 502,
      body: {
        error: 'delivery_failed',
        message: 'Test message not delivered: Could not connect to SMTP server 127.0.0.1:2525: connection refused',
      },
    }
    await act(async () => {
      fireEvent.click(screen.getByTestId('channel-test'))
    })
    const result = screen.getByTestId('channel-test-result')
    expect(result).toHaveTextContent('Could not connect to SMTP server 127.0.0.1:2525: connection refused')
    expect(result).toHaveClass('bad')
  })

  it('retries a failed delivery now', async () => {
    const failed = delivery('d2', { status: 'failed', attempts: 6, last_error: 'https://hooks.example.com answered HTTP 500' })
    const { calls } = await renderPage({
      'GET /alerts/deliveries': { deliveries: [failed], total: 1 },
      'POST /alerts/deliveries/d2/retry': { ...failed, status: 'pending', next_attempt_at: '2025-01-01T10:00:00+00:00' },
    })
    const row = screen.getByTestId('delivery-row')
    expect(row).toHaveTextContent('answered HTTP 500')
    expect(row.dataset.status).toBe('failed')
    await act(async () => {
      fireEvent.click(within(row).getByTestId('delivery-retry'))
    })
    expect(calls.some((c) => c.method === 'POST' && c.path === '/alerts/deliveries/d2/retry')).toBe(true)
    expect(screen.getByTestId('delivery-row').dataset.status).toBe('pending')
  })

  it('filters the log by status', async () => {
    const { calls } = await renderPage({})
    await act(async () => {
      fireEvent.change(screen.getByTestId('delivery-status-filter'), { target: { value: 'failed' } })
    })
    expect(calls.filter((c) => c.path === '/alerts/deliveries').at(-1).query).toEqual({ limit: '100', status: 'failed' })
  })

  it('creates a webhook channel and shows a refusal next to the form', async () => {
    let answer = {
      status: 400,
      body: {
        error: 'validation_error',
        message: 'url must be an absolute http:// or https:// address; got scheme ftp',
        details: { field: 'url' },
      },
    }
    const { calls } = await renderPage({ 'GET /alerts/channels': [], 'POST /alerts/channels': () => answer })
    expect(screen.getByTestId('channels-empty')).toBeInTheDocument()
    fireEvent.change(screen.getByTestId('channel-field-name'), { target: { value: 'Ops' } })
    fireEvent.change(screen.getByTestId('channel-field-url'), { target: { value: 'ftp://x' } })
    await act(async () => {
      fireEvent.click(screen.getByTestId('channel-submit'))
    })
    expect(screen.getByTestId('channel-form-error')).toHaveTextContent('got scheme ftp')
    expect(screen.getByTestId('channel-field-url')).toHaveAttribute('aria-invalid', 'true')
    answer = { status: 201, body: channel('c9', { name: 'Ops' }) }
    fireEvent.change(screen.getByTestId('channel-field-url'), { target: { value: 'https://hooks.example.com/x' } })
    fireEvent.change(screen.getByTestId('channel-field-secret'), { target: { value: 's3cret' } })
    await act(async () => {
      fireEvent.click(screen.getByTestId('channel-submit'))
    })
    expect(calls.filter((c) => c.method === 'POST').at(-1).body).toEqual({
      name: 'Ops',
      kind: 'webhook',
      event_types: [],
      rate_limit_per_minute: 30,
      config: { url: 'https://hooks.example.com/x' },
      secret: 's3cret',
    })
    expect(screen.getAllByTestId('channel-row')).toHaveLength(1)
    expect(screen.getByTestId('channel-field-secret')).toHaveValue('')
  })

  it('builds an email channel body', () => {
    const body = channelPayload({
      name: 'Mail',
      kind: 'email',
      url: '',
      secret: '',
      template: '',
      host: 'smtp.example.com',
      port: '',
      security: 'ssl',
      username: '',
      from_address: 'a@example.com',
      to: 'b@example.com',
      digest_minutes: '15',
      rate_limit_per_minute: '0',
      event_types: ['batch.completed'],
    })
    expect(body).toEqual({
      name: 'Mail',
      kind: 'email',
      event_types: ['batch.completed'],
      rate_limit_per_minute: 0,
      config: { host: 'smtp.example.com', security: 'ssl', from_address: 'a@example.com', to: 'b@example.com', digest_minutes: 15 },
    })
  })
})

describe('Alert bell', () => {
  const events = [
    { id: 'e2', type: 'niche.target_reached', created_at: '2025-01-01T10:05:00+00:00', summary: 'Niche Fitness reached its daily target' },
    { id: 'e1', type: 'story.detected', created_at: '2025-01-01T10:00:00+00:00', summary: '@anna posted a story (Fitness)' },
  ]

  it('counts new events and clears the count once opened', async () => {
    mockFetch({ 'GET /alerts/events': { events } })
    await act(async () => {
      render(<AlertBell />)
    })
    expect(screen.getByTestId('alert-bell-count')).toHaveTextContent('2')
    await act(async () => {
      fireEvent.click(screen.getByTestId('alert-bell'))
    })
    const items = within(screen.getByTestId('alert-bell-panel')).getAllByTestId('alert-bell-event')
    expect(items.map((i) => i.textContent)).toEqual([
      expect.stringContaining('reached its daily target'),
      expect.stringContaining('@anna posted a story'),
    ])
    expect(screen.queryByTestId('alert-bell-count')).toBeNull()
    await act(async () => {
      fireEvent.keyDown(document, { key: 'Escape' })
    })
    expect(screen.queryByTestId('alert-bell-panel')).toBeNull()
  })

  it('stays quiet when the server cannot answer', async () => {
    mockFetch({ 'GET /alerts/events': { status: 500, body: { error: 'internal_error', message: 'boom' } } })
    await act(async () => {
      render(<AlertBell />)
    })
    expect(screen.queryByTestId('alert-bell-count')).toBeNull()
    expect(useUiStore.getState().errors).toEqual([])
  })
})
