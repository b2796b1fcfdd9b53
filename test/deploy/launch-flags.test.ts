import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { launchFlags, splitLaunch } from '../helpers/launch.js';

const root = join(import.meta.dirname, '..', '..');
const read = (...path: string[]) => readFileSync(join(root, ...path), 'utf8');

// The runtime is the operator's: its flags stand on the launch lines the project ships,
// the same on each, and nothing sets them from inside the process.
describe('the V8 flags on the launch lines', () => {
  const flags = launchFlags();

  it('are flags this node takes, and the bin starts with them', () => {
    expect(flags.length).toBeGreaterThan(0);
    const r = spawnSync(process.execPath, [...flags, join(root, 'dist', 'src', 'main.js'), '--version'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^appcluster-exporter \S+ \(node v20/);
    // A misspelt flag is refused by node, so the check above can fail.
    expect(spawnSync(process.execPath, ['--max-semi-space-sise=4', '-e', '0'], { encoding: 'utf8' }).status).not.toBe(0);
  });

  it('are the ones the Dockerfile starts the exporter with', () => {
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(read('Dockerfile'))![1]!) as string[];
    expect(splitLaunch(cmd).flags).toEqual(flags);
  });

  it('are the ones the systemd units start the exporter and the agent with', () => {
    for (const unit of ['appcluster-exporter.service', 'appcluster-agent.service']) {
      const execStart = /^ExecStart=(.*)$/m.exec(read('deploy', 'systemd', unit))![1]!.split(' ');
      expect([unit, splitLaunch(execStart).flags]).toEqual([unit, flags]);
    }
  });

  it('are the ones the Kubernetes deployment starts the exporter with', () => {
    const command = /^\s+command: \[(.*)\]$/m.exec(read('deploy', 'kubernetes', 'base', 'deployment.yaml'))![1]!.split(', ');
    expect(splitLaunch(command).flags).toEqual(flags);
  });

  it('are the ones compose starts the exporter and the agents with', () => {
    const compose = parse(read('compose', 'docker-compose.yml'), { merge: true }) as { services: Record<string, { command?: string[] }> };
    const launched = Object.entries(compose.services).filter(([, s]) => s.command?.some((a) => a.endsWith('dist/src/main.js')));
    expect(launched.map(([name]) => name)).toEqual(expect.arrayContaining(['exporter', 'agent-1']));
    for (const [name, s] of launched) expect([name, splitLaunch(s.command!).flags]).toEqual([name, flags]);
  });

  it('are not set from inside the process', () => {
    const src = spawnSync('git', ['grep', '-l', '-E', 'setFlagsFromString|semi-space|heap-growing', '--', 'src/'], { cwd: root, encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
    expect(src).toEqual(['src/main.ts']);
  });
});
