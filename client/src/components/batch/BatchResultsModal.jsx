import { useEffect, useState } from 'react'
import { batches as batchesApi } from '../../api/index.js'
import { formatDateTime, formatNumber } from '../../lib/format.js'
import { useDebouncedValue, useNow } from '../../lib/hooks.js'
import { exactTime, expiresInSeconds, formatCountdown, toMs } from '../../lib/stories.js'
import { showError } from '../../stores/uiStore.js'
import DownloadLink from '../common/DownloadLink.jsx'
import Modal from '../common/Modal.jsx'
import Pager from '../common/Pager.jsx'

export const RESULTS_PAGE_SIZE = 50

export const OUTCOME_TABS = [
  { value: 'story', label: 'Story' },
  { value: 'no_story', label: 'No story' },
  { value: 'private', label: 'Private (unknown)' },
  { value: 'failed', label: 'Failed' },
]

// A failed check says nothing about a story: "unknown", except a confirmed missing account.
const FAILURE_LABELS = {
  not_found: 'not found',
  unavailable: 'unavailable (unknown)',
  transient: 'check failed (unknown)',
  private: 'private (unknown)',
}

/** What happened to one item, in words ("story", "private (unknown)", "not found", …). */
export function resultLabel(item) {
  if (item.outcome === 'story') return 'story'
  if (item.outcome === 'no_story') return 'no story'
  if (item.outcome === 'private') return 'private (unknown)'
  if (item.outcome === 'failed') return FAILURE_LABELS[item.failure_kind] || 'failed'
  return item.outcome || 'pending'
}

/** The server's sentence about a failure, unless it only repeats the reason's name. */
function failureDetail(item) {
  const error = (item.error || '').trim()
  if (!error || error.replace(/_/g, ' ').toLowerCase() === resultLabel(item)) return '—'
  return error
}

function ExpiresCell({ value, now }) {
  if (!value) return <td>—</td>
  const live = toMs(value) > now
  return (
    <td title={exactTime(value)}>
      {formatDateTime(value)}
      <span className={live ? 'success-text small' : 'muted small'}>
        {' '}
        ({live ? `in ${formatCountdown(expiresInSeconds({ expires_at: value }, now))}` : 'expired'})
      </span>
    </td>
  )
}

/** Every item of a batch by outcome: paged, searchable, with posted / expires / checked times. */
export default function BatchResultsModal({ batch, initialOutcome = 'story', onClose }) {
  const [outcome, setOutcome] = useState(initialOutcome)
  const [text, setText] = useState('')
  const search = useDebouncedValue(text.trim(), 300)
  const [page, setPage] = useState(1)
  const [data, setData] = useState(null)
  const [loading, setLoading] = useState(false)
  const now = useNow(15000)
  const progress = batch.completed_profiles

  useEffect(() => {
    setPage(1)
  }, [outcome, search])

  // Reload when the filters change and while the batch makes progress.
  useEffect(() => {
    const controller = new AbortController()
    setLoading(true)
    batchesApi
      .results(batch.id, { outcome, search, page, page_size: RESULTS_PAGE_SIZE }, { signal: controller.signal })
      .then((answer) => setData(answer))
      .catch(showError)
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false)
      })
    return () => controller.abort()
  }, [batch.id, outcome, search, page, progress])

  const rows = Array.isArray(data?.results) ? data.results : []
  const total = Number(data?.total) || 0
  const counts = data?.counts || {}
  const pages = Math.max(1, Math.ceil(total / RESULTS_PAGE_SIZE))
  const from = rows.length ? (page - 1) * RESULTS_PAGE_SIZE + 1 : 0
  const showStoryTimes = outcome === 'story'
  const showReason = outcome === 'failed'
  const name = batch.niche?.name || 'batch'

  return (
    <Modal title={`Results — ${name}`} onClose={onClose} wide testId="batch-results-modal">
      <p>
        <span data-testid="results-story-count">{formatNumber(counts.story ?? batch.stories_found ?? 0)}</span> of{' '}
        {formatNumber(batch.total_profiles ?? 0)} accounts had a story
        {counts.pending ? ` (${formatNumber(counts.pending)} not checked yet)` : ''}.{' '}
        <DownloadLink
          className=""
          path={batchesApi.resultsPath(batch.id, 'csv')}
          filename={`batch-${batch.id}.csv`}
          data-testid="results-csv"
        >
          CSV
        </DownloadLink>{' '}
        ·{' '}
        <DownloadLink
          className=""
          path={batchesApi.resultsPath(batch.id, 'json')}
          filename={`batch-${batch.id}.json`}
          data-testid="results-json"
        >
          JSON
        </DownloadLink>
      </p>
      <div className="outcome-tabs" role="tablist" aria-label="Outcome">
        {OUTCOME_TABS.map((tab) => (
          <button
            key={tab.value}
            type="button"
            role="tab"
            aria-selected={outcome === tab.value}
            data-testid={`results-tab-${tab.value}`}
            onClick={() => setOutcome(tab.value)}
          >
            {tab.label} <span className="count">{formatNumber(counts[tab.value] ?? 0)}</span>
            {tab.value === 'failed' && counts.not_found ? (
              <span className="count-note" data-testid="results-not-found-count">
                {' '}
                ({formatNumber(counts.not_found)} not found)
              </span>
            ) : null}
          </button>
        ))}
      </div>
      <input
        type="search"
        className="results-search"
        aria-label="Search usernames"
        placeholder="Search usernames…"
        data-testid="results-search"
        value={text}
        onChange={(e) => setText(e.target.value)}
      />
      <div className="table-wrap modal-table" aria-busy={loading} tabIndex={0}>
        <table className="data-table compact" data-testid="results-table">
          <thead>
            <tr>
              <th scope="col">Account</th>
              <th scope="col">Result</th>
              {showStoryTimes && <th scope="col">Posted</th>}
              {showStoryTimes && <th scope="col">Expires</th>}
              {showStoryTimes && (
                <th scope="col" className="num">
                  Items
                </th>
              )}
              {showReason && <th scope="col">Detail</th>}
              <th scope="col">Checked</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((item) => (
              <tr key={item.profile_id} data-testid="result-row" data-username={item.username} data-outcome={item.outcome}>
                <td>
                  <a href={`https://www.instagram.com/${encodeURIComponent(item.username)}/`} target="_blank" rel="noopener">
                    {item.username}
                  </a>
                </td>
                <td data-testid="result-label">{resultLabel(item)}</td>
                {showStoryTimes && <td title={exactTime(item.posted_at)}>{formatDateTime(item.posted_at)}</td>}
                {showStoryTimes && <ExpiresCell value={item.expires_at} now={now} />}
                {showStoryTimes && <td className="num">{formatNumber(item.item_count)}</td>}
                {showReason && <td className="wrap small">{failureDetail(item)}</td>}
                <td title={exactTime(item.checked_at)}>{formatDateTime(item.checked_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {data && !rows.length && !loading && (
          <p className="empty" data-testid="results-empty">
            {search ? 'No account matches this search.' : 'No accounts here (yet).'}
          </p>
        )}
      </div>
      <Pager
        from={from}
        to={from ? from + rows.length - 1 : 0}
        total={total}
        page={page}
        pages={pages}
        onPage={(p) => setPage(Math.min(Math.max(1, p), pages))}
        label="Result pages"
        testId="results-pager"
      />
    </Modal>
  )
}
