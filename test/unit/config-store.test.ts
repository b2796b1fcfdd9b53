import { rmSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { ConfigStore } from '../../src/config/store.js';
import type { Config } from '../../src/config/types.js';
import { createLogger } from '../../src/log.js';
import { tempDir } from '../helpers/stack.js';

/** A configuration of `servers` servers whose cluster is named `name`; a padding comment makes it slow to read. */
function text(name: string, servers: number, secretFile?: string): string {
  const lines = ['clusters:', `  - name: ${name}`, '    components:', '      - name: web', '        probe:'];
  lines.push(secretFile ? `          http: { url: "http://{address}:8080/", basic_auth: { username: u, password_file: ${secretFile} } }` : '          http: { url: "http://{address}:8080/" }');
  lines.push('    servers:');
  for (let i = 1; i <= servers; i++) lines.push(`      - { name: s${i}, address: 127.0.${i >> 8}.${i & 255} }`);
  return `${lines.join('\n')}\n`;
}

async function store(file: string): Promise<{ store: ConfigStore; applied: Config[] }> {
  const applied: Config[] = [];
  const s = new ConfigStore(await loadConfigFile(file), (c) => applied.push(c), () => undefined, createLogger('error', 'logfmt', { write: () => true }));
  return { store: s, applied };
}

describe('ConfigStore reloads', () => {
  it('answers an unchanged file at once, without parsing it again', async () => {
    const dir = await tempDir();
    const secret = join(dir, 'password');
    writeFileSync(secret, 'pw\n');
    const file = join(dir, 'config.yml');
    writeFileSync(file, text('a', 3, secret));
    const { store: s, applied } = await store(file);
    // Parsing would read the secret file again, and fail now that it is gone.
    rmSync(secret);
    expect(await s.reload()).toEqual({ ok: true, changed: false });
    expect(applied).toHaveLength(0);
    // A changed file is parsed: the missing secret is reported, the running configuration kept.
    writeFileSync(file, text('b', 3, secret));
    const failed = await s.reload();
    expect(failed.ok).toBe(false);
    expect(s.config.clusters[0]!.name).toBe('a');
  });

  it('runs the file on disk at the last request, and answers for the file it read', async () => {
    const dir = await tempDir();
    const file = join(dir, 'config.yml');
    writeFileSync(file, text('v0', 3));
    const { store: s } = await store(file);
    // Renamed into place, as an operator's tooling does: a reload never reads half a file.
    const put = async (content: string) => {
      await writeFile(`${file}.new`, content);
      await rename(`${file}.new`, file);
    };
    for (let round = 1; round <= 3; round++) {
      // The first file padded (16 MB) so that its reload is still reading when the second comes.
      await put(`${text(`first${round}`, 3)}# ${'x'.repeat(16 << 20)}\n`);
      const first = s.reload();
      await new Promise((resolve) => setTimeout(resolve, 2));
      await put(text(`second${round}`, 3));
      const second = s.reload();
      const [a, b] = await Promise.all([first, second]);
      expect([round, a.ok, b]).toEqual([round, true, { ok: true, changed: true }]);
      expect([round, s.config.clusters[0]!.name]).toEqual([round, `second${round}`]);
    }
  });

  it('parses a large changed file off the main thread: the loop keeps turning meanwhile', async () => {
    const dir = await tempDir();
    const file = join(dir, 'config.yml');
    writeFileSync(file, text('small', 3));
    const { store: s } = await store(file);
    writeFileSync(file, text('large', 5000));
    // The longest the main loop went without a turn while the reload ran.
    let last = performance.now();
    let longest = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 5);
    const started = performance.now();
    const result = await s.reload();
    const took = performance.now() - started;
    clearInterval(ticker);
    expect(result).toEqual({ ok: true, changed: true });
    expect(s.config.clusters[0]!.servers).toHaveLength(5000);
    // The reload took far longer than any pause of the loop: the work was elsewhere.
    expect(longest).toBeLessThan(took / 2);
  });
});
