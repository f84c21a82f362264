import { useStreamStore } from '../../stores/eventStream.js'

const TEXT = { live: 'Live', polling: 'Polling every 3 s', connecting: 'Connecting…', off: 'Offline' }

/** How the page gets updates: the event stream (Live) or polling while it is down. */
export default function StreamBadge({ polling = TEXT.polling }) {
  const mode = useStreamStore((s) => s.mode)
  const text = mode === 'polling' ? polling : TEXT[mode] || mode
  return (
    <span className={`stream-badge stream-${mode}`} data-testid="stream-mode" title="How this page gets updates">
      {text}
    </span>
  )
}
