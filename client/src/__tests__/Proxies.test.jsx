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
  const report = (id, summary, statuses, overrides = {}) => ({
    proxy_id: id,
    proxy: 'http://127.0.0.2:8080',
    username: 'instagram',
    tested_at: '2025-01-01T10:00:00+00:00',
    result: statuses.every((s) => s === 'ok') ? 'ok' : 'failed',
    ok: statuses.every((s) => s === 'ok'),
    summary,
    steps: ['proxy', 'instagram', 'session', 'limits'].map((name, i) => ({
      name,
      title: { proxy: 'Proxy reachable', instagram: 'Instagram answered', session: 'Session logged in', limits: 'Limit state' }[name],
      status: statuses[i],
      detail: `${name} detail`,
    })),
    ...overrides,
  })

  it('shows untested pairs until a test proves them, and the steps of a test', async () => {
    const { calls } = await renderPage([proxy('p1', { test_state: 'untested', last_test: null })], {
      'POST /proxies/p1/test': report('p1', 'session logged out', ['ok', 'ok', 'failed', 'skipped']),
    })
    const row = screen.getByTestId('proxy-row')
    expect(row.dataset.testState).toBe('untested')
    expect(within(row).getByTestId('proxy-test-state')).toHaveTextContent('untested')
    expect(screen.getByTestId('proxy-summary')).toHaveTextContent('1 pair, 1 ready, 1 untested')
    await act(async () => {
      fireEvent.click(screen.getByTestId('proxy-test'))
    })
    expect(calls.find((c) => c.method === 'POST').path).toBe('/proxies/p1/test')
    expect(screen.getByTestId('proxy-row').dataset.testState).toBe('failed')
    expect(screen.getByTestId('proxy-test-state')).toHaveTextContent('session logged out')
    expect(screen.getByTestId('proxy-test-summary')).toHaveTextContent('session logged out')
    const steps = screen.getAllByTestId('proxy-test-step')
    expect(steps.map((s) => s.dataset.status)).toEqual(['ok', 'ok', 'failed', 'skipped'])
    expect(steps[2]).toHaveTextContent('failed Session logged in: session detail')
    expect(steps[3]).toHaveTextContent('not tried Limit state')
    fireEvent.click(screen.getByRole('button', { name: /Hide the test report/ }))
    expect(screen.queryByTestId('proxy-test-report')).toBeNull()
  })

  it('tests every pair with Test all, and a budget refusal changes no state', async () => {
    const { calls } = await renderPage(
      [
        proxy('p1', { test_state: 'untested' }),
        proxy('p22', {
          ip: '127.0.0.3',
          test_state: 'ok',
          last_test: { ok: true, summary: 'ok — logged in as 1', tested_at: '2025-01-01T09:00:00+00:00' },
        }),
      ],
      {
        'POST /proxies/test': [
          report('p1', 'ok — logged in as 1234567', ['ok', 'ok', 'ok', 'ok']),
          report('p22', "not sent: the pair's budget allows its next lookup at 10:20:00", ['ok', 'skipped', 'skipped', 'skipped'], {
            result: 'not_sent',
          }),
        ],
      },
    )
    await act(async () => {
      fireEvent.click(screen.getByTestId('proxy-test-all'))
    })
    expect(calls.find((c) => c.method === 'POST').body).toEqual({})
    const chips = screen.getAllByTestId('proxy-test-state')
    expect(chips[0]).toHaveTextContent('ok — logged in as 1234567')
    expect(chips[1]).toHaveTextContent('ok — logged in as 1')
    // Only the pairs that did not pass open their steps.
    expect(screen.getAllByTestId('proxy-test-report').map((r) => r.dataset.result)).toEqual(['not_sent'])
    expect(screen.getByTestId('proxy-summary')).toHaveTextContent('2 pairs, 2 ready')
    expect(screen.getByTestId('proxy-summary')).not.toHaveTextContent('untested')
  })
})
