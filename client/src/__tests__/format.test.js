import { describe, expect, it } from 'vitest'
import { batchStatusLabel, formatDuration, maskSecret, queuePositionLabel } from '../lib/format.js'

describe('format', () => {
  it('labels the queue column like the original client', () => {
    expect(queuePositionLabel({ status: 'in_progress', queue_position: 0 })).toBe('0 (Running)')
    expect(queuePositionLabel({ status: 'queued', queue_position: 2 })).toBe('#2')
    expect(queuePositionLabel({ status: 'paused', queue_position: null })).toBe('-')
    expect(queuePositionLabel({ status: 'done', queue_position: null })).toBe('-')
  })

  it('shows in_progress as running', () => {
    expect(batchStatusLabel('in_progress')).toBe('running')
    expect(batchStatusLabel('queued')).toBe('queued')
  })

  it('formats durations for humans', () => {
    expect(formatDuration(null)).toBe('—')
    expect(formatDuration(42)).toBe('42s')
    expect(formatDuration(200)).toBe('3m 20s')
    expect(formatDuration(7500)).toBe('2h 05m')
    expect(formatDuration(100000)).toBe('1d 3h')
  })

  it('masks secrets that arrive unmasked', () => {
    expect(maskSecret('abcd…wxyz')).toBe('abcd…wxyz')
    expect(maskSecret('abcdefghijklmnop')).toBe('abcd…mnop')
    expect(maskSecret('short')).toBe('…')
  })
})
