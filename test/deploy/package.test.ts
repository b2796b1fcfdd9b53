/**
 * The package as a user installs it on a clean machine: `npm pack` (whose prepack builds
 * dist/ afresh), the tarball installed with `npm install -g --prefix` into a prefix of its
 * own, and the commands run by name from that prefix's bin/ on the PATH. Presets and the
 * simulator's example configurations are read at run time from the installed package, so
 * the configurations here live outside it, and the simulator and the exporter serve from it.
 *
 * `npm pack` runs in a copy of this checkout (its node_modules linked), never here: prepack
 * removes and rebuilds dist/, which the other test files run while this one does.
 * Dependencies come from npm's cache when it holds them, else from the registry.
 */
import { execFile, spawn } from 'node:child_process';
import { cpSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleared, listMess } from '../helpers/janitor.js';
import { spawnListening, type ExporterProcess } from '../helpers/process.js';
import { randomBase, tempDir, waitFor } from '../helpers/stack.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { name: string; version: string };

/** Left out of the copy: built or installed here, or not the project's. */
const NOT_COPIED = new Set(['node_modules', 'dist', '.git', 'coverage', 'test-output']);

/**
 * npm's own variables of the run that started vitest (`npm test` sets the project as its
 * local prefix, /usr as its prefix): the commands here must see only the copy and the prefix.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^npm_(package_|lifecycle_|command$|config_(local_prefix|prefix|global_prefix|global)$)/.test(key)) delete env[key];
  }
  return env;
}

let dir = '';
let prefix = '';
let packed: string[] = [];
/** The PATH a user has after the install: the prefix's bin/ first. */
let env: NodeJS.ProcessEnv = {};
const children: ExporterProcess[] = [];

/** Runs an installed command by name, from outside the package; its exit code and output, never a throw. */
async function command(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [name, ...rest] = args;
  try {
    const { stdout, stderr } = await run(name!, rest, { cwd: dir, env, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: `${e.stderr ?? ''}${String(err)}` };
  }
}

/** Runs the installed `appcluster-sim` and waits for its "simulated cluster" line. */
async function spawnSim(args: string[]): Promise<ExporterProcess> {
  const child = spawn('appcluster-sim', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  // 'close' follows 'exit', and also a spawn that failed ('error' without 'exit').
  const closed = new Promise<void>((done) => child.once('close', () => done()));
  child.once('error', (err) => (out += String(err)));
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await closed;
    return child.exitCode;
  };
  const ended = closed.then(() => Promise.reject(new Error(`appcluster-sim ended:\n${out}`)));
  ended.catch(() => undefined);
  try {
    await Promise.race([waitFor('appcluster-sim', () => (out.includes('simulated cluster:') ? true : undefined)), ended]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { child, url: '', output: () => out, stop };
}

beforeAll(async () => {
  dir = await tempDir('appcluster-package-');
  listMess('dir', dir);
  const copy = join(dir, 'checkout');
  cpSync(root, copy, { recursive: true, filter: (src) => !NOT_COPIED.has(relative(root, src)) });
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');

  const quiet = ['--no-audit', '--no-fund', '--logs-max=0'];
  const pack = await run('npm', ['pack', '--json', `--pack-destination=${dir}`, ...quiet], { cwd: copy, env: npmEnv(), timeout: 180_000, maxBuffer: 16 << 20 });
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  packed = info!.files.map((f) => f.path);

  prefix = join(dir, 'prefix');
  await run('npm', ['install', '--global', `--prefix=${prefix}`, '--prefer-offline', '--loglevel=error', ...quiet, join(dir, info!.filename)], {
    cwd: dir,
    env: npmEnv(),
    timeout: 240_000,
  });
  env = { ...npmEnv(), PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` };
}, 420_000);

afterAll(async () => {
  for (const child of children) await child.stop();
  if (dir) {
    rmSync(dir, { recursive: true, force: true });
    cleared('dir', dir);
  }
});

describe('npm pack', () => {
  it('ships the built program, every file it reads at run time and the monitoring bundle, and no tests or sources', () => {
    for (const file of [
      'dist/src/main.js',
      'dist/src/agent/cli.js',
      'dist/src/sim/cli.js',
      'package.json',
      'config.schema.json',
      'agent.schema.json',
      'alerts/alert-rules.yml',
      'alerts/recording-rules.yml',
      'alerts/runbook.md',
      'alertmanager/alertmanager.yml',
      'alertmanager/templates/email.tmpl',
    ]) {
      expect(packed).toContain(file);
    }
    const presets = readdirSync(join(root, 'presets')).filter((f) => f.endsWith('.yml'));
    expect(presets.length).toBeGreaterThan(0);
    for (const preset of presets) expect(packed).toContain(`presets/${preset}`);
    for (const example of readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yml'))) expect(packed).toContain(`examples/${example}`);
    expect(packed.filter((f) => /^(src|test|bench|dist\/test|dist\/bench|alerts\/tests|alertmanager\/tests)\//.test(f) || f.endsWith('.map'))).toEqual([]);
  });
});

describe('npm install --global of the tarball', () => {
  it('puts appcluster-exporter on the PATH: --version', async () => {
    const r = await command(['appcluster-exporter', '--version']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`appcluster-exporter ${pkg.version} (node ${process.version})\n`);
  });

  it('and its agent: appcluster-exporter agent --help', async () => {
    const r = await command(['appcluster-exporter', 'agent', '--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^usage: appcluster-exporter agent \[flags\]\n/);
    expect(r.stdout).toContain('--config.file=FILE');
  });

  it('finds the presets in the installed package: --config.check of a configuration outside it', async () => {
    const file = join(dir, 'appcluster.yml');
    await writeFile(
      file,
      [
        'clusters:',
        '  - name: etcd',
        '    preset: etcd',
        '    servers:',
        '      - { name: etcd-1, address: 10.40.1.11 }',
        '      - { name: etcd-2, address: 10.40.1.12 }',
        '',
      ].join('\n'),
    );
    const ok = await command(['appcluster-exporter', '--config.check', `--config.file=${file}`]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(`${file}: valid (1 clusters, 10 components)\n`);

    // A problem with a parameter the preset uses is reported at the user's own line (issue 28, item 11).
    const st = join(dir, 'st.yml');
    await writeFile(st, 'clusters:\n  - name: st\n    preset: securetransport\n    parameters: { username: monitor, password_env: PACKAGE_TEST_UNSET }\n    servers: [{ name: st-1, address: 10.50.1.11 }]\n');
    const bad = await command(['appcluster-exporter', '--config.check', `--config.file=${st}`]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${st}:4:`);
    expect(bad.stderr).toContain('names an environment variable that is not set: PACKAGE_TEST_UNSET');
  });

  it('the agent checks its shipped example configuration', async () => {
    const agentDir = join(dir, 'agent');
    cpSync(join(prefix, 'lib/node_modules', pkg.name, 'examples/agent'), agentDir, { recursive: true });
    await writeFile(join(agentDir, 'fingerprint-secret'), 'package-test-fingerprint-secret\n');
    const r = await command(['appcluster-exporter', 'agent', '--config.check', `--config.file=${join(agentDir, 'proget.yml')}`]);
    expect(r.stdout).toContain(`${join(agentDir, 'proget.yml')}: valid`);
    // Valid; but ProGet's files are not on this machine, and the check says so.
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('facts.encryption_key: cannot be read: not_found');
  });

  it('serves: appcluster-sim with a shipped profile, watched by appcluster-exporter', async () => {
    const config = join(dir, 'sim-etcd.yml');
    const base = randomBase();
    const sim = await spawnSim(['serve', '--profile=etcd', `--base-address=${base}`, '--control=127.0.0.1:0', `--write-config=${config}`]);
    children.push(sim);
    expect(sim.output()).toMatch(/^simulated cluster: 3 servers from etcd-1 on /);
    expect(await readFile(config, 'utf8')).toContain(`address: ${base}`);

    const exporter = await spawnListening('installed exporter', ['appcluster-exporter', `--config.file=${config}`, '--web.listen-address=127.0.0.1:0'], env);
    children.push(exporter);
    const online = await waitFor('three servers online', async () => {
      const text = await (await fetch(`${exporter.url}/metrics`)).text();
      const lines = text.split('\n').filter((l) => l.startsWith('appcluster_server_online{'));
      return lines.length === 3 && lines.every((l) => l.endsWith(' 1')) ? lines : undefined;
    }, 20_000);
    expect(online.map((l) => /server="([^"]+)"/.exec(l)?.[1])).toEqual(['etcd-1', 'etcd-2', 'etcd-3']);
  });
});
