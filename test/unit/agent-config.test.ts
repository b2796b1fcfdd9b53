import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAgentConfig, loadAgentConfig } from '../../src/agent/config.js';
import { agentJsonSchema } from '../../src/agent/schema.js';
import { select, type Selector } from '../../src/agent/facts/source.js';
import { FactError } from '../../src/agent/facts/types.js';
import { ConfigError } from '../../src/config/errors.js';
import { parseJsonPath } from '../../src/config/json-path.js';
import { tempDir } from '../helpers/stack.js';

const root = join(import.meta.dirname, '../..');
const examplesDir = join(root, 'examples/agent');
const composeDir = join(root, 'compose/agent');

/** Configuration text, the expected "line:col: path: reason" of its error. */
const INVALID: [string, string, string][] = [
  ['empty', '', '1:1: the file is empty; it needs "facts"'],
  ['no facts', 'min_interval: 5s\n', '1:1: missing required field "facts"'],
  ['empty facts', 'facts: {}\n', '1:8: facts: must list at least one fact'],
  ['not a mapping', 'facts\n', '1:1: must be a mapping, got "facts"'],
  ['unknown field', 'facts:\n  a: { tcp: { port: 1 } }\nfacts_x: 1\n', '3:1: facts_x: unknown field "facts_x"'],
  ['bad interval', 'min_interval: 5 s\nfacts:\n  a: { tcp: { port: 1 } }\n', '1:15: min_interval: must be a duration'],
  ['bad size', 'file_size_limit: 1 TB\nfacts:\n  a: { tcp: { port: 1 } }\n', '1:18: file_size_limit: must be a size'],
  ['bad fact name', 'facts:\n  a-b: { tcp: { port: 1 } }\n', '2:3: facts.a-b: fact name "a-b" must match'],
  ['two kinds', 'facts:\n  a: { tcp: { port: 1 }, http: { url: "http://x" } }\n', '2:6: facts.a: must hold exactly one fact kind'],
  ['unknown kind', 'facts:\n  a: { file: { path: x } }\n', '2:8: facts.a.file: unknown fact kind "file"; known: fingerprint, value, process, tcp, http'],
  ['kind not a mapping', 'facts:\n  a: { tcp: 80 }\n', '2:13: facts.a.tcp: must be a mapping, got "80"'],
  ['fact not a mapping', 'facts:\n  a: true\n', '2:6: facts.a: must be a mapping, got "true"'],
  ['reserved fact name', 'facts:\n  __proto__: { tcp: { port: 1 } }\n', '2:3: a key named "__proto__" is not allowed'],
  ['no secret', 'facts:\n  key: { fingerprint: { file: k } }\n', '2:23: facts.key.fingerprint: needs fingerprint_secret_file'],
  ['inline secret', 'fingerprint_secret: abc\nfacts:\n  a: { tcp: { port: 1 } }\n', '1:1: fingerprint_secret: inline secrets are not accepted; use fingerprint_secret_file or fingerprint_secret_env'],
  ['unset secret variable', 'fingerprint_secret_env: APPCLUSTER_TEST_UNSET_VARIABLE\nfacts:\n  a: { tcp: { port: 1 } }\n', '1:25: fingerprint_secret_env: names an environment variable that is not set'],
  ['file and env', 'fingerprint_secret_env: APPCLUSTER_TEST_SECRET\nfacts:\n  k: { fingerprint: { file: k, env: K } }\n', '3:37: facts.k.fingerprint.env: set file or env, not both'],
  ['selector on env', 'fingerprint_secret_env: APPCLUSTER_TEST_SECRET\nfacts:\n  k: { fingerprint: { env: K, xml: a.b } }\n', '3:36: facts.k.fingerprint.xml: applies to a file, not to env'],
  ['two selectors', 'facts:\n  v: { value: { file: f, xml: a, json: b } }\n', '2:40: facts.v.value.json: set one of xml, json, yaml, ini, dotenv, regex, not xml and json'],
  ['whole file value', 'facts:\n  v: { value: { file: f } }\n', '2:15: facts.v.value: needs one of xml, json, yaml, ini, dotenv, regex to pick the value out of the file'],
  ['env value', 'facts:\n  v: { value: { env: HOME } }\n', '2:17: facts.v.value.env: an environment variable is never served'],
  ['bad path', 'facts:\n  v: { value: { file: f, xml: "a..b" } }\n', '2:31: facts.v.value.xml: "a..b" is not a path'],
  ['bad regex', 'facts:\n  v: { value: { file: f, regex: "(" } }\n', '2:33: facts.v.value.regex: is not a valid regular expression'],
  ['process without target', 'facts:\n  p: { process: { cmdline_contains: x } }\n', '2:17: facts.p.process: needs "name" or "pid_file"'],
  ['process name with path', 'facts:\n  p: { process: { name: /usr/bin/java } }\n', '2:25: facts.p.process.name: must be a program name without a path'],
  ['bad port', 'facts:\n  t: { tcp: { port: 70000 } }\n', '2:21: facts.t.tcp.port: must be a port number (1-65535)'],
  ['bad host', 'facts:\n  t: { tcp: { port: 1, host: "a b" } }\n', '2:30: facts.t.tcp.host: "a b" is not an IPv4 or IPv6 address'],
  ['bad url', 'facts:\n  h: { http: { url: "ftp://x" } }\n', '2:21: facts.h.http.url: must be an http:// or https:// URL'],
  ['bad timeout', 'facts:\n  t: { tcp: { port: 1, timeout: 2m } }\n', '2:33: facts.t.tcp.timeout: must be at most 60000ms'],
  ['port as text', 'facts:\n  t: { tcp: { port: "80" } }\n', '2:21: facts.t.tcp.port: must be a number, got "80"'],
  ['no port', 'facts:\n  t: { tcp: { host: 127.0.0.1 } }\n', '2:13: facts.t.tcp: missing required field "port"'],
  ['unknown setting', 'facts:\n  t: { tcp: { port: 1, path: /x } }\n', '2:24: facts.t.tcp.path: unknown field "path"'],
  ['tls file missing', 'facts:\n  h: { http: { url: "https://127.0.0.1/", tls: { ca_file: no-such-ca.pem } } }\n', '2:59: facts.h.http.tls.ca_file: cannot read file: ENOENT'],
  ['tls cert without key', 'facts:\n  h: { http: { url: "https://127.0.0.1/", tls: { cert_file: c.pem } } }\n', '2:48: facts.h.http.tls: cert_file and key_file must be set together'],
  ['secret file and env', 'fingerprint_secret_file: s\nfingerprint_secret_env: S\nfacts:\n  a: { tcp: { port: 1 } }\n', '2:25: fingerprint_secret_env: set fingerprint_secret_file or fingerprint_secret_env, not both'],
  ['duplicate fact', 'facts:\n  a: { tcp: { port: 1 } }\n  a: { tcp: { port: 2 } }\n', '3:3: YAML: Map keys must be unique'],
];

describe('agent configuration errors', () => {
  process.env['APPCLUSTER_TEST_SECRET'] = 'a-test-secret-of-enough-length';
  it.each(INVALID)('%s', (_name, text, expected) => {
    let err: unknown;
    try {
      parseAgentConfig(text, '/etc/agent.yml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain(`/etc/agent.yml:${expected}`);
  });

  it('refuses a short fingerprint secret, naming the field', async () => {
    const dir = await tempDir('agent-config-');
    await writeFile(join(dir, 'secret'), 'short\n');
    expect(() => parseAgentConfig('fingerprint_secret_file: secret\nfacts:\n  a: { tcp: { port: 1 } }\n', join(dir, 'agent.yml'))).toThrow(
      /agent\.yml:1:26: fingerprint_secret_file: the secret must be at least 16 characters/,
    );
  });

  it('takes defaults, sizes and durations', () => {
    const c = parseAgentConfig('facts:\n  a: { tcp: { port: 1 } }\n', '/x/agent.yml');
    expect([c.minIntervalMs, c.readTimeoutMs, c.fileSizeLimit]).toEqual([5000, 10_000, 1024 * 1024]);
    const d = parseAgentConfig('min_interval: 250ms\nfile_size_limit: 64KiB\nfacts:\n  a: { tcp: { port: 1 } }\n  b: { process: { name: sleep } }\n', '/x/agent.yml');
    expect([d.minIntervalMs, d.fileSizeLimit, d.facts.map((f) => `${f.name}:${f.kind}`)]).toEqual([250, 65536, ['a:tcp', 'b:process']]);
  });
});

describe('example agent configurations', () => {
  const files = readdirSync(examplesDir).filter((f) => f.endsWith('.yml'));
  it('cover both products', () => {
    expect(files.sort()).toEqual(['proget.yml', 'securetransport.yml']);
  });
  it.each(files)('%s loads (with a fingerprint secret of its own)', async (name) => {
    // The examples name a secret file next to them that each site makes; a copy loads with one.
    const dir = await tempDir('agent-example-');
    await writeFile(join(dir, 'fingerprint-secret'), `${'ab'.repeat(32)}\n`);
    await writeFile(join(dir, name), readFileSync(join(examplesDir, name)));
    const config = await loadAgentConfig(join(dir, name));
    const kinds = config.facts.map((f) => f.kind);
    expect(kinds).toContain('fingerprint');
    if (name === 'securetransport.yml') expect(kinds).toContain('process');
  });
  it.each(readdirSync(composeDir).filter((f) => f.endsWith('.yml')))('compose/agent/%s loads', async (name) => {
    const config = await loadAgentConfig(join(composeDir, name));
    expect(config.facts.map((f) => f.kind)).toEqual(['fingerprint', 'process', 'tcp', 'http']);
  });
});

describe('agent.schema.json', () => {
  it('is generated from the schema the agent validates with (scripts/generate-agent-schema.mjs)', () => {
    const published = JSON.parse(readFileSync(join(root, 'agent.schema.json'), 'utf8')) as unknown;
    expect(published).toEqual(JSON.parse(JSON.stringify(agentJsonSchema())));
  });
  it('is named by the modeline of every agent configuration in the repository', () => {
    for (const d of [examplesDir, composeDir]) {
      for (const f of readdirSync(d).filter((n) => n.endsWith('.yml'))) {
        expect(readFileSync(join(d, f), 'utf8'), f).toMatch(/^# yaml-language-server: \$schema=\.\.\/\.\.\/agent\.schema\.json$/m);
      }
    }
  });
});

describe('picking a value out of a file', () => {
  const path = (format: 'xml' | 'json' | 'yaml' | 'ini', text: string): Selector => ({ format, path: parseJsonPath(text)!, shown: text });
  const fails = (text: string, s: Selector): [string, string] => {
    try {
      select(text, s);
    } catch (err) {
      if (err instanceof FactError) return [err.reason, err.detail];
      throw err;
    }
    throw new Error('no error');
  };
  const proget = `<?xml version="1.0" encoding="utf-8"?>
<InedoAppConfig>
  <ConnectionString Type="SqlServer">Data Source=db; Password=x</ConnectionString>
  <EncryptionKey>
    00112233445566778899aabbccddeeff
  </EncryptionKey>
  <WebServer Enabled="true" Urls="http://*:8624/"/>
  <Empty/>
  <Twice>1</Twice><Twice>2</Twice>
</InedoAppConfig>`;

  it('reads XML elements, attributes and text as written', () => {
    expect(select(proget, path('xml', 'InedoAppConfig.EncryptionKey'))).toBe('00112233445566778899aabbccddeeff');
    expect(select(proget, path('xml', 'InedoAppConfig.WebServer["@Urls"]'))).toBe('http://*:8624/');
    expect(select(proget, path('xml', 'InedoAppConfig.ConnectionString'))).toBe('Data Source=db; Password=x');
    expect(select(proget, path('xml', 'InedoAppConfig.Twice[1]'))).toBe('2');
    expect(select('<a><v>007</v></a>', path('xml', 'a.v'))).toBe('007');
  });

  it('says why an XML value is not there', () => {
    expect(fails(proget, path('xml', 'InedoAppConfig.Missing'))).toEqual(['missing', 'no InedoAppConfig.Missing in the XML']);
    expect(fails(proget, path('xml', 'InedoAppConfig.Empty'))).toEqual(['missing', 'InedoAppConfig.Empty is empty']);
    expect(fails(proget, path('xml', 'InedoAppConfig.Twice'))[0]).toBe('not_text');
    expect(fails(proget, path('xml', 'InedoAppConfig'))[0]).toBe('not_text');
    expect(fails('<a><b>secret-text</a>', path('xml', 'a.b'))).toEqual(['malformed', 'not well-formed XML (line 1)']);
  });

  it('reads JSON, YAML (as written), INI and .env', () => {
    expect(select('{"product":{"version":"8.6.2"}}', path('json', 'product.version'))).toBe('8.6.2');
    expect(select('product:\n  version: 3.10\n', path('yaml', 'product.version'))).toBe('3.10');
    expect(select('[server]\nversion = 5.5.1\n[db]\nkey = x\n', path('ini', 'server.version'))).toBe('5.5.1');
    expect(select('# c\nexport A=1\nKEY="a b"\n', { format: 'dotenv', key: 'KEY' })).toBe('a b');
    expect(select('name=st\nversion=5.5-SP2\n', { format: 'regex', regex: /^version=(\S+)$/m })).toBe('5.5-SP2');
  });

  it('reports malformed files without quoting them', () => {
    expect(fails('{"key": "secret-text"', path('json', 'key'))).toEqual(['malformed', 'not valid JSON']);
    expect(fails('key: [secret-text\n', path('yaml', 'key'))).toEqual(['malformed', 'not valid YAML']);
    expect(fails('A=1\n', { format: 'dotenv', key: 'B' })).toEqual(['missing', 'no variable B']);
    expect(fails('abc', { format: 'regex', regex: /x(\d)/ })).toEqual(['missing', 'the regular expression does not match']);
  });
});
