import type { TcpShape } from '../shape.js';

/**
 * A bare TCP port: PostgreSQL's 5432 under Patroni, ProGet's service messenger 33237. A
 * TCP probe only connects, so the port accepts and never writes; `down` (connection
 * refused) is its one fault.
 */
export function tcpShape(): TcpShape {
  return { protocol: 'tcp', faults: {} };
}
