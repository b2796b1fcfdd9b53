import type { EndpointSettings } from '../config/types.js';
import { httpProbe } from './http.js';
import { postgresProbe } from './postgres.js';
import { prometheusProbe } from './prometheus.js';
import { tcpProbe } from './tcp.js';
import type { ProbeKind } from './types.js';

/** Every probe kind by the name used in the configuration (`http:`, `tcp:`, `prometheus:`, `postgres:`). */
export const probeKinds: { readonly [K in EndpointSettings['kind']]: ProbeKind<Extract<EndpointSettings, { kind: K }>> } = {
  http: httpProbe,
  tcp: tcpProbe,
  prometheus: prometheusProbe,
  postgres: postgresProbe,
};
