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
  'network_unreachable',
  'host_unreachable',
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
export const answeredReasons: ReadonlySet<ProbeReason> = new Set<ProbeReason>(['http_status', 'body_too_large', 'bad_body', 'status_not_ok', 'unauthorized']);

/**
 * Failure reasons that say nothing about the component: the server refused the exporter's
 * credentials (HTTP 401 or 403, or a TLS alert refusing its client certificate). The server
 * is up, as it answered; the component's state is unknown, never down (DESIGN.md, "What a
 * reading can be"), and the fix is the monitoring's, not the server's.
 */
export const unknownReasons: ReadonlySet<ProbeReason> = new Set<ProbeReason>(['unauthorized']);
