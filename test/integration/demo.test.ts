import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/stack.js';

const DEMO = join(import.meta.dirname, '../../dist/src/demo.js');

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
