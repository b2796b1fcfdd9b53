/** Identifies a server across reloads (a cluster's server names are unique). */
export function serverKey(cluster: string, server: string): string {
  // Joined rather than concatenated: a flat string, where concatenation keeps a cons string
  // over the flattened copy once it is hashed (32 bytes more per key, kept for every server).
  return [cluster, server].join('\u0000');
}

/**
 * The key of a component's record (or an endpoint's schedule) that survives reloads:
 * cluster, server and component (or endpoint) name, joined by NUL, which no name holds.
 * A module of its own: the prober's thread reads records' keys without loading the
 * configuration's schema and parser.
 */
export function recordKey(cluster: string, server: string, name: string): string {
  // Joined rather than concatenated: a flat string, where concatenation keeps a cons string
  // over the flattened copy once it is hashed (32 bytes more per key, kept for every component).
  return [cluster, server, name].join('\u0000');
}
