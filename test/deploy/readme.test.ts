/**
 * The deployment docs (docs/deploy.md, and "Shards" in docs/operations.md; the README
 * links there): the check commands they show are run here as written, from the
 * repository root, so the pages cannot drift from the files. Installation commands
 * (sudo, docker compose up) are left out: they change the machine.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const deploy = readFileSync(resolve(root, 'docs/deploy.md'), 'utf8');
const operations = readFileSync(resolve(root, 'docs/operations.md'), 'utf8');
const shards = /\n## Shards\n([\s\S]*?)\n## /.exec(operations)?.[1] ?? '';
const section = `${deploy}\n${shards}`;

/** The programs whose commands only read the repository. */
const CHECKS = ['systemd-analyze', 'kubectl', 'node', 'promtool', 'docker-compose'];

const commands = [...section.matchAll(/```sh\n([\s\S]*?)```/g)]
  .flatMap((m) => m[1]!.split('\n'))
  .map((line) => line.replace(/\s+#.*$/, '').trim())
  .filter((line) => CHECKS.includes(line.split(' ')[0]!));

const has = (program: string) => spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;
const kustomizeMajor = Number(/Kustomize Version: v(\d+)/.exec(spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? 0);

/** Why a command cannot run on this machine, or undefined. */
function missing(command: string): string | undefined {
  const program = command.split(' ')[0]!;
  if (!has(program)) return `${program} is not installed`;
  if (/^kubectl kustomize deploy\/kubernetes\/(?!base)/.test(command) && kustomizeMajor < 4) return 'kubectl embeds a kustomize older than v4';
  return undefined;
}

describe('docs/deploy.md and docs/operations.md "Shards"', () => {
  it('shows the checks the tests rely on', () => {
    for (const expected of [
      'systemd-analyze verify deploy/systemd/appcluster-exporter.service',
      'kubectl kustomize deploy/kubernetes/base',
      'kubectl kustomize deploy/kubernetes/shards',
      'kubectl kustomize deploy/kubernetes/web-config',
      'node scripts/generate-k8s.mjs --check',
      'docker-compose -f compose/docker-compose.yml config -q',
      'promtool test rules alerts/tests/shards_test.yml',
    ]) {
      expect(commands).toContain(expected);
    }
  });

  it.each(commands.map((c) => [c]))('%s', (command) => {
    const why = missing(command);
    if (why) {
      console.warn(`skipping \`${command}\`: ${why}`);
      return;
    }
    const r = spawnSync('sh', ['-c', command], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    if (command.includes('--config.check')) expect(r.stdout).toContain('examples/demo.yml: shard 1 of 2 owns 1 clusters, 6 components');
  });
});
