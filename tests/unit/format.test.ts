// The one byte formatter: binary units everywhere the app writes a size.

import { describe, expect, it } from 'vitest';
import { formatBytes } from '../../src/protocol/format.ts';

describe('formatBytes', () => {
  it('writes bytes below 1 KiB as they are', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
  });

  it('uses KiB, MiB and GiB (powers of 1024), one decimal below 10 and whole numbers above', () => {
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(128 * 1024)).toBe('128 KiB');
    expect(formatBytes(1_056_540)).toBe('1.0 MiB');
    expect(formatBytes(256 * 2 ** 20)).toBe('256 MiB');
    expect(formatBytes(1.24e9)).toBe('1.2 GiB');
  });
});
