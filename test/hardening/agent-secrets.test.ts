/**
 * Secrets never leave the agent: three agents (real processes, debug logs, both log
 * formats, basic auth) read encryption keys from XML, a key from the environment, files
 * that hold keys but are broken, a connection string with a password, and a process
 * whose command line holds a secret; a real exporter probes them through basic auth while
 * one node's key changes. No answer, log line or metric of either carries any secret, nor
 * an unkeyed hash of a key. The facts prove the secrets were read.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyHash } from '../../src/config/key-hash.js';
import { nthAddress } from '../../src/sim/cluster.js';
import { progetConfig, spawnAgent, type AgentProcess } from '../helpers/agent.js';
import { spawnExporter, type ExporterProcess } from '../helpers/process.js';
import { randomBase, tempDir, waitFor } from '../helpers/stack.js';
import { ensureBuilt, sample } from './util.js';

const hex = (n: number): string => randomBytes(n).toString('hex');
const KEY = hex(16);
const OTHER_KEY = hex(16);
const FINGERPRINT_SECRET = `fps-${hex(16)}`;
const ENV_KEY = `envkey-${hex(12)}`;
const DB_PASSWORD = `dbpw${hex(8)}`;
const CMDLINE_SECRET = `cmdsecret${hex(8)}`;
const AGENT_PASSWORD = `agentpw-${hex(12)}`;
const ENV_NAME = 'APPCLUSTER_AGENT_SECRET_TEST_KEY';

const digests = (text: string): string[] =>
  ['sha256', 'sha1', 'md5'].flatMap((alg) => {
    const d = createHash(alg).update(text).digest('hex');
    return [d, d.slice(0, 12)];
  });

/** Every form in which a secret could leak: as is, base64, and unkeyed digests of the keys. */
const SECRETS: Record<string, string> = {
  key: KEY,
  'other key': OTHER_KEY,
  'fingerprint secret': FINGERPRINT_SECRET,
  'key from the environment': ENV_KEY,
  'database password': DB_PASSWORD,
  'command-line secret': CMDLINE_SECRET,
  'agent password': AGENT_PASSWORD,
  'agent basic credentials': Buffer.from(`exporter:${AGENT_PASSWORD}`).toString('base64'),
  'key (base64)': Buffer.from(KEY).toString('base64'),
  ...Object.fromEntries(
    [KEY, OTHER_KEY, ENV_KEY].flatMap((k, i) => digests(k).map((d, j) => [`unkeyed digest ${j} of key ${i}`, d])),
  ),
};

const base = randomBase();
let dir: string;
let holder: ChildProcess;
const agents: AgentProcess[] = [];
let exporter: ExporterProcess;
let port: number;

function agentConfig(): string {
  return `fingerprint_secret_file: ../fingerprint-secret
min_interval: 200ms
facts:
  encryption_key: { fingerprint: { file: ProGet.config, xml: InedoAppConfig.EncryptionKey } }
  from_env: { fingerprint: { env: ${ENV_NAME} } }
  wrong_element: { fingerprint: { file: ProGet.config, xml: InedoAppConfig.NoSuchKey } }
  whole_element: { value: { file: ProGet.config, xml: InedoAppConfig } }
  connection_string: { value: { file: ProGet.config, xml: InedoAppConfig.ConnectionString } }
  broken_xml: { fingerprint: { file: broken.config, xml: InedoAppConfig.EncryptionKey } }
  broken_json: { value: { file: broken.json, json: version } }
  broken_yaml: { value: { file: broken.yml, yaml: version } }
  holder: { process: { name: bash, cmdline_contains: "${CMDLINE_SECRET.slice(0, 12)}" } }
`;
}

async function writeNode(node: string, key: string): Promise<void> {
  const nodeDir = join(dir, node);
  await mkdir(nodeDir, { recursive: true });
  await writeFile(join(nodeDir, 'ProGet.config'), progetConfig(key).replace('Initial Catalog=ProGet', `Initial Catalog=ProGet;Password=${DB_PASSWORD}`));
  await writeFile(join(nodeDir, 'broken.config'), `<InedoAppConfig><EncryptionKey>${key}</Encryption></InedoAppConfig>`);
  await writeFile(join(nodeDir, 'broken.json'), `{"version": "1", "key": "${key}`);
  await writeFile(join(nodeDir, 'broken.yml'), `version: [1\nkey: ${key}\n`);
}

beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir('agent-secrets-');
  await writeFile(join(dir, 'fingerprint-secret'), `${FINGERPRINT_SECRET}\n`);
  await writeFile(join(dir, 'web.yml'), `basic_auth_users:\n  exporter: ${bcrypt.hashSync(AGENT_PASSWORD, 10)}\n`);
  await writeFile(join(dir, 'agent-password'), `${AGENT_PASSWORD}\n`);
  holder = spawn('bash', ['-c', 'sleep 300; :', CMDLINE_SECRET], { stdio: 'ignore' });
  for (const [i, node] of ['node-1', 'node-2', 'node-3'].entries()) {
    await writeNode(node, KEY);
    await writeFile(join(dir, node, 'agent.yml'), agentConfig());
    const args = [
      `--config.file=${join(dir, node, 'agent.yml')}`,
      `--web.config.file=${join(dir, 'web.yml')}`,
      `--web.listen-address=${nthAddress(base, i)}:${i === 0 ? 0 : port}`,
      '--log.level=debug',
      `--log.format=${i === 1 ? 'json' : 'logfmt'}`,
    ];
    const a = await spawnAgent(args, { env: { ...process.env, [ENV_NAME]: ENV_KEY } });
    if (i === 0) port = Number(new URL(a.url).port);
    agents.push(a);
  }
  const configFile = join(dir, 'exporter.yml');
  await writeFile(
    configFile,
    `global:
  heartbeat_interval: 1s
  probe_timeout: 800ms
  stale_timeout: 5s
  key_hash_secret_file: fingerprint-secret
clusters:
  - name: sec
    components:
      - name: agent
        probe:
          http:
            url: "http://{address}:${port}/api/v1/facts"
            basic_auth: { username: exporter, password_file: agent-password }
        key_fingerprint: facts.encryption_key.fingerprint
        status: facts.holder.state
        os: node.os
    servers:
${[0, 1, 2].map((i) => `      - { name: node-${i + 1}, address: ${nthAddress(base, i)} }`).join('\n')}
`,
  );
  exporter = await spawnExporter([`--config.file=${configFile}`, '--log.level=debug']);
});

afterAll(async () => {
  holder?.kill('SIGKILL');
  await exporter?.stop();
  await Promise.all(agents.map((a) => a.stop()));
});

const AUTH = { authorization: `Basic ${Buffer.from(`exporter:${AGENT_PASSWORD}`).toString('base64')}` };

/** Every answer of an agent, with and without credentials, headers included. */
async function agentAnswers(url: string): Promise<string> {
  const out: string[] = [];
  for (const path of ['/api/v1/facts', '/metrics', '/-/healthy', '/', '/no-such-page', '/api/v1/facts?file=ProGet.config']) {
    for (const headers of [AUTH, {}]) {
      const res = await fetch(`${url}${path}`, { headers });
      out.push(JSON.stringify([...res.headers]), await res.text());
    }
  }
  return out.join('\n');
}

async function exporterAnswers(): Promise<string> {
  const out: string[] = [];
  for (const path of ['/metrics', '/api/v1/status', '/', '/?fragment=clusters']) out.push(await (await fetch(`${exporter.url}${path}`)).text());
  return out.join('\n');
}

function leaks(text: string): string[] {
  const lower = text.toLowerCase();
  return Object.entries(SECRETS)
    .filter(([, secret]) => lower.includes(secret.toLowerCase()))
    .map(([name]) => name);
}

describe('agent secrets', () => {
  it('no answer, log line or metric of the agents or the exporter carries a secret', async () => {
    const exporterMetric = async (name: string, labels: Record<string, string>): Promise<number | undefined> =>
      sample(await (await fetch(`${exporter.url}/metrics`)).text(), name, labels);
    await waitFor('every key in sync through basic auth', async () => {
      const values = await Promise.all(['node-1', 'node-2', 'node-3'].map((server) => exporterMetric('appcluster_component_key_in_sync', { server })));
      return values.every((v) => v === 1) ? true : undefined;
    });
    // The facts prove each secret was read, and each broken file was looked at.
    const doc = (await (await fetch(`${agents[0]!.url}/api/v1/facts`, { headers: AUTH })).json()) as {
      facts: Record<string, Record<string, unknown>>;
    };
    expect(doc.facts['encryption_key']).toMatchObject({ ok: true, fingerprint: keyHash(FINGERPRINT_SECRET, KEY) });
    expect(doc.facts['from_env']).toMatchObject({ ok: true, fingerprint: keyHash(FINGERPRINT_SECRET, ENV_KEY) });
    expect(doc.facts['holder']).toMatchObject({ ok: true, state: 'running', pid: holder.pid });
    const reasons = Object.fromEntries(Object.entries(doc.facts).filter(([, f]) => !f['ok']).map(([n, f]) => [n, f['error']]));
    expect(reasons).toEqual({
      wrong_element: 'missing',
      whole_element: 'not_text',
      connection_string: 'refused',
      broken_xml: 'malformed',
      broken_json: 'malformed',
      broken_yaml: 'malformed',
    });

    await writeNode('node-2', OTHER_KEY);
    await waitFor('node-2 out of sync', async () => ((await exporterMetric('appcluster_component_key_in_sync', { server: 'node-2' })) === 0 ? true : undefined));

    const texts: Record<string, string> = { 'exporter answers': await exporterAnswers(), 'exporter output': exporter.output() };
    for (const [i, a] of agents.entries()) {
      texts[`agent ${i + 1} answers`] = await agentAnswers(a.url);
      texts[`agent ${i + 1} output`] = a.output();
    }
    // The scan looks where it should: the logs have the facts' errors, the answers the fingerprints.
    expect(texts['agent 1 output']).toContain('fact=broken_xml reason=malformed');
    expect(texts['agent 2 output']).toContain('"fact":"connection_string","reason":"refused"');
    expect(texts['agent 1 answers']).toContain(keyHash(FINGERPRINT_SECRET, KEY));
    for (const [where, text] of Object.entries(texts)) expect(leaks(text), where).toEqual([]);
  });
});
