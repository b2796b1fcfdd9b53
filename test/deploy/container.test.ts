/**
 * The Dockerfile, against what compose/ and deploy/kubernetes/ expect of the image. hadolint
 * is not packaged by Debian, so its rules that apply here are checked on the file (codes as
 * in hadolint's rule list); no Docker engine runs here to build it.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { splitLaunch } from '../helpers/launch.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = resolve(import.meta.dirname, '../..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

/** Instructions with their arguments, continuation lines joined and comments left out. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .filter((l) => l.trim() && !l.trimStart().startsWith('#'))
  .map((l) => {
    const [, op = '', args = ''] = /^\s*(\w+)\s+(.*)$/.exec(l) ?? [];
    return { op: op.toUpperCase(), args: args.trim() };
  });
const all = (op: string) => instructions.filter((i) => i.op === op).map((i) => i.args);
const last = (op: string) => all(op).at(-1);

const compose = parse(readFileSync(join(root, 'compose', 'docker-compose.yml'), 'utf8'), { merge: true });
const exporter = compose.services.exporter;

describe('Dockerfile (hadolint rules)', () => {
  it('DL3006/DL3007: every base image has a tag, not latest', () => {
    const stages = new Set<string>();
    for (const from of all('FROM')) {
      const [image = '', , alias] = from.split(/\s+/);
      if (!stages.has(image)) expect(image, from).toMatch(/^[\w./-]+:(?!latest$)[\w.-]+$/);
      if (alias) stages.add(alias);
    }
  });

  it('DL3002: the last USER is not root; numeric, so Kubernetes can check runAsNonRoot', () => {
    expect(last('USER')).toMatch(/^[1-9]\d*:[1-9]\d*$/);
  });

  it('DL3020: COPY, never ADD', () => {
    expect(all('ADD')).toEqual([]);
  });

  it('DL3025: CMD and ENTRYPOINT in JSON form', () => {
    for (const args of [...all('CMD'), ...all('ENTRYPOINT')]) expect(() => JSON.parse(args) as unknown, args).not.toThrow();
  });

  it('DL3000: WORKDIR is absolute', () => {
    for (const dir of all('WORKDIR')) expect(dir).toMatch(/^\//);
  });

  it('DL3016-like: dependencies from the lockfile (npm ci), dev ones pruned from the image', () => {
    const runs = all('RUN').join('\n');
    expect(runs).toContain('npm ci');
    expect(runs).not.toMatch(/npm (install|i)\b/);
    expect(runs).toContain('npm prune --omit=dev');
  });
});

describe('the image as compose and Kubernetes run it', () => {
  const cmd = JSON.parse(last('CMD')!) as string[];

  it('exposes the default --web.listen-address port', () => {
    const usage = readFileSync(join(root, 'src', 'cli.ts'), 'utf8');
    const port = /--web\.listen-address=ADDR .*\(default: :(\d+)\)/.exec(usage)?.[1];
    expect(all('EXPOSE')).toEqual([port]);
  });

  it('reads its configuration where compose mounts it', () => {
    const configFlag = cmd.find((a) => a.startsWith('--config.file='))!;
    const path = configFlag.slice('--config.file='.length);
    expect(path).toBe('/etc/appcluster/config.yml');
    expect(exporter.volumes.map((v: string) => v.split(':')[1])).toContain(path);
    const { node, flags, main } = splitLaunch(cmd);
    expect(splitLaunch(exporter.command as string[])).toMatchObject({ node, flags, main });
    expect(exporter.command).toContain(configFlag);
  });

  it("compose's healthcheck asks /-/healthy on the port the exporter listens on", () => {
    const listen = (exporter.command as string[]).find((a) => a.startsWith('--web.listen-address='))!;
    const port = listen.split(':').at(-1);
    expect(exporter.healthcheck.test.join(' ')).toContain(`http://127.0.0.1:${port}/-/healthy`);
  });
});
