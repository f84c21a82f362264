import { act, fireEvent, render, screen } from '@testing-library/react'
import { describe, expect, it, vi } from 'vitest'
import ImportDropzone from '../components/niche/ImportDropzone.jsx'
import { mockFetch } from '../test/fetchMock.js'

const niche = { id: 'n1', name: 'Fitness', profile_count: 0 }
const report = {
  created: [{ id: 'p1', username: 'alice' }],
  errors: [
    { line: 'bad name!', error: 'Invalid username format', line_number: 2 },
    { line: 'Alice', error: 'Profile already exists (as alice)', line_number: 3 },
  ],
  total: 3,
  created_count: 1,
  error_count: 2,
  duplicate_count: 1,
  invalid_format_count: 1,
}

describe('ImportDropzone', () => {
  it('uploads a picked file and shows the per-line report', async () => {
    const { calls } = mockFetch({ 'POST /profiles/niches/n1/import': { status: 207, body: report } })
    const onImported = vi.fn()
    render(<ImportDropzone niche={niche} onImported={onImported} />)
    const file = new File(['alice\nbad name!\nAlice\n'], 'names.txt', { type: 'text/plain' })
    await act(async () => {
      fireEvent.change(screen.getByTestId('import-file-input'), { target: { files: [file] } })
    })
    expect(calls[0].body.get('file').name).toBe('names.txt')
    const shown = await screen.findByTestId('import-report')
    expect(shown).toHaveTextContent('Imported 1 profile from 3 lines')
    const errors = screen.getAllByTestId('import-error')
    expect(errors[0]).toHaveTextContent('bad name!: Invalid username format')
    expect(errors[1]).toHaveTextContent('Alice: Profile already exists (as alice)')
    expect(onImported).toHaveBeenCalledWith(report)
  })

  it('imports a dropped file', async () => {
    mockFetch({ 'POST /profiles/niches/n1/import': { status: 201, body: { ...report, errors: [], created_count: 3, error_count: 0 } } })
    render(<ImportDropzone niche={niche} large />)
    expect(screen.getByTestId('import-dropzone')).toHaveTextContent('Drop a .txt/.csv file of usernames here')
    const file = new File(['a\nb\nc\n'], 'list.csv', { type: 'text/csv' })
    await act(async () => {
      fireEvent.drop(screen.getByTestId('import-dropzone'), { dataTransfer: { files: [file], types: ['Files'] } })
    })
    expect(await screen.findByTestId('import-report')).toHaveTextContent('Imported 3 profiles')
    expect(screen.queryAllByTestId('import-error')).toHaveLength(0)
  })

  it('shows the server error when the import is refused', async () => {
    mockFetch({ 'POST /profiles/niches/n1/import': { status: 400, body: { error: 'No file selected' } } })
    render(<ImportDropzone niche={niche} />)
    await act(async () => {
      fireEvent.change(screen.getByTestId('import-file-input'), { target: { files: [new File([''], 'x.txt')] } })
    })
    expect(screen.getByTestId('import-error-message')).toHaveTextContent('No file selected')
  })

  it('needs a niche', () => {
    render(<ImportDropzone niche={null} />)
    expect(screen.getByTestId('import-file-input')).toBeDisabled()
    expect(screen.getByTestId('import-dropzone')).toHaveTextContent('Select a niche')
  })
})
