import { useEffect, useState } from 'react'
import { profiles as profilesApi } from '../../api/index.js'
import { formatDateTime, formatNumber } from '../../lib/format.js'
import { exactTime } from '../../lib/stories.js'
import { showError } from '../../stores/uiStore.js'
import Modal from '../common/Modal.jsx'
import StatusChip from '../common/StatusChip.jsx'

/** One account's story windows, newest first: when posted, when it expires, when seen. */
export default function StoryHistoryModal({ profile, onClose }) {
  const [windows, setWindows] = useState(null)

  useEffect(() => {
    let active = true
    profilesApi
      .stories(profile.id)
      .then((data) => active && setWindows(Array.isArray(data?.windows) ? data.windows : []))
      .catch((err) => {
        showError(err)
        if (active) setWindows([])
      })
    return () => {
      active = false
    }
  }, [profile.id])

  return (
    <Modal title={`Stories of ${profile.username}`} onClose={onClose} wide testId="story-history-modal">
      <div className="table-wrap modal-table" tabIndex={0}>
        <table className="data-table compact stack-table">
          <thead>
            <tr>
              <th scope="col">Posted</th>
              <th scope="col">Expires</th>
              <th scope="col" className="num">
                Items
              </th>
              <th scope="col">First seen</th>
              <th scope="col">Last seen</th>
              <th scope="col">
                <span className="visually-hidden">State</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(windows || []).map((w) => (
              <tr key={w.id} data-testid="story-window">
                <td className="stack-title" title={exactTime(w.first_taken_at)}>
                  {formatDateTime(w.first_taken_at)}
                  {w.last_taken_at && w.last_taken_at !== w.first_taken_at ? ` – ${formatDateTime(w.last_taken_at)}` : ''}
                </td>
                <td title={exactTime(w.expires_at)} data-label="Expires">
                  {formatDateTime(w.expires_at)}
                </td>
                <td className="num" data-label="Items">
                  {formatNumber(w.item_count)}
                </td>
                <td title={exactTime(w.first_seen_at)} data-label="First seen">
                  {formatDateTime(w.first_seen_at)}
                </td>
                <td title={exactTime(w.last_seen_at)} data-label="Last seen">
                  {formatDateTime(w.last_seen_at)}
                </td>
                <td className="stack-inline">
                  {w.live ? <StatusChip kind="ok">live</StatusChip> : <StatusChip kind="muted">expired</StatusChip>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {windows === null && <p className="empty">Loading…</p>}
        {windows && !windows.length && (
          <p className="empty" data-testid="story-history-empty">
            No story seen yet.
          </p>
        )}
      </div>
    </Modal>
  )
}
