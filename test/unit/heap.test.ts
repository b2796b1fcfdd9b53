import { describe, expect, it } from 'vitest';
import { operatorHeapFlags } from '../../src/heap.js';

describe('V8 heap settings of the exporter process', () => {
  it('an operator flag on the command line or in NODE_OPTIONS wins', () => {
    expect(operatorHeapFlags([], '')).toBe(false);
    expect(operatorHeapFlags(['--max-old-space-size=256'], '')).toBe(true);
    expect(operatorHeapFlags([], '--enable-source-maps --heap-growing-percent=50')).toBe(true);
    expect(operatorHeapFlags(['--max_heap_size=512'], '')).toBe(true);
    expect(operatorHeapFlags(['--enable-source-maps'], '--max-semi-space-size=4')).toBe(false);
  });

});
