import { fingerprintFact } from './fingerprint.js';
import { httpFact } from './http.js';
import { processFact } from './process.js';
import { tcpFact } from './tcp.js';
import { valueFact } from './value.js';

/** Every fact kind by the name used under a fact in the agent configuration. */
export const factKinds = {
  fingerprint: fingerprintFact,
  value: valueFact,
  process: processFact,
  tcp: tcpFact,
  http: httpFact,
} as const;

export type FactKindName = keyof typeof factKinds;
