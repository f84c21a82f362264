import { act, fireEvent, render, screen } from '@testing-library/react'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import NicheSidebar from '../components/niche/NicheSidebar.jsx'
import { useNicheStore } from '../stores/nicheStore.js'
import { mockFetch } from '../test/fetchMock.js'

const initial = useNicheStore.getState()
const niches = [
  { id: 'n1', name: 'Fitness', order: 0, profile_count: 12 },
  { id: 'n2', name: 'Travel', order: 1, profile_count: 3 },
]

beforeEach(() => useNicheStore.setState({ ...initial, niches, loaded: true }, true))

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
})
