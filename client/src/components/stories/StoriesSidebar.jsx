import { useStoriesStore } from '../../stores/storiesStore.js'

const NOT_CHECKED = {
  title: 'No account of it was checked in the last 24 h: whether any has a story is unknown',
  label: 'not checked in the last 24 hours: unknown',
}
const NOT_SEEN = {
  title: 'Its checks in the last 24 h could not see any story (private accounts no session follows): whether any has a story is unknown',
  label: 'checked, but no check could see a story in the last 24 hours: unknown',
}

/** Why a niche's zero is unknown, or null when the zero is an answer. */
function unknownZero(entry) {
  if ((entry.count ?? 0) !== 0) return null
  if (entry.checked_recently === false) return NOT_CHECKED
  if (entry.seen_recently === false) return NOT_SEEN
  return null
}

/** A niche's count: "—" for a zero nobody checked or could see (unknown, not "no story"). */
function CountBadge({ entry }) {
  const count = entry.count ?? 0
  const unknown = unknownZero(entry)
  if (unknown) {
    return (
      <span className="count muted" data-testid="story-niche-count" data-unknown="true" title={unknown.title} aria-label={unknown.label}>
        —
      </span>
    )
  }
  return (
    <span className="count" data-testid="story-niche-count" aria-label={`${count} live stories`}>
      {count.toLocaleString('en-US')}
    </span>
  )
}

/** Niche filter of "Stories now": how many live stories each niche has right now. */
export default function StoriesSidebar() {
  const counts = useStoriesStore((s) => s.counts)
  const nicheId = useStoriesStore((s) => s.nicheId)
  const setNiche = useStoriesStore((s) => s.setNiche)
  const all = {
    niche_id: null,
    name: 'All niches',
    count: counts.total,
    checked_recently: counts.checked_recently,
    seen_recently: counts.seen_recently,
  }
  const entries = [all, ...counts.niches]
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
                <CountBadge entry={n} />
              </button>
            </li>
          )
        })}
      </ul>
    </aside>
  )
}
