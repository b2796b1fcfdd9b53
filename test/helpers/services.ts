import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { parse, stringify } from 'yaml';
import { defaultMixinConfig, type MixinConfig } from '../../mixin/config.js';
import { generate } from '../../mixin/generate.js';
import { tempDir, waitFor } from './stack.js';
import { requireTool } from './tools.js';

export const ROOT = join(import.meta.dirname, '../..');
export const ALERTS = join(ROOT, 'alerts');
export const ALERTMANAGER = join(ROOT, 'alertmanager');

/** A free port on 127.0.0.1 (bound and released; the programs we start bind it next). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Service {
  readonly url: string;
  readonly port: number;
  readonly output: () => string;
  stop(): Promise<void>;
}

async function startProgram(bin: string, args: string[], port: number, readyPath: string): Promise<Service> {
  const child: ChildProcess = spawn(requireTool(bin), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitFor(`${bin} ready`, async () => {
      if (child.exitCode !== null) throw new Error(`${bin} exited: ${out.slice(-2000)}`);
      return (await fetch(`${url}${readyPath}`)).ok ? true : undefined;
    }, 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${out.slice(-2000)}`);
  }
  return {
    url,
    port,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface PrometheusOptions {
  readonly targets: readonly string[];
  readonly alertmanagers?: readonly string[];
  readonly ruleFiles?: readonly string[];
  readonly scrapeInterval?: string;
}

export async function startPrometheus(o: PrometheusOptions): Promise<Service> {
  const dir = await tempDir('prometheus-');
  const port = await freePort();
  const config = {
    global: { scrape_interval: o.scrapeInterval ?? '1s', evaluation_interval: o.scrapeInterval ?? '1s' },
    rule_files: o.ruleFiles ?? [],
    alerting: o.alertmanagers?.length ? { alertmanagers: [{ static_configs: [{ targets: o.alertmanagers }] }] } : undefined,
    scrape_configs: [{ job_name: 'appcluster', static_configs: [{ targets: o.targets }] }],
  };
  await writeFile(join(dir, 'prometheus.yml'), stringify(config));
  return startProgram(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=http://127.0.0.1:${port}`,
    ],
    port,
    '/-/ready',
  );
}

/** Instant query; returns the result vector. */
export async function query(prom: Service, expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data: { result: [] } };
  if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`);
  return body.data.result;
}

export interface AlertmanagerOptions {
  readonly smtpPort: number;
  /** Cluster peers (`host:port`) and this instance's gossip port; omitted = no clustering. */
  readonly clusterPort?: number;
  readonly peers?: readonly number[];
}

/**
 * Starts Alertmanager with the bundle's alertmanager/alertmanager.yml, changed only where a test
 * must: the smarthost is the loopback SMTP sink (no TLS, no auth) and the waits are short.
 */
export async function startAlertmanager(o: AlertmanagerOptions): Promise<Service> {
  const dir = await tempDir('alertmanager-');
  const port = await freePort();
  const config = parse(await readFile(join(ALERTMANAGER, 'alertmanager.yml'), 'utf8'));
  config.templates = [join(ALERTMANAGER, 'templates', '*.tmpl')];
  // A clustered instance waits peer_timeout x its position before it sends; a group_interval
  // shorter than that lets two instances flush the same change apart and both send it.
  const groupInterval = o.clusterPort === undefined ? '2s' : '10s';
  Object.assign(config.route, { group_wait: '1s', group_interval: groupInterval, repeat_interval: '1h' });
  for (const r of config.receivers) {
    for (const e of r.email_configs ?? []) {
      e.smarthost = `127.0.0.1:${o.smtpPort}`;
      e.require_tls = false;
      delete e.auth_username;
      delete e.auth_password_file;
    }
  }
  await writeFile(join(dir, 'alertmanager.yml'), stringify(config));
  await mkdir(join(dir, 'data'));
  const cluster =
    o.clusterPort === undefined
      ? ['--cluster.listen-address=']
      : [
          `--cluster.listen-address=127.0.0.1:${o.clusterPort}`,
          `--cluster.advertise-address=127.0.0.1:${o.clusterPort}`,
          ...(o.peers ?? []).map((p) => `--cluster.peer=127.0.0.1:${p}`),
          '--cluster.peer-timeout=3s',
          '--cluster.gossip-interval=100ms',
          '--cluster.pushpull-interval=2s',
        ];
  return startProgram(
    'prometheus-alertmanager',
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=http://127.0.0.1:${port}`,
      ...cluster,
    ],
    port,
    '/-/ready',
  );
}

export interface Mail {
  readonly at: number;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly to: string;
}

export interface SmtpSink {
  readonly port: number;
  readonly mails: Mail[];
  stop(): Promise<void>;
}

/** An SMTP server on loopback that keeps every message it receives, parsed. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((m: ParsedMail) => {
          mails.push({
            at: Date.now(),
            subject: m.subject ?? '',
            text: m.text ?? '',
            html: typeof m.html === 'string' ? m.html : '',
            to: Array.isArray(m.to) ? m.to.map((t) => t.text).join(', ') : (m.to?.text ?? ''),
          });
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * Rule files generated by the mixin (mixin/generate.ts) from its default configuration with
 * every `for:` set to `forSeconds` (and `keep_firing_for` to `keepFiringSeconds`, when
 * given), so an end-to-end run takes seconds; the promtool tests hold the real waiting times.
 */
export async function fastRuleFiles(forSeconds: number, keepFiringSeconds?: number): Promise<string[]> {
  const alerts = Object.fromEntries(
    Object.entries(defaultMixinConfig.alerts).map(([name, a]) => [name, a.for === undefined ? a : { ...a, for: `${forSeconds}s` }]),
  ) as MixinConfig['alerts'];
  const config: MixinConfig = {
    ...defaultMixinConfig,
    alerts,
    ...(keepFiringSeconds === undefined ? {} : { keep_firing_for: `${keepFiringSeconds}s` }),
  };
  const files = generate({ config, configName: 'test', root: ROOT });
  const dir = await tempDir('rules-');
  const out: string[] = [];
  for (const name of ['recording-rules.yml', 'alert-rules.yml']) {
    const file = join(dir, name);
    await writeFile(file, files.get(`alerts/${name}`)!);
    out.push(file);
  }
  return out;
}
