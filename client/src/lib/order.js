// Reordering helpers for the queue and the niche list.

/** Moves each selected id one step up (-1) or down (+1) without jumping over another selected id. */
export function moveSelected(orderedIds, selected, direction) {
  const ids = [...orderedIds]
  if (direction < 0) {
    for (let i = 1; i < ids.length; i += 1) {
      if (selected.has(ids[i]) && !selected.has(ids[i - 1])) {
        ;[ids[i - 1], ids[i]] = [ids[i], ids[i - 1]]
      }
    }
  } else {
    for (let i = ids.length - 2; i >= 0; i -= 1) {
      if (selected.has(ids[i]) && !selected.has(ids[i + 1])) {
        ;[ids[i], ids[i + 1]] = [ids[i + 1], ids[i]]
      }
    }
  }
  return ids
}

/** Moves `dragId` to the position of `targetId` (drag-and-drop). */
export function moveTo(orderedIds, dragId, targetId) {
  if (dragId === targetId) return [...orderedIds]
  const ids = orderedIds.filter((id) => id !== dragId)
  const targetIndex = ids.indexOf(targetId)
  if (targetIndex < 0) return [...orderedIds]
  const fromIndex = orderedIds.indexOf(dragId)
  const toIndex = orderedIds.indexOf(targetId)
  ids.splice(fromIndex < toIndex ? targetIndex + 1 : targetIndex, 0, dragId)
  return ids
}

export function sameOrder(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
