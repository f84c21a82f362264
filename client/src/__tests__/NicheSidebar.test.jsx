import { act, fireEvent, render, screen } from '@testing-library/react'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import NicheSidebar from '../components/niche/NicheSidebar.jsx'
import { useNicheStore } from '../stores/nicheStore.js'
import { useUiStore } from '../stores/uiStore.js'
import { mockFetch } from '../test/fetchMock.js'

const initial = useNicheStore.getState()
const niches = [
  { id: 'n1', name: 'Fitness', order: 0, profile_count: 12 },
  { id: 'n2', name: 'Travel', order: 1, profile_count: 3 },
]

beforeEach(() => {
  useNicheStore.setState({ ...initial, niches, loaded: true }, true)
  useUiStore.setState({ errors: [], notices: [] })
})

const exists = { status: 409, body: { error: 'conflict', message: 'Niche already exists' } }

describe('NicheSidebar', () => {
  it('lists niches with counts and an "All niches" entry', () => {
    mockFetch({})
    render(<NicheSidebar selectedNicheId={null} onSelect={() => {}} />)
    const items = screen.getAllByTestId('niche-item')
    expect(items).toHaveLength(2)
    expect(items[0]).toHaveTextContent('Fitness')
    expect(items[0]).toHaveTextContent('12')
    expect(screen.getByTestId('niche-all')).toHaveTextContent('15')
  })

  it('renames on Enter with one PUT, not per keystroke', async () => {
    const { calls } = mockFetch({ 'PUT /niches/n1': { id: 'n1', name: 'Gym', order: 0, profile_count: 12 } })
    render(<NicheSidebar selectedNicheId={null} onSelect={() => {}} />)
    fireEvent.click(screen.getAllByTestId('niche-rename')[0])
    const input = screen.getByTestId('niche-rename-input')
    fireEvent.change(input, { target: { value: 'G' } })
    fireEvent.change(input, { target: { value: 'Gy' } })
    fireEvent.change(input, { target: { value: 'Gym' } })
    expect(calls).toHaveLength(0)
    await act(async () => {
      fireEvent.keyDown(input, { key: 'Enter' })
      fireEvent.blur(input)
    })
    expect(calls).toHaveLength(1)
    expect(calls[0]).toMatchObject({ method: 'PUT', path: '/niches/n1', body: { name: 'Gym' } })
    expect(screen.getAllByTestId('niche-item')[0]).toHaveTextContent('Gym')
    expect(screen.getAllByTestId('niche-item')[0]).toHaveTextContent('12')
  })

  it('adds a niche and selects it', async () => {
    const { calls } = mockFetch({ 'POST /niches': { status: 201, body: { id: 'n3', name: 'Food', order: 2, profile_count: 0 } } })
    const onSelect = vi.fn()
    render(<NicheSidebar selectedNicheId={null} onSelect={onSelect} />)
    fireEvent.change(screen.getByTestId('add-niche-input'), { target: { value: 'Food' } })
    await act(async () => {
      fireEvent.submit(screen.getByTestId('add-niche-input').closest('form'))
    })
    expect(calls[0].body).toEqual({ name: 'Food', order: 2 })
    expect(onSelect).toHaveBeenCalledWith('n3')
    expect(screen.getAllByTestId('niche-item')).toHaveLength(3)
  })

  it('keeps a new niche when a list read that started before it answers later', async () => {
    const food = { id: 'n3', name: 'Food', order: 2, profile_count: 0 }
    let releaseStale
    const staleHeld = new Promise((resolve) => {
      releaseStale = resolve
    })
    let reads = 0
    mockFetch({
      'GET /niches': async () => {
        reads += 1
        if (reads === 1) {
          await staleHeld
          return niches // read before the niche existed
        }
        return [...niches, food]
      },
      'POST /niches': { status: 201, body: food },
    })
    const stale = useNicheStore.getState().fetchNiches()
    await act(async () => {
      await useNicheStore.getState().addNiche('Food')
    })
    releaseStale()
    await act(async () => {
      await stale
    })
    expect(reads).toBe(2) // the stale list was read again, not shown
    expect(useNicheStore.getState().niches.map((n) => n.id)).toEqual(['n1', 'n2', 'n3'])
  })

  it('deletes after confirmation', async () => {
    vi.spyOn(window, 'confirm').mockReturnValue(true)
    const { calls } = mockFetch({ 'DELETE /niches/n2': { status: 204 }, 'GET /niches': [niches[0]] })
    render(<NicheSidebar selectedNicheId={null} onSelect={() => {}} />)
    await act(async () => {
      fireEvent.click(screen.getAllByTestId('niche-delete')[1])
    })
    expect(calls[0]).toMatchObject({ method: 'DELETE', path: '/niches/n2' })
    expect(screen.getAllByTestId('niche-item')).toHaveLength(1)
  })

  it('reorders with Alt+ArrowDown through POST /niches/reorder', async () => {
    const { calls } = mockFetch({
      'POST /niches/reorder': [
        { ...niches[1], order: 0 },
        { ...niches[0], order: 1 },
      ],
    })
    render(<NicheSidebar selectedNicheId={null} onSelect={() => {}} />)
    const button = screen.getAllByTestId('niche-item')[0].querySelector('.niche-select')
    await act(async () => {
      fireEvent.keyDown(button, { key: 'ArrowDown', altKey: true })
    })
    expect(calls[0].body).toEqual({ niche_ids: ['n2', 'n1'] })
    expect(screen.getAllByTestId('niche-item')[0]).toHaveTextContent('Travel')
  })

  it('says how to start when there is no niche', () => {
    useNicheStore.setState({ niches: [] })
    render(<NicheSidebar selectedNicheId={null} onSelect={() => {}} />)
    expect(screen.getByTestId('no-niches')).toHaveTextContent('Create a niche to start')
  })

  it("keeps the typed name and shows the server's reason when a rename is refused", async () => {
    const { calls } = mockFetch({ 'PUT /niches/n2': exists })
    render(<NicheSidebar selectedNicheId={null} onSelect={() => {}} />)
    fireEvent.click(screen.getAllByTestId('niche-rename')[1])
    const input = screen.getByTestId('niche-rename-input')
    fireEvent.change(input, { target: { value: 'Fitness' } })
    await act(async () => {
      fireEvent.keyDown(input, { key: 'Enter' })
      fireEvent.blur(input)
    })
    expect(calls).toHaveLength(1)
    // Still editing, with what was typed, the reason next to it, and the cursor back in the box.
    const kept = screen.getByTestId('niche-rename-input')
    expect(kept).toHaveValue('Fitness')
    expect(kept).toHaveFocus()
    expect(kept).toHaveAttribute('aria-invalid', 'true')
    expect(screen.getByTestId('niche-rename-error')).toHaveTextContent('Niche already exists')
    expect(kept).toHaveAccessibleDescription('Niche already exists')
    // The reason is the form's, not a page banner that outlives it.
    expect(useUiStore.getState().errors).toEqual([])

    // A corrected name saves, closes the box and says "saved".
    mockFetch({ 'PUT /niches/n2': { id: 'n2', name: 'Fitness 2', order: 1, profile_count: 3 } })
    fireEvent.change(kept, { target: { value: 'Fitness 2' } })
    await act(async () => {
      fireEvent.keyDown(kept, { key: 'Enter' })
      fireEvent.blur(kept)
    })
    expect(screen.queryByTestId('niche-rename-input')).not.toBeInTheDocument()
    expect(screen.queryByTestId('niche-rename-error')).not.toBeInTheDocument()
    expect(screen.getAllByTestId('niche-item')[1]).toHaveTextContent('Fitness 2')
    expect(screen.getByTestId('niche-saved')).toHaveTextContent('saved')
  })

  it('keeps the new name and shows the reason when adding is refused', async () => {
    mockFetch({ 'POST /niches': exists })
    const onSelect = vi.fn()
    render(<NicheSidebar selectedNicheId={null} onSelect={onSelect} />)
    const input = screen.getByTestId('add-niche-input')
    fireEvent.change(input, { target: { value: 'Travel' } })
    await act(async () => {
      fireEvent.submit(input.closest('form'))
    })
    expect(input).toHaveValue('Travel')
    expect(screen.getByTestId('add-niche-error')).toHaveTextContent('Niche already exists')
    expect(input).toHaveAccessibleDescription('Niche already exists')
    expect(useUiStore.getState().errors).toEqual([])
    expect(onSelect).not.toHaveBeenCalled()
    // Typing again clears the old reason.
    fireEvent.change(input, { target: { value: 'Travel 2' } })
    expect(screen.queryByTestId('add-niche-error')).not.toBeInTheDocument()
  })
})
