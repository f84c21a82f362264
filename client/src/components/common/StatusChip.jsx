/** A coloured chip; `kind` picks the colour (see .chip-* in styles.css). */
export default function StatusChip({ kind, children, title, ...rest }) {
  return (
    <span className={`chip chip-${kind || 'neutral'}`} title={title} {...rest}>
      {children ?? kind}
    </span>
  )
}
