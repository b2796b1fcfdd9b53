import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startExporter, type RunningExporter } from '../../src/exporter.js';
import { createLogger } from '../../src/log.js';
import { SimCluster } from '../../src/sim/cluster.js';
import {
  fastRuleFiles,
  freePort,
  query,
  startAlertmanager,
  startPrometheus,
  startSmtpSink,
  type Mail,
  type Service,
  type SmtpSink,
} from '../helpers/services.js';
import { randomBase, startStack, waitFor, type Stack } from '../helpers/stack.js';

// The bundle's rules and Alertmanager routing, inhibition and templates, with every `for:`
// shortened to 3 s, every `keep_firing_for` to 10 s and Alertmanager's waits to seconds;
// alerts/tests/ holds the real timing. 10 s of hold is ten scrapes here, well over the gap
// of an exporter restart below, and keeps the resolved e-mails within seconds.
const FOR_SECONDS = 3;
const KEEP_FIRING_SECONDS = 10;
const MAIL_TIMEOUT = 45_000;
// Each test waits out a hold after every recovery on top of its quiet times.
const TEST_TIMEOUT = 120_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

async function ruleFiles(): Promise<string[]> {
  const files = await fastRuleFiles(FOR_SECONDS);
  let held = 0;
  for (const file of files) {
    const text = (await readFile(file, 'utf8')).replace(/^(\s+keep_firing_for: )\S+$/gm, (_, key: string) => {
      held++;
      return `${key}${KEEP_FIRING_SECONDS}s`;
    });
    await writeFile(file, text);
  }
  expect(held).toBeGreaterThan(0);
  return files;
}

const offline = (server: string) => (m: Mail) => /^\[FIRING/.test(m.subject) && m.subject.includes(`server ${server} Offline`);
const online = (server: string) => (m: Mail) => /^\[RESOLVED/.test(m.subject) && m.subject.includes(`server ${server} Online`);

async function mailsMatching(smtp: SmtpSink, pred: (m: Mail) => boolean, what: string): Promise<Mail[]> {
  return waitFor(what, () => {
    const found = smtp.mails.filter(pred);
    return found.length > 0 ? found : undefined;
  }, MAIL_TIMEOUT);
}

async function waitUp(prom: Service, targets: number): Promise<void> {
  await waitFor('Prometheus scraping every exporter', async () => {
    const r = await query(prom, 'up{job="appcluster"} == 1');
    return r.length === targets ? true : undefined;
  }, 30_000);
  await waitFor('servers online in Prometheus', async () => {
    const r = await query(prom, 'appcluster:servers_online:sum');
    return r.length > 0 && Number(r[0]!.value[1]) === 3 ? true : undefined;
  }, 30_000);
}

/** Waits the quiet time in which a duplicate e-mail would have arrived. */
const settle = () => new Promise((r) => setTimeout(r, 8000));

describe('e-mail notification of cluster status, end to end', () => {
  it('one exporter, one Alertmanager: offline, back online, key drift', async () => {
    const smtp = await startSmtpSink();
    cleanups.push(() => smtp.stop());
    const stack: Stack = await startStack({}, { heartbeatInterval: '1s', probeTimeout: '400ms', staleTimeout: '3s' });
    cleanups.push(() => stack.close());
    const am = await startAlertmanager({ smtpPort: smtp.port });
    cleanups.push(() => am.stop());
    const prom = await startPrometheus({
      targets: [new URL(stack.exporter.url).host],
      alertmanagers: [`127.0.0.1:${am.port}`],
      ruleFiles: await ruleFiles(),
    });
    cleanups.push(() => prom.stop());
    await waitUp(prom, 1);

    const down = Date.now();
    await stack.sim.setFault('node-2', 'down');
    const [firing] = await mailsMatching(smtp, offline('node-2'), 'the offline e-mail');
    console.log(`fault to "offline" e-mail: ${((firing!.at - down) / 1000).toFixed(1)} s`);
    expect(firing!.subject).toMatch(/sim/);
    expect(firing!.text).toMatch(/node-2/);
    expect(firing!.text).toMatch(/Offline/);
    expect(firing!.text).toMatch(/connection_refused/);
    expect(firing!.html).toMatch(/node-2/);
    await settle();
    expect(smtp.mails.filter(offline('node-2'))).toHaveLength(1);
    expect(smtp.mails.filter((m) => /node-1|node-3/.test(m.subject))).toHaveLength(0);

    // The exporter restarts mid-outage: Prometheus misses scrapes and the series vanish
    // until the new process has probed node-2. The alert rides through on keep_firing_for:
    // no resolved e-mail, no second firing one.
    const address = new URL(stack.exporter.url).host;
    await stack.exporter.close();
    await waitFor('two failed scrapes', async () => {
      const r = await query(prom, 'count_over_time(up{job="appcluster"}[10s]) - sum_over_time(up{job="appcluster"}[10s])');
      return r.length === 1 && Number(r[0]!.value[1]) >= 2 ? true : undefined;
    }, 20_000);
    const restarted = await startExporter({ configFile: stack.configFile, listenAddress: address, logger: createLogger('error', 'logfmt', { write: () => true }) });
    cleanups.push(() => restarted.close());
    await waitFor('node-2 Offline again in Prometheus', async () => {
      const r = await query(prom, 'appcluster:active_server_online:max{server="node-2"} == 0');
      return r.length === 1 ? true : undefined;
    }, 20_000);
    await settle();
    expect(smtp.mails.filter(online('node-2'))).toHaveLength(0);
    expect(smtp.mails.filter(offline('node-2'))).toHaveLength(1);

    const up = Date.now();
    await stack.sim.clearFault('node-2');
    const [resolved] = await mailsMatching(smtp, online('node-2'), 'the resolved e-mail');
    console.log(`recovery to "online" e-mail: ${((resolved!.at - up) / 1000).toFixed(1)} s`);
    expect(resolved!.text).toMatch(/Online/);
    // Held for keep_firing_for after the recovery (less a second of scrape-time slack).
    expect(resolved!.at - up).toBeGreaterThanOrEqual((KEEP_FIRING_SECONDS - 1) * 1000);

    const drift = Date.now();
    await stack.sim.setFault('node-3', 'key_drift', { component: 'service' });
    const [key] = await mailsMatching(smtp, (m) => /^\[FIRING/.test(m.subject) && /key/i.test(m.subject), 'the key e-mail');
    console.log(`key drift to e-mail: ${((key!.at - drift) / 1000).toFixed(1)} s`);
    expect(key!.text).toMatch(/node-3/);
    expect(smtp.mails.filter(offline('node-3'))).toHaveLength(0);
  }, TEST_TIMEOUT);

  it('two exporter replicas and two clustered Alertmanagers: still one e-mail per change', async () => {
    const smtp = await startSmtpSink();
    cleanups.push(() => smtp.stop());
    const sim = new SimCluster({ servers: 3, components: [{ name: 'web', port: 8080 }, { name: 'service', port: 8081 }], baseAddress: randomBase() });
    await sim.start();
    cleanups.push(() => sim.stop());
    const { simExporterConfig } = await import('../../src/sim/exporter-config.js');
    const { tempDir } = await import('../helpers/stack.js');
    const { writeFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const configFile = join(await tempDir(), 'config.yml');
    await writeFile(configFile, simExporterConfig(sim, { heartbeatInterval: '1s', probeTimeout: '400ms', staleTimeout: '3s' }));
    const replicas: RunningExporter[] = [];
    for (let i = 0; i < 2; i++) {
      const e = await startExporter({ configFile, listenAddress: '127.0.0.1:0', logger: createLogger('error', 'logfmt', { write: () => true }) });
      replicas.push(e);
      cleanups.push(() => e.close());
    }
    const [g1, g2] = [await freePort(), await freePort()];
    const am1 = await startAlertmanager({ smtpPort: smtp.port, clusterPort: g1, peers: [g2] });
    cleanups.push(() => am1.stop());
    const am2 = await startAlertmanager({ smtpPort: smtp.port, clusterPort: g2, peers: [g1] });
    cleanups.push(() => am2.stop());
    await waitFor('Alertmanager cluster of two', async () => {
      const s = (await (await fetch(`${am1.url}/api/v2/status`)).json()) as { cluster: { peers: unknown[]; status: string } };
      return s.cluster.peers.length === 2 && s.cluster.status === 'ready' ? true : undefined;
    }, 30_000);
    const prom = await startPrometheus({
      targets: replicas.map((r) => new URL(r.url).host),
      alertmanagers: [`127.0.0.1:${am1.port}`, `127.0.0.1:${am2.port}`],
      ruleFiles: await ruleFiles(),
    });
    cleanups.push(() => prom.stop());
    await waitUp(prom, 2);

    const down = Date.now();
    await sim.setFault('node-1', 'down');
    const [firing] = await mailsMatching(smtp, offline('node-1'), 'the offline e-mail');
    console.log(`HA: fault to "offline" e-mail: ${((firing!.at - down) / 1000).toFixed(1)} s`);
    await settle();
    expect(smtp.mails.filter(offline('node-1'))).toHaveLength(1);

    await sim.clearFault('node-1');
    await mailsMatching(smtp, online('node-1'), 'the resolved e-mail');
    await settle();
    expect(smtp.mails.filter(online('node-1'))).toHaveLength(1);

    // A replica that fails is not a server that fails: no "offline" e-mail for anyone.
    const before = smtp.mails.length;
    await replicas[1]!.close();
    await waitFor('replica seen down', async () => ((await query(prom, 'up{job="appcluster"} == 0')).length === 1 ? true : undefined), 20_000);
    await settle();
    const after = smtp.mails.slice(before);
    // The cluster-level alert's resolved e-mail may still arrive now, at its group_interval.
    const offlineMails = after.filter((m) => /Offline/.test(m.subject) && !m.subject.startsWith('[RESOLVED]'));
    expect(offlineMails.map((m) => m.subject)).toEqual([]);
  }, TEST_TIMEOUT);
});
