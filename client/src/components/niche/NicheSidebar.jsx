import { useId, useRef, useState } from 'react'
import { useSavedMark } from '../../lib/hooks.js'
import { moveTo } from '../../lib/order.js'
import { useNicheStore } from '../../stores/nicheStore.js'

const NICHE_DRAG_TYPE = 'application/x-storycheck-niche'

/**
 * One niche: select it, rename it in place (saved on Enter or blur), delete it, drag it. A
 * refused rename keeps the typed name open for correction, with the server's reason under it.
 */
function NicheItem({ niche, selected, onSelect, onDragStart, onDrop, onMove, dragging }) {
  const renameNiche = useNicheStore((s) => s.renameNiche)
  const deleteNiche = useNicheStore((s) => s.deleteNiche)
  const [editing, setEditing] = useState(false)
  const [name, setName] = useState(niche.name)
  const [error, setError] = useState(null)
  const [savedAt, setSavedAt] = useState(null)
  const saved = useSavedMark(savedAt)
  const [over, setOver] = useState(false)
  const errorId = useId()
  // Enter blurs the input and blur saves: the ref makes sure one edit sends one PUT.
  const editingRef = useRef(false)
  const input = useRef(null)
  const byEnter = useRef(false) // saved with Enter: a refusal puts the cursor back in the box

  const startEdit = () => {
    setName(niche.name)
    setError(null)
    editingRef.current = true
    setEditing(true)
  }
  const stopEdit = () => {
    editingRef.current = false
    setError(null)
    setEditing(false)
  }
  const save = async () => {
    if (!editingRef.current) return
    const refocus = byEnter.current
    byEnter.current = false
    const trimmed = name.trim()
    if (!trimmed || trimmed === niche.name) {
      stopEdit()
      return
    }
    editingRef.current = false
    const refused = await renameNiche(niche.id, trimmed)
    if (refused) {
      editingRef.current = true
      setError(refused)
      if (refocus) input.current?.focus()
    } else {
      stopEdit()
      setSavedAt(Date.now())
    }
  }
  const remove = () => {
    const count = niche.profile_count ?? 0
    const text = count
      ? `Delete niche "${niche.name}"? Its ${count} profiles move to another niche and its batches are deleted.`
      : `Delete niche "${niche.name}"?`
    if (window.confirm(text)) deleteNiche(niche.id)
  }

  return (
    <li
      className={`niche-item${selected ? ' selected' : ''}${over ? ' drop-target' : ''}${dragging ? ' dragging' : ''}`}
      data-testid="niche-item"
      data-niche-id={niche.id}
      draggable={!editing}
      onDragStart={(e) => {
        e.dataTransfer.setData(NICHE_DRAG_TYPE, niche.id)
        e.dataTransfer.effectAllowed = 'move'
        onDragStart(niche.id)
      }}
      onDragOver={(e) => {
        if (!e.dataTransfer.types.includes(NICHE_DRAG_TYPE)) return
        e.preventDefault()
        setOver(true)
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        setOver(false)
        const dragId = e.dataTransfer.getData(NICHE_DRAG_TYPE)
        if (!dragId) return
        e.preventDefault()
        onDrop(dragId, niche.id)
      }}
      onDragEnd={() => onDragStart(null)}
    >
      {editing ? (
        <input
          className="niche-rename"
          aria-label={`Rename niche ${niche.name}`}
          data-testid="niche-rename-input"
          ref={input}
          value={name}
          autoFocus
          maxLength={50}
          aria-invalid={Boolean(error)}
          aria-describedby={error ? errorId : undefined}
          onChange={(e) => setName(e.target.value)}
          onBlur={save}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              byEnter.current = true
              e.currentTarget.blur()
            }
            if (e.key === 'Escape') {
              setName(niche.name)
              stopEdit()
            }
          }}
        />
      ) : (
        <button
          type="button"
          className="niche-select"
          aria-pressed={selected}
          aria-keyshortcuts="Alt+ArrowUp Alt+ArrowDown F2"
          title="Click to show; double-click or F2 to rename; Alt+↑/↓ or drag to reorder"
          onClick={() => onSelect(niche.id)}
          onDoubleClick={startEdit}
          onKeyDown={(e) => {
            if (e.key === 'F2') startEdit()
            if (e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
              e.preventDefault()
              onMove(niche.id, e.key === 'ArrowUp' ? -1 : 1)
            }
          }}
        >
          <span className="drag-handle" aria-hidden="true">
            ⋮⋮
          </span>
          <span className="niche-name" data-testid="niche-name">
            {niche.name}
          </span>
          <span className="count" data-testid="niche-count" aria-label={`${niche.profile_count ?? 0} profiles`}>
            {(niche.profile_count ?? 0).toLocaleString('en-US')}
          </span>
        </button>
      )}
      {saved && !editing && (
        <span className="saved-mark" role="status" data-testid="niche-saved">
          saved
        </span>
      )}
      {error && (
        <span id={errorId} className="field-error niche-error" role="alert" data-testid="niche-rename-error">
          {error}
        </span>
      )}
      {!editing && (
        <span className="niche-actions">
          <button
            type="button"
            className="icon-button"
            aria-label={`Rename niche ${niche.name}`}
            data-testid="niche-rename"
            onClick={startEdit}
          >
            ✎
          </button>
          <button
            type="button"
            className="icon-button danger"
            aria-label={`Delete niche ${niche.name}`}
            data-testid="niche-delete"
            onClick={remove}
          >
            ×
          </button>
        </span>
      )}
    </li>
  )
}

/** Niche list with live counts, an "All niches" entry and the form that adds a niche. */
export default function NicheSidebar({ selectedNicheId, onSelect }) {
  const niches = useNicheStore((s) => s.niches)
  const loaded = useNicheStore((s) => s.loaded)
  const addNiche = useNicheStore((s) => s.addNiche)
  const reorderNiches = useNicheStore((s) => s.reorderNiches)
  const [newName, setNewName] = useState('')
  const [addError, setAddError] = useState(null)
  const [adding, setAdding] = useState(false)
  const addErrorId = useId()
  const [draggingId, setDraggingId] = useState(null)

  const total = niches.reduce((sum, n) => sum + (n.profile_count ?? 0), 0)
  const ids = niches.map((n) => n.id)

  const add = async (event) => {
    event.preventDefault()
    if (!newName.trim() || adding) return
    setAdding(true)
    const { niche, error } = await addNiche(newName)
    setAdding(false)
    setAddError(error || null)
    if (niche) {
      setNewName('')
      onSelect(niche.id)
    }
  }

  const move = (id, direction) => {
    const index = ids.indexOf(id)
    const target = ids[index + direction]
    if (target) reorderNiches(moveTo(ids, id, target))
  }

  return (
    <aside className="sidebar" aria-label="Niches">
      <h2 className="sidebar-title">Niches</h2>
      <ul className="niche-list">
        <li className={`niche-item all${selectedNicheId ? '' : ' selected'}`} data-testid="niche-all">
          <button type="button" className="niche-select" aria-pressed={!selectedNicheId} onClick={() => onSelect(null)}>
            <span className="niche-name">All niches</span>
            <span className="count">{total.toLocaleString('en-US')}</span>
          </button>
        </li>
        {niches.map((niche) => (
          <NicheItem
            key={niche.id}
            niche={niche}
            selected={niche.id === selectedNicheId}
            onSelect={onSelect}
            dragging={draggingId === niche.id}
            onDragStart={setDraggingId}
            onDrop={(dragId, targetId) => reorderNiches(moveTo(ids, dragId, targetId))}
            onMove={move}
          />
        ))}
      </ul>
      {loaded && niches.length === 0 && (
        <p className="empty small" data-testid="no-niches">
          Create a niche to start
        </p>
      )}
      <form className="add-niche" onSubmit={add}>
        <input
          aria-label="New niche name"
          placeholder="New niche name"
          data-testid="add-niche-input"
          value={newName}
          maxLength={50}
          aria-invalid={Boolean(addError)}
          aria-describedby={addError ? addErrorId : undefined}
          onChange={(e) => {
            setNewName(e.target.value)
            setAddError(null)
          }}
        />
        <button type="submit" data-testid="add-niche-button" disabled={!newName.trim() || adding}>
          Add
        </button>
      </form>
      {addError && (
        <p id={addErrorId} className="field-error add-niche-error" role="alert" data-testid="add-niche-error">
          {addError}
        </p>
      )}
    </aside>
  )
}
