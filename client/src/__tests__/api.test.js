import { afterEach, describe, expect, it, vi } from 'vitest'
import api, { ApiError, TOKEN_STORAGE_KEY, apiUrl, clearToken, errorMessage, request, setTokenHandler } from '../api/index.js'
import { jsonResponse, mockFetch } from '../test/fetchMock.js'

afterEach(() => {
  setTokenHandler(null)
  clearToken()
})

describe('api client', () => {
  it('builds /api URLs and leaves out empty query values', () => {
    expect(apiUrl('/profiles', { page: 1, search: '', status: null, niche_id: undefined, active_story: 'true' })).toBe(
      '/api/profiles?page=1&active_story=true',
    )
  })

  it('uses the server message, then error, then the status text', () => {
    expect(errorMessage({ error: 'x', message: 'Human sentence' }, 400, 'BAD REQUEST')).toBe('Human sentence')
    expect(errorMessage({ error: 'Niche already exists' }, 400, 'BAD REQUEST')).toBe('Niche already exists')
    expect(errorMessage(null, 500, 'INTERNAL SERVER ERROR')).toBe('INTERNAL SERVER ERROR')
  })

  it('rejects with an ApiError carrying status, data and message', async () => {
    mockFetch({
      'POST /batches/start': { status: 409, body: { error: 'conflict', message: 'Batch is running', running_batch_ids: ['b1'] } },
    })
    const err = await api.batches.start(['b2']).catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.status).toBe(409)
    expect(err.message).toBe('Batch is running')
    expect(err.data.running_batch_ids).toEqual(['b1'])
    expect(err.response.data.running_batch_ids).toEqual(['b1'])
  })

  it('sends JSON bodies and resolves 204 to null', async () => {
    const { calls } = mockFetch({ 'DELETE /batches': { status: 204 } })
    await expect(api.batches.delete(['a', 'b'])).resolves.toBeNull()
    expect(calls[0]).toMatchObject({ method: 'DELETE', path: '/batches', body: { batch_ids: ['a', 'b'] } })
    expect(calls[0].headers['Content-Type']).toBe('application/json')
  })

  it('turns a network failure into an ApiError with status 0', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))),
    )
    const err = await api.niches.list().catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.status).toBe(0)
    expect(err.message).toMatch(/network/i)
  })

  it('sends the stored token as a Bearer header', async () => {
    window.localStorage.setItem(TOKEN_STORAGE_KEY, 's3cret')
    const { calls } = mockFetch({ 'GET /niches': [] })
    await api.niches.list()
    expect(calls[0].headers.Authorization).toBe('Bearer s3cret')
  })

  it('asks for a token on 401 unauthorized, stores it and retries', async () => {
    const { calls } = mockFetch({
      'GET /niches': (call) =>
        call.headers.Authorization === 'Bearer good'
          ? { status: 200, body: [{ id: 'n1' }] }
          : { status: 401, body: { error: 'unauthorized', message: 'API token required' } },
    })
    const handler = vi.fn(async () => 'good')
    setTokenHandler(handler)
    await expect(api.niches.list()).resolves.toEqual([{ id: 'n1' }])
    expect(handler).toHaveBeenCalledTimes(1)
    expect(handler).toHaveBeenCalledWith({ rejected: false })
    expect(calls).toHaveLength(2)
    expect(window.localStorage.getItem(TOKEN_STORAGE_KEY)).toBe('good')
  })

  it('asks once for many requests that hit 401 together', async () => {
    mockFetch({
      'GET /niches': (call) => (call.headers.Authorization ? [] : { status: 401, body: { error: 'unauthorized', message: 'token' } }),
    })
    let resolveToken
    const handler = vi.fn(() => new Promise((r) => (resolveToken = r)))
    setTokenHandler(handler)
    const all = Promise.all([api.niches.list(), api.niches.list(), api.niches.list()])
    await vi.waitFor(() => expect(handler).toHaveBeenCalled())
    resolveToken('tok')
    await expect(all).resolves.toEqual([[], [], []])
    expect(handler).toHaveBeenCalledTimes(1)
  })

  it('gives up with the 401 error when the prompt is cancelled', async () => {
    mockFetch({ 'GET /niches': { status: 401, body: { error: 'unauthorized', message: 'API token required' } } })
    setTokenHandler(async () => null)
    const err = await api.niches.list().catch((e) => e)
    expect(err.status).toBe(401)
    expect(err.message).toBe('API token required')
  })

  it('does not prompt for other 401s', async () => {
    mockFetch({ 'GET /niches': { status: 401, body: { error: 'login_required', message: 'no' } } })
    const handler = vi.fn()
    setTokenHandler(handler)
    await expect(api.niches.list()).rejects.toThrow('no')
    expect(handler).not.toHaveBeenCalled()
  })

  it('uploads imports as multipart with a "file" part', async () => {
    const { calls } = mockFetch({ 'POST /profiles/niches/n1/import': { status: 201, body: { created: [], errors: [] } } })
    await api.profiles.import('n1', new File(['alice\nbob\n'], 'names.txt', { type: 'text/plain' }))
    expect(calls[0].body).toBeInstanceOf(FormData)
    expect(calls[0].body.get('file').name).toBe('names.txt')
    expect(calls[0].headers['Content-Type']).toBeUndefined()
  })

  it('returns status with the data when asked', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => jsonResponse(207, { created: [] })),
    )
    await expect(request('POST', '/x', { withStatus: true })).resolves.toEqual({ status: 207, data: { created: [] } })
  })
})
