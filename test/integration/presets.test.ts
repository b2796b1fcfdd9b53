import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus, ServerStatus } from '../../src/evaluate/snapshot.js';
import { startExporter, type RunningExporter } from '../../src/exporter.js';
import { createLogger } from '../../src/log.js';
import { makeCerts } from '../helpers/certs.js';
import { MAIN } from '../helpers/process.js';
import { startPostgres, type Postgres } from '../helpers/postgres.js';
import { tempDir, waitFor } from '../helpers/stack.js';

// Each preset against loopback servers that answer as its product does (the field names
// and status codes of the public documents in docs/presets/): healthy, then the product's
// own unhealthy answers.

const ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3'] as const;
const listening: (Server | TcpServer)[] = [];

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/** Serves `handler` on `address`, port 0; returns the port. Bodies are read whole first. */
async function serve(server: Server, address: string, handler: Handler): Promise<number> {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => handler(req, body, res));
  });
  listening.push(server);
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  return (server.address() as AddressInfo).port;
}

/** A TCP port that accepts and closes: the messenger. */
async function tcpPort(address: string): Promise<number> {
  const server = createTcpServer((socket) => socket.end());
  listening.push(server);
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  return (server.address() as AddressInfo).port;
}

const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

// ProGet: GET /health/json, 200 when every status is OK, else 500 with the same document.
const proget = ADDRESSES.slice(0, 2).map(() => ({
  applicationName: 'ProGet',
  databaseStatus: 'OK',
  databaseStatusDetails: null as string | null,
  serviceStatus: 'OK',
  serviceStatusDetail: null as string | null,
  licenseStatus: 'OK',
  licenseStatusDetail: null as string | null,
  versionNumber: '2023.27 (Build 5)',
  releaseNumber: '23.0.27',
  extensionsInstalled: { Docker: '23.0.27' },
  replicationStatus: null,
}));

// SecureTransport: the admin API over HTTPS with basic auth and a Referer.
const st = ADDRESSES.slice(0, 2).map(() => ({ tm: 'Running', ssh: 'Running', requests: [] as { auth: string | undefined; referer: string | undefined }[] }));
const ST_PASSWORD = 'st-monitor-secret';

// etcd: member ids are uint64 values as JSON strings.
const etcd = ADDRESSES.map((_, i) => ({ id: `${1000 + i}`, leader: '1000', quorum: true, statusBodies: [] as string[], statusMethods: [] as string[] }));

// Patroni: GET /patroni, and a real PostgreSQL per member whose table test_role says
// what the preset's query reads as pg_is_in_recovery() (the cluster overrides the query:
// a real standby is test/e2e/patroni.test.ts's business).
const patroni = ADDRESSES.slice(0, 2).map((_, i) => ({ state: 'running', role: i === 0 ? 'primary' : 'replica', available: true }));
const postgres: Postgres[] = [];
const inRecovery = (i: number, value: boolean): void => void postgres[i]!.psql(`UPDATE test_role SET in_recovery = ${value}`);

let exporter: RunningExporter;
let dir: string;

async function labels(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = { proget: [], st: [], etcd: [], patroni: [] };
  const certs = makeCerts(dir, ADDRESSES.map((a) => `IP:${a}`).join(','));
  for (const [i, address] of ADDRESSES.entries()) {
    if (i < 2) {
      const doc = proget[i]!;
      const http = await serve(createServer(), address, (req, _, res) => {
        if (req.url !== '/health/json') return void res.writeHead(404).end();
        const ok = [doc.databaseStatus, doc.serviceStatus, doc.licenseStatus].every((s) => s === 'OK');
        json(res, ok ? 200 : 500, doc);
      });
      out['proget']!.push(`{ http_port: "${http}", messenger_port: "${await tcpPort(address)}" }`);

      const node = st[i]!;
      const admin = await serve(createHttpsServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) }), address, (req, _, res) => {
        const auth = req.headers.authorization;
        node.requests.push({ auth, referer: req.headers.referer });
        if (auth !== `Basic ${Buffer.from(`monitor:${ST_PASSWORD}`).toString('base64')}`) return void json(res, 401, { message: 'Unauthorized' });
        if (req.url === '/api/v2.0/version') return void json(res, 200, { version: '5.5-20240131', serverType: 'SecureTransport', os: 'Linux' });
        if (req.url === '/api/v2.0/transactionManager') return void json(res, 200, { status: node.tm });
        // GET /daemons: one flat object, "Not running" for a stopped daemon (ST_API_Examples, Admin/API 2.0/bash/03.Connect).
        if (req.url === '/api/v2.0/daemons') return void json(res, 200, { ftpStatus: 'Running', httpStatus: 'Running', pesitStatus: 'Running', sshStatus: node.ssh, as2Status: 'Not running' });
        res.writeHead(404).end();
      });
      out['st']!.push(`{ admin_port: "${admin}" }`);

      const member = patroni[i]!;
      const rest = await serve(createServer(), address, (req, _, res) => {
        if (req.url !== '/patroni' || !member.available) return void res.writeHead(404).end();
        json(res, 200, {
          state: member.state,
          role: member.role,
          server_version: 150018,
          timeline: 1,
          dcs_last_seen: Math.floor(Date.now() / 1000),
          patroni: { version: '3.0.2', scope: 'main' },
        });
      });
      const pg = await startPostgres();
      postgres.push(pg);
      pg.psql(`CREATE TABLE test_role (in_recovery boolean); INSERT INTO test_role VALUES (${i !== 0}); GRANT SELECT ON test_role TO monitor`);
      out['patroni']!.push(`{ rest_port: "${rest}", pg_host: "${pg.address}" }`);
    }
    const m = etcd[i]!;
    const client = await serve(createServer(), address, (req, body, res) => {
      if (req.url === '/health') {
        if (m.quorum) return void json(res, 200, { health: 'true' });
        // As etcd's http.Error writes it: text/plain, the JSON and a newline.
        return void res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end(`${JSON.stringify({ health: 'false', reason: 'RAFT NO LEADER' })}\n`);
      }
      if (req.url === '/version') return void json(res, 200, { etcdserver: '3.4.23', etcdcluster: '3.4.0' });
      if (req.url === '/metrics') {
        const text = `etcd_server_has_leader ${m.quorum ? 1 : 0}\netcd_server_leader_changes_seen_total 2\netcd_server_proposals_failed_total 0\netcd_mvcc_db_total_size_in_bytes 24576\n`;
        return void res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text);
      }
      if (req.url === '/v3/maintenance/status') {
        m.statusMethods.push(req.method!);
        m.statusBodies.push(body);
        if (req.method !== 'POST') return void res.writeHead(405).end();
        return void json(res, 200, { header: { cluster_id: '17237436991929493444', member_id: m.id, revision: '1', raft_term: '2' }, version: '3.4.23', dbSize: '24576', leader: m.leader });
      }
      res.writeHead(404).end();
    });
    // The peer port answers GET /version as etcd 3.4's does; a TCP accept proves nothing.
    const peer = await serve(createServer(), address, (req, _body, res) =>
      req.url === '/version' ? json(res, 200, { etcdserver: '3.4.23', etcdcluster: '3.4.0' }) : res.writeHead(404).end(),
    );
    out['etcd']!.push(`{ client_port: "${client}", peer_port: "${peer}" }`);
  }
  await writeFile(join(dir, 'st-monitor.password'), `${ST_PASSWORD}\n`);
  return { ...out, ca: [certs.ca] };
}

beforeAll(async () => {
  dir = await tempDir();
  const l = await labels();
  process.env['APPCLUSTER_TEST_PG_PASSWORD'] = postgres[0]!.password;
  const servers = (kind: string, prefix: string) =>
    l[kind]!.map((labelText, i) => `      - { name: ${prefix}-${i + 1}, address: ${ADDRESSES[i]}, labels: ${labelText} }`).join('\n');
  const configFile = join(dir, 'config.yml');
  await writeFile(
    configFile,
    `global: { heartbeat_interval: 1s, probe_timeout: 900ms }
clusters:
  - name: proget
    preset: proget
    heartbeat_interval: 1s
    parameters: { base_url: "http://{address}:{labels.http_port}", messenger_port: "{labels.messenger_port}" }
    servers:
${servers('proget', 'pg')}
  - name: st
    preset: securetransport
    parameters:
      base_url: "https://{address}:{labels.admin_port}"
      username: monitor
      password_file: st-monitor.password
      ca_file: ${l['ca']![0]}
    servers:
${servers('st', 'st')}
  - name: etcd
    preset: etcd
    parameters: { base_url: "http://{address}:{labels.client_port}", peer_port: "{labels.peer_port}" }
    servers:
${servers('etcd', 'etcd')}
  - name: patroni
    preset: patroni
    heartbeat_interval: 1s
    parameters: { base_url: "http://{address}:{labels.rest_port}", postgres_user: monitor, postgres_password_env: APPCLUSTER_TEST_PG_PASSWORD }
    endpoints:
      postgresql: { postgres: { host: "{labels.pg_host}", query: "SELECT in_recovery, current_setting('server_version') AS server_version FROM test_role" } }
    # The simulated Patroni serves no /metrics; test/e2e/patroni.test.ts reads the real one.
    components:
      - { name: metrics, enabled: false }
    servers:
${servers('patroni', 'db')}
`,
  );
  exporter = await startExporter({ configFile, listenAddress: '127.0.0.1:0', logger: createLogger('error', 'logfmt', { write: () => {} }) });
  await waitFor('every component probed', async () => ((await fetch(`${exporter.url}/-/ready`)).status === 200 ? true : undefined));
});

afterAll(async () => {
  await exporter?.close();
  for (const server of listening) server.close();
  await Promise.all(postgres.map((pg) => pg.stop()));
});

async function cluster(name: string): Promise<ClusterStatus> {
  const body = (await (await fetch(`${exporter.url}/api/v1/status`)).json()) as { data: { clusters: ClusterStatus[] } };
  return body.data.clusters.find((c) => c.name === name)!;
}

const component = (s: ServerStatus, name: string) => s.components.find((c) => c.name === name)!;

/** Waits until server `i` of `name` is in `state`, and returns the cluster then. */
const until = (name: string, i: number, state: 'online' | 'offline') =>
  waitFor(`${name} server ${i} ${state}`, async () => {
    const c = await cluster(name);
    return c.servers[i]!.state === state ? c : undefined;
  });

describe('proget', () => {
  it('reads web, service, database and license from one /health/json, the version and its build', async () => {
    const c = await waitFor('all online', async () => {
      const x = await cluster('proget');
      return x.servers.every((s) => s.state === 'online') ? x : undefined;
    });
    const s = c.servers[0]!;
    expect(s.components.map((x) => [x.name, x.state, x.required])).toEqual([
      ['web', 'up', true],
      ['service', 'up', true],
      ['database', 'up', true],
      ['license', 'up', false],
      ['messenger', 'up', false],
    ]);
    expect(component(s, 'web')).toMatchObject({ version: '23.0.27', versionInSync: true, facts: { version_number: '2023.27 (Build 5)', application: 'ProGet' } });
    expect(component(s, 'service').version).toBe('23.0.27');
  });

  it('a database Error (HTTP 500) takes that server offline with the database reason, not http_status', async () => {
    const doc = proget[1]!;
    doc.databaseStatus = 'Error';
    doc.databaseStatusDetails = 'A network-related error occurred while connecting to SQL Server.';
    try {
      const c = await until('proget', 1, 'offline');
      const s = c.servers[1]!;
      expect(s.reason).toBe('database: status_not_ok');
      expect(component(s, 'database')).toMatchObject({
        state: 'down',
        reason: 'status_not_ok',
        detail: 'status "Error": A network-related error occurred while connecting to SQL Server.',
      });
      // The 500 answer is read: the web application answered, and the service is fine.
      expect([component(s, 'web').state, component(s, 'service').state]).toEqual(['up', 'up']);
      expect(c.servers[0]!.state).toBe('online');
    } finally {
      doc.databaseStatus = 'OK';
      doc.databaseStatusDetails = null;
    }
    await until('proget', 1, 'online');
  });

  it('a license Error shows, but does not take the server offline', async () => {
    const doc = proget[0]!;
    doc.licenseStatus = 'Error';
    doc.licenseStatusDetail = 'The license key has expired.';
    try {
      const s = await waitFor('license down', async () => {
        const x = (await cluster('proget')).servers[0]!;
        return component(x, 'license').state === 'down' ? x : undefined;
      });
      expect(component(s, 'license').detail).toBe('status "Error": The license key has expired.');
      expect(s.state).toBe('online');
    } finally {
      doc.licenseStatus = 'OK';
      doc.licenseStatusDetail = null;
    }
  });
});

describe('securetransport', () => {
  it('signs in with the password file, sends the Referer on every request, reads version and OS', async () => {
    const c = await waitFor('all online', async () => {
      const x = await cluster('st');
      return x.servers.every((s) => s.state === 'online') ? x : undefined;
    });
    const s = c.servers[0]!;
    expect(s.components.map((x) => [x.name, x.state])).toEqual([
      ['admin', 'up'],
      ['transaction-manager', 'up'],
      ['ssh-daemon', 'up'],
    ]);
    expect(component(s, 'admin')).toMatchObject({ version: '5.5-20240131', facts: { server_type: 'SecureTransport' } });
    expect(s.os).toBe('Linux');
    expect(component(s, 'transaction-manager').status).toBe('Running');
    const requests = st.flatMap((n) => n.requests);
    expect(requests.length).toBeGreaterThanOrEqual(6);
    expect(requests.every((r) => r.referer === 'appcluster-exporter' && r.auth === `Basic ${Buffer.from(`monitor:${ST_PASSWORD}`).toString('base64')}`)).toBe(true);
  });

  it.each(['Stopped', 'Not running'])('a Transaction Manager "%s" takes that server offline', async (status) => {
    st[0]!.tm = status;
    try {
      const c = await until('st', 0, 'offline');
      expect(c.servers[0]!.reason).toBe('transaction-manager: status_not_ok');
      expect(component(c.servers[0]!, 'transaction-manager')).toMatchObject({ state: 'down', detail: `status "${status}"` });
      expect(component(c.servers[0]!, 'admin').state).toBe('up');
    } finally {
      st[0]!.tm = 'Running';
    }
    await until('st', 0, 'online');
  });

  it('an SSH daemon "Not running" shows ssh-daemon down with that status; the server stays Online', async () => {
    st[1]!.ssh = 'Not running';
    try {
      const s = await waitFor('ssh-daemon down', async () => {
        const x = (await cluster('st')).servers[1]!;
        return component(x, 'ssh-daemon').state === 'down' ? x : undefined;
      });
      expect(component(s, 'ssh-daemon')).toMatchObject({ required: false, reason: 'status_not_ok', detail: 'status "Not running"' });
      expect(s.state).toBe('online');
    } finally {
      st[1]!.ssh = 'Running';
    }
  });
});

describe('etcd', () => {
  it('reads health, version and the leader with one POST {} per member; exactly one leader holds', async () => {
    const c = await waitFor('all online, leader known', async () => {
      const x = await cluster('etcd');
      return x.servers.every((s) => s.state === 'online') && x.expectations[0]?.met === true ? x : undefined;
    });
    expect(c.servers.map((s) => component(s, 'raft').facts['leader'])).toEqual(['true', 'false', 'false']);
    expect(c.expectations[0]).toMatchObject({ name: 'one_leader', servers: 1, matching: ['etcd-1'] });
    expect(component(c.servers[1]!, 'server')).toMatchObject({ version: '3.4.23', facts: { cluster_version: '3.4.0' } });
    expect(component(c.servers[1]!, 'raft').values).toEqual({ db_size_bytes: 24576 });
    // etcd's own figures, from its /metrics.
    expect(component(c.servers[1]!, 'metrics')).toMatchObject({ state: 'up', values: { has_leader: 1, leader_changes_seen_total: 2, proposals_failed_total: 0, db_total_size_bytes: 24576 } });
    expect(new Set(etcd.flatMap((m) => m.statusMethods))).toEqual(new Set(['POST']));
    expect(new Set(etcd.flatMap((m) => m.statusBodies))).toEqual(new Set(['{}']));
  });

  it('without quorum (HTTP 503, health "false") a member is offline with the unhealthy status and its reason', async () => {
    etcd[2]!.quorum = false;
    try {
      const c = await until('etcd', 2, 'offline');
      expect(c.servers[2]!.reason).toBe('health: status_not_ok');
      expect(component(c.servers[2]!, 'health')).toMatchObject({ reason: 'status_not_ok', detail: 'status "false": RAFT NO LEADER' });
    } finally {
      etcd[2]!.quorum = true;
    }
    await until('etcd', 2, 'online');
  });

  it('two members that say they lead break "exactly one leader"', async () => {
    etcd[1]!.leader = etcd[1]!.id;
    try {
      const e = await waitFor('two leaders', async () => {
        const x = (await cluster('etcd')).expectations[0]!;
        return x.servers === 2 ? x : undefined;
      });
      expect(e).toMatchObject({ met: false, matching: ['etcd-1', 'etcd-2'] });
    } finally {
      etcd[1]!.leader = '1000';
    }
  });
});

describe('patroni', () => {
  it("reads Patroni's state, role and heartbeat, PostgreSQL's own answer; exactly one primary counts what each PostgreSQL says", async () => {
    const c = await waitFor('all online', async () => {
      const x = await cluster('patroni');
      return x.servers.every((s) => s.state === 'online') && x.expectations[0]?.met === true ? x : undefined;
    });
    const s = c.servers[0]!;
    expect(s.components.map((x) => [x.name, x.state, x.version])).toEqual([
      ['patroni', 'up', '3.0.2'],
      ['postgresql', 'up', expect.stringMatching(/^15\./)],
    ]);
    expect(component(s, 'patroni')).toMatchObject({ facts: { role: 'primary', state: 'running' }, heartbeatProblem: null });
    expect(component(s, 'postgresql')).toMatchObject({ facts: { in_recovery: 'false' } });
    expect(Math.abs(component(s, 'patroni').lastHeartbeat! - Date.now() / 1000)).toBeLessThan(5);
    expect(c.expectations[0]).toMatchObject({ name: 'one_primary', matching: ['db-1'] });
    // Both PostgreSQLs writable, whatever Patroni says: two primaries.
    inRecovery(1, false);
    try {
      const e = await waitFor('two writable primaries', async () => {
        const x = (await cluster('patroni')).expectations[0]!;
        return x.servers === 2 ? x : undefined;
      });
      expect(e).toMatchObject({ met: false, matching: ['db-1', 'db-2'] });
      inRecovery(0, true);
      const moved = await waitFor('the primary moved', async () => {
        const x = (await cluster('patroni')).expectations[0]!;
        return x.matching.join() === 'db-2' && x.met ? x : undefined;
      });
      expect(moved.summary).toContain('db-2');
    } finally {
      inRecovery(0, false);
      inRecovery(1, true);
    }
  });

  it('Patroni that stops answering is down while PostgreSQL stays up, and the other way round', async () => {
    patroni[1]!.available = false;
    try {
      // Not required: the server, whose PostgreSQL answers, stays online and counted.
      const c = await waitFor('db-2 patroni down', async () => {
        const x = await cluster('patroni');
        return component(x.servers[1]!, 'patroni').state === 'down' ? x : undefined;
      });
      expect(component(c.servers[1]!, 'patroni')).toMatchObject({ reason: 'http_status' });
      expect(component(c.servers[1]!, 'postgresql')).toMatchObject({ state: 'up' });
      expect(c.servers[1]!.state).toBe('online');
    } finally {
      patroni[1]!.available = true;
    }
    // A role that may not log in: PostgreSQL refuses it, a credentials problem. The database
    // answered, so it is unknown, not down, and its server stays Online.
    postgres[1]!.psql('ALTER ROLE monitor NOLOGIN');
    try {
      const c = await waitFor('db-2 postgresql unknown', async () => {
        const x = await cluster('patroni');
        return component(x.servers[1]!, 'postgresql').state === 'unknown' ? x : undefined;
      });
      expect(component(c.servers[1]!, 'postgresql')).toMatchObject({ state: 'unknown', reason: 'unauthorized' });
      expect(component(c.servers[1]!, 'patroni')).toMatchObject({ state: 'up' });
      expect(c.servers[1]!.state).toBe('online');
    } finally {
      postgres[1]!.psql('ALTER ROLE monitor LOGIN');
    }
    await waitFor('db-2 postgresql up again', async () => (component((await cluster('patroni')).servers[1]!, 'postgresql').state === 'up' ? true : undefined));
  });
});

describe('the preset examples', () => {
  const examples = join(import.meta.dirname, '../../examples');
  it.each(['proget', 'securetransport', 'etcd', 'patroni'])('examples/%s.yml passes --config.check', (name) => {
    const r = spawnSync(process.execPath, [MAIN, '--config.check', `--config.file=${join(examples, `${name}.yml`)}`], {
      encoding: 'utf8',
      env: { ...process.env, ST_ADMIN_PASSWORD: 'example-password' },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/: valid \(1 clusters, \d+ components\)/);
    expect(r.status).toBe(0);
  });
});
