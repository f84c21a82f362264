import { useStoriesStore } from '../../stores/storiesStore.js'

/** Niche filter of "Stories now": how many live stories each niche has right now. */
export default function StoriesSidebar() {
  const counts = useStoriesStore((s) => s.counts)
  const nicheId = useStoriesStore((s) => s.nicheId)
  const setNiche = useStoriesStore((s) => s.setNiche)
  const entries = [{ niche_id: null, name: 'All niches', count: counts.total }, ...counts.niches]
  return (
    <aside className="sidebar stories-sidebar" aria-label="Live stories per niche">
      <h2 className="sidebar-title">Live now per niche</h2>
      <ul className="niche-list">
        {entries.map((n) => {
          const selected = (n.niche_id || null) === nicheId
          return (
            <li
              key={n.niche_id || 'all'}
              className={`niche-item${selected ? ' selected' : ''}`}
              data-testid="story-niche"
              data-niche-id={n.niche_id || ''}
            >
              <button type="button" className="niche-select" aria-pressed={selected} onClick={() => setNiche(n.niche_id)}>
                <span className="niche-name" data-testid="story-niche-name">
                  {n.name}
                </span>
                <span className="count" data-testid="story-niche-count" aria-label={`${n.count ?? 0} live stories`}>
                  {(n.count ?? 0).toLocaleString('en-US')}
                </span>
              </button>
            </li>
          )
        })}
      </ul>
    </aside>
  )
}
