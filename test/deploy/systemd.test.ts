/**
 * deploy/systemd/appcluster-exporter.service: checked by `systemd-analyze verify` and
 * `systemd-analyze security --offline` where systemd is installed (Debian `systemd`; both
 * work without systemd running as PID 1), and against the exporter's own flags and limits.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { splitLaunch } from '../helpers/launch.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { keepAliveSlots } from '../../src/probes/fd-budget.js';
import { MAIN } from '../helpers/process.js';

const root = resolve(import.meta.dirname, '../..');
const unitFile = join(root, 'deploy', 'systemd', 'appcluster-exporter.service');
const text = readFileSync(unitFile, 'utf8');

/** `Key=value` settings of each section; a key set twice keeps both values. */
function settings(unit: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const line of unit.split('\n')) {
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) section = header[1]!;
    const kv = /^(\w+)=(.*)$/.exec(line);
    if (kv) out.set(`${section}.${kv[1]}`, [...(out.get(`${section}.${kv[1]}`) ?? []), kv[2]!]);
  }
  return out;
}
const unit = settings(text);
const one = (key: string): string => {
  const values = unit.get(key) ?? [];
  expect(values, key).toHaveLength(1);
  return values[0]!;
};

describe('the systemd unit', () => {
  it('runs as a dedicated user, hardened', () => {
    expect(one('Service.User')).toBe('appcluster-exporter');
    expect(one('Service.Group')).toBe('appcluster-exporter');
    expect(one('Service.NoNewPrivileges')).toBe('yes');
    expect(one('Service.ProtectSystem')).toBe('strict');
    expect(one('Service.CapabilityBoundingSet')).toBe('');
  });

  it('reloads with SIGHUP', () => {
    expect(one('Service.ExecReload')).toBe('/bin/kill -HUP $MAINPID');
  });

  it('raises the open-file limit as docs/operations.md "Open files" says, to what compose sets', () => {
    const limit = Number(one('Service.LimitNOFILE'));
    const compose = parse(readFileSync(join(root, 'compose', 'docker-compose.yml'), 'utf8'), { merge: true });
    expect(limit).toBe(compose.services.exporter.ulimits.nofile);
    // Enough for the largest benchmark (bench/RESULTS.md: 30,000 components) to keep every connection.
    expect(keepAliveSlots(limit)).toBeGreaterThanOrEqual(30_000);
    expect(text).toContain(`keeps ${keepAliveSlots(limit).toLocaleString('en-US')} components alive`);
  });

  it('starts the exporter with flags it accepts, on the image and Kubernetes paths and port', () => {
    const { node, main, args: flags } = splitLaunch(one('Service.ExecStart').split(' '));
    expect(node).toBe('/usr/bin/node');
    expect(main).toBe('/opt/appcluster-exporter/dist/src/main.js');
    expect(flags).toEqual(['--config.file=/etc/appcluster/config.yml', '--web.listen-address=:10471']);
    // The same flags, the configuration swapped for an example, pass --config.check.
    const check = [...flags.filter((f) => !f.startsWith('--config.file=')), `--config.file=${join(root, 'examples', 'demo.yml')}`, '--config.check'];
    const r = spawnSync(process.execPath, [MAIN, ...check], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

const hasSystemd = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasSystemd) console.warn('systemd-analyze is not installed (Debian: systemd); skipping `systemd-analyze verify` of deploy/systemd');

describe.skipIf(!hasSystemd)('systemd-analyze', () => {
  it('verify finds nothing to say', () => {
    // Warnings (an unknown key, a bad value) are printed with exit status 0, so the output must be empty.
    const r = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });

  it('security rates the exposure 3.0 or lower ("OK")', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--threshold=30', '--no-pager', unitFile], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});
