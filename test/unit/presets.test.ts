import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { presetDir, readPreset } from '../../src/config/preset.js';
import { configJsonSchema, PRESET_MERGE_RULE, PRESET_NAMES } from '../../src/config/schema.js';
import type { ClusterConfig, HttpEndpoint, ServerConfig } from '../../src/config/types.js';
import { read } from '../../src/probes/extract.js';
import { tempDir } from '../helpers/stack.js';

const presets = join(import.meta.dirname, '../../presets');

function load(cluster: string, opts: { global?: string; presetDir?: string; file?: string } = {}): ClusterConfig {
  const text = `${opts.global ?? ''}clusters:\n${cluster}`;
  return parseConfig(text, opts.file ?? '/etc/appcluster/config.yml', opts.presetDir ? { presetDir: opts.presetDir } : {}).clusters[0]!;
}

function fails(cluster: string, opts: { presetDir?: string } = {}): string {
  try {
    load(cluster, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('loaded');
}

const components = (s: ServerConfig) => s.components.map((c) => [c.name, c.required, c.staleTimeoutMs / 1000]);
const http = (s: ServerConfig, name: string) => s.endpoints.find((e) => e.name === name)!.def.settings as HttpEndpoint;

describe('the preset files', () => {
  it('are the presets the schema names, one file each', () => {
    expect(readdirSync(presets).filter((f) => f.endsWith('.yml')).sort()).toEqual(PRESET_NAMES.map((n) => `${n}.yml`));
    expect(presetDir()).toBe(join(presets, '/'));
  });

  it.each(PRESET_NAMES)('%s passes the preset schema, declares every parameter it uses and uses every one it declares', (name) => {
    const preset = readPreset(name);
    expect(Object.keys(preset.parameters).length).toBeGreaterThan(0);
    // Every field is sourced: the file's comments name where its facts come from, and the
    // preset's page in docs/ holds each fact with its public document.
    expect(preset.yaml.text).toMatch(/^# Sources:/m);
    expect(preset.yaml.text).toContain(`docs/presets/${name}.md`);
  });

  it('proget: the console defaults, /health/json read by four components, the messenger optional', () => {
    const c = load(`  - name: ci\n    preset: proget\n    servers: [{ name: a, address: 10.0.0.1 }]\n`);
    expect(c).toMatchObject({ heartbeatIntervalMs: 30_000, staleTimeoutMs: 300_000 });
    const [a] = c.servers;
    expect(components(a!)).toEqual([
      ['web', true, 86_400],
      ['service', true, 300],
      ['database', true, 300],
      ['license', false, 300],
      ['messenger', false, 300],
    ]);
    expect(a!.endpoints.map((e) => [e.name, e.target])).toEqual([
      ['health', { url: 'http://10.0.0.1/health/json' }],
      ['~messenger', { host: '10.0.0.1', port: 33237 }],
    ]);
    expect(http(a!, 'health').validStatusCodes).toEqual([200, 500]);
    expect(a!.components[2]!.read.status).toMatchObject({ from: { json: ['databaseStatus'] }, healthy: ['ok'], reason: { json: ['databaseStatusDetails'] } });
    expect(a!.components[0]!.read).toMatchObject({ version: { json: ['releaseNumber'] }, facts: { version_number: { json: ['versionNumber'] } } });
  });

  it('securetransport: the admin API on 8444 with basic auth and a Referer on every request', () => {
    process.env['PRESET_TEST_ST_PASSWORD'] = 'st-secret';
    const c = load(`  - name: st
    preset: securetransport
    parameters: { username: monitor, password_env: PRESET_TEST_ST_PASSWORD }
    servers: [{ name: a, address: 10.0.0.1 }]
`);
    const [a] = c.servers;
    expect(components(a!)).toEqual([
      ['admin', true, 60],
      ['transaction-manager', true, 60],
      ['ssh-daemon', false, 60],
    ]);
    for (const [name, path] of [
      ['version', 'version'],
      ['transaction-manager', 'transactionManager'],
      ['daemons', 'daemons'],
    ]) {
      const e = http(a!, name!);
      expect(a!.endpoints.find((x) => x.name === name)!.target).toEqual({ url: `https://10.0.0.1:8444/api/v2.0/${path}` });
      expect(e.headers).toEqual({ Referer: 'appcluster-exporter' });
      expect(e.authorization!.reveal()).toBe(`Basic ${Buffer.from('monitor:st-secret').toString('base64')}`);
      // ca_file not given: the text that held only {params.ca_file} is left out.
      expect(e.tls).toEqual({ insecureSkipVerify: false });
    }
    expect(a!.components[0]!.read).toMatchObject({ version: { json: ['version'] }, os: { json: ['os'] } });
  });

  it('securetransport: one component per protocol daemon from one GET /daemons; SSH on, the others off until the cluster turns them on; required only when the cluster says so', () => {
    process.env['PRESET_TEST_ST_PASSWORD'] = 'st-secret';
    const c = load(`  - name: st
    preset: securetransport
    parameters: { username: monitor, password_env: PRESET_TEST_ST_PASSWORD }
    components:
      - { name: ssh-daemon, required: true }
      - { name: ftp-daemon, enabled: true }
      - { name: http-daemon, enabled: true }
      - { name: as2-daemon, enabled: true }
      - { name: pesit-daemon, enabled: true }
    servers: [{ name: a, address: 10.0.0.1 }]
`);
    const [a] = c.servers;
    const daemons = a!.components.filter((x) => x.name.endsWith('-daemon'));
    expect(daemons.map((x) => [x.name, x.required, x.read.status!.from])).toEqual([
      ['ssh-daemon', true, { json: ['sshStatus'] }],
      ['ftp-daemon', false, { json: ['ftpStatus'] }],
      ['http-daemon', false, { json: ['httpStatus'] }],
      ['as2-daemon', false, { json: ['as2Status'] }],
      ['pesit-daemon', false, { json: ['pesitStatus'] }],
    ]);
    // One request per server and interval, read by all five.
    const daemonsEndpoint = a!.endpoints.find((e) => e.name === 'daemons')!;
    expect(new Set(daemons.map((x) => x.endpoint))).toEqual(new Set([daemonsEndpoint.key]));
    // The transaction-manager's reading of a status: "Running" is up, "Not running" is not.
    const hash = (k: string) => `h(${k})`;
    const status = (sshStatus: string) => read(daemons[0]!.read, { success: true, body: { sshStatus } }, hash);
    expect(status('Running')).toMatchObject({ success: true, status: 'Running' });
    expect(status('Not running')).toMatchObject({ success: false, reason: 'status_not_ok', detail: 'status "Not running"' });
    expect(daemons.every((x) => String(x.read.status!.pattern) === String(a!.components.find((t) => t.name === 'transaction-manager')!.read.status!.pattern))).toBe(true);

    // Every daemon component off: the endpoint is not probed.
    const none = load(`  - name: st\n    preset: securetransport\n    parameters: { username: monitor, password_env: PRESET_TEST_ST_PASSWORD }\n    components: [{ name: ssh-daemon, enabled: false }]\n    servers: [{ name: a, address: 10.0.0.1 }]\n`);
    expect(none.servers[0]!.endpoints.map((e) => e.name)).toEqual(['version', 'transaction-manager']);
  });

  it('etcd: /health with 503 read, the leader from one POST, the peer port, exactly one leader', () => {
    const c = load(`  - name: etcd\n    preset: etcd\n    servers: [{ name: a, address: 10.0.0.1 }]\n`);
    const [a] = c.servers;
    expect(a!.endpoints.map((e) => [e.name, e.target])).toEqual([
      ['health', { url: 'http://10.0.0.1:2379/health' }],
      ['version', { url: 'http://10.0.0.1:2379/version' }],
      ['status', { url: 'http://10.0.0.1:2379/v3/maintenance/status' }],
      ['metrics', { url: 'http://10.0.0.1:2379/metrics' }],
      ['peer', { url: 'http://10.0.0.1:2380/version' }],
    ]);
    expect(a!.endpoints.find((e) => e.name === 'metrics')!.def.settings.kind).toBe('prometheus');
    expect(a!.components.find((x) => x.name === 'metrics')!.read.values).toMatchObject({ leader_changes_seen_total: { json: ['etcd_server_leader_changes_seen_total', 'value'] } });
    expect(http(a!, 'health').validStatusCodes).toEqual([200, 503]);
    expect(http(a!, 'status')).toMatchObject({ method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
    expect(a!.components.find((x) => x.name === 'raft')!.read.facts).toEqual({ leader: { equal: [{ json: ['leader'] }, { json: ['header', 'member_id'] }] } });
    expect(c.factExpectations).toEqual([{ name: 'one_leader', fact: 'leader', values: ['true'], min: 1, max: 1 }]);
  });

  it('etcd: the peer port judged by its answer to GET /version, over TLS with peer certificates (issue 29, item 5)', () => {
    const c = load(`  - name: etcd\n    preset: etcd\n    parameters: { peer_scheme: https, peer_port: "12380" }\n    servers: [{ name: a, address: 10.0.0.1 }]\n`);
    expect(c.servers[0]!.endpoints.find((e) => e.name === 'peer')!.target).toEqual({ url: 'https://10.0.0.1:12380/version' });
    expect(c.servers[0]!.components.find((x) => x.name === 'peer')).toMatchObject({ required: true });
    // The peer certificates are the peer endpoint's: a missing file is named where the user gave it.
    expect(fails(`  - name: etcd\n    preset: etcd\n    parameters: { peer_scheme: https, peer_ca_file: /nonexistent/peer-ca.pem }\n    servers: [{ name: a, address: 10.0.0.1 }]\n`)).toMatch(
      /^\/etc\/appcluster\/config.yml:4:\d+: clusters\[0\]\.parameters\.peer_ca_file: cannot read file: ENOENT/,
    );
  });

  it("patroni: Patroni's REST API for patroni, PostgreSQL's own answer for postgresql and for exactly one primary", () => {
    const c = load(`  - name: pg\n    preset: patroni\n    servers: [{ name: a, address: 10.0.0.1 }]\n`);
    expect(c).toMatchObject({ heartbeatIntervalMs: 10_000, staleTimeoutMs: 30_000 });
    const [a] = c.servers;
    expect(components(a!)).toEqual([
      ['patroni', false, 30],
      ['metrics', false, 30],
      ['postgresql', true, 30],
    ]);
    expect(a!.components.map((x) => x.read.version)).toEqual([{ json: ['patroni', 'version'] }, undefined, { json: ['server_version'] }]);
    // Patroni is up while it answers: PostgreSQL's state is a fact of it, not its status.
    expect(a!.components[0]!.read).toMatchObject({ heartbeat: { json: ['dcs_last_seen'] }, facts: { role: { json: ['role'] }, state: { json: ['state'] } } });
    expect(a!.components[0]!.read.status).toBeUndefined();
    expect(a!.components[2]!.read).toMatchObject({ facts: { in_recovery: { json: ['in_recovery'] } } });
    expect(a!.endpoints.map((e) => e.target)).toEqual([{ url: 'http://10.0.0.1:8008/patroni' }, { url: 'http://10.0.0.1:8008/metrics' }, { host: '10.0.0.1', port: 5432 }]);
    expect(a!.endpoints[2]!.def.settings).toMatchObject({ kind: 'postgres', user: 'postgres', database: 'postgres', query: expect.stringContaining('pg_is_in_recovery()') });
    expect(c.factExpectations).toEqual([{ name: 'one_primary', fact: 'in_recovery', values: ['false'], min: 1, max: 1 }]);
  });

  it("patroni: the timing from the cluster's ttl and loop_wait (issue 29, item 4)", () => {
    const c = load(`  - name: pg\n    preset: patroni\n    parameters: { ttl: 20, loop_wait: "5" }\n    servers: [{ name: a, address: 10.0.0.1 }]\n`);
    // Stale when the leader lock expires (ttl), probed every loop, the probe within four fifths of it.
    expect(c).toMatchObject({ heartbeatIntervalMs: 5_000, staleTimeoutMs: 20_000 });
    expect(components(c.servers[0]!)).toEqual([
      ['patroni', false, 20],
      ['metrics', false, 20],
      ['postgresql', true, 20],
    ]);
    expect(c.servers[0]!.endpoints.map((e) => e.timeoutMs)).toEqual([4_000, 4_000, 4_000]);
    // A duration where Patroni's setting is a number of seconds: the error names the parameter.
    expect(fails(`  - name: pg\n    preset: patroni\n    parameters: { ttl: 20s }\n    servers: [{ name: a, address: 10.0.0.1 }]\n`)).toMatch(
      /^\/etc\/appcluster\/config.yml:4:\d+: clusters\[0\]\.parameters\.ttl: .*"20ss"/,
    );
  });
});

describe('merging a cluster over its preset', () => {
  it("the cluster's timing wins over global, and global over the preset's cluster-wide timing (issue 28, item 11)", () => {
    // The user's global: heartbeat_interval 15s, never silently replaced by ProGet's 30 s.
    expect(load(`  - name: ci\n    preset: proget\n    servers: [{ name: a, address: 10.0.0.1 }]\n`, { global: 'global: { heartbeat_interval: 15s }\n' })).toMatchObject({
      heartbeatIntervalMs: 15_000,
      staleTimeoutMs: 300_000,
    });
    const global = 'global: { heartbeat_interval: 20s, stale_timeout: 2m, probe_timeout: 3s }\n';
    expect(load(`  - name: ci\n    preset: proget\n    servers: [{ name: a, address: 10.0.0.1 }]\n`, { global })).toMatchObject({
      heartbeatIntervalMs: 20_000,
      staleTimeoutMs: 120_000,
      probeTimeoutMs: 3000,
    });
    expect(load(`  - name: ci\n    preset: proget\n    heartbeat_interval: 10s\n    stale_timeout: 5m\n    servers: [{ name: a, address: 10.0.0.1 }]\n`, { global })).toMatchObject({
      heartbeatIntervalMs: 10_000,
      staleTimeoutMs: 300_000,
    });
    // A preset timing made from a parameter the cluster gives is the user's own: global does
    // not replace it (patroni's ttl is the stale timeout, its loop_wait the interval).
    const patroni = (params: string) => `  - name: pg\n    preset: patroni\n${params}    servers: [{ name: a, address: 10.0.0.1 }]\n`;
    expect(load(patroni('    parameters: { ttl: "20", loop_wait: "5" }\n'), { global })).toMatchObject({ heartbeatIntervalMs: 5000, staleTimeoutMs: 20_000 });
    // Parameters left at the preset's defaults: global's timing.
    expect(load(patroni(''), { global })).toMatchObject({ heartbeatIntervalMs: 20_000, staleTimeoutMs: 120_000 });
    // Without global, the preset's timing is the cluster's.
    expect(load(`  - name: ci\n    preset: proget\n    servers: [{ name: a, address: 10.0.0.1 }]\n`)).toMatchObject({ heartbeatIntervalMs: 30_000, staleTimeoutMs: 300_000 });
  });

  it("keeps a preset component's own timing over global, and warns at the user's line", () => {
    const text = `global: { heartbeat_interval: 20s, stale_timeout: 2m }\nclusters:\n  - name: ci\n    preset: proget\n    servers: [{ name: a, address: 10.0.0.1 }]\n`;
    const config = parseConfig(text, '/etc/appcluster/config.yml');
    // ProGet's web heartbeat moves only with web requests: its 24 h stays.
    expect(config.clusters[0]!.servers[0]!.components.find((c) => c.name === 'web')!.staleTimeoutMs).toBe(86_400_000);
    expect(config.warnings).toEqual([
      '/etc/appcluster/config.yml:1:51: global.stale_timeout: warning: component "web" of clusters[0] keeps preset "proget"\'s stale_timeout 24h; to change it, set it on that component: components: [{ name: web, stale_timeout: ... }]',
    ]);
    // Set on the component, it is the user's: no warning.
    const own = parseConfig(text.replace('    servers:', '    components: [{ name: web, stale_timeout: 1h }]\n    servers:'), '/etc/appcluster/config.yml');
    expect(own.warnings).toBeUndefined();
    expect(own.clusters[0]!.servers[0]!.components.find((c) => c.name === 'web')!.staleTimeoutMs).toBe(3_600_000);
  });

  it('a component named like a preset component changes only the fields it sets; enabled: false leaves it out; a new one is added', () => {
    const c = load(`  - name: ci
    preset: proget
    components:
      - name: license
        required: true
      - name: database
        status: { reason: databaseStatus }   # the rest of the preset's rule stays
      - name: web
        stale_timeout:                        # removed: the cluster's 5m applies
      - { name: messenger, enabled: false }
      - { name: inventory, required: false, probe: { http: { url: "http://{address}:9100/inventory" } }, os: os }
    servers: [{ name: a, address: 10.0.0.1 }]
`);
    const [a] = c.servers;
    expect(components(a!)).toEqual([
      ['web', true, 300],
      ['service', true, 300],
      ['database', true, 300],
      ['license', true, 300],
      ['inventory', false, 300],
    ]);
    expect(a!.components[2]!.read.status).toMatchObject({ from: { json: ['databaseStatus'] }, healthy: ['ok'], reason: { json: ['databaseStatus'] } });
  });

  it('an endpoint merges key by key (headers too); a list is replaced whole', () => {
    const c = load(`  - name: etcd
    preset: etcd
    endpoints:
      health: { http: { valid_status_codes: [200] } }
      status: { http: { headers: { X-Trace: "1" } } }
    servers: [{ name: a, address: 10.0.0.1 }]
`);
    const [a] = c.servers;
    expect(http(a!, 'health')).toMatchObject({ url: 'http://{address}:2379/health', validStatusCodes: [200] });
    expect(http(a!, 'status').headers).toEqual({ 'Content-Type': 'application/json', 'X-Trace': '1' });
  });

  it('parameters fill the preset in, and may hold server templates: a port per server from a label', () => {
    const c = load(`  - name: st
    preset: securetransport
    parameters:
      base_url: "https://{address}:{labels.admin_port}"
      username: monitor
      password_env: HOME
    servers:
      - { name: root-install, address: 10.0.0.1, labels: { admin_port: "444" } }
      - { name: user-install, address: 10.0.0.2, labels: { admin_port: "8444" } }
`);
    expect(c.servers.map((s) => s.endpoints[0]!.target)).toEqual([{ url: 'https://10.0.0.1:444/api/v2.0/version' }, { url: 'https://10.0.0.2:8444/api/v2.0/version' }]);
  });

  it('the preset only supplies what the cluster lacks: servers, names and the rest are the cluster\'s', () => {
    const c = load(`  - name: pg
    preset: patroni
    expectations: { min_servers_online: 1 }
    servers: [{ name: a, address: 10.0.0.1 }, { name: b, address: 10.0.0.2, site: dr, role: standby }]
`);
    expect(c.minServersOnline).toBe(1);
    expect(c.factExpectations.map((e) => e.name)).toEqual(['one_primary']);
    expect(c.servers.map((s) => [s.name, s.role])).toEqual([
      ['a', 'active'],
      ['b', 'standby'],
    ]);
  });

  it('the preset\'s expectations go with an empty list', () => {
    const c = load(`  - name: etcd
    preset: etcd
    expectations: { servers_with_fact: [] }
    components: [{ name: raft, enabled: false }]
    servers: [{ name: a, address: 10.0.0.1 }]
`);
    expect(c.factExpectations).toEqual([]);
    expect(c.servers[0]!.components.map((x) => x.name)).toEqual(['health', 'server', 'metrics', 'peer']);
  });
});

describe('the merge rule', () => {
  it('is stated the same in docs/presets/README.md and in the editor schema', () => {
    const page = readFileSync(join(import.meta.dirname, '../../docs/presets/README.md'), 'utf8').replace(/\s+/g, ' ');
    expect(page).toContain(`**Merge rule.** ${PRESET_MERGE_RULE}`);
    expect(JSON.stringify(configJsonSchema())).toContain(JSON.stringify(PRESET_MERGE_RULE).slice(1, -1));
  });
});

describe('errors name the file that holds the text', () => {
  it("in the cluster's override: the configuration file", () => {
    expect(
      fails(`  - name: ci
    preset: proget
    components:
      - name: database
        status: { contains: [OK] }
    servers: [{ name: a, address: 10.0.0.1 }]
`),
    ).toBe('/etc/appcluster/config.yml:6:29: clusters[0].components[0].status.contains: set one of "healthy", "contains" or "pattern", not "healthy" and "contains"');
  });

  it("from the preset's text: the preset file, naming the cluster", () => {
    const message = fails(`  - name: etcd
    preset: etcd
    components: [{ name: raft, enabled: false }]
    servers: [{ name: a, address: 10.0.0.1 }]
`);
    expect(message).toMatch(
      /^\/.*\/presets\/etcd\.yml:\d+:\d+: expectations\.servers_with_fact\[0\]\.fact: no component reads a fact "leader"; known: cluster_version \(preset "etcd" of clusters\[0\]\)$/,
    );
  });

  it('a required parameter missing, an unknown one, an override of a component the preset lacks', () => {
    expect(fails(`  - name: st\n    preset: securetransport\n    parameters: { password_env: HOME }\n    servers: [{ name: a, address: 10.0.0.1 }]\n`)).toBe(
      '/etc/appcluster/config.yml:4:17: clusters[0].parameters: preset "securetransport" needs parameter "username": the administrator the exporter signs in as (a read-only admin is enough)',
    );
    expect(fails(`  - name: pg\n    preset: patroni\n    parameters: { port: "8009" }\n    servers: [{ name: a, address: 10.0.0.1 }]\n`)).toBe(
      '/etc/appcluster/config.yml:4:19: clusters[0].parameters.port: preset "patroni" has no parameter "port"; known: base_url, postgres_port, postgres_user, postgres_password_file, postgres_password_env, ttl, loop_wait',
    );
    expect(fails(`  - name: pg\n    preset: patroni\n    components: [{ name: postgres, required: false }]\n    servers: [{ name: a, address: 10.0.0.1 }]\n`)).toBe(
      '/etc/appcluster/config.yml:4:26: clusters[0].components[0].name: preset "patroni" has no component "postgres" (known: patroni, metrics, postgresql); a component of the cluster\'s own needs "probe" or "endpoint"',
    );
  });
});

describe('a preset file of your own', () => {
  async function presetDirWith(name: string, text: string): Promise<string> {
    const dir = await tempDir();
    cpSync(presets, dir, { recursive: true });
    await writeFile(join(dir, `${name}.yml`), text);
    return dir;
  }
  const cluster = `  - name: x\n    preset: patroni\n    servers: [{ name: a, address: 10.0.0.1 }]\n`;

  it('must declare what it uses and use what it declares', async () => {
    const undeclared = await presetDirWith('patroni', 'components:\n  - { name: web, probe: { tcp: { port: "{params.port}" } } }\n');
    expect(fails(cluster, { presetDir: undeclared })).toBe(
      `${undeclared}/patroni.yml:2:40: components[0].probe.tcp.port: uses {params.port}, but "parameters" declares no "port"; declared: none`,
    );
    const unused = await presetDirWith('patroni', 'parameters:\n  port: { description: a port, default: "80" }\ncomponents:\n  - { name: web, probe: { tcp: { port: 80 } } }\n');
    expect(fails(cluster, { presetDir: unused })).toBe(`${unused}/patroni.yml:2:3: parameters.port: parameter "port" is declared but not used`);
  });

  it('is checked against the preset schema: no name or servers there', async () => {
    const dir = await presetDirWith('patroni', 'name: x\ncomponents:\n  - { name: web, probe: { tcp: { port: 80 } } }\n');
    expect(fails(cluster, { presetDir: dir })).toBe(`${dir}/patroni.yml:1:1: name: unknown field "name"`);
  });

  it('changes the configuration when it changes: a reload applies it', async () => {
    const dir = await tempDir();
    cpSync(presets, dir, { recursive: true });
    const text = `clusters:\n${cluster}`;
    const before = parseConfig(text, 'c.yml', { presetDir: dir });
    const file = join(dir, 'patroni.yml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('default: "10"', 'default: "20"'));
    const after = parseConfig(text, 'c.yml', { presetDir: dir });
    expect(after.hash).not.toBe(before.hash);
    expect(after.clusters[0]!.heartbeatIntervalMs).toBe(20_000);
  });
});

describe('what presets read', () => {
  const hash = (k: string) => `h(${k})`;
  it('{equal: [a, b]} is "true" when both places hold the same text, "false" when not, a problem when one is missing', () => {
    const r = { values: {}, facts: { leader: { equal: [{ json: ['leader'] }, { json: ['header', 'member_id'] }] as const } } };
    expect(read(r, { success: true, body: { leader: '42', header: { member_id: '42' } } }, hash).facts).toEqual({ leader: 'true' });
    expect(read(r, { success: true, body: { leader: '42', header: { member_id: '7' } } }, hash).facts).toEqual({ leader: 'false' });
    const missing = read(r, { success: true, body: { leader: '42' } }, hash);
    expect([missing.facts, missing.problems]).toEqual([{}, ['fact leader: missing']]);
  });

  it('a status pattern: the TM running, and "not running" or "Stopped" not', () => {
    const c = load(`  - name: st\n    preset: securetransport\n    parameters: { username: u, password_env: HOME }\n    servers: [{ name: a, address: 10.0.0.1 }]\n`);
    const tm = c.servers[0]!.components[1]!.read;
    const state = (status: string) => read(tm, { success: true, body: { status } }, hash);
    expect(state('Running').success).toBe(true);
    expect(state('Transaction Manager is running (pid 4242)').success).toBe(true);
    expect(state('Not running')).toMatchObject({ success: false, reason: 'status_not_ok', detail: 'status "Not running"' });
    expect(state('Stopped')).toMatchObject({ success: false, reason: 'status_not_ok' });
  });
});

describe('the on-node agent in the proget and securetransport presets', () => {
  const st = `    parameters: { username: u, password_env: HOME }\n`;
  const names = (s: ServerConfig) => s.components.map((c) => c.name);

  it.each([
    ['proget', ''],
    ['securetransport', st],
  ])('%s: off by default, and its endpoint is not probed', (preset, params) => {
    const c = load(`  - name: c\n    preset: ${preset}\n${params}    servers: [{ name: a, address: 10.0.0.1 }]\n`);
    const [a] = c.servers;
    expect(names(a!)).not.toContain('agent');
    expect(names(a!)).not.toContain('tm-process');
    expect(a!.endpoints.map((e) => e.name)).not.toContain('agent');
  });

  it('proget: turned on, the agent component reads the key fingerprint from the agent on port 10473, or agent_port', () => {
    const c = load(`  - name: ci
    preset: proget
    components: [{ name: agent, enabled: true }]
    servers:
      - { name: a, address: 10.0.0.1 }
      - { name: b, address: 10.0.0.2, components: { agent: { enabled: false } } }
`);
    const [a, b] = c.servers;
    expect(components(a!).at(-1)).toEqual(['agent', false, 300]);
    expect(a!.endpoints.find((e) => e.name === 'agent')!.target).toEqual({ url: 'http://10.0.0.1:10473/api/v1/facts' });
    expect(a!.components.at(-1)!.read).toMatchObject({
      keyFingerprint: { json: ['facts', 'encryption_key', 'fingerprint'] },
      os: { json: ['node', 'os'] },
      values: { node_time: { json: ['node', 'time'] } },
    });
    // A server without an agent leaves it out, and its endpoint is not probed there.
    expect(names(b!)).not.toContain('agent');
    expect(b!.endpoints.map((e) => e.name)).toEqual(['health', '~messenger']);

    const other = load(`  - name: ci\n    preset: proget\n    parameters: { agent_port: "9999" }\n    components: [{ name: agent, enabled: true }]\n    servers: [{ name: a, address: 10.0.0.1 }]\n`);
    expect(other.servers[0]!.endpoints.find((e) => e.name === 'agent')!.target).toEqual({ url: 'http://10.0.0.1:9999/api/v1/facts' });
  });

  it('securetransport: the taeh fingerprint and the TM process from the agent; the transaction-manager component still reads the API', () => {
    const c = load(`  - name: st
    preset: securetransport
${st}    components:
      - { name: agent, enabled: true }
      - { name: tm-process, enabled: true }
    servers: [{ name: a, address: 10.0.0.1 }]
`);
    const [a] = c.servers;
    expect(components(a!)).toEqual([
      ['admin', true, 60],
      ['transaction-manager', true, 60],
      ['ssh-daemon', false, 60],
      ['agent', false, 60],
      ['tm-process', false, 60],
    ]);
    const endpointOf = (name: string) => a!.endpoints.find((e) => e.key === a!.components.find((x) => x.name === name)!.endpoint)!.name;
    expect(endpointOf('transaction-manager')).toBe('transaction-manager');
    expect(endpointOf('agent')).toBe('agent');
    expect(endpointOf('tm-process')).toBe('agent');
    expect(a!.endpoints.find((e) => e.name === 'agent')!.target).toEqual({ url: 'http://10.0.0.1:10473/api/v1/facts' });
    expect(a!.components.find((x) => x.name === 'agent')!.read).toMatchObject({ keyFingerprint: { json: ['facts', 'taeh', 'fingerprint'] } });
    const tm = a!.components.find((x) => x.name === 'tm-process')!.read;
    expect(tm.values).toEqual({ start_time: { json: ['facts', 'transaction_manager', 'startTime'] } });
    const hash = (k: string) => `h(${k})`;
    const doc = (state: string) => ({ success: true as const, body: { facts: { transaction_manager: { ok: true, state, startTime: 1_700_000_000 } } } });
    expect(read(tm, doc('running'), hash)).toMatchObject({ success: true, values: { start_time: 1_700_000_000 } });
    expect(read(tm, doc('stopped'), hash)).toMatchObject({ success: false, reason: 'status_not_ok' });
  });
});
