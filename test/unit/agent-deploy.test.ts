/**
 * The agent's systemd unit, checked with systemd's own tools and against the agent: it
 * runs the agent sub-command unprivileged and read-only, can see other users' processes,
 * and lets the agent read the files the example configurations name.
 */
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { launchFlags, splitLaunch } from '../helpers/launch.js';
import { describe, expect, it } from 'vitest';
import { run } from '../helpers/tools.js';
import { tempDir } from '../helpers/stack.js';

const root = join(import.meta.dirname, '../..');
const unitFile = join(root, 'deploy', 'systemd', 'appcluster-agent.service');
const text = readFileSync(unitFile, 'utf8');

/** Every value of a directive, in order (systemd allows repeating most). */
function values(key: string): string[] {
  return [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());
}

describe('deploy/systemd/appcluster-agent.service', () => {
  it('passes systemd-analyze verify, with a low exposure in systemd-analyze security', async () => {
    // systemd names the unit after its file, so verify a copy named as installed.
    const dir = await tempDir('agent-unit-');
    const copy = join(dir, 'appcluster-agent.service');
    copyFileSync(unitFile, copy);
    const verify = run('systemd-analyze', ['verify', copy]);
    expect(verify.status, verify.out).toBe(0);
    expect(verify.out.trim()).toBe('');
    const security = run('systemd-analyze', ['security', '--offline=true', copy]);
    const exposure = Number(/Overall exposure level for appcluster-agent\.service: ([\d.]+)/.exec(security.out)?.[1]);
    expect(exposure, security.out).toBeLessThanOrEqual(2.5);
  });

  it('runs the agent sub-command as an unprivileged user, read-only, with no way to gain privileges', () => {
    const [exec] = values('ExecStart');
    const launch = splitLaunch(exec!.split(' '));
    expect([launch.node, launch.flags, launch.main, launch.args[0]]).toEqual(['/usr/bin/node', launchFlags(), '/opt/appcluster-exporter/dist/src/main.js', 'agent']);
    expect(exec).toContain('--config.file=/etc/appcluster-agent/agent.yml');
    expect(exec).toContain('--web.listen-address=:10473');
    expect(values('User')[0]).toMatch(/^(?!root$|0$)\S+$/);
    expect(values('NoNewPrivileges')).toEqual(['yes']);
    expect(values('ProtectSystem')).toEqual(['strict']);
    expect(values('CapabilityBoundingSet')).toEqual(['']);
    expect(values('ReadWritePaths')).toEqual([]);
    // Process facts need other users' /proc entries.
    expect(values('ProtectProc')).not.toContain('invisible');
    expect(values('ProcSubset')).not.toContain('pid');
    expect(values('ReadOnlyPaths')).toContain('/etc/appcluster-agent');
  });

  it('lets the agent read every Linux path the example agent configurations name', () => {
    const readOnly = values('ReadOnlyPaths').map((p) => p.replace(/^-/, ''));
    const examples = join(root, 'examples', 'agent');
    for (const name of readdirSync(examples).filter((f) => f.endsWith('.yml'))) {
      const config = parse(readFileSync(join(examples, name), 'utf8')) as { facts: Record<string, Record<string, { file?: string; pid_file?: string }>> };
      for (const fact of Object.values(config.facts)) {
        for (const settings of Object.values(fact)) {
          for (const path of [settings.file, settings.pid_file]) {
            if (!path?.startsWith('/')) continue;
            expect(readOnly.some((p) => path === p || path.startsWith(`${p}/`)), `${name}: ${path} under ReadOnlyPaths=`).toBe(true);
          }
        }
      }
    }
  });

  it('listens where the presets look for the agent', () => {
    for (const name of ['proget.yml', 'securetransport.yml']) {
      const preset = readFileSync(join(root, 'presets', name), 'utf8');
      expect(preset, name).toContain('"http://{address}:{params.agent_port}/api/v1/facts"');
      expect(preset, name).toMatch(/agent_port:[\s\S]*?default: "10473"/);
    }
  });
});
