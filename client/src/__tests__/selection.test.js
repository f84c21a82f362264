import { describe, expect, it } from 'vitest'
import { moveSelected, moveTo } from '../lib/order.js'
import { allSelected, checkboxSelection, clickSelection, pageSelection } from '../lib/selection.js'

const ids = ['a', 'b', 'c', 'd', 'e']
const none = { selected: new Set(), anchorId: null }
const sorted = (s) => [...s].sort()

describe('selection', () => {
  it('click selects only the clicked row and anchors it', () => {
    const r = clickSelection({ selected: new Set(['a', 'b']), anchorId: 'a' }, ids, 'c')
    expect(sorted(r.selected)).toEqual(['c'])
    expect(r.anchorId).toBe('c')
  })

  it('shift-click selects the range from the anchor, either direction', () => {
    let r = clickSelection(none, ids, 'b')
    r = clickSelection(r, ids, 'd', { shift: true })
    expect(sorted(r.selected)).toEqual(['b', 'c', 'd'])
    expect(r.anchorId).toBe('b')
    r = clickSelection(r, ids, 'a', { shift: true })
    expect(sorted(r.selected)).toEqual(['a', 'b'])
  })

  it('ctrl/cmd-click toggles one row and keeps the rest', () => {
    let r = clickSelection(none, ids, 'a')
    r = clickSelection(r, ids, 'c', { toggle: true })
    expect(sorted(r.selected)).toEqual(['a', 'c'])
    r = clickSelection(r, ids, 'a', { toggle: true })
    expect(sorted(r.selected)).toEqual(['c'])
  })

  it('ctrl+shift adds the range to the selection', () => {
    let r = clickSelection(none, ids, 'a')
    r = clickSelection(r, ids, 'c', { toggle: true })
    r = clickSelection(r, ids, 'e', { toggle: true, shift: true })
    expect(sorted(r.selected)).toEqual(['a', 'c', 'd', 'e'])
  })

  it('shift without an anchor on the page acts like a click', () => {
    const r = clickSelection({ selected: new Set(['x']), anchorId: 'x' }, ids, 'c', { shift: true })
    expect(sorted(r.selected)).toEqual(['c'])
  })

  it('checkboxes toggle, and shift-checkbox adds a range', () => {
    let r = checkboxSelection(none, ids, 'b')
    r = checkboxSelection(r, ids, 'd', { shift: true })
    expect(sorted(r.selected)).toEqual(['b', 'c', 'd'])
    r = checkboxSelection(r, ids, 'c')
    expect(sorted(r.selected)).toEqual(['b', 'd'])
  })

  it('selects and deselects a whole page', () => {
    const s = pageSelection(new Set(['x']), ids)
    expect(allSelected(s, ids)).toBe(true)
    expect(sorted(pageSelection(s, ids, true))).toEqual(['x'])
    expect(allSelected(new Set(), [])).toBe(false)
  })
})

describe('ordering', () => {
  it('moves selected ids one step without jumping each other', () => {
    expect(moveSelected(['a', 'b', 'c', 'd'], new Set(['c']), -1)).toEqual(['a', 'c', 'b', 'd'])
    expect(moveSelected(['a', 'b', 'c', 'd'], new Set(['a', 'c']), -1)).toEqual(['a', 'c', 'b', 'd'])
    expect(moveSelected(['a', 'b', 'c', 'd'], new Set(['b']), 1)).toEqual(['a', 'c', 'b', 'd'])
    expect(moveSelected(['a', 'b', 'c', 'd'], new Set(['d']), 1)).toEqual(['a', 'b', 'c', 'd'])
  })

  it('moves a dragged id onto the target position', () => {
    expect(moveTo(['a', 'b', 'c', 'd'], 'd', 'b')).toEqual(['a', 'd', 'b', 'c'])
    expect(moveTo(['a', 'b', 'c', 'd'], 'a', 'c')).toEqual(['b', 'c', 'a', 'd'])
    expect(moveTo(['a', 'b'], 'a', 'a')).toEqual(['a', 'b'])
  })
})
