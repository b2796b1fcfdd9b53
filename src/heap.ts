/**
 * V8 heap settings of the exporter's own process, applied when this module is evaluated:
 * main.ts imports it first, before any other module has allocated.
 *
 * V8 grows the old generation to its live size times a factor it picks from how fast it
 * collects against how fast the program allocates: up to 4 (V8 src/heap/heap-controller.cc,
 * MemoryController::GrowingFactor). An exporter allocates steadily (every probe, every
 * scrape) and collects fast, so it gets factors near 4: at 30,000 components about 170 MB
 * live became 900 MB of RSS. `--heap-growing-percent` caps the factor; V8 reads it at every
 * full collection, so setting it at run time takes effect from the next one. The figures
 * behind the value chosen are in bench/RESULTS.md ("Memory"): a lower cap costs CPU in
 * more frequent (concurrent) marking.
 *
 * A flag the operator gives (`node --heap-growing-percent=N`, `--max-old-space-size`,
 * `--max-heap-size`, also through NODE_OPTIONS) wins: nothing is set then.
 */
import { setFlagsFromString } from 'node:v8';

/** The old generation may grow to its live size plus this percentage before a full collection. */
export const HEAP_GROWING_PERCENT = 20;

const OPERATOR_FLAGS = /^--(heap[-_]growing[-_]percent|max[-_]old[-_]space[-_]size|max[-_]heap[-_]size)\b/;

/** True when the operator set a heap flag of their own (command line or NODE_OPTIONS). */
export function operatorHeapFlags(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env['NODE_OPTIONS'] ?? ''): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((flag) => OPERATOR_FLAGS.test(flag));
}

if (!operatorHeapFlags()) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
