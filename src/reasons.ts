/**
 * Why a probe failed: a closed set, so the reasons are safe as label values
 * (`appcluster_component_probe_failure_reason{reason}`). Shared by the probes that raise
 * them, the judgement that reads them and the metrics that show them, so it lives at the
 * bottom of the import graph.
 */
export const probeReasons = [
  'timeout',
  'connection_refused',
  'connection_reset',
  'dns',
  'tls',
  'http_status',
  'unauthorized',
  'body_too_large',
  'bad_body',
  'status_not_ok',
  'error',
] as const;
export type ProbeReason = (typeof probeReasons)[number];

/**
 * Failure reasons that mean the server answered (an HTTP response arrived) but the answer
 * was not good: the server is reachable, and the reason names the component that failed.
 */
export const answeredReasons: ReadonlySet<ProbeReason> = new Set<ProbeReason>(['http_status', 'body_too_large', 'bad_body', 'status_not_ok']);
