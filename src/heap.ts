/**
 * V8 heap settings of the exporter's own process, applied when this module is evaluated:
 * main.ts imports it first, before any other module has allocated. Both are V8 flags that
 * V8 reads while it runs, not only at start (V8 src/heap/heap-controller.cc and
 * src/heap/new-spaces.cc, NewSpace::Grow), so they can be set from inside the process
 * with `v8.setFlagsFromString`; an operator adds nothing to the command line.
 *
 * Young generation: V8 doubles the new space each time enough objects survive scavenges,
 * up to 2 x 16 MB, and rarely gives it back. Every probe and scrape allocates, so it soon
 * reaches the top: 32 MB of RSS, a third of what a small exporter needs. Here the new space
 * grows only while a doubling stays within a cap (growth factor 2, else 1), and the cap
 * follows the load: 4 MB while the program allocates slower than a 4 MB space scavenged
 * every 250 ms (about 16 MB/s, a moving mean), 8 MB when faster. A small new space is cheap
 * for a quiet process, but at 2,000 probes a second (30,000 components) a 4 MB one promotes
 * the objects of probes still running: 28% more CPU per probe than 8 MB; at 3,000
 * components 8 MB cost 10 MB of RSS and no CPU.
 *
 * The factor starts at 1 and stays there until the program calls `endStartup()` (the
 * exporter once its first round is done, the agent once it listens): start-up is one long
 * synchronous burst (loading the exporter's modules, which main.ts does only after this
 * module, and reading the configuration) with many survivors, and it took the new space to
 * 16 MB before the first collection was reported (10 MB of peak RSS at 300 components).
 * Node reports collections after the fact, so a long synchronous burst later on can still
 * double the space once more before the factor is set: the cap is a soft one.
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
 * Pretenuring: V8 allocates the objects of an allocation site (an object or array literal)
 * straight in the old generation once most of them survived their scavenges (V8
 * src/heap/pretenuring-handler.cc; it decides so only while the new space is at its
 * largest). At 30,000 components, where probes start in bursts, it took that path for
 * objects that were short-lived in truth: they sat in the old generation until the next full
 * collection and held what they referenced through every scavenge until then. With it the
 * exporter promoted 10-11 MB/s and collected in full every 1.4 s; without, 4 MB/s and every
 * 3 s (bench/RESULTS.md).
 *
 * A flag the operator gives wins: nothing is set then. Node 20 takes `--max-old-space-size`
 * and `--max-semi-space-size` in NODE_OPTIONS too; `--heap-growing-percent`,
 * `--max-heap-size`, `--[no-]allocation-site-pretenuring`, `--min-semi-space-size` and
 * `--semi-space-growth-factor` only on its command line.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** The new space stays within this size under load, but for long synchronous bursts: 8 MB. */
export const NEW_SPACE_CAP_BYTES = 8 * 1024 * 1024;

/** The new space's cap while the process is quiet (see `newSpaceCap`): 4 MB. */
export const QUIET_NEW_SPACE_CAP_BYTES = 4 * 1024 * 1024;

/** The old generation may grow to its live size plus this percentage before a full collection. */
export const HEAP_GROWING_PERCENT = 20;

const OPERATOR_FLAGS = /^--(heap[-_]growing[-_]percent|max[-_]old[-_]space[-_]size|max[-_]heap[-_]size)\b/;
const OPERATOR_YOUNG_FLAGS = /^--(semi[-_]space[-_]growth[-_]factor|max[-_]semi[-_]space[-_]size|min[-_]semi[-_]space[-_]size)\b/;
/** The operator's own choice of pretenuring, for `operatorHeapFlags`: either way, it wins. */
export const OPERATOR_PRETENURING_FLAGS = /^--(no[-_]?)?allocation[-_]site[-_]pretenuring\b/;

/** True when the operator set a heap flag of their own (command line or NODE_OPTIONS). */
export function operatorHeapFlags(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions = process.env['NODE_OPTIONS'] ?? '',
  flags: RegExp = OPERATOR_FLAGS,
): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((flag) => flags.test(flag));
}

/**
 * A process is busy when its young generation fills faster than a 4 MB new space every
 * 250 ms would (about 16 MB/s): the allocation rate, in bytes per millisecond.
 */
export const BUSY_ALLOCATION_BYTES_PER_MS = QUIET_NEW_SPACE_CAP_BYTES / 250;

/**
 * The cap for the new space, in bytes, from the mean allocation rate into it (bytes per
 * millisecond; 0 before it is known): NEW_SPACE_CAP_BYTES when it is over
 * BUSY_ALLOCATION_BYTES_PER_MS, else QUIET_NEW_SPACE_CAP_BYTES.
 */
export function newSpaceCap(bytesPerMs: number): number {
  return bytesPerMs > BUSY_ALLOCATION_BYTES_PER_MS ? NEW_SPACE_CAP_BYTES : QUIET_NEW_SPACE_CAP_BYTES;
}

/**
 * The growth factor the new space should have at `newSpaceBytes` (its current size): V8's
 * default 2 while one doubling stays within `cap`, else 1 (no growth).
 */
export function semiSpaceGrowthFactor(newSpaceBytes: number, cap = NEW_SPACE_CAP_BYTES): 1 | 2 {
  return newSpaceBytes * 2 > cap ? 1 : 2;
}

let started = false;

/**
 * Ends start-up: from now on the new space may grow within its cap. Until then it keeps
 * the size V8 starts it with (1 MB). The exporter calls it once every component has been
 * probed once, the agent once it listens.
 */
export function endStartup(): void {
  started = true;
}

/**
 * A moving mean (weight 0.2 for the newest) of the rate at which the program fills its new
 * space: the space's size over the time between two scavenges. The size, not the interval
 * alone: a 1 MB space is scavenged four times as often as a 4 MB one at the same rate.
 */
export class AllocationRate {
  private last: number | undefined;
  /** Bytes per millisecond; 0 until two scavenges were seen. */
  bytesPerMs = 0;

  /** A scavenge at `atMs` (a performance-timeline time, milliseconds) of a new space of `newSpaceBytes`. */
  add(atMs: number, newSpaceBytes: number): void {
    if (this.last !== undefined && atMs > this.last) {
      const rate = newSpaceBytes / (atMs - this.last);
      this.bytesPerMs = this.bytesPerMs === 0 ? rate : this.bytesPerMs * 0.8 + rate * 0.2;
    }
    this.last = atMs;
  }
}

/** True when this process was started with one of `flags`. */
const operatorSet = (flags: RegExp): boolean => operatorHeapFlags(process.execArgv, process.env['NODE_OPTIONS'] ?? '', flags);

if (!operatorSet(OPERATOR_FLAGS)) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);

if (!operatorSet(OPERATOR_PRETENURING_FLAGS)) setFlagsFromString('--no-allocation-site-pretenuring');

if (!operatorSet(OPERATOR_YOUNG_FLAGS)) {
  // After every collection (the only time the new space changes size), the factor for the
  // next growth. Node reports collections as `gc` performance entries.
  let factor = 1;
  setFlagsFromString(`--semi-space-growth-factor=${factor}`);
  const rate = new AllocationRate();
  const newSpaceBytes = (): number => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
  // The size the scavenges reported next were of; with the factor at 1 it holds until start-up ends.
  let size = newSpaceBytes();
  const observer = new PerformanceObserver((list) => {
    // Start-up's scavenges (one synchronous burst) say nothing of the load: not counted.
    if (!started) return;
    for (const entry of list.getEntries()) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) rate.add(entry.startTime, size);
    }
    size = newSpaceBytes();
    const want = semiSpaceGrowthFactor(size, newSpaceCap(rate.bytesPerMs));
    if (want !== factor) {
      factor = want;
      setFlagsFromString(`--semi-space-growth-factor=${want}`);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
}
