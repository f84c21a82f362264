import { useEffect, useState } from 'react'
import { navigate } from '../../lib/router.js'
import { useBatchStore } from '../../stores/batchStore.js'
import { useNicheStore } from '../../stores/nicheStore.js'
import { useProfileStore } from '../../stores/profileStore.js'
import ImportDropzone from './ImportDropzone.jsx'
import NicheSidebar from './NicheSidebar.jsx'
import ProfileTable from './ProfileTable.jsx'

/** The Niche Feed tab: niches on the left; profiles, import and "check" actions on the right. */
export default function NicheFeed() {
  const niches = useNicheStore((s) => s.niches)
  const nichesLoaded = useNicheStore((s) => s.loaded)
  const fetchNiches = useNicheStore((s) => s.fetchNiches)
  const nicheId = useProfileStore((s) => s.nicheId)
  const selectedIds = useProfileStore((s) => s.selectedIds)
  const profileTotal = useProfileStore((s) => s.total)
  const filtersActive = useProfileStore(
    (s) => Boolean(s.search.trim()) || s.status !== 'any' || s.story !== 'any' || s.notFound !== 'any',
  )
  const { setNiche, fetchProfiles, clearSelection } = useProfileStore.getState()
  const createBatch = useBatchStore((s) => s.createBatch)
  const [creating, setCreating] = useState(false)

  useEffect(() => {
    fetchNiches()
    fetchProfiles()
  }, [fetchNiches, fetchProfiles])

  const niche = niches.find((n) => n.id === nicheId) || null

  // The shown niche was deleted (here or elsewhere): fall back to all niches.
  useEffect(() => {
    if (nicheId && nichesLoaded && !niches.some((n) => n.id === nicheId)) setNiche(null)
  }, [nicheId, niches, nichesLoaded, setNiche])

  const check = async (payload) => {
    setCreating(true)
    const batch = await createBatch(payload)
    setCreating(false)
    if (batch) {
      clearSelection()
      navigate('/batches')
    }
  }

  const onImported = () => {
    fetchNiches()
    fetchProfiles()
  }

  const nicheEmpty = Boolean(niche) && (niche.profile_count ?? 0) === 0 && profileTotal === 0 && !filtersActive
  let emptyMessage
  if (nichesLoaded && niches.length === 0) emptyMessage = 'Create a niche to start'
  else if (nicheEmpty) emptyMessage = 'Drop a .txt/.csv file of usernames here'

  const count = selectedIds.size
  return (
    <div className="niche-feed">
      <NicheSidebar selectedNicheId={nicheId} onSelect={setNiche} />
      <div className="feed-main">
        <header className="page-header">
          <h1>{niche ? niche.name : 'All niches'}</h1>
          <div className="toolbar">
            <button
              type="button"
              className="primary"
              data-testid="check-selected"
              disabled={!niche || !count || creating}
              title={niche ? undefined : 'Choose a niche in the sidebar first'}
              onClick={() => check({ niche_id: niche.id, profile_ids: [...selectedIds] })}
            >
              Check selected{count ? ` (${count.toLocaleString('en-US')})` : ''}
            </button>
            <button
              type="button"
              data-testid="check-niche"
              disabled={!niche || !niche.profile_count || creating}
              title={niche ? undefined : 'Choose a niche in the sidebar first'}
              onClick={() => check({ niche_id: niche.id, all_profiles: true })}
            >
              Check whole niche
            </button>
          </div>
        </header>
        {nichesLoaded && niches.length === 0 ? (
          <div className="empty-state" data-testid="empty-no-niches">
            <p>Create a niche to start</p>
            <p className="muted small">Name it in the box at the bottom of the niche list, then import a file of usernames.</p>
          </div>
        ) : (
          <>
            <ImportDropzone key={niche?.id || 'none'} niche={niche} onImported={onImported} large={nicheEmpty} />
            {!nicheEmpty && <ProfileTable emptyMessage={emptyMessage} />}
          </>
        )}
      </div>
    </div>
  )
}
