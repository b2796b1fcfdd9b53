/** Seconds since `started` (a `performance.now()` reading), to the microsecond. */
export function elapsedSeconds(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1e6;
}
