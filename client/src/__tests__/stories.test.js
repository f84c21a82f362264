import { describe, expect, it } from 'vitest'
import {
  exactTime,
  expiresInSeconds,
  formatCountdown,
  insertStory,
  matchesFilters,
  serverOffsetMs,
  sinceSeconds,
  storyQuery,
  storyUrl,
  timeAgo,
} from '../lib/stories.js'

const NOW = Date.parse('2025-03-01T12:00:00Z')
const iso = (offsetSeconds) => new Date(NOW + offsetSeconds * 1000).toISOString()
const story = (id, postedAgo, expiresIn, extra = {}) => ({
  profile_id: id,
  username: `user_${id}`,
  niche_id: 'n1',
  posted_at: iso(-postedAgo),
  expires_at: iso(expiresIn),
  ...extra,
})

describe('stories helpers', () => {
  it('reads posted-since windows', () => {
    expect(sinceSeconds('30m')).toBe(1800)
    expect(sinceSeconds('2h')).toBe(7200)
    expect(sinceSeconds('1d')).toBe(86400)
    expect(sinceSeconds('')).toBeNull()
    expect(sinceSeconds('2x')).toBeNull()
  })

  it('says how long ago a story was posted and counts down to its expiry', () => {
    expect(timeAgo(iso(-30), NOW)).toBe('just now')
    expect(timeAgo(iso(-12 * 60), NOW)).toBe('12 min ago')
    expect(timeAgo(iso(-3 * 3600 - 5), NOW)).toBe('3 h ago')
    expect(timeAgo(null, NOW)).toBe('—')
    expect(formatCountdown(23 * 3600 + 59 * 60 + 10)).toBe('23h 59m')
    expect(formatCountdown(245)).toBe('4m 05s')
    expect(formatCountdown(12)).toBe('12s')
    expect(formatCountdown(0)).toBe('expired')
    expect(expiresInSeconds(story('a', 0, 90), NOW)).toBe(90)
    expect(expiresInSeconds(story('a', 0, -5), NOW)).toBe(0)
    expect(exactTime(iso(0))).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
  })

  it('takes the server clock from an answer', () => {
    const rows = [{ expires_at: iso(100), expires_in_seconds: 100 }]
    expect(serverOffsetMs(rows, NOW)).toBe(0)
    expect(serverOffsetMs(rows, NOW - 5000)).toBe(5000)
    expect(serverOffsetMs([], NOW)).toBe(0)
  })

  it('builds the story link and the API query', () => {
    expect(storyUrl('a.b_c')).toBe('https://www.instagram.com/stories/a.b_c/')
    expect(storyQuery({ nicheId: 'n1', search: ' ab ', since: '2h', sort: 'expires', order: 'asc' })).toEqual({
      niche_id: 'n1',
      search: 'ab',
      since: '2h',
      sort: 'expires',
      order: 'asc',
    })
    expect(storyQuery({ nicheId: null, search: '', since: '' })).toEqual({})
  })

  it('applies the filters to a live row', () => {
    const row = story('abc', 3600, 600)
    expect(matchesFilters(row, {}, NOW)).toBe(true)
    expect(matchesFilters(row, { nicheId: 'n2' }, NOW)).toBe(false)
    expect(matchesFilters(row, { search: 'USER_A' }, NOW)).toBe(true)
    expect(matchesFilters(row, { search: 'zzz' }, NOW)).toBe(false)
    expect(matchesFilters(row, { since: '2h' }, NOW)).toBe(true)
    expect(matchesFilters(row, { since: '30m' }, NOW)).toBe(false)
    expect(matchesFilters(story('x', 10, -1), {}, NOW)).toBe(false)
  })

  it('inserts a row at its place and leaves later rows to "load more"', () => {
    const rows = [story('a', 10, 100), story('b', 20, 100), story('c', 30, 100)]
    const newest = story('n', 5, 100)
    expect(insertStory(rows, newest, { sort: 'posted', order: 'desc', complete: false }).map((r) => r.profile_id)).toEqual([
      'n',
      'a',
      'b',
      'c',
    ])
    const oldest = story('o', 99, 100)
    expect(insertStory(rows, oldest, { sort: 'posted', order: 'desc', complete: false })).toHaveLength(3)
    expect(insertStory(rows, oldest, { sort: 'posted', order: 'desc', complete: true }).at(-1).profile_id).toBe('o')
    const soon = story('s', 50, 5)
    expect(insertStory(rows, soon, { sort: 'expires', order: 'asc', complete: true })[0].profile_id).toBe('s')
    // The same profile again replaces its row.
    const again = story('b', 1, 100)
    expect(insertStory(rows, again, { sort: 'posted', order: 'desc', complete: true }).map((r) => r.profile_id)).toEqual(['b', 'a', 'c'])
  })
})
