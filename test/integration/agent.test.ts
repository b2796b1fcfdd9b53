/**
 * The on-node agent against real files, real processes and real sockets on loopback:
 * each fact kind, bad input as per-fact errors, the read cache, its own metrics, basic
 * auth, and the built command as users run it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync } from 'node:fs';
import { mkdir, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { register } from 'prom-client';
import { Agent as UndiciAgent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyHash } from '../../src/config/key-hash.js';
import { ensureBuilt, sample } from '../hardening/util.js';
import { makeCerts } from '../helpers/certs.js';
import { progetConfig, readFact, spawnAgent, startTestAgent, type TestAgent } from '../helpers/agent.js';
import { tempDir, waitFor } from '../helpers/stack.js';
import { requireTool } from '../helpers/tools.js';

const SECRET = `fp-secret-${randomBytes(16).toString('hex')}`;
const KEY = randomBytes(16).toString('hex');
const ENV_NAME = 'APPCLUSTER_AGENT_TEST_KEY';

let dir: string;
let health: Server;
let healthPort: number;
let healthStatus = 200;
const running: TestAgent[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = await tempDir('agent-');
  await writeFile(join(dir, 'secret'), `${SECRET}\n`);
  await writeFile(join(dir, 'ProGet.config'), progetConfig(KEY));
  health = createServer((req, res) => {
    req.resume();
    res.writeHead(healthStatus, { 'content-type': 'application/json' }).end('{"status":"secret body never read"}');
  });
  await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
  healthPort = (health.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(running.map((a) => a.agent.close()));
  health?.closeAllConnections();
  await new Promise((resolve) => health?.close(resolve));
});

async function agent(name: string, text: string): Promise<TestAgent> {
  const a = await startTestAgent(dir, name, text);
  running.push(a);
  return a;
}

/** A `sleep` of a length no other process on the machine is likely to use, to find it by. */
function spawnSleep(): { child: ChildProcess; marker: string } {
  const marker = String(300 + Math.floor(Math.random() * 1_000_000));
  const child = spawn('sleep', [marker], { stdio: 'ignore' });
  children.push(child);
  return { child, marker };
}

async function killed(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('fingerprint facts', () => {
  it('fingerprints the EncryptionKey of a ProGet-style XML configuration as the exporter hashes keys', async () => {
    process.env[ENV_NAME] = KEY;
    await writeFile(join(dir, 'proget.env'), `# ProGet container\nPROGET_ENCRYPTION_KEY=${KEY}\n`);
    await writeFile(join(dir, 'key-file'), `${KEY}\n`);
    const a = await agent(
      'fingerprints.yml',
      `fingerprint_secret_file: secret
facts:
  encryption_key: { fingerprint: { file: ProGet.config, xml: InedoAppConfig.EncryptionKey } }
  from_env: { fingerprint: { env: ${ENV_NAME} } }
  from_dotenv: { fingerprint: { file: proget.env, dotenv: PROGET_ENCRYPTION_KEY } }
  from_key_file: { fingerprint: { file: key-file, regex: '^\\s*(\\S+)' } }
  whole_file: { fingerprint: { file: key-file } }
`,
    );
    const doc = await a.facts();
    const expected = keyHash(SECRET, KEY);
    expect(expected).toMatch(/^[0-9a-f]{12}$/);
    for (const name of ['encryption_key', 'from_env', 'from_dotenv', 'from_key_file']) {
      expect(doc.facts[name], name).toMatchObject({ kind: 'fingerprint', ok: true, fingerprint: expected });
    }
    // A whole file is hashed as its bytes, newline included.
    expect(doc.facts['whole_file']).toMatchObject({ ok: true, fingerprint: keyHash(SECRET, `${KEY}\n`) });
    expect(JSON.stringify(doc)).not.toContain(KEY);
  });

  it('gives another fingerprint for another key or another secret', async () => {
    await writeFile(join(dir, 'other-secret'), `${SECRET}-other\n`);
    await writeFile(join(dir, 'Other.config'), progetConfig(KEY.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'))));
    const a = await agent(
      'other.yml',
      `fingerprint_secret_file: other-secret
facts:
  same_key: { fingerprint: { file: ProGet.config, xml: InedoAppConfig.EncryptionKey } }
`,
    );
    const b = await agent(
      'other-key.yml',
      `fingerprint_secret_file: secret
facts:
  other_key: { fingerprint: { file: Other.config, xml: InedoAppConfig.EncryptionKey } }
`,
    );
    const fingerprints = [(await a.fact('same_key')) as Record<string, unknown>, (await b.fact('other_key')) as Record<string, unknown>].map((f) => f['fingerprint']);
    expect(new Set([...fingerprints, keyHash(SECRET, KEY)]).size).toBe(3);
  });
});

describe('bad input is a per-fact error, and the other facts are served', () => {
  it('names each problem with a short reason', async () => {
    await writeFile(join(dir, 'NoKey.config'), progetConfig('ignored').replace(/<EncryptionKey>.*<\/EncryptionKey>/, ''));
    await writeFile(join(dir, 'Broken.config'), progetConfig(KEY).replace('</InedoAppConfig>', ''));
    await writeFile(join(dir, 'broken.json'), `{"version": "1.0", "key": "${KEY}"`);
    await writeFile(join(dir, 'conn.xml'), '<c><s>Server=db;Password=hunter2</s></c>');
    // Gigabytes on disk at no cost: a sparse file.
    await writeFile(join(dir, 'huge.config'), '');
    await truncate(join(dir, 'huge.config'), 4 * 1024 ** 3);
    await mkdir(join(dir, 'a-directory'), { recursive: true });
    spawnSync('mkfifo', [join(dir, 'a-fifo')]);
    await writeFile(join(dir, 'stale.pid'), '999999999\n');
    await writeFile(join(dir, 'garbage.pid'), 'not a pid\n');
    const a = await agent(
      'bad.yml',
      `fingerprint_secret_file: secret
min_interval: 100ms
facts:
  good: { fingerprint: { file: ProGet.config, xml: InedoAppConfig.EncryptionKey } }
  no_file: { fingerprint: { file: does-not-exist.config, xml: InedoAppConfig.EncryptionKey } }
  no_element: { fingerprint: { file: NoKey.config, xml: InedoAppConfig.EncryptionKey } }
  malformed_xml: { fingerprint: { file: Broken.config, xml: InedoAppConfig.EncryptionKey } }
  malformed_json: { value: { file: broken.json, json: version } }
  huge: { fingerprint: { file: huge.config, xml: InedoAppConfig.EncryptionKey } }
  directory: { fingerprint: { file: a-directory } }
  fifo: { fingerprint: { file: a-fifo } }
  stale_pid: { process: { pid_file: stale.pid } }
  garbage_pid: { process: { pid_file: garbage.pid } }
  connection_string: { value: { file: conn.xml, xml: c.s } }
`,
    );
    const started = performance.now();
    const doc = await a.facts();
    // No file was read past its bound, and the FIFO with no writer did not block.
    expect(performance.now() - started).toBeLessThan(2000);
    const errors = Object.fromEntries(Object.entries(doc.facts).map(([n, f]) => [n, f.ok ? 'ok' : `${f.error}: ${f.detail}`]));
    expect(errors).toEqual({
      good: 'ok',
      no_file: 'not_found: cannot read the file: ENOENT',
      no_element: 'missing: no InedoAppConfig.EncryptionKey in the XML',
      malformed_xml: expect.stringMatching(/^malformed: not well-formed XML \(line \d+\)$/),
      malformed_json: 'malformed: not valid JSON',
      huge: 'too_large: over the 1048576-byte limit',
      directory: 'not_a_file: not a regular file',
      fifo: 'not_a_file: not a regular file',
      stale_pid: 'stale_pid_file: pid 999999999 from the pid file is not running',
      garbage_pid: 'malformed: the pid file holds no pid',
      connection_string: expect.stringMatching(/^refused: /),
    });
    for (const f of Object.values(doc.facts)) expect(f.readAt).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(JSON.stringify(doc)).not.toContain('hunter2');
    // Each lasting error is logged once, however often it is read.
    await waitFor('another reading', async () => ((await a.facts()).collectedAt > doc.collectedAt ? true : undefined));
    expect(a.logLines.filter((l) => l.includes('fact=no_file'))).toHaveLength(1);
    // The agent still answers.
    expect((await fetch(`${a.agent.url}/-/healthy`)).status).toBe(200);
  });

  it('stops reading a file that is larger than it says (files in /proc say 0 bytes)', async () => {
    const a = await agent(
      'proc.yml',
      `file_size_limit: 100
facts:
  v: { value: { file: /proc/self/status, regex: '^Name:\\s*(\\S+)' } }
`,
    );
    expect(await a.fact('v')).toMatchObject({ ok: false, error: 'too_large', detail: 'over the 100-byte limit' });
  });

  it('reports permission_denied for a file the agent user may not read', async () => {
    ensureBuilt();
    const secretDir = await tempDir('agent-perm-');
    await writeFile(join(secretDir, 'secret'), `${SECRET}\n`);
    await writeFile(join(secretDir, 'ProGet.config'), progetConfig(KEY));
    await writeFile(join(secretDir, 'agent.yml'), `fingerprint_secret_file: secret\nfacts:\n  key: { fingerprint: { file: ProGet.config, xml: InedoAppConfig.EncryptionKey } }\n`);
    chmodSync(join(secretDir, 'ProGet.config'), 0o000);
    // Root reads every file: as root, run the agent without the capabilities that let it.
    const asRoot = process.getuid?.() === 0;
    const wrapper = asRoot ? [requireTool('setpriv'), '--bounding-set=-dac_override,-dac_read_search', '--'] : [];
    const child = await spawnAgent([`--config.file=${join(secretDir, 'agent.yml')}`], { wrapper });
    try {
      const doc = (await (await fetch(`${child.url}/api/v1/facts`)).json()) as { facts: Record<string, { error?: string; detail?: string }> };
      expect(doc.facts['key']).toMatchObject({ ok: false, error: 'permission_denied', detail: 'cannot read the file: EACCES' });
    } finally {
      expect(await child.stop()).toBe(0);
      await rm(secretDir, { recursive: true, force: true });
    }
  });
});

describe('value facts', () => {
  it('reads a version from XML, JSON, YAML, INI, .env and text', async () => {
    await writeFile(join(dir, 'version.json'), '{"product": {"version": "8.6.2"}}');
    await writeFile(join(dir, 'version.yml'), 'product:\n  version: 3.10\n');
    await writeFile(join(dir, 'version.ini'), '; installed\n[product]\nversion = 2023.27 (Build 5)\n');
    await writeFile(join(dir, 'version.env'), 'VERSION=5.5-SP2\n');
    await writeFile(join(dir, 'version.txt'), 'SecureTransport\nVersion: 5.5.1\n');
    await writeFile(join(dir, 'Version.config'), '<App><Version Build="5">2024.1</Version></App>');
    const a = await agent(
      'values.yml',
      `facts:
  json: { value: { file: version.json, json: product.version } }
  yaml: { value: { file: version.yml, yaml: product.version } }
  ini: { value: { file: version.ini, ini: product.version } }
  dotenv: { value: { file: version.env, dotenv: VERSION } }
  text: { value: { file: version.txt, regex: '^Version: (\\S+)$' } }
  xml: { value: { file: Version.config, xml: App.Version } }
  xml_attribute: { value: { file: Version.config, xml: 'App.Version["@Build"]' } }
`,
    );
    const doc = await a.facts();
    const values = Object.fromEntries(Object.entries(doc.facts).map(([n, f]) => [n, f.ok ? f['value'] : f.error]));
    expect(values).toEqual({ json: '8.6.2', yaml: '3.10', ini: '2023.27 (Build 5)', dotenv: '5.5-SP2', text: '5.5.1', xml: '2024.1', xml_attribute: '5' });
  });
});

describe('process facts', () => {
  it('follow a process by name and by pid file as it starts and stops, with its start time', async () => {
    const { child, marker } = spawnSleep();
    const spawnedAt = Date.now() / 1000;
    await writeFile(join(dir, 'sleep.pid'), `${child.pid}\n`);
    const a = await agent(
      'process.yml',
      `min_interval: 100ms
facts:
  by_name: { process: { name: sleep, cmdline_contains: "${marker}" } }
  by_pid_file: { process: { pid_file: sleep.pid, name: sleep } }
  not_this_one: { process: { name: sleep, cmdline_contains: "no-such-${marker}" } }
`,
    );
    const first = await waitFor('the sleep process', async () => {
      const doc = await a.facts();
      return doc.facts['by_name']?.ok && doc.facts['by_name']['running'] === true ? doc : undefined;
    });
    for (const name of ['by_name', 'by_pid_file']) {
      const f = first.facts[name] as Record<string, unknown>;
      expect(f, name).toMatchObject({ ok: true, state: 'running', running: true, count: 1, pid: child.pid });
      // Clock ticks are 10 ms and btime whole seconds: within 2 s of the spawn.
      expect(Math.abs((f['startTime'] as number) - spawnedAt), name).toBeLessThan(2);
    }
    expect(first.facts['not_this_one']).toMatchObject({ ok: true, state: 'stopped', running: false, count: 0, pid: null, startTime: null });

    await killed(child);
    const after = await waitFor('the process gone', async () => {
      const doc = await a.facts();
      return doc.facts['by_name']?.ok && doc.facts['by_name']['state'] === 'stopped' ? doc : undefined;
    });
    expect(after.facts['by_pid_file']).toMatchObject({ ok: false, error: 'stale_pid_file' });

    // A new process under the same name shows with a new pid and a later start time.
    const second = spawnSleep();
    const a2 = await agent('process2.yml', `min_interval: 100ms\nfacts:\n  p: { process: { name: sleep, cmdline_contains: "${second.marker}" } }\n`);
    expect(await a2.fact('p')).toMatchObject({ state: 'running', pid: second.child.pid });
    await killed(second.child);
  });
});

describe('tcp and http facts', () => {
  it('pass through a local port and a health URL', async () => {
    const a = await agent(
      'net.yml',
      `min_interval: 100ms
facts:
  port_open: { tcp: { port: ${healthPort} } }
  port_closed: { tcp: { port: 1 } }
  health: { http: { url: "http://127.0.0.1:${healthPort}/health" } }
  health_gone: { http: { url: "http://127.0.0.1:1/health", timeout: 1s } }
`,
    );
    healthStatus = 200;
    let doc = await a.facts();
    expect(doc.facts['port_open']).toMatchObject({ ok: true, state: 'up', reason: null });
    expect(doc.facts['port_closed']).toMatchObject({ ok: true, state: 'down', reason: 'connection_refused' });
    expect(doc.facts['health']).toMatchObject({ ok: true, state: 'up', httpStatus: 200, reason: null });
    expect(doc.facts['health_gone']).toMatchObject({ ok: true, state: 'down', httpStatus: null, reason: 'connection_refused' });
    expect(readFact(doc.facts['health'])['seconds']).toBeGreaterThan(0);
    healthStatus = 503;
    doc = await waitFor('the 503', async () => {
      const d = await a.facts();
      return readFact(d.facts['health'])['httpStatus'] === 503 ? d : undefined;
    });
    expect(doc.facts['health']).toMatchObject({ state: 'down', reason: 'http_status' });
    expect(JSON.stringify(doc)).not.toContain('never read');
  });
});

describe('a fact that hangs', () => {
  it('is the error timeout after read_timeout, and the others are served', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const hang = createServer((req) => req.resume());
    hang.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    const hangPort = (hang.address() as AddressInfo).port;
    try {
      const a = await agent(
        'hang.yml',
        `read_timeout: 500ms
facts:
  hangs: { http: { url: "http://127.0.0.1:${hangPort}/", timeout: 30s } }
  times_out: { http: { url: "http://127.0.0.1:${hangPort}/", timeout: 200ms } }
  port: { tcp: { port: ${hangPort} } }
`,
      );
      const started = performance.now();
      const doc = await a.facts();
      expect(performance.now() - started).toBeLessThan(5000);
      expect(doc.facts['hangs']).toMatchObject({ ok: false, error: 'timeout', detail: 'not read within 500 ms' });
      expect(doc.facts['times_out']).toMatchObject({ ok: true, state: 'down', httpStatus: null, reason: 'timeout' });
      expect(doc.facts['port']).toMatchObject({ ok: true, state: 'up' });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => hang.close(resolve));
    }
  });
});

describe('serving', () => {
  it('reads facts at most once per min_interval, however many ask', async () => {
    await writeFile(join(dir, 'v.json'), '{"v": "1.0"}');
    const a = await agent('cache.yml', `min_interval: 1h\nfacts:\n  v: { value: { file: v.json, json: v } }\n`);
    const docs = await Promise.all(Array.from({ length: 20 }, () => a.facts()));
    await writeFile(join(dir, 'v.json'), '{"v": "2.0"}');
    docs.push(await a.facts());
    expect(new Set(docs.map((d) => d.collectedAt)).size).toBe(1);
    expect(new Set(docs.map((d) => readFact(d.facts['v'])['value']))).toEqual(new Set(['1.0']));
    const metrics = await (await fetch(`${a.agent.url}/metrics`)).text();
    expect(sample(metrics, 'agent_collections_total')).toBe(1);
    expect(sample(metrics, 'agent_fact_document_answers_total', { cached: 'true' })).toBe(20);
    // The node's clock is read per answer, not cached, so clock skew shows.
    expect(docs.at(-1)!.node.time).toBeGreaterThanOrEqual(docs[0]!.node.time);
  });

  it('reads again once min_interval has passed', async () => {
    await writeFile(join(dir, 'w.json'), '{"v": "1.0"}');
    const a = await agent('cache2.yml', `min_interval: 300ms\nfacts:\n  v: { value: { file: w.json, json: v } }\n`);
    expect(await a.fact('v')).toMatchObject({ value: '1.0' });
    await writeFile(join(dir, 'w.json'), '{"v": "2.0"}');
    await waitFor('the new value', async () => (readFact(await a.fact('v'))['value'] === '2.0' ? true : undefined));
  });

  it('serves a documented schema, agent_ metrics in a registry of its own, and nothing a request names', async () => {
    const a = await agent('serve.yml', `facts:\n  port: { tcp: { port: 1 } }\n`);
    const doc = await a.facts();
    expect(Object.keys(doc)).toEqual(['schemaVersion', 'agent', 'node', 'collectedAt', 'facts']);
    expect(doc.schemaVersion).toBe(1);
    expect(Object.keys(doc.node)).toEqual(['hostname', 'os', 'osVersion', 'distribution', 'arch', 'time']);
    expect(doc.node.os).toMatch(/^Linux \S+/);
    expect(Math.abs(doc.node.time - Date.now() / 1000)).toBeLessThan(5);
    const metrics = await (await fetch(`${a.agent.url}/metrics`)).text();
    const names = new Set(metrics.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => /^[a-zA-Z_:][\w:]*/.exec(l)![0]));
    expect(names.size).toBeGreaterThan(4);
    for (const n of names) expect(n).toMatch(/^agent_/);
    expect(sample(metrics, 'agent_fact_last_read_success', { fact: 'port' })).toBe(1);
    expect(register.getMetricsAsArray()).toHaveLength(0);
    // A query names nothing: the same document, and unknown paths are 404.
    const withQuery = (await (await fetch(`${a.agent.url}/api/v1/facts?file=/etc/shadow&fact=port`)).json()) as typeof doc;
    expect(Object.keys(withQuery.facts)).toEqual(['port']);
    for (const path of ['/api/v1/facts/port', '/etc/passwd', '/api/v1/facts/../../etc/passwd', '/api/v1/file']) {
      expect((await fetch(`${a.agent.url}${path}`)).status, path).toBe(404);
    }
    // A known path with a method it does not take: 405, with the methods it does.
    const post = await fetch(`${a.agent.url}/api/v1/facts`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('serves TLS from --web.config.file', async () => {
    const certs = makeCerts(await tempDir('agent-tls-'));
    const webConfig = join(dir, 'web-tls.yml');
    await writeFile(webConfig, `tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\n`);
    const a = await startTestAgent(dir, 'tls.yml', 'facts:\n  port: { tcp: { port: 1 } }\n', '127.0.0.1:0', webConfig);
    running.push(a);
    expect(a.agent.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const dispatcher = new UndiciAgent({ connect: { ca: readFileSync(certs.ca) } });
    const res = await undiciFetch(`${a.agent.url}/api/v1/facts`, { dispatcher });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { facts: Record<string, unknown> }).facts['port']).toMatchObject({ ok: true });
    await dispatcher.close();
    await expect(fetch(a.agent.url.replace('https:', 'http:') + '/api/v1/facts')).rejects.toThrow();
  });

  it('guards every endpoint with basic auth from --web.config.file', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const webConfig = join(dir, 'web.yml');
    await writeFile(webConfig, `basic_auth_users:\n  exporter: ${bcrypt.hashSync(password, 10)}\n`);
    const a = await startTestAgent(dir, 'auth.yml', 'facts:\n  port: { tcp: { port: 1 } }\n', '127.0.0.1:0', webConfig);
    running.push(a);
    const auth = { authorization: `Basic ${Buffer.from(`exporter:${password}`).toString('base64')}` };
    for (const path of ['/api/v1/facts', '/metrics', '/-/healthy']) {
      expect((await fetch(`${a.agent.url}${path}`)).status, path).toBe(401);
      expect((await fetch(`${a.agent.url}${path}`, { headers: auth })).status, path).toBe(200);
    }
  });
});

describe('appcluster-exporter agent', () => {
  it('runs as a sub-command of the same binary, checks its configuration and stops on SIGTERM', async () => {
    ensureBuilt();
    const good = join(dir, 'cli.yml');
    await writeFile(good, 'fingerprint_secret_file: secret\nfacts:\n  key: { fingerprint: { file: ProGet.config, xml: InedoAppConfig.EncryptionKey } }\n');
    const bad = join(dir, 'cli-bad.yml');
    await writeFile(bad, 'facts:\n  key: { fingerprint: { file: ProGet.config } }\n');
    const main = join(import.meta.dirname, '../../dist/src/main.js');
    const ok = spawnSync(process.execPath, [main, 'agent', '--config.check', `--config.file=${good}`], { encoding: 'utf8' });
    expect([ok.status, ok.stdout]).toEqual([0, `${good}: valid (1 facts)\n${good}: every fact read once: all readable\n`]);
    const no = spawnSync(process.execPath, [main, 'agent', '--config.check', `--config.file=${bad}`], { encoding: 'utf8' });
    expect(no.status).toBe(1);
    expect(no.stderr).toContain(`${bad}:2:23: facts.key.fingerprint: needs fingerprint_secret_file`);
    // Valid, but a fact that can never be read (issue 28, item 11): an XML path with a typo, a missing file.
    const typo = join(dir, 'cli-typo.yml');
    await writeFile(
      typo,
      'fingerprint_secret_file: secret\nfacts:\n  key: { fingerprint: { file: ProGet.config, xml: InedoAppConfig.EncryptionKy } }\n  port: { tcp: { port: 1 } }\n  gone: { value: { file: no-such.config, xml: a.b } }\n',
    );
    const unread = spawnSync(process.execPath, [main, 'agent', '--config.check', `--config.file=${typo}`], { encoding: 'utf8' });
    expect([unread.status, unread.stdout]).toEqual([1, `${typo}: valid (3 facts)\n`]);
    expect(unread.stderr).toBe(
      `${typo}:3:3: facts.key: cannot be read: missing: no InedoAppConfig.EncryptionKy in the XML\n` +
        `${typo}:5:3: facts.gone: cannot be read: not_found: cannot read the file: ENOENT\n` +
        `${typo}: 2 of 3 facts cannot be read (check on the node, as the agent's user)\n`,
    );
    const usage = spawnSync(process.execPath, [main, 'agent', '--no-such-flag'], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(spawnSync(process.execPath, [main, '--help'], { encoding: 'utf8' }).stdout).toContain('appcluster-exporter agent [flags]');

    const child = await spawnAgent([`--config.file=${good}`, '--log.format=json']);
    const doc = (await (await fetch(`${child.url}/api/v1/facts`)).json()) as { facts: Record<string, { fingerprint?: string }> };
    expect(doc.facts['key']?.fingerprint).toBe(keyHash(SECRET, KEY));
    // A hangup (a closed terminal, a reload by habit) does not end it.
    child.child.kill('SIGHUP');
    await waitFor('the SIGHUP warning', () => (child.output().includes('SIGHUP ignored') ? true : undefined));
    expect((await fetch(`${child.url}/-/healthy`)).status).toBe(200);
    expect(await child.stop()).toBe(0);
    expect(child.output()).toContain('"msg":"stopping"');
  });
});
