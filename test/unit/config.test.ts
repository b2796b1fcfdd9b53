import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';
import { configJsonSchema } from '../../src/config/schema.js';
import { tempDir } from '../helpers/stack.js';

const invalidDir = join(import.meta.dirname, '../fixtures/config/invalid');
const examplesDir = join(import.meta.dirname, '../../examples');

describe('invalid configurations', () => {
  const files = readdirSync(invalidDir).filter((f) => f.endsWith('.yml'));
  it('has fixtures', () => {
    expect(files.length).toBeGreaterThan(15);
  });
  it.each(files)('%s names file, line, column, path and reason', async (name) => {
    const file = join(invalidDir, name);
    const expected = /^# error: (.*)$/m.exec(readFileSync(file, 'utf8'))?.[1];
    expect(expected, 'fixture needs a "# error:" first line').toBeDefined();
    const err = await loadConfigFile(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    const want = expected!.trimEnd();
    expect(message.slice(0, file.length + 1)).toBe(`${file}:`);
    expect(message.slice(file.length + 1, file.length + 1 + want.length)).toBe(want);
  });
});

describe('example configurations', () => {
  const files = readdirSync(examplesDir).filter((f) => f.endsWith('.yml') && !f.startsWith('sim-'));
  it.each(files)('%s loads', async (name) => {
    process.env['MFT_MONITOR_TOKEN'] ??= 'example-token';
    process.env['ST_ADMIN_PASSWORD'] ??= 'example-password';
    const config = await loadConfigFile(join(examplesDir, name));
    expect(config.clusters.length).toBeGreaterThan(0);
    for (const c of config.clusters) expect(c.servers.every((s) => s.components.length > 0)).toBe(true);
  });
});

describe('defaults and overrides', () => {
  const text = `
global: { heartbeat_interval: 20s, stale_timeout: 2m }
clusters:
  - name: mft
    probe_timeout: 4s
    expected_version: "8.6.2"
    components:
      - { name: web, stale_timeout: 24h, probe: { tcp: { port: 443 } } }
      - { name: service, probe: { http: { url: "http://{address}:9000/{labels.path}" } }, status: status }
    servers:
      - { name: a, address: 10.1.1.1, labels: { path: status } }
      - name: dr-1
        address: 10.2.1.1
        site: dr
        role: standby
        labels: { rack: r7, path: status }
        components:
          service: { required: false, stale_timeout: 5m }
          web: { enabled: false }
`;
  it('inherits global, cluster and component settings and applies server overrides', async () => {
    const config = parseConfig(text, '/etc/appcluster/config.yml');
    const [cluster] = config.clusters;
    expect(cluster).toMatchObject({ heartbeatIntervalMs: 20_000, probeTimeoutMs: 4000, staleTimeoutMs: 120_000, expectedVersion: '8.6.2' });
    const [a, dr] = cluster!.servers;
    expect(a).toMatchObject({ site: 'primary', role: 'active' });
    expect(a!.components.map((c) => [c.name, c.required, c.staleTimeoutMs])).toEqual([
      ['web', true, 86_400_000],
      ['service', true, 120_000],
    ]);
    expect(dr).toMatchObject({ site: 'dr', role: 'standby', labels: { rack: 'r7', path: 'status' } });
    expect(dr!.components.map((c) => [c.name, c.required, c.staleTimeoutMs])).toEqual([['service', false, 300_000]]);
  });

  it('reads secrets from files relative to the config file', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'password'), 's3cret-from-file\n');
    const config = parseConfig(
      `clusters:
  - name: c
    components: [{ name: web, probe: { http: { url: "http://{address}/", basic_auth: { username: u, password_file: password } } } }]
    servers: [{ name: a, address: 127.0.0.1 }]`,
      join(dir, 'config.yml'),
    );
    expect(JSON.stringify(config)).not.toContain('s3cret-from-file');
  });

  it('names a missing secret file', () => {
    expect(() =>
      parseConfig(
        `clusters:
  - name: c
    components: [{ name: web, probe: { http: { url: "http://{address}/", bearer_token_file: /nonexistent/token } } }]
    servers: [{ name: a, address: 127.0.0.1 }]`,
        'x.yml',
      ),
    ).toThrow(/x\.yml:3:\d+: clusters\[0\]\.components\[0\]\.probe\.http\.bearer_token_file: cannot read secret file "\/nonexistent\/token": ENOENT/);
  });
});

// YAML 1.2 would read `expected_version: 3.10` as the number 3.1. Every text field takes the
// scalar as written instead.
describe('text fields take the scalar as written', () => {
  it.each(['3.10', '1e3', '0x10', '08', 'true', 'null', '~'])('%s', async (written) => {
    const config = parseConfig(
      `clusters:
  - name: c
    expected_version: ${written}
    components: [{ name: web, probe: { tcp: { port: 80 } } }]
    servers:
      - { name: a, address: 127.0.0.1, site: ${written}, labels: { build: ${written} } }
`,
      'text.yml',
    );
    const [cluster] = config.clusters;
    expect(cluster!.expectedVersion).toBe(written);
    expect(cluster!.servers[0]).toMatchObject({ site: written, labels: { build: written } });
  });

  it('an empty value leaves a text field unset', async () => {
    const config = parseConfig(
      `clusters:
  - name: c
    expected_version:
    components: [{ name: web, probe: { tcp: { port: 80 } } }]
    servers: [{ name: a, address: 127.0.0.1 }]
`,
      'text.yml',
    );
    expect(config.clusters[0]!.expectedVersion).toBeUndefined();
  });

  it('names taken as written, and keys too', async () => {
    const config = parseConfig(
      `clusters:
  - name: 3.10
    components: [{ name: 1.10, probe: { tcp: { port: 80 } } }]
    servers:
      - name: 08
        address: 127.0.0.1
        labels: { rack: r1 }
        components: { 1.10: { required: false } }
`,
      'text.yml',
    );
    const [cluster] = config.clusters;
    expect(cluster!.name).toBe('3.10');
    expect(cluster!.servers[0]!.name).toBe('08');
    expect(cluster!.servers[0]!.components.map((c) => [c.name, c.required])).toEqual([['1.10', false]]);
  });
});

describe('config.schema.json', () => {
  it('is generated from the schema the loader validates with (npm run generate:schema)', () => {
    const published = JSON.parse(readFileSync(join(import.meta.dirname, '../../config.schema.json'), 'utf8')) as unknown;
    expect(published).toEqual(JSON.parse(JSON.stringify(configJsonSchema())));
  });
  it('is named by the modeline of every example', () => {
    for (const f of readdirSync(examplesDir).filter((n) => n.endsWith('.yml') && !n.startsWith('sim-'))) {
      expect(readFileSync(join(examplesDir, f), 'utf8'), f).toMatch(/^# yaml-language-server: \$schema=\.\.\/config\.schema\.json$/m);
    }
  });
});

describe('endpoints and per-component settings', () => {
  const config = parseConfig(
    `clusters:
  - name: c
    heartbeat_interval: 30s
    probe_timeout: 5s
    expected_version: "1.0"
    endpoints:
      health: { probe_timeout: 2s, http: { url: "http://{address}:{labels.port}/health" } }
    components:
      - { name: web, endpoint: health, heartbeat_interval: 10s, version: version }
      - { name: service, endpoint: health, expected_version: "2.0", version: version }
      - { name: peer, heartbeat_interval: 20s, probe: { tcp: { port: "{labels.peer}" } } }
    servers:
      - { name: a, address: "::1", labels: { port: "8080", peer: "2380" } }
      - { name: b, address: 10.0.0.2, labels: { port: "8081", peer: "2381" }, components: { web: { heartbeat_interval: 5s } } }
`,
    'endpoints.yml',
  );
  const [a, b] = config.clusters[0]!.servers;

  it('probes a shared endpoint once, at the shortest interval of the components that read it', () => {
    expect(a!.endpoints.map((e) => [e.name, e.intervalMs, e.timeoutMs, e.target])).toEqual([
      ['health', 10_000, 2000, { url: 'http://[::1]:8080/health' }],
      ['~peer', 20_000, 5000, { host: '::1', port: 2380 }],
    ]);
    expect(b!.endpoints.map((e) => [e.name, e.intervalMs, e.target])).toEqual([
      ['health', 5000, { url: 'http://10.0.0.2:8081/health' }],
      ['~peer', 20_000, { host: '10.0.0.2', port: 2381 }],
    ]);
    // Both components read one endpoint: one key, one request per interval.
    expect(new Set(a!.components.slice(0, 2).map((c) => c.endpoint)).size).toBe(1);
  });

  it("holds each component to its own expected version, else the cluster's", () => {
    expect(a!.components.map((c) => [c.name, c.expectedVersion, c.heartbeatIntervalMs])).toEqual([
      ['web', '1.0', 10_000],
      ['service', '2.0', 30_000],
      ['peer', '1.0', 20_000],
    ]);
  });
});
