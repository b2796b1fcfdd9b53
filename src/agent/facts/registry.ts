import { fingerprintFact } from './fingerprint.js';
import { httpFact } from './http.js';
import { processFact } from './process.js';
import { tcpFact } from './tcp.js';
import type { FactKind } from './types.js';
import { valueFact } from './value.js';

/** Every fact kind by the name used under a fact in the agent configuration. */
export const factKinds: Readonly<Record<string, FactKind>> = {
  fingerprint: fingerprintFact,
  value: valueFact,
  process: processFact,
  tcp: tcpFact,
  http: httpFact,
};
