// Selection rules shared by the profile and batch tables (like a file manager):
//   click            → select only that row; it becomes the anchor
//   ctrl/cmd-click   → toggle that row; it becomes the anchor
//   shift-click      → select the range anchor..row (replacing the selection; with ctrl/cmd
//                      the range is added to it); the anchor stays
//   checkbox         → toggle (with shift: add the range anchor..row)
// `ids` are the row ids in display order. Selections are Sets and never mutated.

function rangeIds(ids, anchorId, id) {
  const from = ids.indexOf(anchorId)
  const to = ids.indexOf(id)
  if (from < 0 || to < 0) return [id]
  const [lo, hi] = from <= to ? [from, to] : [to, from]
  return ids.slice(lo, hi + 1)
}

/** Returns `{selected, anchorId}` after a click on row `id`. */
export function clickSelection({ selected, anchorId }, ids, id, { shift = false, toggle = false } = {}) {
  if (shift && anchorId !== null && anchorId !== undefined && ids.includes(anchorId)) {
    const next = toggle ? new Set(selected) : new Set()
    rangeIds(ids, anchorId, id).forEach((x) => next.add(x))
    return { selected: next, anchorId }
  }
  if (toggle) {
    const next = new Set(selected)
    if (next.has(id)) next.delete(id)
    else next.add(id)
    return { selected: next, anchorId: id }
  }
  return { selected: new Set([id]), anchorId: id }
}

/** Checkbox semantics: toggle one row, or with shift add the range from the anchor. */
export function checkboxSelection({ selected, anchorId }, ids, id, { shift = false } = {}) {
  if (shift && anchorId !== null && anchorId !== undefined && ids.includes(anchorId)) {
    const next = new Set(selected)
    rangeIds(ids, anchorId, id).forEach((x) => next.add(x))
    return { selected: next, anchorId }
  }
  return clickSelection({ selected, anchorId }, ids, id, { toggle: true })
}

/** Adds (or with `remove` removes) every id of a page. */
export function pageSelection(selected, ids, remove = false) {
  const next = new Set(selected)
  ids.forEach((id) => (remove ? next.delete(id) : next.add(id)))
  return next
}

/** True when every id of the page is selected (and the page is not empty). */
export function allSelected(selected, ids) {
  return ids.length > 0 && ids.every((id) => selected.has(id))
}

/** Modifier flags of a mouse or keyboard event (cmd counts as ctrl on macOS). */
export function modifiers(event) {
  return { shift: Boolean(event.shiftKey), toggle: Boolean(event.ctrlKey || event.metaKey) }
}
