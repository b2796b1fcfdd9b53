import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../src/evaluate/snapshot.js';
import { FAULTS, type Fault, type SimCluster } from '../../src/sim/cluster.js';
import { PROFILES, type ProfileName, type TryIt, type TryItShows } from '../../src/sim/profiles.js';
import { startProfileStack } from '../helpers/sim-profile.js';
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

/** Splits a command line as a shell would for these commands: words, and "quoted words". */
function words(command: string): string[] {
  return [...command.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** Switches on the fault of `npm run sim -- fault SERVER FAULT [--component NAME] [--value V]`. */
async function runFault(sim: SimCluster, command: string): Promise<void> {
  const { positionals, values } = parseArgs({ args: words(command), allowPositionals: true, strict: true, options: { component: { type: 'string' }, value: { type: 'string' } } });
  const [verb, server, fault] = positionals;
  expect([verb, FAULTS.includes(fault as Fault)], command).toEqual(['fault', true]);
  await sim.setFault(server!, fault as Fault, values);
}

/** The servers an effect names with a state, as it says them: "node-2 Offline", "etcd-1, etcd-2 and etcd-3 Offline", "proget-3 stays Online". */
function statesSaid(effect: string): Record<string, 'online' | 'offline'> {
  const said: Record<string, 'online' | 'offline'> = {};
  for (const m of effect.matchAll(/((?:[a-z]+-\d+)(?:(?:, | and )[a-z]+-\d+)*) (?:stays )?(Online|Offline)\b/g)) {
    for (const server of m[1]!.split(/, | and /)) said[server] = m[2] === 'Online' ? 'online' : 'offline';
  }
  return said;
}

/** What a cleared simulator shows, as one string: each server's state, and each component's state, version and key in sync, and facts; the expectations met. */
function cleared(c: ClusterStatus): string {
  const servers = c.servers.map((s) => `${s.name}:${s.state}[${s.components.map((x) => `${x.name}:${x.state}:${x.versionInSync}:${x.keyInSync}:${JSON.stringify(x.facts)}`).join(' ')}]`);
  return `${servers.join(' ')} ${c.expectations.map((e) => `${e.name}:${e.met}`).join(' ')}`;
}

/**
 * Where `shows` fails against the exporter's status now, in words; empty when every claim holds.
 */
function unmet(shows: TryItShows, c: ClusterStatus): string[] {
  const server = (name: string) => c.servers.find((s) => s.name === name)!;
  const component = (path: string) => {
    const [s, name] = path.split('/');
    return server(s!).components.find((x) => x.name === name)!;
  };
  const misses: string[] = [];
  for (const [name, want] of Object.entries(shows.servers ?? {})) {
    const s = server(name);
    if (s.state !== want.state) misses.push(`${name} is ${s.state}, not ${want.state}`);
    else if (want.reason !== undefined && !(s.reason ?? '').includes(want.reason)) misses.push(`${name}'s reason "${s.reason}" lacks "${want.reason}"`);
  }
  for (const path of shows.down ?? []) if (component(path).state !== 'down') misses.push(`${path} is ${component(path).state}, not down`);
  for (const path of shows.versionOutOfSync ?? []) if (component(path).versionInSync !== false) misses.push(`${path} version in sync: ${component(path).versionInSync}`);
  for (const path of shows.keyOutOfSync ?? []) if (component(path).keyInSync !== false) misses.push(`${path} key in sync: ${component(path).keyInSync}`);
  for (const [path, value] of Object.entries(shows.facts ?? {})) {
    const [s, name, fact] = path.split('/');
    const got = component(`${s}/${name}`).facts[fact!];
    if (got !== value) misses.push(`${path} is ${got}, not ${value}`);
  }
  for (const name of shows.notMet ?? []) if (c.expectations.find((e) => e.name === name)?.met !== false) misses.push(`${name} is not "not met"`);
  return misses;
}

// Issue 29, item 8: the start-up text said a license error takes proget-3 Offline while the
// license component is not required. Every line of every profile's list is held to what
// the exporter then shows, so the text cannot drift from the outcome again.
describe("the demo's start-up list of faults says what happens", () => {
  const profiles = Object.keys(PROFILES) as ProfileName[];
  const listOf = (name: ProfileName): readonly TryIt[] => PROFILES[name].tryIt;

  it.each(profiles)('%s: each line claims what it says, and nothing it does not', (name) => {
    for (const t of listOf(name)) {
      const { shows, effect } = t;
      const said = statesSaid(effect);
      // Every Online or Offline in the text belongs to a server named with it, claimed in `shows`...
      const stateWords = (effect.match(/\b(Online|Offline)\b/g) ?? []).length;
      const namedStates = [...effect.matchAll(/(?:[a-z]+-\d+)(?:(?:, | and )[a-z]+-\d+)* (?:stays )?(?:Online|Offline)\b/g)].length;
      expect([effect, stateWords], 'an Online or Offline without its server').toEqual([effect, namedStates]);
      for (const [server, state] of Object.entries(said)) expect([effect, server, shows.servers?.[server]?.state], 'said in the text, not in shows').toEqual([effect, server, state]);
      // ...and every server `shows` claims is named in the text, with its state or as "down too".
      for (const [server, want] of Object.entries(shows.servers ?? {})) {
        expect([effect, server, said[server] ?? (effect.includes(`${server} down too`) && want.state === 'offline' ? 'offline' : undefined)]).toEqual([effect, server, want.state]);
        if (want.reason !== undefined) expect(effect, `reason of ${server}`).toContain(want.reason);
      }
      for (const path of shows.down ?? []) expect(effect).toContain(`${path.split('/')[1]} down`);
      expect([effect, /version out of sync/.test(effect)]).toEqual([effect, (shows.versionOutOfSync?.length ?? 0) > 0]);
      expect([effect, /key out of sync/.test(effect)]).toEqual([effect, (shows.keyOutOfSync?.length ?? 0) > 0]);
      expect([effect, /not met/.test(effect)]).toEqual([effect, (shows.notMet?.length ?? 0) > 0]);
      for (const n of shows.notMet ?? []) expect(effect).toContain(`${n} not met`);
      for (const path of Object.keys(shows.facts ?? {})) expect(effect).toContain(path.split('/')[0]);
      for (const before of t.after ?? []) expect(listOf(name).map((x) => x.command)).toContain(before);
    }
  });

  it.each(profiles)('%s: each fault, from a cleared simulator, shows what its line says', async (name) => {
    const stack = await startProfileStack(name);
    try {
      // What the cleared simulator shows: every line starts from it, so no claim holds by a
      // previous fault's leftovers (a moved primary, a drifted version).
      const baseline = await waitFor(`${name}: every server online`, async () => {
        const c = await stack.cluster();
        return c.serversOnline === c.serversTotal && c.servers.every((s) => s.components.every((x) => x.state === 'up')) ? cleared(c) : undefined;
      });
      for (const t of listOf(name)) {
        await stack.sim.clearAll();
        let now = '';
        await waitFor(`${name}: back as cleared`, async () => {
          now = cleared(await stack.cluster());
          return now === baseline ? true : undefined;
        }).catch((err: Error) => {
          throw new Error(`${err.message}: ${now} is not ${baseline}`);
        });
        for (const before of t.after ?? []) await runFault(stack.sim, before);
        await runFault(stack.sim, t.command);
        let misses: string[] = [];
        try {
          await waitFor(`${t.command}: ${t.effect}`, async () => {
            misses = unmet(t.shows, await stack.cluster());
            return misses.length === 0 ? true : undefined;
          }, 10_000);
        } catch {
          expect.fail(`"npm run sim -- ${t.command}" is said to show "${t.effect}", but ${misses.join('; ')}`);
        }
      }
    } finally {
      await stack.close();
    }
  });
});
