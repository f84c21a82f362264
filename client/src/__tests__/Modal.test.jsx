import { fireEvent, render, screen } from '@testing-library/react'
import { useState } from 'react'
import { describe, expect, it, vi } from 'vitest'
import Modal from '../components/common/Modal.jsx'

function Opener({ onClose = () => {}, children }) {
  const [open, setOpen] = useState(false)
  return (
    <>
      <button type="button" onClick={() => setOpen(true)}>
        Open
      </button>
      <button type="button">Behind</button>
      {open && (
        <Modal
          title="Dialog"
          onClose={() => {
            onClose()
            setOpen(false)
          }}
        >
          {children}
        </Modal>
      )}
    </>
  )
}

const twoFields = (
  <>
    <input aria-label="First field" />
    <button type="button" disabled>
      Disabled
    </button>
    <button type="button">Last</button>
  </>
)

describe('Modal', () => {
  it('moves focus in, keeps Tab inside and gives focus back on close', () => {
    render(<Opener>{twoFields}</Opener>)
    const opener = screen.getByRole('button', { name: 'Open' })
    opener.focus()
    fireEvent.click(opener)
    const dialog = screen.getByRole('dialog', { name: 'Dialog' })
    expect(dialog).toHaveFocus()

    const close = screen.getByRole('button', { name: 'Close' })
    const last = screen.getByRole('button', { name: 'Last' })
    // Shift+Tab from the dialog itself wraps to its last control, Tab from there to the first.
    fireEvent.keyDown(dialog, { key: 'Tab', shiftKey: true })
    expect(last).toHaveFocus()
    fireEvent.keyDown(last, { key: 'Tab' })
    expect(close).toHaveFocus()
    fireEvent.keyDown(close, { key: 'Tab', shiftKey: true })
    expect(last).toHaveFocus()

    // Focus that escapes to the page behind is brought back.
    screen.getByRole('button', { name: 'Behind' }).focus()
    expect(dialog).toHaveFocus()

    fireEvent.click(close)
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument()
    expect(opener).toHaveFocus()
  })

  it('leaves the focus on a field with autoFocus and closes on Escape', () => {
    const onClose = vi.fn()
    render(
      <Opener onClose={onClose}>
        <input aria-label="Token" autoFocus />
      </Opener>,
    )
    const opener = screen.getByRole('button', { name: 'Open' })
    opener.focus()
    fireEvent.click(opener)
    expect(screen.getByLabelText('Token')).toHaveFocus()
    fireEvent.keyDown(document.activeElement, { key: 'Escape' })
    expect(onClose).toHaveBeenCalledTimes(1)
    expect(opener).toHaveFocus()
  })

  it('lets only the topmost of two dialogs answer Escape', () => {
    const outer = vi.fn()
    const inner = vi.fn()
    render(
      <Modal title="Outer" onClose={outer}>
        <Modal title="Inner" onClose={inner}>
          <button type="button">Inside</button>
        </Modal>
      </Modal>,
    )
    fireEvent.keyDown(document.activeElement, { key: 'Escape' })
    expect(inner).toHaveBeenCalledTimes(1)
    expect(outer).not.toHaveBeenCalled()
  })
})
