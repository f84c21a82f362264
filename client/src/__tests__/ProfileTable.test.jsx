import { act, fireEvent, render, screen, within } from '@testing-library/react'
import { beforeEach, describe, expect, it } from 'vitest'
import ProfileTable from '../components/niche/ProfileTable.jsx'
import { useNicheStore } from '../stores/nicheStore.js'
import { initialProfileState, useProfileStore } from '../stores/profileStore.js'
import { makeProfile, mockFetch } from '../test/fetchMock.js'

beforeEach(() => {
  useProfileStore.setState({ ...initialProfileState, selectedIds: new Set() })
  useNicheStore.setState({ niches: [{ id: 'n1', name: 'Fitness', order: 0, profile_count: 3 }], loaded: true })
})

const iso = (offsetSeconds) => new Date(Date.now() + offsetSeconds * 1000).toISOString()

const profiles = [
  // Posted 22 h ago, checked just now: "posted" must not show the check time.
  makeProfile('live', {
    story_live: true,
    active_story: true,
    story_posted_at: iso(-22 * 3600),
    story_expires_at: iso(2 * 3600),
    last_checked: iso(-60),
    total_checks: 1,
    total_detections: 1,
  }),
  // Checked an hour ago and its story has expired since: no red dot.
  makeProfile('gone', {
    story_live: true,
    active_story: true,
    story_posted_at: iso(-25 * 3600),
    story_expires_at: iso(-3600),
    last_checked: iso(-3600),
    total_checks: 2,
    total_detections: 1,
  }),
  makeProfile('missing', { not_found: true, not_found_at: iso(-600), status: 'active' }),
  makeProfile('secret', { is_private: true, last_checked: iso(-60), total_checks: 1 }),
  // Never checked; and checked 30 h ago without a story (one may have been posted since).
  makeProfile('new'),
  makeProfile('stale', { last_checked: iso(-30 * 3600), total_checks: 1 }),
]

async function renderTable(extra = {}) {
  const mock = mockFetch({ 'GET /profiles': { profiles, total: 3 }, ...extra })
  await act(async () => {
    await useProfileStore.getState().fetchProfiles()
  })
  await act(async () => {
    render(<ProfileTable />)
  })
  return mock
}

const row = (id) => screen.getAllByTestId('profile-row').find((r) => r.dataset.profileId === id)

describe('ProfileTable story times', () => {
  it('names posted, expires in and checked separately and lights the dot only while live', async () => {
    await renderTable()
    const headers = screen.getAllByRole('columnheader').map((th) => th.textContent.replace(/[▲▼↕]/g, ''))
    expect(headers).toEqual(expect.arrayContaining(['Posted', 'Expires in', 'Checked']))
    expect(headers).not.toContain('Last story')

    const live = row('live')
    expect(within(live).getByTestId('profile-posted')).toHaveTextContent('22 h ago')
    expect(within(live).getByTestId('profile-expires').textContent).toMatch(/^(2h 00m|1h 59m)$/)
    expect(within(live).getByTestId('story-dot-live')).toHaveTextContent('live story')

    const gone = row('gone')
    expect(within(gone).queryByTestId('story-dot-live')).not.toBeInTheDocument()
    expect(gone).toHaveTextContent('no live story')
    expect(within(gone).getByTestId('profile-expires')).toHaveTextContent('—')

    // A private account nobody follows: unknown, never "no story".
    expect(within(row('secret')).getByTestId('story-unknown')).toHaveTextContent('story unknown (private)')
    expect(row('secret')).not.toHaveTextContent('no live story')
    // Nor a detection rate of 0 %: its checks could not see a story.
    expect(within(row('secret')).getByTestId('profile-rate-unknown')).toHaveTextContent('unknown')
    expect(within(row('live')).queryByTestId('profile-rate-unknown')).not.toBeInTheDocument()
    // An account that does not exist has no rate either.
    expect(within(row('missing')).getByTestId('profile-rate-none')).toHaveTextContent('—')
  })

  it('never says "no live story" for an account not checked within a story\'s lifetime', async () => {
    await renderTable()
    expect(within(row('new')).getByTestId('story-unchecked')).toHaveTextContent('story unknown (not checked yet)')
    expect(row('new')).not.toHaveTextContent('no live story')
    expect(within(row('new')).getByTestId('profile-rate-none')).toHaveTextContent('—') // no check, no rate
    expect(within(row('stale')).getByTestId('story-unchecked')).toHaveTextContent('story unknown (last checked over 24 h ago)')
    expect(row('stale')).not.toHaveTextContent('no live story')
    expect(row('stale')).toHaveTextContent('0.0%') // its one check saw no story
    expect(within(row('gone')).getByTestId('story-dot')).toHaveTextContent('no live story')
  })

  it("follows the server's story answer, and the Story filter asks for an answer", async () => {
    const answered = [
      // Private, but a checking session follows it: its check saw there was no story.
      makeProfile('followed', { is_private: true, last_checked: iso(-60), total_checks: 1, story_answer: 'none', story_unknown_reason: null }),
      makeProfile('hidden', { is_private: true, last_checked: iso(-60), total_checks: 1, story_answer: 'unknown', story_unknown_reason: 'private' }),
      makeProfile('old', { last_checked: iso(-30 * 3600), total_checks: 1, story_answer: 'unknown', story_unknown_reason: 'stale' }),
      makeProfile('blind', { last_checked: iso(-60), total_checks: 1, story_answer: 'unknown', story_unknown_reason: 'unseen' }),
    ]
    const { calls } = mockFetch({ 'GET /profiles': { profiles: answered, total: 3 } })
    await act(async () => {
      await useProfileStore.getState().fetchProfiles()
    })
    await act(async () => {
      render(<ProfileTable />)
    })
    expect(within(row('followed')).getByTestId('story-dot')).toHaveTextContent('no live story')
    expect(within(row('hidden')).getByTestId('story-unknown')).toHaveTextContent('story unknown (private)')
    expect(within(row('old')).getByTestId('story-unchecked')).toHaveTextContent('last checked over 24 h ago')
    expect(within(row('blind')).getByTestId('story-unchecked')).toHaveTextContent('the latest check could not see')
    expect(row('blind')).not.toHaveTextContent('no live story')

    const filter = screen.getByTestId('story-filter')
    expect([...filter.options].map((o) => o.value)).toEqual(['any', 'live', 'none', 'unknown'])
    await act(async () => {
      fireEvent.change(filter, { target: { value: 'none' } })
    })
    expect(calls.at(-1).query).toMatchObject({ story: 'none', page: '1' })
    expect(calls.at(-1).query.active_story).toBeUndefined()
  })

  it('labels not-found accounts, filters them and clears the flag of the selection', async () => {
    const { calls } = await renderTable({ 'POST /profiles/clear-not-found': { cleared: 1 } })
    const missing = row('missing')
    expect(within(missing).getByTestId('profile-not-found')).toHaveTextContent('not found')
    expect(missing).not.toHaveTextContent('active')

    await act(async () => {
      fireEvent.change(screen.getByTestId('not-found-filter'), { target: { value: 'true' } })
    })
    expect(calls.at(-1).query).toMatchObject({ not_found: 'true' })
    expect(screen.getByTestId('profiles-export-csv').getAttribute('href')).toBe('/api/profiles/export.csv?not_found=true')

    fireEvent.click(within(row('missing')).getByRole('checkbox'))
    await act(async () => {
      fireEvent.click(screen.getByTestId('clear-not-found'))
    })
    const clear = calls.find((c) => c.method === 'POST')
    expect(clear).toMatchObject({ path: '/profiles/clear-not-found', body: { profile_ids: ['missing'] } })
  })

  it('opens the story history of an account from its posted time', async () => {
    const windows = [
      {
        id: 'w2',
        first_taken_at: iso(-22 * 3600),
        last_taken_at: iso(-20 * 3600),
        expires_at: iso(4 * 3600),
        item_count: 3,
        first_seen_at: iso(-60),
        last_seen_at: iso(-60),
        batch_id: 'b1',
        live: true,
      },
      {
        id: 'w1',
        first_taken_at: iso(-72 * 3600),
        last_taken_at: iso(-72 * 3600),
        expires_at: iso(-48 * 3600),
        item_count: 1,
        first_seen_at: iso(-70 * 3600),
        last_seen_at: iso(-70 * 3600),
        batch_id: null,
        live: false,
      },
    ]
    await renderTable({ 'GET /profiles/live/stories': { windows } })
    await act(async () => {
      fireEvent.click(within(row('live')).getByTestId('profile-posted'))
    })
    const dialog = screen.getByTestId('story-history-modal')
    const rows = within(dialog).getAllByTestId('story-window')
    expect(rows).toHaveLength(2)
    expect(rows[0]).toHaveTextContent('live')
    expect(rows[1]).toHaveTextContent('expired')
    expect(useProfileStore.getState().selectedIds.size).toBe(0)
  })
})
