/**
 * The configuration check's own all-clear (issue 28, item 11): `--config.check` and
 * loading report every problem at once, at the user's own file and line, naming the
 * secret file or variable they gave; a basic_auth username without a password is an error;
 * defaults fit the timing the user wrote; a preset's timing does not silently win over
 * the user's `global`.
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ConfigErrors } from '../../src/config/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { ensureBuilt } from '../hardening/util.js';
import { tempDir } from '../helpers/stack.js';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('config-check-');
});

/** The ConfigError `text` (a file in `dir`) fails with. */
function failure(text: string, name = 'appcluster.yml'): ConfigError {
  try {
    parseConfig(text, join(dir, name));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('loaded');
}

const st = (parameters: string) => `clusters:
  - name: mft
    preset: securetransport
    parameters: ${parameters}
    servers: [{ name: st-1, address: 10.50.1.11 }]
`;

describe('a SecureTransport cluster', () => {
  it('with a username and no password is an error at the user\'s parameters, said once', () => {
    const err = failure(st('{ username: monitor }'));
    expect(err.message).toBe(
      `${join(dir, 'appcluster.yml')}:4:17: clusters[0].parameters: basic_auth has username "monitor" and no password: set password_file or password_env (an empty file for an empty password) (through preset "securetransport")`,
    );
  });

  it('with a password file that is not there names it, at the line where the user gave it', () => {
    const err = failure(st('{ username: monitor, password_file: st-admin.pass }'));
    expect(err.message).toBe(
      `${join(dir, 'appcluster.yml')}:4:53: clusters[0].parameters.password_file: cannot read secret file "st-admin.pass" (${join(dir, 'st-admin.pass')}): ENOENT (through preset "securetransport")`,
    );
  });

  it('with a password variable that is not set names the variable', () => {
    delete process.env['CONFIG_CHECK_TEST_UNSET'];
    const err = failure(st('{ username: monitor, password_env: CONFIG_CHECK_TEST_UNSET }'));
    expect(err.message).toMatch(/appcluster\.yml:4:52: clusters\[0\]\.parameters\.password_env: names an environment variable that is not set: CONFIG_CHECK_TEST_UNSET \(through preset "securetransport"\)$/);
  });

  it('does not repeat a "variable name" that looks like a pasted secret', () => {
    const err = failure(st('{ username: monitor, password_env: "s3cr3t-Pa55word!" }'));
    expect(err.message).toContain('names an environment variable that is not set (its name is not repeated');
    expect(err.message).not.toContain('s3cr3t');
  });
});

describe('every problem at once', () => {
  it('lists each, in the order of the file, at its own line', () => {
    const err = failure(`clusters:
  - name: a
    components:
      - { name: web, endpoint: nope }
      - { name: db, probe: { tcp: { port: 5432 } } }
    servers:
      - { name: s1, address: "bad address" }
      - { name: s1, address: 10.0.0.2 }
  - name: b
    components: [{ name: web, probe: { http: { url: "http://{address}/", bearer_token_file: missing.token } } }]
    servers: [{ name: s1, address: 10.0.0.3 }]
  - name: a
    components: [{ name: web, probe: { tcp: { port: 1 } } }]
    servers: [{ name: s1, address: 10.0.0.4 }]
`);
    expect(err).toBeInstanceOf(ConfigErrors);
    const lines = err.message.split('\n').map((l) => l.slice(join(dir, 'appcluster.yml').length + 1));
    expect(lines).toEqual([
      '4:32: clusters[0].components[0].endpoint: no endpoint "nope" in this cluster; declare it under the cluster\'s "endpoints"',
      '7:30: clusters[0].servers[0].address: "bad address" is not an IPv4 or IPv6 address or a host name',
      '8:17: clusters[0].servers[1].name: duplicate server name "s1" in cluster "a"',
      `10:93: clusters[1].components[0].probe.http.bearer_token_file: cannot read secret file "missing.token" (${join(dir, 'missing.token')}): ENOENT`,
      '12:11: clusters[2].name: duplicate cluster name "a"',
    ]);
    // The first is the error's own file, line and field, as for one problem.
    expect([err.line, err.path]).toEqual([4, 'clusters[0].components[0].endpoint']);
  });

  it('lists every problem the schema finds', () => {
    const err = failure(`clusters:
  - name: a
    heartbeat_interval: soon
    components: [{ name: web, probe: { tcp: { port: 99999 } } }]
    servers: [{ name: s1, address: 10.0.0.1, role: passive }]
`);
    expect(err.message.split('\n')).toHaveLength(3);
    expect(err.message).toContain('3:25: clusters[0].heartbeat_interval: must be a duration');
    expect(err.message).toContain('clusters[0].components[0].probe.tcp.port: must be a port number');
    expect(err.message).toContain('clusters[0].servers[0].role: must be one of active, standby, got "passive"');
  });
});

describe('defaults fit what the user wrote', () => {
  const one = (timing: string) =>
    parseConfig(`clusters:\n  - name: a\n${timing}    components: [{ name: web, probe: { tcp: { port: 1 } } }]\n    servers: [{ name: s1, address: 10.0.0.1 }]\n`, 'x.yml').clusters[0]!;

  it('heartbeat_interval: 2s alone is valid, with a probe timeout below it', () => {
    const c = one('    heartbeat_interval: 2s\n');
    expect([c.heartbeatIntervalMs, c.probeTimeoutMs, c.staleTimeoutMs]).toEqual([2000, 1600, 60_000]);
    expect(c.servers[0]!.endpoints[0]!.timeoutMs).toBe(1600);
  });

  it('a component probed every second by itself gets a timeout that fits its interval', () => {
    const c = parseConfig(
      'clusters:\n  - name: a\n    components: [{ name: web, heartbeat_interval: 1s, probe: { tcp: { port: 1 } } }]\n    servers: [{ name: s1, address: 10.0.0.1 }]\n',
      'x.yml',
    ).clusters[0]!;
    expect(c.servers[0]!.endpoints[0]).toMatchObject({ intervalMs: 1000, timeoutMs: 800 });
  });

  it('a timeout the user wrote is kept, and refused when it does not fit', () => {
    expect(one('    heartbeat_interval: 2s\n    probe_timeout: 1s\n').probeTimeoutMs).toBe(1000);
    expect(() => one('    heartbeat_interval: 2s\n    probe_timeout: 3s\n')).toThrow(/probe_timeout \(3000ms\) must be below heartbeat_interval \(2000ms\)/);
  });

  it('a component probed every 2 minutes is not stale between probes', () => {
    expect(one('    heartbeat_interval: 2m\n')).toMatchObject({ probeTimeoutMs: 5000, staleTimeoutMs: 480_000 });
    expect(one('    heartbeat_interval: 2m\n    stale_timeout: 3m\n').staleTimeoutMs).toBe(180_000);
  });
});

describe('appcluster-exporter --config.check', () => {
  it('prints every problem with the user\'s file and line, and the warnings of a valid file', async () => {
    ensureBuilt();
    const main = join(import.meta.dirname, '../../dist/src/main.js');
    const bad = join(dir, 'bad.yml');
    // Two clusters with a problem each: both reported, each at the user's own line; and
    // heartbeat_interval: 2s alone is no problem (the probe timeout fits it).
    await writeFile(
      bad,
      `global: { heartbeat_interval: 2s }\n${st('{ username: monitor }').replace('clusters:\n', 'clusters:\n  - name: other\n    components: [{ name: web, probe: { tcp: { port: 80 } } }]\n    servers: [{ name: s1, address: "bad address" }]\n')}`,
    );
    const r = spawnSync(process.execPath, [main, '--config.check', `--config.file=${bad}`], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `${bad}:5:36: clusters[0].servers[0].address: "bad address" is not an IPv4 or IPv6 address or a host name`,
      `${bad}:8:17: clusters[1].parameters: basic_auth has username "monitor" and no password: set password_file or password_env (an empty file for an empty password) (through preset "securetransport")`,
    ]);

    const good = join(dir, 'good.yml');
    await writeFile(good, 'global: { heartbeat_interval: 15s, stale_timeout: 2m }\nclusters:\n  - name: ci\n    preset: proget\n    servers: [{ name: a, address: 10.0.0.1 }]\n');
    const ok = spawnSync(process.execPath, [main, '--config.check', `--config.file=${good}`], { encoding: 'utf8' });
    expect([ok.status, ok.stdout]).toEqual([0, `${good}: valid (1 clusters, 5 components)\n`]);
    expect(ok.stderr).toContain(`${good}:1:51: global.stale_timeout: warning: component "web" of clusters[0] keeps preset "proget"'s stale_timeout 24h`);
  });
});
