import { useState } from 'react'
import { batches as batchesApi } from '../../api/index.js'
import Modal from '../common/Modal.jsx'

/** The accounts of a batch where a story was found (`profiles_with_stories`). */
export default function BatchResultsModal({ batch, onClose }) {
  const [filter, setFilter] = useState('')
  const names = Array.isArray(batch.profiles_with_stories) ? batch.profiles_with_stories : []
  const shown = filter ? names.filter((n) => n.toLowerCase().includes(filter.toLowerCase())) : names
  return (
    <Modal title={`Stories found — ${batch.niche?.name || 'batch'}`} onClose={onClose} testId="batch-results-modal">
      <p>
        {names.length.toLocaleString('en-US')} of {(batch.total_profiles ?? 0).toLocaleString('en-US')} accounts had an active story.{' '}
        <a href={batchesApi.resultsCsvUrl(batch.id)} download>
          Export all results as CSV
        </a>
      </p>
      {names.length > 10 && (
        <input
          type="search"
          aria-label="Filter usernames"
          placeholder="Filter usernames…"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
      )}
      {names.length ? (
        <ul className="story-list" data-testid="stories-list">
          {shown.map((name) => (
            <li key={name}>
              <a href={`https://instagram.com/${encodeURIComponent(name)}`} target="_blank" rel="noreferrer">
                {name}
              </a>
            </li>
          ))}
        </ul>
      ) : (
        <p className="empty">No stories found (yet).</p>
      )}
    </Modal>
  )
}
