// Batches: the list (kept in the server's order), the selection, and every batch action.
// The client never decides a status or a queue position: it shows what the server returns
// (action answers, the event stream, or a reload).
import { create } from 'zustand'
import { batches as batchesApi } from '../api/index.js'
import { moveSelected, moveTo, sameOrder } from '../lib/order.js'
import { checkboxSelection, clickSelection } from '../lib/selection.js'
import { notify, showError } from './uiStore.js'

const STATUS_RANK = { in_progress: 0, queued: 1 }

/** Running first, then queue order, then newest — the order GET /batches answers with. */
export function sortBatches(list) {
  return [...list].sort((a, b) => {
    const ra = STATUS_RANK[a.status] ?? 2
    const rb = STATUS_RANK[b.status] ?? 2
    if (ra !== rb) return ra - rb
    if (ra === 1) return (a.queue_position ?? Infinity) - (b.queue_position ?? Infinity)
    return String(b.created_at || '').localeCompare(String(a.created_at || ''))
  })
}

/** Replaces (or adds) batches by id. */
export function mergeBatches(list, updates) {
  const byId = new Map(list.map((b) => [b.id, b]))
  for (const batch of updates) {
    if (batch && batch.id) byId.set(batch.id, { ...byId.get(batch.id), ...batch })
  }
  return sortBatches([...byId.values()])
}

/** Ids of queued batches in queue order. */
export function queuedIds(list) {
  return list
    .filter((b) => b.status === 'queued')
    .sort((a, b) => (a.queue_position ?? Infinity) - (b.queue_position ?? Infinity))
    .map((b) => b.id)
}

function nicheName(batch) {
  return batch?.niche?.name || 'unknown niche'
}

let fetchSeq = 0

// Queue orders go to the server one at a time, in the order the user made them: a second move
// while the first is on its way must not overtake it, and an older answer must not undo a newer
// move on screen.
let reorderChain = Promise.resolve()
let reorderSeq = 0

function plural(n) {
  return `${n} batch${n === 1 ? '' : 'es'}`
}

/** A toast that says what the server really did with a start/stop/resume (its answer lists
 * only the batches it acted on). */
export function whatHappened(verb, answer) {
  const acted = Array.isArray(answer) ? answer : []
  if (!acted.length) return `Nothing to do: no selected batch can be ${verb === 'Paused' ? 'paused' : 'queued'}`
  if (acted.length === 1) {
    const [batch] = acted
    if (batch.status === 'in_progress') return `${verb}: running now`
    if (batch.status === 'queued') return `${verb}: in the queue at #${batch.queue_position}`
    return `${verb} 1 batch`
  }
  return `${verb} ${plural(acted.length)}`
}

export const useBatchStore = create((set, get) => {
  /** Shows an action error; a 409 refused start names the batches that are running. */
  const report = (err) => {
    const running = err?.data?.running_batch_ids
    if (err?.status === 409 && Array.isArray(running) && running.length) {
      const byId = new Map(get().batches.map((b) => [b.id, b]))
      const names = running.map((id) => (byId.has(id) ? `${nicheName(byId.get(id))} (${id.slice(0, 8)})` : id))
      showError(`${err.message} Running: ${names.join(', ')}.`)
    } else {
      showError(err)
    }
  }

  const keepSelection = (batches) => {
    const ids = new Set(batches.map((b) => b.id))
    const selectedIds = new Set([...get().selectedIds].filter((id) => ids.has(id)))
    return selectedIds.size === get().selectedIds.size ? get().selectedIds : selectedIds
  }

  const mergeAnswer = (updated) => {
    if (Array.isArray(updated)) set({ batches: mergeBatches(get().batches, updated) })
  }

  /** Runs a batch action on `ids`, applies its answer (default: merge `[Batch]`), then reloads. */
  const transition = async (call, ids, verb, apply = mergeAnswer) => {
    const list = [...ids]
    if (!list.length) return false
    set({ busy: true })
    try {
      const answer = await call(list)
      apply(answer, list)
      const message = typeof verb === 'function' ? verb(answer, list) : verb && `${verb} ${plural(list.length)}`
      if (message) notify(message)
      return true
    } catch (err) {
      report(err)
      return false
    } finally {
      set({ busy: false })
      // Other batches moved too (queue renumbered, next one promoted): reload quietly.
      get().fetchBatches({ quiet: true })
    }
  }

  return {
    batches: [],
    loading: false,
    loaded: false,
    busy: false,
    selectedIds: new Set(),
    anchorId: null,

    async fetchBatches({ quiet = false } = {}) {
      const seq = ++fetchSeq
      if (!quiet) set({ loading: true })
      try {
        const list = await batchesApi.list()
        if (seq !== fetchSeq) return
        const batches = sortBatches(Array.isArray(list) ? list : [])
        set({ batches, loaded: true, selectedIds: keepSelection(batches) })
      } catch (err) {
        if (seq === fetchSeq && !quiet) showError(err)
      } finally {
        if (seq === fetchSeq) set({ loading: false })
      }
    },

    /** POST /batches with `{niche_id, profile_ids}` or `{niche_id, all_profiles: true}`. */
    async createBatch(payload) {
      try {
        const batch = await batchesApi.create(payload)
        if (batch && batch.id) set({ batches: mergeBatches(get().batches, [batch]) })
        notify(batch?.id ? `Batch created for ${nicheName(batch)}: ${batch.total_profiles ?? 0} profiles` : 'Batch created')
        return batch
      } catch (err) {
        report(err)
        return null
      }
    },

    start: (ids) => transition(batchesApi.start, ids, (answer) => whatHappened('Started', answer)),
    stop: (ids) => transition(batchesApi.stop, ids, (answer) => whatHappened('Paused', answer)),
    resume: (ids) => transition(batchesApi.resume, ids, (answer) => whatHappened('Resumed', answer)),

    remove: (ids) =>
      transition(batchesApi.delete, ids, 'Deleted', (_answer, list) => {
        const gone = new Set(list)
        const batches = get().batches.filter((b) => !gone.has(b.id))
        set({ batches, selectedIds: new Set([...get().selectedIds].filter((id) => !gone.has(id))) })
      }),

    /** POST /batches/{id}/retry-failed for each id. */
    retryFailed: (ids) =>
      transition(
        async (list) => {
          const updated = []
          for (const id of list) updated.push(await batchesApi.retryFailed(id))
          return updated
        },
        ids,
        'Retrying failed checks of',
      ),

    /** Saves a new queue order (the full list of queued ids); positions show at once. */
    async reorder(orderedIds) {
      const current = queuedIds(get().batches)
      if (sameOrder(current, orderedIds)) return true
      const position = new Map(orderedIds.map((id, i) => [id, i + 1]))
      set({
        batches: sortBatches(
          get().batches.map((b) => (position.has(b.id) && b.status === 'queued' ? { ...b, queue_position: position.get(b.id) } : b)),
        ),
      })
      const seq = ++reorderSeq
      const send = async () => {
        try {
          const updated = await batchesApi.reorder(orderedIds)
          if (seq === reorderSeq && Array.isArray(updated)) set({ batches: mergeBatches(get().batches, updated) })
          return true
        } catch (err) {
          report(err)
          get().fetchBatches({ quiet: true })
          return false
        }
      }
      const result = reorderChain.then(send)
      reorderChain = result
      return result
    },

    /** Moves the selected queued batches one place up (-1) or down (+1). */
    moveSelection(direction) {
      const order = queuedIds(get().batches)
      return get().reorder(moveSelected(order, get().selectedIds, direction))
    },

    /** Drag-and-drop: puts `dragId` where `targetId` is. */
    moveBatchTo(dragId, targetId) {
      return get().reorder(moveTo(queuedIds(get().batches), dragId, targetId))
    },

    // --- live updates ----------------------------------------------------------------------

    applyBatch(batch) {
      if (batch && batch.id) set({ batches: mergeBatches(get().batches, [batch]) })
    },
    removeBatch(id) {
      const selectedIds = new Set(get().selectedIds)
      selectedIds.delete(id)
      set({ batches: get().batches.filter((b) => b.id !== id), selectedIds })
    },

    // --- selection -------------------------------------------------------------------------

    clickRow(id, mods) {
      const ids = get().batches.map((b) => b.id)
      const next = clickSelection({ selected: get().selectedIds, anchorId: get().anchorId }, ids, id, mods)
      set({ selectedIds: next.selected, anchorId: next.anchorId })
    },
    toggleRow(id, mods) {
      const ids = get().batches.map((b) => b.id)
      const next = checkboxSelection({ selected: get().selectedIds, anchorId: get().anchorId }, ids, id, mods)
      set({ selectedIds: next.selected, anchorId: next.anchorId })
    },
    selectAll() {
      set({ selectedIds: new Set(get().batches.map((b) => b.id)) })
    },
    clearSelection() {
      set({ selectedIds: new Set(), anchorId: null })
    },
    selectedBatches() {
      const selected = get().selectedIds
      return get().batches.filter((b) => selected.has(b.id))
    },
  }
})
