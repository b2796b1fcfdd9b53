#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `npm run bench -- --profile=cpu`): self time by
// function and by package or source file, and total (inclusive) time of the exporter's own
// functions.
//
//   node dist/bench/profile-summary.js /tmp/appcluster-bench-profiles/CPU.*.cpuprofile [--top=25]
//     [--from=SECONDS --to=SECONDS]   only samples in that span after the profile started
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

const { values, positionals } = parseArgs({
  options: { top: { type: 'string', default: '25' }, from: { type: 'string', default: '0' }, to: { type: 'string', default: 'Infinity' } },
  allowPositionals: true,
});
const top = Number(values.top);
const fromUs = Number(values.from) * 1e6;
const toUs = Number(values.to) * 1e6;
if (positionals.length === 0) {
  process.stderr.write('usage: node dist/bench/profile-summary.js FILE.cpuprofile... [--top=N]\n');
  process.exit(2);
}

/** Where a frame lives: a package name, a file of ours, or a V8/Node category. */
function place(url: string): string {
  if (!url) return '(native / V8)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return `npm:${nm[1]}`;
  if (url.startsWith('node:')) return url;
  const ours = /\/dist\/(src|bench)\/(.*)$/.exec(url);
  if (ours) return `${ours[1]}/${ours[2]!.replace(/\.js$/, '.ts')}`;
  return url;
}

const fmt = (us: number, total: number): string => `${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%`;

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let at = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    at += dt;
    if (at < fromUs || at > toUs) continue;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);

  const bump = (m: Map<string, number>, k: string, t: number): void => {
    m.set(k, (m.get(k) ?? 0) + t);
  };
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    const f = n.callFrame;
    bump(byFunction, `${f.functionName || '(anonymous)'}  ${place(f.url)}:${f.lineNumber + 1}`, t);
    bump(byPlace, place(f.url), t);
    // Inclusive time of our own functions (src/), counted once per sample.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      const where = place(cf.url);
      if (!where.startsWith('src/')) continue;
      const key = `${cf.functionName || '(anonymous)'}  ${where}:${cf.lineNumber + 1}`;
      if (!seen.has(key)) {
        seen.add(key);
        bump(inclusive, key, t);
      }
    }
  }
  const show = (title: string, m: Map<string, number>): void => {
    process.stdout.write(`\n${title}\n`);
    for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${fmt(t, total)}  ${k}\n`);
  };
  process.stdout.write(
    `${file}\n  wall ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s, sampled ${(total / 1e6).toFixed(1)} s, ` +
      `busy ${((total - idle) / 1e6).toFixed(1)} s (main thread only)\n`,
  );
  show('Self time by function', byFunction);
  show('Self time by package / file', byPlace);
  show('Inclusive time of the exporter\'s own functions', inclusive);
}
