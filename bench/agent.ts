/**
 * The on-node agent's cost: its RSS and CPU while idle over a window (default 60 s) and
 * while probed as the exporter would (one request a second), and its answer time, served
 * from the cached reading and with every fact read afresh.
 *
 *   npm run bench:agent [-- --window=60 --requests=300]
 *
 * The agent runs as users run it (`node dist/src/main.js agent`) with the facts of a
 * SecureTransport-style node: a key fingerprint from a ProGet-style XML file, a version
 * from JSON, a process by name over the whole process table, a TCP port and a local health
 * URL. All traffic stays on 127.0.0.1.
 */
import { shippedFlags } from './harness.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  cpuSeconds,
  fixed,
  fmtMB,
  freePort,
  killAllChildren,
  memory,
  sleep,
  startChild,
  table,
  waitForLine,
  type Child,
} from './lib.js';

const { values } = parseArgs({
  options: { window: { type: 'string', default: '60' }, requests: { type: 'string', default: '300' } },
});
const windowSeconds = Number(values.window);
const requests = Number(values.requests);
const main = join(import.meta.dirname, '..', 'src', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'agent-bench-'));

const health = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
});
await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
const healthPort = (health.address() as { port: number }).port;

writeFileSync(join(dir, 'secret'), `${randomBytes(32).toString('hex')}\n`);
writeFileSync(
  join(dir, 'ProGet.config'),
  `<?xml version="1.0" encoding="utf-8"?>\n<InedoAppConfig>\n  <EncryptionKey>${randomBytes(16).toString('hex')}</EncryptionKey>\n</InedoAppConfig>\n`,
);
writeFileSync(join(dir, 'version.json'), '{"product": {"version": "5.5.1"}}');

function config(minInterval: string): string {
  return `fingerprint_secret_file: secret
min_interval: ${minInterval}
facts:
  encryption_key: { fingerprint: { file: ProGet.config, xml: InedoAppConfig.EncryptionKey } }
  version: { value: { file: version.json, json: product.version } }
  transaction_manager: { process: { name: node } }
  admin: { tcp: { port: ${healthPort} } }
  web_health: { http: { url: "http://127.0.0.1:${healthPort}/health" } }
`;
}

async function startAgent(name: string, minInterval: string): Promise<{ child: Child; url: string }> {
  const file = join(dir, `${name}.yml`);
  writeFileSync(file, config(minInterval));
  const port = await freePort();
  const child = await startChild(name, process.execPath, [...shippedFlags(), main, 'agent', `--config.file=${file}`, `--web.listen-address=127.0.0.1:${port}`], {
    maxSeconds: windowSeconds * 3 + 120,
  });
  await waitForLine(child, /msg=listening/, 15_000);
  return { child, url: `http://127.0.0.1:${port}/api/v1/facts` };
}

/** Times `n` sequential requests, in ms. */
async function answerTimes(url: string, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await fetch(url);
    const doc = (await res.json()) as { facts: Record<string, { ok: boolean }> };
    times.push(performance.now() - t);
    if (res.status !== 200 || !Object.values(doc.facts).every((f) => f.ok)) throw new Error(`bad answer: ${JSON.stringify(doc)}`);
  }
  return times.sort((a, b) => a - b);
}

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** CPU share and RSS of a process over `seconds`, while `during` runs. */
async function measure(child: Child, seconds: number, during: () => Promise<void> = () => sleep(seconds * 1000)) {
  const cpu0 = cpuSeconds(child.pid);
  const t0 = performance.now();
  const rss0 = memory(child.pid).rss;
  await during();
  const elapsed = (performance.now() - t0) / 1000;
  const { rss, hwm } = memory(child.pid);
  return { cpu: (cpuSeconds(child.pid) - cpu0) / elapsed, rssBefore: rss0, rssAfter: rss, hwm, elapsed };
}

try {
  const processes = readdirSync('/proc').filter((e) => /^\d+$/.test(e)).length;
  const cached = await startAgent('agent-default', '5s');
  // Warm up: the first reading, then let start-up garbage settle.
  await answerTimes(cached.url, 5);
  await sleep(5000);
  const idle = await measure(cached.child, windowSeconds);
  const probed = await measure(cached.child, windowSeconds, async () => {
    const end = performance.now() + windowSeconds * 1000;
    while (performance.now() < end) {
      await fetch(cached.url).then((r) => r.arrayBuffer());
      await sleep(1000);
    }
  });
  const cachedTimes = await answerTimes(cached.url, requests);
  const fresh = await startAgent('agent-fresh', '1ms');
  await answerTimes(fresh.url, 5);
  const freshTimes = await answerTimes(fresh.url, requests);
  await Promise.all([cached.child.stop(), fresh.child.stop()]);

  const rows: string[][] = [
    ['idle, no requests', `${fixed(idle.elapsed, 1)} s`, `${fixed(idle.cpu * 100, 2)}% of a core`, `${fmtMB(idle.rssBefore)} / ${fmtMB(idle.rssAfter)}`, fmtMB(idle.hwm)],
    ['one request a second (a reading every 5 s)', `${fixed(probed.elapsed, 1)} s`, `${fixed(probed.cpu * 100, 2)}% of a core`, `${fmtMB(probed.rssBefore)} / ${fmtMB(probed.rssAfter)}`, fmtMB(probed.hwm)],
  ];
  const ms = (n: number): string => `${n.toFixed(2)} ms`;
  const timeRow = (name: string, t: number[]): string[] => [name, String(t.length), ms(quantile(t, 0.5)), ms(quantile(t, 0.99)), ms(t.at(-1)!)];
  process.stdout.write(`## The on-node agent

Run: ${new Date().toISOString()}, nproc ${cpus().length}, node ${process.version}, ${processes} processes in /proc.
Facts: a fingerprint from XML, a version from JSON, a process by name (a scan of every
process), a TCP port and a local health URL. CPU is utime+stime of the agent's process over
the window, RSS from /proc/PID/status (VmRSS at the start and end of the window; peak VmHWM since start).

${table(['phase', 'window', 'CPU', 'RSS start / end', 'peak RSS'], rows)}

Answer time of GET /api/v1/facts, sequential requests from one client on loopback:

${table(['answer', 'requests', 'p50', 'p99', 'max'], [timeRow('from the cached reading (min_interval 5s)', cachedTimes), timeRow('every fact read afresh (min_interval 1ms)', freshTimes)])}
`);
} finally {
  killAllChildren();
  health.close();
  rmSync(dir, { recursive: true, force: true });
}
