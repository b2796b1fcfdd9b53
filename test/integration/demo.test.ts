import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/stack.js';

const DEMO = join(import.meta.dirname, '../../dist/src/demo.js');
const EXPORTER = join(import.meta.dirname, '../../dist/src/main.js');

// `npm start -- FLAGS`: the exporter's flags reach the demo's exporter.
describe('npm start -- FLAGS', () => {
  let demo: ChildProcess | undefined;
  let out = '';
  afterAll(async () => {
    if (demo && demo.exitCode === null) {
      const exited = new Promise((resolve) => demo!.once('exit', resolve));
      demo.kill('SIGTERM');
      await exited;
    }
  });

  it('passes the listen address and the log format through', async () => {
    demo = spawn(process.execPath, [DEMO, '--web.listen-address=127.0.0.1:0', '--log.format=json', '--log.level=debug'], { stdio: ['ignore', 'pipe', 'pipe'] });
    demo.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    demo.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const url = await waitFor('the status page URL', () => /status page\s+(http:\/\/127\.0\.0\.1:(\d+))\//.exec(out) ?? undefined, 20_000);
    expect(url[2]).not.toBe('10471');
    expect((await fetch(`${url[1]}/-/healthy`)).status).toBe(200);
    // JSON log lines, at debug level.
    const lines = out.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((l) => (JSON.parse(l) as { msg?: string }).msg === 'listening')).toBe(true);
  });

  it('refuses an unknown flag with usage, exit 2', () => {
    const r = spawnSync(process.execPath, [DEMO, '--web.listen-adress=:1'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Unknown option '--web.listen-adress'[\s\S]*usage: npm start -- \[--profile NAME\]/);
  });
});

// A second `npm start` while one runs: the taken address is named, with what to do, not a stack trace.
describe('npm start twice', () => {
  it('says which address is taken and what to do', async () => {
    const first = spawn(process.execPath, [DEMO, '--web.listen-address=127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    first.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor('the first demo', () => /status page\s+http/.test(out) || undefined, 20_000);
      const second = spawnSync(process.execPath, [DEMO, '--web.listen-address=127.0.0.1:0'], { encoding: 'utf8', timeout: 20_000 });
      expect(second.status).toBe(1);
      expect(second.stderr).toMatch(/^cannot start .*: 127\.0\.\d+\.\d+:\d+ is already in use: is a demo \(npm start\) already running\? Stop it first/m);
      expect(second.stderr).not.toMatch(/\n\s+at /);
    } finally {
      const exited = new Promise((resolve) => first.once('exit', resolve));
      first.kill('SIGTERM');
      await exited;
    }
  });

  it('names the exporter address taken and the flag that picks another', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const r = spawnSync(process.execPath, [EXPORTER, `--web.listen-address=127.0.0.1:${port}`, `--config.file=${join(import.meta.dirname, '../../examples/demo.yml')}`], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status).toBe(1);
      expect(r.stderr + r.stdout).toContain(`cannot listen on 127.0.0.1:${port}: the address is already in use`);
      expect(r.stderr + r.stdout).toContain('--web.listen-address');
    } finally {
      taken.close();
    }
  });
});
