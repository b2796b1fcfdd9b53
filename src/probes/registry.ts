import { httpProbe } from './http.js';
import { tcpProbe } from './tcp.js';
import type { ProbeKind } from './types.js';

/** Every probe kind by the name used under a component's `probe:` in the configuration. */
export const probeKinds: Readonly<Record<string, ProbeKind>> = {
  http: httpProbe,
  tcp: tcpProbe,
};
