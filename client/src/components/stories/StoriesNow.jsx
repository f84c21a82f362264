import { useEffect, useState } from 'react'
import { stories as storiesApi } from '../../api/index.js'
import { formatNumber, pluralize } from '../../lib/format.js'
import { useDebouncedValue, useNow, usePolling } from '../../lib/hooks.js'
import { Link } from '../../lib/router.js'
import { SINCE_OPTIONS, STORY_LIFETIME_HOURS, exactTime, expiresInSeconds, formatCountdown, storyQuery, storyUrl, timeAgo } from '../../lib/stories.js'
import { useStreamStore } from '../../stores/eventStream.js'
import { useProfileStore } from '../../stores/profileStore.js'
import { useStoriesStore } from '../../stores/storiesStore.js'
import DownloadLink from '../common/DownloadLink.jsx'
import StreamBadge from '../common/StreamBadge.jsx'
import StoriesSidebar from './StoriesSidebar.jsx'

// While the event stream is down the list is reloaded this often instead.
const FALLBACK_POLL_MS = 15000

function Filters() {
  const search = useStoriesStore((s) => s.search)
  const since = useStoriesStore((s) => s.since)
  const sort = useStoriesStore((s) => s.sort)
  const order = useStoriesStore((s) => s.order)
  const { setSearch, setSince, setOrdering } = useStoriesStore.getState()
  const [text, setText] = useState(search)
  const debounced = useDebouncedValue(text, 300)
  useEffect(() => {
    setSearch(debounced)
  }, [debounced, setSearch])
  // "Clear filters" elsewhere empties the box too.
  useEffect(() => {
    if (search === '') setText('')
  }, [search])

  return (
    <div className="toolbar filters">
      <input
        type="search"
        aria-label="Search usernames"
        placeholder="Search usernames…"
        data-testid="stories-search"
        value={text}
        onChange={(e) => setText(e.target.value)}
      />
      <label className="inline-field">
        <span>Posted</span>
        <select value={since} onChange={(e) => setSince(e.target.value)} data-testid="stories-since">
          {SINCE_OPTIONS.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      </label>
      <label className="inline-field">
        <span>Sort</span>
        <select
          value={`${sort}:${order}`}
          onChange={(e) => {
            const [nextSort, nextOrder] = e.target.value.split(':')
            setOrdering(nextSort, nextOrder)
          }}
          data-testid="stories-sort"
        >
          <option value="posted:desc">newest posted first</option>
          <option value="posted:asc">oldest posted first</option>
          <option value="expires:asc">expiring soonest first</option>
          <option value="expires:desc">expiring latest first</option>
        </select>
      </label>
    </div>
  )
}

function ActionBar() {
  const stories = useStoriesStore((s) => s.stories)
  const selectedIds = useStoriesStore((s) => s.selectedIds)
  const nicheId = useStoriesStore((s) => s.nicheId)
  const search = useStoriesStore((s) => s.search)
  const since = useStoriesStore((s) => s.since)
  const sort = useStoriesStore((s) => s.sort)
  const order = useStoriesStore((s) => s.order)
  const { selectAllLoaded, clearSelection, copySelected } = useStoriesStore.getState()
  const [copied, setCopied] = useState(0)
  const count = selectedIds.size
  const filters = storyQuery({ nicheId, search, since, sort, order })

  useEffect(() => {
    if (!copied) return undefined
    const timer = setTimeout(() => setCopied(0), 4000)
    return () => clearTimeout(timer)
  }, [copied])

  return (
    <div className="toolbar selection-bar" aria-label="Selection and export">
      <span className="selection-count" data-testid="stories-selection-count">
        {count} selected
      </span>
      <button type="button" disabled={!stories.length} onClick={selectAllLoaded} data-testid="stories-select-all">
        Select all shown
      </button>
      <button type="button" disabled={!count} onClick={clearSelection}>
        Clear
      </button>
      <button
        type="button"
        className="primary"
        disabled={!count}
        data-testid="copy-usernames"
        onClick={async () => setCopied(await copySelected())}
      >
        Copy usernames
      </button>
      <span role="status" className="success-text small" data-testid="copy-confirmation">
        {copied ? `✓ Copied ${copied} username${copied === 1 ? '' : 's'}` : ''}
      </span>
      <span className="spacer" />
      <DownloadLink path={storiesApi.exportPath('csv', filters)} filename="stories-live.csv" data-testid="stories-export-csv">
        Export CSV
      </DownloadLink>
      <DownloadLink path={storiesApi.exportPath('json', filters)} filename="stories-live.json" data-testid="stories-export-json">
        Export JSON
      </DownloadLink>
    </div>
  )
}

function SortHeader({ field, label, num = false }) {
  const sort = useStoriesStore((s) => s.sort)
  const order = useStoriesStore((s) => s.order)
  const setSort = useStoriesStore((s) => s.setSort)
  const active = sort === field
  return (
    <th scope="col" className={num ? 'num' : undefined} aria-sort={active ? (order === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button type="button" className="sort-button" onClick={() => setSort(field)} data-testid={`stories-sort-${field}`}>
        {label}
        <span className="sort-indicator" aria-hidden="true">
          {active ? (order === 'asc' ? '▲' : '▼') : '↕'}
        </span>
      </button>
    </th>
  )
}

function StoryRow({ story, now, selected, onToggle }) {
  const left = expiresInSeconds(story, now)
  const url = story.story_url || storyUrl(story.username)
  return (
    <tr
      data-testid="story-row"
      data-profile-id={story.profile_id}
      data-username={story.username}
      data-niche-id={story.niche_id}
      className={selected ? 'selected' : undefined}
      aria-selected={selected}
    >
      <td className="check-col cell-check">
        <input type="checkbox" aria-label={`Select ${story.username}`} checked={selected} onChange={() => onToggle(story.profile_id)} />
      </td>
      <td className="cell-user">
        <a href={url} target="_blank" rel="noopener" data-testid="story-link" title={`Open ${story.username}'s story on Instagram`}>
          {story.username}
        </a>
      </td>
      <td className="cell-niche">{story.niche_name || '—'}</td>
      <td className="cell-posted" title={exactTime(story.posted_at)} data-testid="story-posted">
        posted {timeAgo(story.posted_at, now)}
      </td>
      <td className="num countdown cell-expires" title={exactTime(story.expires_at)}>
        <span className="phone-only">expires in </span>
        <span data-testid="story-expires">{formatCountdown(left)}</span>
      </td>
      <td className="num cell-items">
        {formatNumber(story.item_count)}
        <span className="phone-only"> {story.item_count === 1 ? 'item' : 'items'}</span>
      </td>
    </tr>
  )
}

/** What the list speaks for: "2,400 of 3,000 accounts checked in the last 24 h". */
function CoverageNote({ coverage, now, nicheId }) {
  if (!coverage || !coverage.profiles) return null
  const { profiles, checked, window_hours: hours, last_checked_at: last } = coverage
  const hidden = coverage.private_unknown ?? 0
  const unknown = unknownSentence(coverage, `in the last ${hours} h`)
  const title = unknown || `Every account was checked in the last ${hours} h and could show its story`
  // The unknown accounts themselves: the Niche Feed with its Story filter on "unknown".
  const showUnknown = () => useProfileStore.getState().showStoryAnswer(nicheId, 'unknown')
  return (
    <span className="muted coverage" data-testid="stories-coverage" title={title}>
      {formatNumber(checked)} of {pluralize(profiles, 'account')} checked in the last {hours} h
      {hidden ? ` (${formatNumber(hidden)} private: unknown)` : ''}
      {last ? ` · last check ${timeAgo(last, now)}` : ''}
      {unknown ? (
        <>
          {' · '}
          <Link to="/niches" onClick={showUnknown} data-testid="stories-unknown-link" title="Open the accounts whose story is unknown in the Niche Feed (Story: unknown)">
            show the unknown
          </Link>
        </>
      ) : null}
    </span>
  )
}

/** Who the empty list cannot speak for: not checked lately, or private and not followed. */
function unknownSentence(coverage, when = 'in that time') {
  const parts = []
  if (coverage.not_checked) parts.push(`${pluralize(coverage.not_checked, 'account')} not checked ${when}`)
  if (coverage.private_unknown) parts.push(`${formatNumber(coverage.private_unknown)} private that no checking session follows`)
  return parts.length ? `${parts.join(' and ')}: whether they have a story is unknown.` : ''
}

/** The empty list, said truthfully: "nobody has a story" only for the accounts that answered. */
function EmptyAnswer({ coverage }) {
  const hours = coverage?.window_hours ?? STORY_LIFETIME_HOURS
  const answered = coverage ? (coverage.answered ?? coverage.checked) : 0
  if (coverage && answered > 0) {
    const unknown = unknownSentence(coverage)
    return (
      <div className="empty-state" data-testid="stories-empty">
        <p>
          <strong>No live story among the {pluralize(answered, 'account')} checked in the last {hours} hours.</strong>
        </p>
        {unknown ? (
          <p className="muted" data-testid="stories-unknown">
            {unknown} {coverage.not_checked > 0 && <Link to="/niches">Check them</Link>}
          </p>
        ) : (
          <p className="muted">Accounts show up here the moment a check finds their story, and leave when it expires.</p>
        )}
      </div>
    )
  }
  const noAccounts = !coverage?.profiles
  let heading = `Nothing checked in the last ${hours} hours: no one's story is known yet.`
  if (coverage?.checked > 0) heading = `No account checked in the last ${hours} hours could show its story (all private): no one's story is known yet.`
  if (!coverage) heading = 'No live story found yet.'
  else if (noAccounts) heading = 'No accounts yet.'
  return (
    <div className="empty-state getting-started" data-testid="stories-empty">
      <p>
        <strong>{heading}</strong>
      </p>
      <p className="muted">Accounts show up here the moment a check finds their story, and leave when it expires.</p>
      <ol className="steps">
        {noAccounts && (
          <li>
            <Link to="/niches">Import accounts</Link> into a niche (a .txt or .csv file of usernames).
          </li>
        )}
        <li>
          <Link to="/proxies">Add a proxy + session pair</Link> to check with (or test the ones you have).
        </li>
        <li>
          Run a check: <Link to="/niches">Check whole niche</Link>, then watch it on <Link to="/batches">Batches</Link>.
        </li>
      </ol>
    </div>
  )
}

/** The landing page: everyone whose story is live now, across niches, updated live. */
export default function StoriesNow() {
  const stories = useStoriesStore((s) => s.stories)
  const total = useStoriesStore((s) => s.total)
  const loaded = useStoriesStore((s) => s.loaded)
  const loading = useStoriesStore((s) => s.loading)
  const loadingMore = useStoriesStore((s) => s.loadingMore)
  const nextCursor = useStoriesStore((s) => s.nextCursor)
  const offsetMs = useStoriesStore((s) => s.offsetMs)
  const coverage = useStoriesStore((s) => s.coverage)
  const nicheId = useStoriesStore((s) => s.nicheId)
  const selectedIds = useStoriesStore((s) => s.selectedIds)
  // A niche shown is not a filter that can hide stories: the coverage of that niche answers.
  const filtered = useStoriesStore((s) => Boolean(s.search.trim() || s.since))
  const streamMode = useStreamStore((s) => s.mode)
  const { fetchStories, fetchCounts, fetchCoverage, loadMore, toggle, pruneExpired, clearFilters } = useStoriesStore.getState()
  const now = useNow(1000) + offsetMs

  useEffect(() => {
    fetchStories()
    fetchCounts()
    fetchCoverage()
  }, [fetchStories, fetchCounts, fetchCoverage])

  // A countdown that reaches zero takes its row away.
  useEffect(() => {
    pruneExpired()
  }, [now, pruneExpired])

  usePolling(
    () => {
      fetchStories({ quiet: true })
      fetchCounts()
      fetchCoverage()
    },
    FALLBACK_POLL_MS,
    streamMode === 'polling',
  )

  return (
    <div className="niche-feed stories-page">
      <StoriesSidebar />
      <div className="feed-main">
        <header className="page-header">
          <h1>Stories now</h1>
          <span className="muted" data-testid="stories-total" aria-live="polite">
            {loaded ? `${formatNumber(total)} live ${total === 1 ? 'story' : 'stories'}` : ''}
          </span>
          <CoverageNote coverage={coverage} now={now} nicheId={nicheId} />
          <span className="spacer" />
          <StreamBadge polling="Reloading every 15 s" />
        </header>
        <Filters />
        <ActionBar />
        <div className="table-wrap" aria-busy={loading}>
          <table className="data-table stories-table" data-testid="stories-table">
            <thead>
              <tr>
                <th scope="col" className="check-col">
                  <span className="visually-hidden">Select</span>
                </th>
                <th scope="col">Account</th>
                <th scope="col">Niche</th>
                <SortHeader field="posted" label="Posted" />
                <SortHeader field="expires" label="Expires in" num />
                <th scope="col" className="num">
                  Items
                </th>
              </tr>
            </thead>
            <tbody>
              {stories.map((story) => (
                <StoryRow key={story.profile_id} story={story} now={now} selected={selectedIds.has(story.profile_id)} onToggle={toggle} />
              ))}
            </tbody>
          </table>
          {!loaded && loading && <p className="empty">Loading live stories…</p>}
          {loaded && !stories.length && filtered && (
            <p className="empty" data-testid="stories-none-match">
              No live story matches these filters.{' '}
              <button type="button" className="link-button" onClick={clearFilters}>
                Clear filters
              </button>
            </p>
          )}
        </div>
        {loaded && !stories.length && !filtered && !loading && <EmptyAnswer coverage={coverage} />}
        <div className="load-more">
          <span className="muted small" data-testid="stories-shown">
            {stories.length ? `Showing ${formatNumber(stories.length)} of ${formatNumber(total)}` : ''}
          </span>
          {nextCursor && (
            <button type="button" onClick={loadMore} disabled={loadingMore} data-testid="stories-load-more">
              {loadingMore ? 'Loading…' : 'Load more'}
            </button>
          )}
        </div>
      </div>
    </div>
  )
}
