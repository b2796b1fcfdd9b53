/**
 * The prober on its own thread (src/monitor/prober.ts): probes keep their schedule while the
 * main thread is held up, and a server that answers again, or stops answering, is judged
 * so without waiting out the interval of its other endpoints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { OwnMetrics } from '../../src/metrics/own.js';
import { Monitor } from '../../src/monitor/monitor.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { randomBase, waitFor } from '../helpers/stack.js';

const SIM_CLI = join(import.meta.dirname, '../../dist/src/sim/cli.js');
const quiet = () => createLogger('error', 'logfmt', { write: () => true });

/** One cluster `c` probed every second (500 ms timeout), its components and servers as YAML flow lines. */
const clusterConfig = (file: string, components: string[], servers: string[]) =>
  parseConfig(
    `clusters:
  - name: c
    heartbeat_interval: 1s
    probe_timeout: 500ms
    components:
${components.map((c) => `      - ${c}`).join('\n')}
    servers:
${servers.map((s) => `      - ${s}`).join('\n')}
`,
    file,
  );

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * One simulated server with `web` on port 8080, probed every second, and `second` on 8081,
 * probed once a minute at phase 0.5 (so next due 30 s after its first probe), watched by a
 * Monitor after its first round; `server()` is the server's status.
 */
async function twoSchedules(file: string, second: string) {
  const sim = new SimCluster({ servers: 1, components: [{ name: 'web', port: 8080 }, { name: second, port: 8081 }], baseAddress: randomBase() });
  await sim.start();
  cleanups.push(() => sim.stop());
  const config = clusterConfig(
    file,
    ['{ name: web, probe: { http: { url: "http://{address}:8080/health" } }, status: status }', `{ name: ${second}, heartbeat_interval: 60s, probe: { http: { url: "http://{address}:8081/health" } }, status: status }`],
    [`{ name: s1, address: ${sim.servers[0]!.address} }`],
  );
  return { sim, config, server: (monitor: Monitor) => monitor.snapshot().clusters[0]!.servers[0]! };
}

/** Starts a Monitor on `config` at phase 0.5 and waits for its first round. */
async function watched(config: ReturnType<typeof clusterConfig>): Promise<Monitor> {
  const monitor = new Monitor(config, { concurrency: 4, logger: quiet(), metrics: new OwnMetrics(false), phase: 0.5 });
  monitor.start();
  cleanups.push(() => monitor.stop());
  await monitor.firstRound;
  return monitor;
}

describe('the prober', () => {
  it("asks an Offline server's other endpoints at once when one of them answers again, not an interval later", async () => {
    // `web` is probed every second, `service` once a minute: the endpoint that answers
    // again first is the one probed often, as when a powered-off host comes back.
    const { sim, config, server } = await twoSchedules('recovery.yml', 'service');
    await sim.setFault('all', 'down');
    const monitor = await watched(config);
    expect(server(monitor).state).toBe('offline');
    await sim.clearFault('all');
    // Well inside the 30 s before `service` would be asked again on its own schedule.
    await waitFor('the server back Online', () => (server(monitor).state === 'online' ? true : undefined), 10_000);
    expect(server(monitor).components.map((c) => [c.name, c.up])).toEqual([
      ['web', true],
      ['service', true],
    ]);
  });

  it("asks a server's other endpoints at once when one of them starts failing: a dead server's last answers do not stand for an interval", async () => {
    // `status` once a minute, as the endpoint that says a member leads might be.
    const { sim, config, server } = await twoSchedules('falling.yml', 'status');
    const monitor = await watched(config);
    expect(server(monitor).components.map((c) => [c.name, c.up])).toEqual([
      ['web', true],
      ['status', true],
    ]);
    await sim.setFault('all', 'down');
    // Well inside the 30 s before `status` would be asked again on its own schedule.
    await waitFor('both components down', () => (server(monitor).components.every((c) => c.up === false) ? true : undefined), 10_000);
    expect(server(monitor).state).toBe('offline');
  });

  it("asks a server's other endpoint early at most once per its own interval each way, however its sibling flaps", async () => {
    const { sim, config, server } = await twoSchedules('flapping.yml', 'status');
    const monitor = await watched(config);
    const statusProbes = () => server(monitor).components[1]!.recent.toJSON().length;
    expect(statusProbes()).toBe(1);
    // `web` answers every other request with 503: up, down, up, ... once a second.
    await sim.setFault('all', 'flapping', { component: 'web' });
    await waitFor('web seen failing and answering again, three times over', () => {
      const results = server(monitor).components[0]!.recent.toJSON().map((x) => x.result).join(' ');
      return (results.match(/up down/g) ?? []).length >= 3 ? true : undefined;
    }, 20_000);
    // Its first probe, at most one early ask for web's failure and none for its recovery
    // (status never failed): not one per flap.
    expect(statusProbes()).toBeLessThanOrEqual(2);
  });

  it('keeps probing on schedule while the main thread is held up', async () => {
    // The simulated servers run in a process of their own: this test holds up its own thread.
    const base = randomBase();
    const child: ChildProcess = spawn(process.execPath, [SIM_CLI, 'serve', '--servers=3', '--components=web:8080', `--base-address=${base}`, '--control=127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    cleanups.push(async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    });
    await waitFor(`the simulator's control API in:\n${output}`, () => /control API (http:\S+)/.exec(output)?.[1]);
    const addresses = [1, 2, 3].map((n) => base.replace(/\d+$/, (last) => String(Number(last) + n - 1)));
    // Every second, with a deadline far shorter than the hold-up below.
    const config = clusterConfig(
      'held-up.yml',
      ['{ name: web, probe: { http: { url: "http://{address}:8080/health" } }, status: status }'],
      addresses.map((a, i) => `{ name: s${i + 1}, address: ${a} }`),
    );
    const metrics = new OwnMetrics(false);
    const monitor = new Monitor(config, { concurrency: 8, logger: quiet(), metrics });
    monitor.start();
    cleanups.push(() => monitor.stop());
    await monitor.firstRound;
    const lagBefore = await lateProbes(metrics);
    // Three seconds of this thread's time, as a long validation or render would take.
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      /* held up */
    }
    const afterHold = await waitFor('the rounds of the hold-up folded in', async () => {
      const m = await lateProbes(metrics);
      return m.count >= lagBefore.count + 6 ? m : undefined;
    });
    // Each endpoint fell due about three times during the hold-up; none started late.
    expect(afterHold.late - lagBefore.late, 'probes started more than 0.5 s after they were due').toBe(0);
    const servers = monitor.snapshot().clusters[0]!.servers;
    expect(servers.map((s) => s.state)).toEqual(servers.map(() => 'online'));
    expect((await metrics.registry.getSingleMetricAsString('appcluster_exporter_probes_abandoned_total')).match(/ 0$/gm)).toHaveLength(2);
  });
});

/** Probes started so far, and of them those that started more than 0.5 s after they were due. */
async function lateProbes(metrics: OwnMetrics): Promise<{ count: number; late: number }> {
  const lag = (await metrics.scheduleLag.get()).values;
  const count = lag.find((v) => v.metricName?.endsWith('_count'))!.value;
  const inTime = lag.find((v) => v.metricName?.endsWith('_bucket') && v.labels['le'] === 0.5)!.value;
  return { count, late: count - inTime };
}
