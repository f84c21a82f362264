/** A labelled progress bar with the numbers next to it. */
export default function ProgressBar({ value, max, label, testId }) {
  const pct = max > 0 ? Math.min(100, Math.max(0, (value / max) * 100)) : 0
  return (
    <div className="progress" data-testid={testId}>
      <div
        className="progress-track"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={max || 0}
        aria-valuenow={value || 0}
      >
        <div className="progress-fill" style={{ width: `${pct}%` }} />
      </div>
      <span className="progress-text">
        {(value || 0).toLocaleString('en-US')}/{(max || 0).toLocaleString('en-US')}
      </span>
    </div>
  )
}
