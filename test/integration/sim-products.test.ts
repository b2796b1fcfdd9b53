/**
 * The product-shaped simulator answers each product's documents (docs/presets/): paths,
 * methods, status codes and field names, and every fault as that product would show it.
 * Real sockets on loopback addresses of this file's own.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimCluster } from '../../src/sim/cluster.js';
import { etcdMemberId } from '../../src/sim/shapes/etcd.js';
import { PROFILES, type ProfileName } from '../../src/sim/profiles.js';
import { randomBase, waitFor } from '../helpers/stack.js';

interface Got {
  readonly status: number;
  readonly type: string;
  readonly headers: Headers;
  readonly text: string;
  json(): any;
}

async function get(url: string, init: RequestInit = {}): Promise<Got> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000), ...init });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', headers: res.headers, text, json: () => JSON.parse(text) };
}

/** Resolves true when a TCP connect succeeds, false when it is refused. */
function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function startProfile(name: ProfileName, password?: string): Promise<SimCluster> {
  const sim = new SimCluster(PROFILES[name].simOptions({ baseAddress: randomBase(), password }));
  await sim.start();
  return sim;
}

function addressOf(sim: SimCluster, server: string): string {
  return sim.servers.find((s) => s.name === server)!.address;
}

describe('ProGet shape', () => {
  let sim: SimCluster;
  let url: (server: string, path?: string) => string;
  beforeAll(async () => {
    sim = await startProfile('proget');
    url = (server, path = '/health/json') => `http://${addressOf(sim, server)}:8624${path}`;
  });
  afterAll(() => sim.stop());

  it('answers /health/json with 200 and the health document; /health as text; the messenger port accepts', async () => {
    const r = await get(url('proget-1'));
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^application\/json/);
    expect(r.json()).toEqual({
      applicationName: 'ProGet',
      databaseStatus: 'OK',
      databaseStatusDetails: null,
      serviceStatus: 'OK',
      serviceStatusDetail: null,
      licenseStatus: 'OK',
      licenseStatusDetail: null,
      versionNumber: '2026.2 (Build 1)',
      releaseNumber: '26.0.2',
      extensionsInstalled: {},
      replicationStatus: null,
    });
    expect((await get(url('proget-1', '/health?format=json'))).json()).toEqual(r.json());
    const text = await get(url('proget-1', '/health'));
    expect(text.status).toBe(200);
    expect(text.type).toMatch(/^text\/plain/);
    expect(text.text).toContain('healthy');
    expect((await get(url('proget-1', '/nothing'))).status).toBe(404);
    expect((await get(url('proget-1'), { method: 'POST' })).status).toBe(405);
    expect(await tcpOpen(addressOf(sim, 'proget-1'), 33237)).toBe(true);
  });

  it.each([
    ['database_error', 'databaseStatus', 'databaseStatusDetails'],
    ['license_error', 'licenseStatus', 'licenseStatusDetail'],
    ['service_error', 'serviceStatus', 'serviceStatusDetail'],
  ] as const)('%s: HTTP 500, %s Error with the detail, the others OK', async (fault, field, detail) => {
    await sim.setFault('proget-2', fault, { value: 'the problem' });
    try {
      const r = await get(url('proget-2'));
      expect(r.status).toBe(500);
      expect(r.json()).toMatchObject({ [field]: 'Error', [detail]: 'the problem' });
      const others = ['databaseStatus', 'serviceStatus', 'licenseStatus'].filter((f) => f !== field);
      for (const f of others) expect(r.json()[f]).toBe('OK');
      const text = await get(url('proget-2', '/health'));
      expect(text.status).toBe(500);
      expect(text.text).toContain('the problem');
      expect((await get(url('proget-1'))).status).toBe(200);
    } finally {
      await sim.clearFault('proget-2');
    }
    await sim.setFault('proget-2', fault);
    try {
      expect((await get(url('proget-2'))).json()[detail]).toEqual(expect.any(String));
    } finally {
      await sim.clearFault('proget-2');
    }
    expect((await get(url('proget-2'))).status).toBe(200);
  });

  it('unhealthy is a service Error; version_drift moves releaseNumber and versionNumber', async () => {
    await sim.setFault('proget-3', 'unhealthy');
    await sim.setFault('proget-3', 'version_drift', { value: '25.0.14' });
    try {
      const r = await get(url('proget-3'));
      expect(r.status).toBe(500);
      expect(r.json()).toMatchObject({ serviceStatus: 'Error', releaseNumber: '25.0.14', versionNumber: '2025.14 (Build 1)' });
    } finally {
      await sim.clearFault('proget-3');
    }
  });

  it('the transport faults: down, hang, slow, http500, malformed, oversized, flapping', async () => {
    const s = 'proget-3';
    const take = async (fault: Parameters<SimCluster['setFault']>[1], check: () => Promise<void>, value?: string) => {
      await sim.setFault(s, fault, { value });
      try {
        await check();
      } finally {
        await sim.clearFault(s);
      }
    };
    await take('down', async () => {
      await expect(get(url(s))).rejects.toThrow();
      expect(await tcpOpen(addressOf(sim, s), 33237)).toBe(false);
      expect(await tcpOpen(addressOf(sim, s), 8624)).toBe(false);
    });
    await take('hang', async () => {
      await expect(get(url(s), { signal: AbortSignal.timeout(300) })).rejects.toThrow(/abort|timeout/i);
      // A bare TCP port has no answer to withhold: hang is the web server's alone.
      expect(await tcpOpen(addressOf(sim, s), 33237)).toBe(true);
    });
    await take(
      'slow',
      async () => {
        const t0 = performance.now();
        expect((await get(url(s))).status).toBe(200);
        expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
      },
      '200',
    );
    await take('http500', async () => expect((await get(url(s))).status).toBe(500));
    await take('malformed', async () => {
      const r = await get(url(s));
      expect(r.text).toContain('"applicationName":"ProGet"');
      expect(() => r.json()).toThrow();
    });
    await take('oversized', async () => {
      const res = await fetch(url(s));
      const reader = res.body!.getReader();
      let bytes = 0;
      while (bytes < 2 * 1024 * 1024) bytes += (await reader.read()).value!.length;
      await reader.cancel();
    });
    await take('flapping', async () => {
      const codes = new Set([(await get(url(s))).status, (await get(url(s))).status]);
      expect(codes).toEqual(new Set([200, 503]));
    });
  });

  it('refuses faults that ProGet cannot show: no key and no heartbeat in its document', async () => {
    await expect(sim.setFault('proget-1', 'key_drift')).rejects.toThrow(/no meaning on proget-1: proget takes .*database_error.*; tcp takes down$/);
    await expect(sim.setFault('proget-1', 'frozen_heartbeat')).rejects.toThrow(/no meaning/);
    await expect(sim.setFault('proget-1', 'http500', { component: 'messenger' })).rejects.toThrow(/no meaning on proget-1\/messenger: tcp takes down/);
    await expect(sim.setFault('proget-1', 'switchover')).rejects.toThrow(/no meaning/);
    expect(sim.describe()[0]!.components.every((c) => c.faults.length === 0)).toBe(true);
  });

  it('answers as ProGet did before 2026 (JSON at /health, no /health/json), and as BuildMaster', async () => {
    const old = new SimCluster({
      servers: 1,
      components: [{ name: 'web', port: 8624, shape: 'proget' }],
      baseAddress: randomBase(),
      version: '24.0.9',
      products: { proget: { legacyHealth: true, applicationName: 'BuildMaster' } },
    });
    await old.start();
    try {
      const at = `http://${old.servers[0]!.address}:8624`;
      const r = await get(`${at}/health`);
      expect(r.status).toBe(200);
      expect(r.json()).toMatchObject({ applicationName: 'BuildMaster', instanceName: 'node-1', releaseNumber: '24.0.9', versionNumber: '2024.9 (Build 1)' });
      expect((await get(`${at}/health/json`)).status).toBe(404);
    } finally {
      await old.stop();
    }
  });
});

describe('SecureTransport shape', () => {
  const password = 'test-password';
  let sim: SimCluster;
  let api: (server: string, path: string) => string;
  const auth = `Basic ${Buffer.from(`monitor:${password}`).toString('base64')}`;
  const headers = { authorization: auth, referer: 'appcluster-test' };
  beforeAll(async () => {
    sim = await startProfile('securetransport', password);
    api = (server, path) => `http://${addressOf(sim, server)}:8444/api/v2.0${path}`;
  });
  afterAll(() => sim.stop());

  it('requires basic auth (401 with a challenge) and a Referer (400)', async () => {
    const none = await get(api('st-1', '/version'));
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic /);
    const wrong = `Basic ${Buffer.from('monitor:nope').toString('base64')}`;
    expect((await get(api('st-1', '/version'), { headers: { authorization: wrong, referer: 'x' } })).status).toBe(401);
    expect((await get(api('st-1', '/version'), { headers: { authorization: auth } })).status).toBe(400);
  });

  it('answers /version and /transactionManager', async () => {
    const v = await get(api('st-1', '/version'), { headers });
    expect(v.status).toBe(200);
    expect(v.json()).toEqual({ version: '5.5', serverType: expect.any(String), os: 'Linux' });
    const tm = await get(api('st-1', '/transactionManager'), { headers });
    expect(tm.json()).toEqual({ status: 'Running' });
    expect((await get(api('st-1', '/other'), { headers })).status).toBe(404);
  });

  it('tm_stopped: the TM status no longer says Running, the API still answers', async () => {
    await sim.setFault('st-2', 'tm_stopped');
    try {
      const tm = await get(api('st-2', '/transactionManager'), { headers });
      expect(tm.status).toBe(200);
      expect(tm.json()).toEqual({ status: 'Not running' });
      expect((await get(api('st-2', '/version'), { headers })).status).toBe(200);
      expect((await get(api('st-1', '/transactionManager'), { headers })).json()).toEqual({ status: 'Running' });
    } finally {
      await sim.clearFault('st-2');
    }
  });

  it('answers /daemons with every protocol daemon Running; daemon_stopped makes the named ones "Not running"', async () => {
    const running = { ftpStatus: 'Running', httpStatus: 'Running', pesitStatus: 'Running', sshStatus: 'Running', as2Status: 'Running' };
    const all = await get(api('st-1', '/daemons'), { headers });
    expect(all.status).toBe(200);
    expect(all.json()).toEqual(running);
    expect((await get(api('st-1', '/daemons'))).status).toBe(401);
    await sim.setFault('st-2', 'daemon_stopped');
    try {
      expect((await get(api('st-2', '/daemons'), { headers })).json()).toEqual({ ...running, sshStatus: 'Not running' });
      await sim.setFault('st-2', 'daemon_stopped', { value: 'as2,pesit' });
      expect((await get(api('st-2', '/daemons'), { headers })).json()).toEqual({ ...running, as2Status: 'Not running', pesitStatus: 'Not running' });
      // The other servers and the other documents are untouched.
      expect((await get(api('st-1', '/daemons'), { headers })).json()).toEqual(running);
      expect((await get(api('st-2', '/transactionManager'), { headers })).json()).toEqual({ status: 'Running' });
    } finally {
      await sim.clearFault('st-2');
    }
    expect((await get(api('st-2', '/daemons'), { headers })).json()).toEqual(running);
  });

  it('version_drift moves the version', async () => {
    await sim.setFault('st-3', 'version_drift', { value: '5.4' });
    try {
      expect((await get(api('st-3', '/version'), { headers })).json().version).toBe('5.4');
    } finally {
      await sim.clearFault('st-3');
    }
  });
});

describe('etcd shape', () => {
  let sim: SimCluster;
  let at: (server: string, path: string) => string;
  const status = async (server: string) => (await get(at(server, '/v3/maintenance/status'), { method: 'POST', body: '{}' })).json();
  const health = (server: string) => get(at(server, '/health'));
  beforeAll(async () => {
    sim = await startProfile('etcd');
    at = (server, path) => `http://${addressOf(sim, server)}:2379${path}`;
  });
  afterAll(() => sim.stop());

  it('answers /health, /version and POST /v3/maintenance/status; the peer port answers GET /version', async () => {
    const h = await health('etcd-1');
    expect(h.status).toBe(200);
    expect(h.json()).toEqual({ health: 'true' });
    expect((await get(at('etcd-2', '/version'))).json()).toEqual({ etcdserver: '3.4.23', etcdcluster: '3.4.0' });
    const leader = etcdMemberId('etcd-1');
    expect(leader).toMatch(/^\d+$/);
    for (const name of ['etcd-1', 'etcd-2', 'etcd-3']) {
      const s = await status(name);
      expect(s).toEqual({ header: { member_id: etcdMemberId(name) }, version: '3.4.23', dbSize: expect.stringMatching(/^\d+$/), leader });
    }
    expect(new Set(['etcd-1', 'etcd-2', 'etcd-3'].map(etcdMemberId)).size).toBe(3);
    expect((await get(at('etcd-1', '/v3/maintenance/status'))).status).toBe(405);
    const peer = `http://${addressOf(sim, 'etcd-1')}:2380`;
    expect((await get(`${peer}/version`)).json()).toEqual({ etcdserver: '3.4.23', etcdcluster: '3.4.0' });
    expect((await get(`${peer}/health`)).status).toBe(404);
  });

  it('hang, as a frozen member: both ports accept and neither answers (issue 29, item 5)', async () => {
    await sim.setFault('etcd-1', 'hang');
    try {
      for (const port of [2379, 2380]) {
        expect(await tcpOpen(addressOf(sim, 'etcd-1'), port)).toBe(true);
        await expect(get(`http://${addressOf(sim, 'etcd-1')}:${port}/version`, { signal: AbortSignal.timeout(300) })).rejects.toThrow(/abort|timeout/i);
      }
    } finally {
      await sim.clearFault('etcd-1');
    }
  });

  it('quorum_loss on every member: all answer 503 {"health":"false"} with a reason, leader "0"', async () => {
    await sim.setFault('all', 'quorum_loss');
    try {
      for (const name of ['etcd-1', 'etcd-2', 'etcd-3']) {
        const h = await health(name);
        expect(h.status).toBe(503);
        expect(h.json()).toEqual({ health: 'false', reason: expect.stringMatching(/quorum/) });
        expect((await status(name)).leader).toBe('0');
      }
    } finally {
      await sim.clearFault('all');
    }
    expect((await health('etcd-1')).status).toBe(200);
  });

  it('a member cut off alone loses quorum; the others keep it and elect another leader', async () => {
    await sim.setFault('etcd-1', 'quorum_loss');
    try {
      expect((await health('etcd-1')).status).toBe(503);
      expect((await health('etcd-2')).status).toBe(200);
      expect((await status('etcd-3')).leader).toBe(etcdMemberId('etcd-2'));
    } finally {
      await sim.clearFault('etcd-1');
    }
  });

  it('one member down: the others healthy; two down: the survivor answers 503 without a leader', async () => {
    await sim.setFault('etcd-1', 'down');
    try {
      expect((await health('etcd-3')).status).toBe(200);
      expect((await status('etcd-3')).leader).toBe(etcdMemberId('etcd-2'));
      await sim.setFault('etcd-2', 'down');
      const h = await health('etcd-3');
      expect(h.status).toBe(503);
      expect(h.json().health).toBe('false');
      expect((await status('etcd-3')).leader).toBe('0');
    } finally {
      await sim.clearAll();
    }
    expect((await health('etcd-1')).status).toBe(200);
  });

  it('unhealthy: one member 503 with the given reason; version_drift; no key, no heartbeat', async () => {
    await sim.setFault('etcd-2', 'unhealthy', { value: 'alarm NOSPACE' });
    await sim.setFault('etcd-2', 'version_drift', { value: '3.5.9' });
    try {
      expect((await health('etcd-2')).json()).toEqual({ health: 'false', reason: 'alarm NOSPACE' });
      expect((await health('etcd-1')).status).toBe(200);
      expect((await get(at('etcd-2', '/version'))).json()).toEqual({ etcdserver: '3.5.9', etcdcluster: '3.5.0' });
      expect((await status('etcd-2')).version).toBe('3.5.9');
    } finally {
      await sim.clearFault('etcd-2');
    }
    await expect(sim.setFault('etcd-2', 'key_drift')).rejects.toThrow(/no meaning/);
    await expect(sim.setFault('etcd-2', 'frozen_heartbeat')).rejects.toThrow(/no meaning/);
  });
});

describe('Patroni shape', () => {
  let sim: SimCluster;
  const patroni = async (server: string) => (await get(`http://${addressOf(sim, server)}:8008/patroni`)).json();
  const roles = async () => Promise.all(['pg-1', 'pg-2', 'pg-3'].map(async (s) => (await patroni(s)).role as string));
  beforeAll(async () => {
    sim = await startProfile('patroni');
  });
  afterAll(() => sim.stop());

  it('answers /patroni: the first server primary, the others replicas; PostgreSQL port accepts', async () => {
    const p = await patroni('pg-1');
    expect(p).toMatchObject({
      state: 'running',
      role: 'primary',
      server_version: 160009,
      timeline: 1,
      patroni: { version: '4.0.4', scope: 'pg-sim' },
      xlog: { location: expect.any(Number) },
    });
    expect(Math.abs(p.dcs_last_seen - Date.now() / 1000)).toBeLessThan(5);
    expect(Number.isInteger(p.dcs_last_seen)).toBe(true);
    expect(await roles()).toEqual(['primary', 'replica', 'replica']);
    expect((await get(`http://${addressOf(sim, 'pg-2')}:8008/health`)).status).toBe(200);
    expect(await tcpOpen(addressOf(sim, 'pg-2'), 5432)).toBe(true);
  });

  it('switchover moves the primary role, on a new timeline; one server holds it at a time; clear gives it back', async () => {
    await sim.setFault('pg-2', 'switchover');
    try {
      expect(await roles()).toEqual(['replica', 'primary', 'replica']);
      expect((await patroni('pg-3')).timeline).toBe(2);
      await sim.setFault('pg-3', 'switchover');
      expect(await roles()).toEqual(['replica', 'replica', 'primary']);
      expect((await patroni('pg-1')).timeline).toBe(3);
      expect(sim.describe().map((s) => s.components[0]!.faults)).toEqual([[], [], ['switchover']]);
    } finally {
      await sim.clearAll();
    }
    expect(await roles()).toEqual(['primary', 'replica', 'replica']);
    expect((await patroni('pg-1')).timeline).toBe(4);
  });

  it('replica: the primary answers replica, so none is primary', async () => {
    await sim.setFault('pg-1', 'replica');
    try {
      expect(await roles()).toEqual(['replica', 'replica', 'replica']);
    } finally {
      await sim.clearFault('pg-1');
    }
  });

  it('the primary down: the next server takes over; back: it gives the role back', async () => {
    await sim.setFault('pg-1', 'down');
    try {
      expect((await patroni('pg-2')).role).toBe('primary');
      expect((await patroni('pg-3')).role).toBe('replica');
    } finally {
      await sim.clearFault('pg-1');
    }
    expect((await patroni('pg-1')).role).toBe('primary');
  });

  it('a Patroni before 4.0 calls its primary master; unhealthy and frozen_heartbeat', async () => {
    await sim.setFault('pg-1', 'version_drift', { value: '3.0.2' });
    await sim.setFault('pg-2', 'unhealthy');
    await sim.setFault('pg-3', 'frozen_heartbeat');
    try {
      expect(await patroni('pg-1')).toMatchObject({ role: 'master', patroni: { version: '3.0.2' } });
      expect((await patroni('pg-2')).state).toBe('starting');
      expect((await get(`http://${addressOf(sim, 'pg-2')}:8008/health`)).status).toBe(503);
      const frozen = (await patroni('pg-3')).dcs_last_seen as number;
      await waitFor('the clock past the frozen second', () => (Date.now() / 1000 >= frozen + 1.2 ? true : undefined));
      expect((await patroni('pg-3')).dcs_last_seen).toBe(frozen);
      expect((await patroni('pg-2')).dcs_last_seen).toBeGreaterThan(frozen);
    } finally {
      await sim.clearAll();
    }
  });
});
