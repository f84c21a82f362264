import { act, fireEvent, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { TOKEN_STORAGE_KEY, setTokenHandler } from '../api/index.js'
import App from '../App.jsx'
import { useUiStore } from '../stores/uiStore.js'
import { makeProfile, mockFetch } from '../test/fetchMock.js'

afterEach(() => {
  setTokenHandler(null)
  window.history.replaceState(null, '', '/')
  useUiStore.setState({ errors: [], notices: [], tokenPrompt: null })
})

describe('App', () => {
  it('navigates between tabs without reloading', async () => {
    mockFetch({
      'GET /niches': [],
      'GET /profiles': { profiles: [], total: 0 },
      'GET /batches': [],
      'GET /proxies': [],
      'GET /stories/live': { stories: [], next_cursor: null, total: 0 },
      'GET /stories/live/counts': { total: 0, niches: [] },
    })
    await act(async () => {
      render(<App />)
    })
    // The app opens on "Stories now"; a new user is told what to do.
    expect(screen.getByTestId('nav-stories')).toHaveAttribute('aria-current', 'page')
    expect(screen.getByTestId('stories-empty')).toHaveTextContent('Import accounts')
    await act(async () => {
      fireEvent.click(screen.getByTestId('nav-niche-feed'))
    })
    expect(window.location.pathname).toBe('/niches')
    expect(screen.getByTestId('empty-no-niches')).toHaveTextContent('Create a niche to start')
    await act(async () => {
      fireEvent.click(screen.getByTestId('nav-batches'))
    })
    expect(window.location.pathname).toBe('/batches')
    expect(screen.getByRole('heading', { name: 'Batches' })).toBeInTheDocument()
    await act(async () => {
      fireEvent.click(screen.getByTestId('nav-proxies'))
    })
    expect(screen.getByTestId('proxies-empty')).toHaveTextContent('No proxies yet — add a proxy + session pair to start checking')
  })

  it('shows server errors in a dismissable banner', async () => {
    window.history.replaceState(null, '', '/niches')
    mockFetch({
      'GET /niches': { status: 500, body: { error: 'database_error', message: 'Database is locked' } },
      'GET /profiles': { profiles: [], total: 0 },
    })
    await act(async () => {
      render(<App />)
    })
    expect(screen.getByTestId('error-banner')).toHaveTextContent('Database is locked')
    fireEvent.click(screen.getByRole('button', { name: 'Dismiss error' }))
    expect(screen.queryByTestId('error-banner')).not.toBeInTheDocument()
  })

  it('prompts for the API token on 401 and retries with it', async () => {
    window.history.replaceState(null, '', '/niches')
    const authorized = (call) => call.headers.Authorization === 'Bearer abc'
    const { calls } = mockFetch({
      'GET /niches': (call) =>
        authorized(call)
          ? [{ id: 'n1', name: 'Fitness', order: 0, profile_count: 1 }]
          : { status: 401, body: { error: 'unauthorized', message: 'API token required' } },
      'GET /profiles': (call) =>
        authorized(call)
          ? { profiles: [makeProfile('p1')], total: 1 }
          : { status: 401, body: { error: 'unauthorized', message: 'API token required' } },
    })
    setTokenHandler(({ rejected }) => useUiStore.getState().requestToken({ rejected }))
    await act(async () => {
      render(<App />)
    })
    const input = await screen.findByTestId('token-input')
    fireEvent.change(input, { target: { value: 'abc' } })
    await act(async () => {
      fireEvent.click(screen.getByTestId('token-save'))
    })
    expect(window.localStorage.getItem(TOKEN_STORAGE_KEY)).toBe('abc')
    expect(await screen.findAllByTestId('profile-row')).toHaveLength(1)
    expect(screen.getAllByTestId('niche-item')).toHaveLength(1)
    expect(calls.filter((c) => c.headers.Authorization === 'Bearer abc').length).toBeGreaterThanOrEqual(2)
    expect(screen.queryByTestId('error-banner')).not.toBeInTheDocument()
  })

  it("clears a page's banner when the user leaves the page, and when the action succeeds later", async () => {
    window.history.replaceState(null, '', '/proxies')
    let failing = true
    mockFetch({
      'GET /proxies': () => (failing ? { status: 500, body: { error: 'database_error', message: 'Database is locked' } } : []),
      'GET /batches': [],
      'GET /niches': [],
      'GET /profiles': { profiles: [], total: 0 },
    })
    await act(async () => {
      render(<App />)
    })
    expect(screen.getByTestId('error-banner')).toHaveTextContent('Database is locked')
    // The same action succeeding takes its error away.
    failing = false
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Refresh' }))
    })
    expect(screen.queryByTestId('error-banner')).not.toBeInTheDocument()

    failing = true
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Refresh' }))
    })
    expect(screen.getByTestId('error-banner')).toHaveTextContent('Database is locked')
    // Another page: the proxies' error does not follow.
    await act(async () => {
      fireEvent.click(screen.getByTestId('nav-batches'))
    })
    expect(screen.queryByTestId('error-banner')).not.toBeInTheDocument()
  })
})
