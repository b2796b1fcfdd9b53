/**
 * V8 heap settings of the exporter's own process, applied when this module is evaluated:
 * main.ts imports it first, before any other module has allocated. Both are V8 flags that
 * V8 reads while it runs, not only at start (V8 src/heap/heap-controller.cc and
 * src/heap/new-spaces.cc, NewSpace::Grow), so they can be set from inside the process
 * with `v8.setFlagsFromString`; an operator adds nothing to the command line.
 *
 * Young generation: V8 doubles the new space each time enough objects survive scavenges,
 * up to 2 x 16 MB, and rarely gives it back. Every probe and scrape allocates, so it soon
 * reaches the top: 32 MB of RSS, a third of what a small exporter needs. Once the new
 * space reaches half of NEW_SPACE_CAP_BYTES, the growth factor is set to 1 (no more
 * growth), and back to V8's 2 should V8 shrink it. Half: Node reports collections after
 * the fact, so one more doubling may happen before the factor is set, and that one stays
 * within the cap. A long synchronous burst of allocation (no yield between several
 * collections) can still take it one doubling further, to 16 MB: the cap is a soft one. A
 * smaller new space is also cheaper to scavenge: the bench measured no CPU cost at 300, 3,000
 * and 30,000 components. The factor starts at 1: start-up is one long synchronous burst
 * (loading the exporter's modules, which main.ts does only after this module, and reading
 * the configuration) with many survivors, and it took the new space to 16 MB before the
 * first collection was reported (10 MB of peak RSS at 300 components). From the first
 * report on, the rule above applies.
 *
 * Old generation:
 * V8 grows the old generation to its live size times a factor it picks from how fast it
 * collects against how fast the program allocates: up to 4 (V8 src/heap/heap-controller.cc,
 * MemoryController::GrowingFactor). An exporter allocates steadily (every probe, every
 * scrape) and collects fast, so it gets factors near 4: at 30,000 components about 170 MB
 * live became 900 MB of RSS. `--heap-growing-percent` caps the factor; V8 reads it at every
 * full collection, so setting it at run time takes effect from the next one. The figures
 * behind the values chosen are in bench/RESULTS.md ("Issue 17: footprint"): a lower cap costs CPU in
 * more frequent (concurrent) marking.
 *
 * A flag the operator gives (`node --heap-growing-percent=N`, `--max-old-space-size`,
 * `--max-heap-size`, also through NODE_OPTIONS) wins: nothing is set then.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** The new space (both semi-spaces) stays within this size but for long synchronous bursts: 8 MB. */
export const NEW_SPACE_CAP_BYTES = 8 * 1024 * 1024;

/** The old generation may grow to its live size plus this percentage before a full collection. */
export const HEAP_GROWING_PERCENT = 20;

const OPERATOR_FLAGS = /^--(heap[-_]growing[-_]percent|max[-_]old[-_]space[-_]size|max[-_]heap[-_]size)\b/;
const OPERATOR_YOUNG_FLAGS = /^--(semi[-_]space[-_]growth[-_]factor|max[-_]semi[-_]space[-_]size|min[-_]semi[-_]space[-_]size)\b/;

/** True when the operator set a heap flag of their own (command line or NODE_OPTIONS). */
export function operatorHeapFlags(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions = process.env['NODE_OPTIONS'] ?? '',
  flags: RegExp = OPERATOR_FLAGS,
): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((flag) => flags.test(flag));
}

/**
 * The growth factor the new space should have at `newSpaceBytes` (its current size): 1 at
 * or over half the cap (one late doubling stays within it), else V8's default 2.
 */
export function semiSpaceGrowthFactor(newSpaceBytes: number, cap = NEW_SPACE_CAP_BYTES): 1 | 2 {
  return newSpaceBytes * 2 >= cap ? 1 : 2;
}

if (!operatorHeapFlags()) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);

if (!operatorHeapFlags(process.execArgv, process.env['NODE_OPTIONS'] ?? '', OPERATOR_YOUNG_FLAGS)) {
  // After every collection (the only time the new space changes size), the factor for the
  // next growth. Node reports collections as `gc` performance entries.
  let factor = 1;
  setFlagsFromString(`--semi-space-growth-factor=${factor}`);
  const observer = new PerformanceObserver(() => {
    const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
    const want = semiSpaceGrowthFactor(newSpace?.space_size ?? 0);
    if (want !== factor) {
      factor = want;
      setFlagsFromString(`--semi-space-growth-factor=${want}`);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
}
