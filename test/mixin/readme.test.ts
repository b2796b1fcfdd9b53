/**
 * README.md "Add it to your monitoring": its commands run as written, in a scratch folder
 * (the files they write) and with the example existing Alertmanager configuration in place
 * of /etc/alertmanager/alertmanager.yml. `npm run -s mixin --` is run as the program it
 * builds and starts (dist/mixin/cli.js; npm test builds first), so that a test does not
 * rebuild dist/ under the other tests.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/services.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const section = /\n## Add it to your monitoring\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
const commands = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split('\n')).filter((l) => l.trim() !== '');

describe('README.md "Add it to your monitoring"', () => {
  const dir = mkdtempSync(join(tmpdir(), 'readme-mixin-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('generates, checks and merges with real commands', () => {
    expect(commands.length).toBe(5);
    for (const command of commands) {
      const line = command
        .replaceAll('npm run -s mixin --', `node ${join(ROOT, 'dist/mixin/cli.js')}`)
        .replaceAll('/etc/alertmanager/alertmanager.yml', join(ROOT, 'mixin/example-existing-alertmanager.yml'));
      const r = spawnSync('sh', ['-c', line], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, `${command}\n${r.stdout}\n${r.stderr}`).toBe(0);
    }
    const rules = readFileSync(join(dir, 'my-monitoring/alerts/alert-rules.yml'), 'utf8');
    expect(rules).toContain('absent(up{job="mft-exporter"})');
    expect(rules).toContain('https://wiki.example.internal/appcluster#appclusterserveroffline');
    expect(readFileSync(join(dir, 'merged.yml'), 'utf8')).toContain('name: appcluster-email');
  });
});
