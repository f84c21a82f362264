import { act, fireEvent, render, screen, within } from '@testing-library/react'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import ProxiesPage from '../components/proxy/ProxiesPage.jsx'
import { useProxyStore } from '../stores/proxyStore.js'
import { mockFetch } from '../test/fetchMock.js'

const initial = useProxyStore.getState()
beforeEach(() => useProxyStore.setState(initial, true))

const proxy = (id, overrides = {}) => ({
  id,
  ip: '127.0.0.2',
  port: 8080,
  scheme: 'http',
  status: 'active',
  is_active: true,
  health: 'ready',
  cooldown_until: null,
  total_requests: 10,
  requests_this_hour: 2,
  error_rate: 10,
  last_error: null,
  sessions: [{ id: 's1', session: 'abcd…wxyz', status: 'active' }],
  created_at: `2025-01-01T00:00:0${id.length}+00:00`,
  ...overrides,
})

async function renderPage(list, extra = {}) {
  const mock = mockFetch({ 'GET /proxies': list, ...extra })
  await act(async () => {
    render(<ProxiesPage />)
  })
  return mock
}

describe('Proxies', () => {
  it('shows each pair with its health and masked session', async () => {
    await renderPage([proxy('p1'), proxy('p22', { ip: '127.0.0.3', health: 'cooling', cooldown_until: '2025-01-01T10:15:00+00:00' })])
    const rows = screen.getAllByTestId('proxy-row')
    expect(rows.map((r) => r.dataset.health)).toEqual(['ready', 'cooling'])
    expect(within(rows[1]).getByTestId('proxy-health')).toHaveTextContent(/cooling until \d\d:15:00/)
    expect(within(rows[0]).getByTestId('proxy-session')).toHaveTextContent('abcd…wxyz')
    expect(within(rows[0]).getByText('127.0.0.2:8080')).toBeInTheDocument()
  })

  it('shows the limit a pair learned from rate limits', async () => {
    await renderPage([proxy('p1', { learned_hourly_limit: 75 }), proxy('p22', { ip: '127.0.0.3' })])
    const rows = screen.getAllByTestId('proxy-row')
    expect(within(rows[0]).getByTestId('proxy-learned-limit')).toHaveTextContent('learned limit 75/h')
    expect(within(rows[1]).queryByTestId('proxy-learned-limit')).toBeNull()
  })

  it('shows the empty state', async () => {
    await renderPage([])
    expect(screen.getByTestId('proxies-empty')).toHaveTextContent('No proxies yet — add a proxy + session pair to start checking')
  })

  it('disables a pair with PATCH status', async () => {
    const { calls } = await renderPage([proxy('p1')], {
      'PATCH /proxies/p1/status': proxy('p1', { status: 'disabled', health: 'disabled' }),
    })
    await act(async () => {
      fireEvent.click(screen.getByTestId('proxy-toggle'))
    })
    expect(calls.find((c) => c.method === 'PATCH').body).toEqual({ status: 'disabled' })
    expect(screen.getByTestId('proxy-row').dataset.health).toBe('disabled')
  })

  it('adds a pair from a pasted URL and shows server field errors', async () => {
    const { calls } = await renderPage([], {
      'POST /proxies': (call) =>
        call.body.url.includes('dup')
          ? {
              status: 409,
              body: { error: 'duplicate_proxy', message: 'A proxy with this IP and port already exists', details: { field: 'url' } },
            }
          : { status: 201, body: proxy('new') },
    })
    const form = screen.getByTestId('proxy-add-form')
    fireEvent.click(within(form).getByTestId('proxy-mode-url'))
    fireEvent.change(screen.getByTestId('proxy-field-url'), { target: { value: 'socks5://u:p@dup:1080' } })
    fireEvent.change(screen.getByTestId('proxy-field-session'), { target: { value: 'SESSION' } })
    await act(async () => {
      fireEvent.click(screen.getByTestId('proxy-add-submit'))
    })
    expect(screen.getByTestId('proxy-add-error')).toHaveTextContent('A proxy with this IP and port already exists')
    fireEvent.change(screen.getByTestId('proxy-field-url'), { target: { value: 'socks5://u:p@127.0.0.9:1080' } })
    await act(async () => {
      fireEvent.click(screen.getByTestId('proxy-add-submit'))
    })
    expect(calls.filter((c) => c.method === 'POST')[1].body).toEqual({ url: 'socks5://u:p@127.0.0.9:1080', session: 'SESSION' })
    expect(screen.getAllByTestId('proxy-row')).toHaveLength(1)
  })

  it('validates the fields form before sending', async () => {
    const { calls } = await renderPage([])
    fireEvent.change(screen.getByTestId('proxy-field-port'), { target: { value: '70000' } })
    await act(async () => {
      fireEvent.click(screen.getByTestId('proxy-add-submit'))
    })
    expect(screen.getByText('A port 1–65535')).toBeInTheDocument()
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(0)
  })

  it('imports proxy|session lines and shows the per-line report', async () => {
    const { calls } = await renderPage([], {
      'POST /proxies/import': {
        status: 207,
        body: { created: [proxy('x1')], errors: [{ line: 'garbage', line_number: 2, error: 'Expected proxy_url|sessionid' }] },
      },
    })
    fireEvent.change(screen.getByTestId('proxy-import-textarea'), { target: { value: 'http://127.0.0.5:8080|SESS\ngarbage' } })
    await act(async () => {
      fireEvent.click(screen.getByTestId('proxy-import-submit'))
    })
    expect(calls.find((c) => c.path === '/proxies/import').body).toEqual({ lines: 'http://127.0.0.5:8080|SESS\ngarbage' })
    expect(screen.getByTestId('proxy-import-report')).toHaveTextContent('Added 1 pair, 1 line rejected')
    expect(screen.getByTestId('proxy-import-error')).toHaveTextContent('garbage: Expected proxy_url|sessionid')
  })

  it('replaces a session and deletes after confirmation', async () => {
    vi.spyOn(window, 'confirm').mockReturnValue(true)
    const { calls } = await renderPage([proxy('p1', { health: 'invalid' })], {
      'PUT /proxies/p1/session': proxy('p1', { health: 'ready' }),
      'DELETE /proxies/p1': { status: 204 },
    })
    fireEvent.click(screen.getByTestId('proxy-replace-session'))
    fireEvent.change(screen.getByTestId('replace-session-input'), { target: { value: 'NEWSESSION' } })
    await act(async () => {
      fireEvent.click(screen.getByTestId('replace-session-save'))
    })
    expect(calls.find((c) => c.method === 'PUT').body).toEqual({ session: 'NEWSESSION' })
    expect(screen.queryByTestId('replace-session-modal')).not.toBeInTheDocument()
    expect(screen.getByTestId('proxy-row').dataset.health).toBe('ready')
    await act(async () => {
      fireEvent.click(screen.getByTestId('proxy-delete'))
    })
    expect(calls.find((c) => c.method === 'DELETE').path).toBe('/proxies/p1')
    expect(screen.getByTestId('proxies-empty')).toBeInTheDocument()
  })

  it('adds a pair from a cookie string with a user agent and says what it recognised', async () => {
    const { calls } = await renderPage([], { 'POST /proxies': { status: 201, body: proxy('new') } })
    fireEvent.change(screen.getByTestId('proxy-field-ip'), { target: { value: '127.0.0.7' } })
    fireEvent.change(screen.getByTestId('proxy-field-port'), { target: { value: '8080' } })
    const cookies = 'csrftoken=CSRF; mid=MID; ig_did=DID; ds_user_id=1; sessionid=SESSION; rur=RUR'
    fireEvent.change(screen.getByTestId('proxy-field-session'), { target: { value: cookies } })
    expect(screen.getByTestId('proxy-field-session-summary')).toHaveTextContent(
      'a cookie string — sessionid, csrftoken, ds_user_id, mid, ig_did, rur',
    )
    expect(screen.getByTestId('proxy-field-session-summary')).not.toHaveTextContent('SESSION')
    fireEvent.change(screen.getByTestId('proxy-field-user_agent'), { target: { value: 'Mozilla/5.0 Chrome/142.0' } })
    await act(async () => {
      fireEvent.click(screen.getByTestId('proxy-add-submit'))
    })
    const body = calls.find((c) => c.method === 'POST').body
    expect(body).toMatchObject({ ip: '127.0.0.7', port: 8080, session: cookies, user_agent: 'Mozilla/5.0 Chrome/142.0' })
  })

  it('recognises a JSON cookie export and warns when it holds no sessionid', async () => {
    await renderPage([])
    const exported = JSON.stringify([
      { name: 'sessionid', value: 'S', domain: '.instagram.com' },
      { name: 'csrftoken', value: 'C', domain: '.instagram.com' },
      { name: 'sessionid', value: 'X', domain: '.example.com' },
    ])
    fireEvent.change(screen.getByTestId('proxy-field-session'), { target: { value: exported } })
    expect(screen.getByTestId('proxy-field-session-summary')).toHaveTextContent('a JSON cookie export — sessionid, csrftoken')
    const noSession = JSON.stringify([{ name: 'csrftoken', value: 'C', domain: '.instagram.com' }])
    fireEvent.change(screen.getByTestId('proxy-field-session'), { target: { value: noSession } })
    expect(screen.getByText('No Instagram sessionid cookie found')).toBeInTheDocument()
  })
})
