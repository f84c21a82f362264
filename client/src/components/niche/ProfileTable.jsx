import { useEffect, useState } from 'react'
import { profiles as profilesApi } from '../../api/index.js'
import { formatDateTime, formatNumber, formatPercent } from '../../lib/format.js'
import { useDebouncedValue, useNow } from '../../lib/hooks.js'
import { allSelected, modifiers } from '../../lib/selection.js'
import { STORY_LIFETIME_HOURS, exactTime, expiresInSeconds, formatCountdown, timeAgo, toMs } from '../../lib/stories.js'
import { useNicheStore } from '../../stores/nicheStore.js'
import { PAGE_SIZES, PROFILE_STATUSES, buildProfileParams, pageCount, pageRange, useProfileStore } from '../../stores/profileStore.js'
import DownloadLink from '../common/DownloadLink.jsx'
import Pager from '../common/Pager.jsx'
import StatusChip from '../common/StatusChip.jsx'
import StoryHistoryModal from './StoryHistoryModal.jsx'

// Three different times, each named for what it is: when the live story was posted, when it
// expires, and when the account was last checked.
const COLUMNS = [
  { key: 'username', label: 'Username' },
  { key: 'niche', label: 'Niche' },
  { key: 'status', label: 'Status' },
  { key: 'active_story', label: 'Story', sortable: false },
  { key: 'story_posted_at', label: 'Posted', sortable: false },
  { key: 'story_expires_at', label: 'Expires in', sortable: false },
  { key: 'last_checked', label: 'Checked' },
  { key: 'detection_rate', label: 'Detection rate', num: true },
  { key: 'total_checks', label: 'Checks', num: true },
]

const PROFILE_STATUS_KIND = { active: 'ok', inactive: 'neutral', deleted: 'muted', suspended: 'warn' }

function profileUrl(profile) {
  return profile.url || `https://instagram.com/${profile.username}`
}

/** Live exactly while now < story_expires_at (never "24 h after the check"). */
export function storyLive(profile, nowMs) {
  const expires = toMs(profile.story_expires_at)
  if (expires !== null) return expires > nowMs
  return Boolean(profile.story_live ?? profile.active_story)
}

function StatusCell({ profile }) {
  if (profile.not_found) {
    return (
      <StatusChip
        kind="bad"
        data-testid="profile-not-found"
        title={profile.not_found_at ? `Confirmed ${formatDateTime(profile.not_found_at)}` : 'Instagram says this account does not exist'}
      >
        not found
      </StatusChip>
    )
  }
  return <StatusChip kind={PROFILE_STATUS_KIND[profile.status] || 'neutral'}>{profile.status}</StatusChip>
}

/** The story column: live, unknown (private, never checked, or checked too long ago) or none. */
function StoryCell({ profile, live, now }) {
  if (live) {
    return (
      <span className="story-dot on" role="img" aria-label="live story" title="Live story" data-testid="story-dot-live">
        <span className="visually-hidden">live story</span>
      </span>
    )
  }
  // The server's answer when it gives one (profiles.answers); else the same rules here.
  const reason = profile.story_answer ? profile.story_unknown_reason : profile.is_private ? 'private' : null
  if (reason === 'private') {
    // No session follows it, so Instagram does not say: unknown, not "none".
    return (
      <span className="story-unknown" role="img" aria-label="story unknown (private account)" title="Private account: story unknown" data-testid="story-unknown">
        ?<span className="visually-hidden"> story unknown (private)</span>
      </span>
    )
  }
  const checked = toMs(profile.last_checked)
  const unknown = profile.story_answer
    ? profile.story_answer === 'unknown'
    : !profile.not_found && (checked === null || now - checked >= STORY_LIFETIME_HOURS * 3600 * 1000)
  if (unknown) {
    // Never checked, not within a story's lifetime, or the latest check could not see.
    const why =
      reason === 'unseen'
        ? 'the latest check could not see'
        : checked === null
          ? 'not checked yet'
          : `last checked over ${STORY_LIFETIME_HOURS} h ago`
    return (
      <span className="story-unknown" role="img" aria-label={`story unknown (${why})`} title={`Story unknown: ${why}`} data-testid="story-unchecked">
        ?<span className="visually-hidden"> story unknown ({why})</span>
      </span>
    )
  }
  return (
    <span className="story-dot" role="img" aria-label="no live story" title="No live story" data-testid="story-dot">
      <span className="visually-hidden">no live story</span>
    </span>
  )
}

function detectionRate(profile) {
  if (profile.detection_rate !== undefined && profile.detection_rate !== null) return profile.detection_rate
  return profile.total_checks ? (profile.total_detections / profile.total_checks) * 100 : 0
}

function Filters() {
  const search = useProfileStore((s) => s.search)
  const status = useProfileStore((s) => s.status)
  const story = useProfileStore((s) => s.story)
  const notFound = useProfileStore((s) => s.notFound)
  const pageSize = useProfileStore((s) => s.pageSize)
  const exportQuery = useProfileStore((s) => {
    const { page: _page, page_size: _size, ...rest } = buildProfileParams(s)
    return new URLSearchParams(rest).toString()
  })
  const { setSearch, setStatus, setStory, setNotFound, setPageSize } = useProfileStore.getState()
  const [text, setText] = useState(search)
  const debounced = useDebouncedValue(text, 300)
  useEffect(() => {
    setSearch(debounced)
  }, [debounced, setSearch])

  return (
    <div className="toolbar filters">
      <input
        type="search"
        aria-label="Search usernames"
        placeholder="Search usernames…"
        data-testid="profile-search"
        value={text}
        onChange={(e) => setText(e.target.value)}
      />
      <label className="inline-field">
        <span>Status</span>
        <select value={status} onChange={(e) => setStatus(e.target.value)} data-testid="status-filter">
          <option value="any">any</option>
          {PROFILE_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label className="inline-field">
        <span>Story</span>
        <select
          value={story}
          onChange={(e) => setStory(e.target.value)}
          data-testid="story-filter"
          title="No story: checked within 24 h and nothing live. Unknown: not checked within 24 h, or private and not followed."
        >
          <option value="any">any</option>
          <option value="live">live story</option>
          <option value="none">no story (checked)</option>
          <option value="unknown">unknown</option>
        </select>
      </label>
      <label className="inline-field">
        <span>Found</span>
        <select value={notFound} onChange={(e) => setNotFound(e.target.value)} data-testid="not-found-filter">
          <option value="any">any</option>
          <option value="true">not found</option>
          <option value="false">found</option>
        </select>
      </label>
      <label className="inline-field">
        <span>Per page</span>
        <select value={pageSize} onChange={(e) => setPageSize(e.target.value)} data-testid="page-size">
          {PAGE_SIZES.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </label>
      <DownloadLink
        path={`${profilesApi.exportCsvPath()}${exportQuery ? `?${exportQuery}` : ''}`}
        filename="profiles.csv"
        data-testid="profiles-export-csv"
        title="The profiles matching these filters, as CSV"
      >
        Export CSV
      </DownloadLink>
    </div>
  )
}

function SelectionBar() {
  const selectedIds = useProfileStore((s) => s.selectedIds)
  const total = useProfileStore((s) => s.total)
  const hasRows = useProfileStore((s) => s.profiles.length > 0)
  const niches = useNicheStore((s) => s.niches)
  const { selectPage, selectAllMatching, selectActiveStories, clearSelection, bulkUpdate, clearNotFound } = useProfileStore.getState()
  const [status, setStatus] = useState('')
  const [nicheId, setNicheId] = useState('')
  const [busy, setBusy] = useState(false)
  const count = selectedIds.size

  const run = async (fn) => {
    setBusy(true)
    try {
      await fn()
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="toolbar selection-bar" aria-label="Selection">
      <span className="selection-count" data-testid="selection-count" aria-live="polite">
        {count.toLocaleString('en-US')} selected
      </span>
      <button type="button" disabled={!hasRows} onClick={selectPage} data-testid="select-page">
        Select all on page
      </button>
      <button type="button" disabled={!total || busy} onClick={() => run(selectAllMatching)} data-testid="select-all-matching">
        Select all {total.toLocaleString('en-US')} matching
      </button>
      <button type="button" disabled={busy} onClick={() => run(selectActiveStories)} data-testid="select-active-stories">
        Select accounts with active stories
      </button>
      <button type="button" disabled={!count} onClick={clearSelection} data-testid="clear-selection">
        Clear selection
      </button>
      <button
        type="button"
        disabled={!count || busy}
        onClick={() => run(clearNotFound)}
        data-testid="clear-not-found"
        title="Instagram said these accounts do not exist; clear that and check them again"
      >
        Clear not-found
      </button>
      <span className="toolbar-group">
        <select
          aria-label="New status for the selection"
          value={status}
          onChange={(e) => setStatus(e.target.value)}
          data-testid="bulk-status-select"
        >
          <option value="">Set status…</option>
          {PROFILE_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <button
          type="button"
          disabled={!count || !status || busy}
          data-testid="bulk-status-apply"
          onClick={() => run(async () => (await bulkUpdate({ status })) && setStatus(''))}
        >
          Apply
        </button>
      </span>
      <span className="toolbar-group">
        <select
          aria-label="Move the selection to niche"
          value={nicheId}
          onChange={(e) => setNicheId(e.target.value)}
          data-testid="bulk-niche-select"
        >
          <option value="">Move to niche…</option>
          {niches.map((n) => (
            <option key={n.id} value={n.id}>
              {n.name}
            </option>
          ))}
        </select>
        <button
          type="button"
          disabled={!count || !nicheId || busy}
          data-testid="bulk-niche-apply"
          onClick={() => run(async () => (await bulkUpdate({ niche_id: nicheId })) && setNicheId(''))}
        >
          Move
        </button>
      </span>
    </div>
  )
}

function SortHeader({ column }) {
  const sortBy = useProfileStore((s) => s.sortBy)
  const sortDirection = useProfileStore((s) => s.sortDirection)
  const setSort = useProfileStore((s) => s.setSort)
  if (column.sortable === false) return <th scope="col">{column.label}</th>
  const active = sortBy === column.key
  return (
    <th
      scope="col"
      className={column.num ? 'num' : undefined}
      aria-sort={active ? (sortDirection === 'asc' ? 'ascending' : 'descending') : 'none'}
    >
      <button type="button" className="sort-button" onClick={() => setSort(column.key)} data-testid={`sort-${column.key}`}>
        {column.label}
        <span className="sort-indicator" aria-hidden="true">
          {active ? (sortDirection === 'asc' ? '▲' : '▼') : '↕'}
        </span>
      </button>
    </th>
  )
}

function focusSibling(row, direction) {
  const next = direction > 0 ? row.nextElementSibling : row.previousElementSibling
  if (next && next.tabIndex >= 0) next.focus()
}

/** Profiles of the chosen niche with filters, sorting, paging and multi-select. */
export default function ProfileTable({ emptyMessage }) {
  const profiles = useProfileStore((s) => s.profiles)
  const total = useProfileStore((s) => s.total)
  const page = useProfileStore((s) => s.page)
  const pageSize = useProfileStore((s) => s.pageSize)
  const loading = useProfileStore((s) => s.loading)
  const loaded = useProfileStore((s) => s.loaded)
  const selectedIds = useProfileStore((s) => s.selectedIds)
  const { clickRow, toggleRow, selectPage, deselectPage, setPage } = useProfileStore.getState()
  const niches = useNicheStore((s) => s.niches)
  const nicheNames = new Map(niches.map((n) => [n.id, n.name]))
  const now = useNow(1000)
  const [historyOf, setHistoryOf] = useState(null)

  const pageIds = profiles.map((p) => p.id)
  const pageAllSelected = allSelected(selectedIds, pageIds)
  const { from, to } = pageRange({ page, pageSize, total, profiles })
  const pages = pageCount({ total, pageSize })

  const onRowKey = (event, profile) => {
    if (event.target !== event.currentTarget) return
    if (event.key === ' ') {
      event.preventDefault()
      toggleRow(profile.id, modifiers(event))
    } else if (event.key === 'Enter') {
      event.preventDefault()
      window.open(profileUrl(profile), '_blank', 'noopener')
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault()
      focusSibling(event.currentTarget, event.key === 'ArrowDown' ? 1 : -1)
    }
  }

  return (
    <section className="profiles" aria-label="Profiles">
      <Filters />
      <SelectionBar />
      <div className="table-wrap" aria-busy={loading}>
        <table className="data-table" data-testid="profile-table">
          <thead>
            <tr>
              <th scope="col" className="check-col">
                <input
                  type="checkbox"
                  aria-label="Select all profiles on this page"
                  checked={pageAllSelected}
                  disabled={!pageIds.length}
                  onChange={() => (pageAllSelected ? deselectPage() : selectPage())}
                />
              </th>
              {COLUMNS.map((c) => (
                <SortHeader key={c.key} column={c} />
              ))}
            </tr>
          </thead>
          <tbody>
            {profiles.map((p) => {
              const selected = selectedIds.has(p.id)
              const live = storyLive(p, now)
              return (
                <tr
                  key={p.id}
                  data-testid="profile-row"
                  data-profile-id={p.id}
                  className={selected ? 'selected' : undefined}
                  aria-selected={selected}
                  tabIndex={0}
                  onClick={(e) => clickRow(p.id, modifiers(e))}
                  onMouseDown={(e) => e.shiftKey && e.preventDefault()}
                  onKeyDown={(e) => onRowKey(e, p)}
                >
                  <td className="check-col" onClick={(e) => e.stopPropagation()}>
                    {/* onClick (not onChange) sees the shift key, for range selection */}
                    <input
                      type="checkbox"
                      aria-label={`Select ${p.username}`}
                      checked={selected}
                      onChange={() => {}}
                      onClick={(e) => toggleRow(p.id, modifiers(e))}
                    />
                  </td>
                  <td>
                    <a href={profileUrl(p)} target="_blank" rel="noreferrer" onClick={(e) => e.stopPropagation()} tabIndex={-1}>
                      {p.username}
                    </a>
                    {p.is_private && <span className="muted small"> (private)</span>}
                  </td>
                  <td>{nicheNames.get(p.niche_id) || p.niche || '—'}</td>
                  <td>
                    <StatusCell profile={p} />
                  </td>
                  <td>
                    <StoryCell profile={p} live={live} now={now} />
                  </td>
                  <td title={exactTime(p.story_posted_at)} onClick={(e) => p.story_posted_at && e.stopPropagation()}>
                    {p.story_posted_at ? (
                      <button
                        type="button"
                        className="link-button inherit-color"
                        data-testid="profile-posted"
                        aria-label={`posted ${timeAgo(p.story_posted_at, now)}; story history of ${p.username}`}
                        onClick={() => setHistoryOf(p)}
                      >
                        {timeAgo(p.story_posted_at, now)}
                      </button>
                    ) : (
                      <span data-testid="profile-posted">—</span>
                    )}
                  </td>
                  <td className="countdown" title={exactTime(p.story_expires_at)} data-testid="profile-expires">
                    {live && p.story_expires_at ? formatCountdown(expiresInSeconds({ expires_at: p.story_expires_at }, now)) : '—'}
                  </td>
                  <td title={exactTime(p.last_checked)} data-testid="profile-checked">
                    {formatDateTime(p.last_checked)}
                  </td>
                  {p.not_found ? (
                    // The account does not exist: it has no rate to speak of.
                    <td className="num" title="Instagram says this account does not exist" data-testid="profile-rate-none">
                      —
                    </td>
                  ) : !p.total_checks ? (
                    // No check yet: no rate to speak of (0 % would claim "never a story").
                    <td className="num" title="Not checked yet" data-testid="profile-rate-none">
                      —
                    </td>
                  ) : p.is_private && !p.total_detections ? (
                    // Its checks could not see a story: a rate of 0 % would claim "never one".
                    <td className="num" title="Private account: its checks cannot see a story" data-testid="profile-rate-unknown">
                      unknown
                    </td>
                  ) : (
                    <td className="num">{formatPercent(detectionRate(p))}</td>
                  )}
                  <td className="num">{formatNumber(p.total_checks ?? 0)}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
        {loading && !profiles.length && <p className="empty">Loading profiles…</p>}
        {loaded && !loading && !profiles.length && (
          <p className="empty" data-testid="profiles-empty">
            {emptyMessage || 'No profiles match these filters'}
          </p>
        )}
      </div>
      <Pager from={from} to={to} total={total} page={page} pages={pages} onPage={setPage} label="Profile pages" testId="profile-pager" />
      {historyOf && <StoryHistoryModal profile={historyOf} onClose={() => setHistoryOf(null)} />}
    </section>
  )
}
