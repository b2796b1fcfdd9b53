import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { evaluate } from '../../src/evaluate/evaluate.js';
import { OwnMetrics } from '../../src/metrics/own.js';
import { exposition } from '../../src/metrics/render.js';
import { renderSnapshotWithPromClient } from '../helpers/prom-client-render.js';
import { recordsFor } from '../helpers/records.js';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const config = parseConfig(
  `clusters:
  - name: mft-prod
    components:
      - { name: web, stale_timeout: 24h, probe: { tcp: { port: 443 } } }
      - { name: service, probe: { tcp: { port: 8443 } } }
    servers:
      - { name: mft-a, address: 10.0.0.1 }
      - { name: mft-b, address: 10.0.0.2 }
      - { name: mft-dr, address: 10.1.0.1, site: dr, role: standby, components: { service: { required: false } } }
  - name: ci
    components: [{ name: web, probe: { tcp: { port: 80 } } }]
    servers: [{ name: ci-1, address: ci-1.internal }]
`,
  'x.yml',
);

describe('the exposition text writer', () => {
  it('equals the prom-client rendering', async () => {
    const { records, set } = recordsFor(config);
    const ok = { success: true, finishedMs: NOW - 3000, durationMs: 4.25, version: '8.6.2 "q" \\ x\ny', keyHash: 'aaaa', heartbeatMs: NOW - 5000, os: 'Linux "6.1"\\' };
    set('mft-prod', 'mft-a', 'web', ok);
    set('mft-prod', 'mft-a', 'service', ok);
    set('mft-prod', 'mft-b', 'web', ok);
    set('mft-prod', 'mft-b', 'service', { success: false, reason: 'timeout', finishedMs: NOW - 20_000, durationMs: 5000 });
    set('mft-prod', 'mft-b', 'service', { success: false, reason: 'connection_refused', finishedMs: NOW - 2000, durationMs: 1 });
    set('mft-prod', 'mft-dr', 'web', { ...ok, version: '8.5.0', keyHash: 'bbbb', os: 'Windows Server 2022' });
    set('mft-prod', 'mft-dr', 'service', { success: false, reason: 'connection_refused', finishedMs: NOW - 1000, durationMs: 1 });
    const own = new OwnMetrics(false);
    own.reloaded(true, NOW);
    for (const now of [NOW, NOW + 90_000, NOW + 1e9]) {
      const snap = evaluate(config, records, now);
      const a = await Registry.merge([renderSnapshotWithPromClient(snap), own.registry]).metrics();
      const b = (await exposition(snap, own.registry)).toString();
      expect(b).toBe(a);
    }
  });
});
