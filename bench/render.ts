#!/usr/bin/env node
// Micro-benchmark of a /metrics scrape without the network: the round's judgement plus the
// text writer on a cluster of N components (2 per server) whose every component has a full
// record, whole and part by part as /metrics sends it; and, for comparison, the snapshot
// the status page and the API read.
//
//   npm run build && node dist/bench/render.js [--components=30000] [--runs=7]
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config/load.js';
import { Judgement } from '../src/evaluate/evaluate.js';
import { OwnMetrics } from '../src/metrics/own.js';
import { exposition, wholeExposition } from '../src/metrics/render.js';
import { observe, recordKey, type ComponentRecord } from '../src/evaluate/record.js';
import { median } from './lib.js';

const { values } = parseArgs({
  options: { components: { type: 'string', default: '30000' }, runs: { type: 'string', default: '7' } },
});
const servers = Math.ceil(Number(values.components) / 2);
const lines = ['clusters:', '  - name: bench', '    components:'];
for (const [name, port] of [['web', 80], ['service', 81]] as const) lines.push(`      - { name: ${name}, probe: { tcp: { port: ${port} } } }`);
lines.push('    servers:');
for (let i = 1; i <= servers; i++) lines.push(`      - { name: node-${i}, address: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255} }`);
const config = parseConfig(lines.join('\n'), 'bench.yml');
const records = new Map<string, ComponentRecord>();
const now = Date.now();
for (const c of config.clusters) {
  for (const s of c.servers) {
    for (const comp of s.components) {
      const r: ComponentRecord = { failures: {} };
      observe(r, { success: true, finishedMs: now - 3000, durationMs: 2.5, version: '8.6.2', keyHash: 'a1b2c3d4e5f6', heartbeatMs: now - 4000, os: 'Linux 6.1', values: { sessions: 4 } });
      if (s.name.endsWith('7')) observe(r, { success: false, reason: 'timeout', finishedMs: now - 1000, durationMs: 5000 });
      records.set(recordKey(c.name, s.name, comp.name), r);
    }
  }
}
const own = new OwnMetrics(true);
const times: { judge: number; text: number; bytes: number }[] = [];
for (let i = 0; i < Number(values.runs); i++) {
  const a = performance.now();
  const judgement = new Judgement(config, records, Date.now());
  judgement.clusters();
  const b = performance.now();
  const text = await wholeExposition(judgement, own.registry);
  times.push({ judge: b - a, text: performance.now() - b, bytes: text.length });
}
const mem = process.memoryUsage();
// The same text part by part, each taken at once (as by a socket whose client keeps up).
const streamedMs: number[] = [];
for (let i = 0; i < Number(values.runs); i++) {
  const a = performance.now();
  let bytes = 0;
  for await (const part of exposition(new Judgement(config, records, Date.now()), own.registry)) bytes += part.length;
  streamedMs.push(performance.now() - a);
  // Not the same bytes: heartbeat ages differ from one instant to the next.
  if (Math.abs(bytes - times[0]!.bytes) > times[0]!.bytes / 100) throw new Error(`streamed ${bytes} bytes, whole ${times[0]!.bytes}`);
}
// Apart, so that its garbage does not weigh on the scrapes' figures.
const snapshotMs: number[] = [];
for (let i = 0; i < Number(values.runs); i++) {
  const a = performance.now();
  new Judgement(config, records, Date.now()).snapshot();
  snapshotMs.push(performance.now() - a);
}
process.stdout.write(
  `${servers * 2} components: judge ${median(times.map((t) => t.judge)).toFixed(0)} ms, text ${median(times.map((t) => t.text)).toFixed(0)} ms ` +
    `(median of ${times.length}), ` +
    `${(times[0]!.bytes / 1e6).toFixed(1)} MB; heap used ${(mem.heapUsed / 1e6).toFixed(0)} MB, rss ${(mem.rss / 1e6).toFixed(0)} MB; ` +
    `streamed (judge and text) ${median(streamedMs).toFixed(0)} ms; the snapshot the page and the API read: ${median(snapshotMs).toFixed(0)} ms\n`,
);
