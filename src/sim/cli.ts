#!/usr/bin/env node
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ALL_SERVERS, FAULTS, SimCluster, type SimComponentSpec } from './cluster.js';
import { startControl } from './control.js';
import { simExporterConfig } from './exporter-config.js';
import { isProfileName, profileExporterConfig, PROFILES, SIM_PASSWORD_ENV } from './profiles.js';

const USAGE = `usage: appcluster-sim COMMAND [flags]

  serve   run a simulated cluster
          --servers=N (3)  --components=web:8080,service:8081  --base-address=127.0.10.1
          --control=127.0.0.1:10472  --version=8.6.2  --write-config=FILE (an exporter config for it)
          --profile=NAME   a whole cluster instead: ${Object.keys(PROFILES).join(', ')}
                           (--base-address moves it; the securetransport password: $${SIM_PASSWORD_ENV})
  list    show servers, components (with their shape) and their faults
  fault   SERVER FAULT [--component=NAME] [--value=V]   switch a fault on (SERVER "${ALL_SERVERS}": every server)
  clear   [SERVER] [--component=NAME] [--fault=FAULT]    clear faults (all servers without SERVER)

  --control-url=URL   control API of a running simulator (default http://127.0.0.1:10472)

faults: ${FAULTS.join(', ')}
  (a fault goes to the components whose shape takes it; the last eight belong to one product)
`;

function die(message: string): never {
  process.stderr.write(`appcluster-sim: ${message}\n\n${USAGE}`);
  process.exit(2);
}

export function parseComponents(text: string): SimComponentSpec[] {
  return text.split(',').map((part) => {
    const [name, port] = part.split(':');
    if (!name || !port || !/^\d+$/.test(port)) die(`bad component "${part}"; expected name:port`);
    return { name, port: Number(port) };
  });
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(new URL(path, base), {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch(() => die(`cannot reach the simulator at ${base}; is "appcluster-sim serve" (or npm start) running?`));
  const answer = (await res.json()) as { error?: string };
  if (!res.ok) die(answer.error ?? `HTTP ${res.status}`);
  return answer;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h', default: false },
        servers: { type: 'string', default: '3' },
        components: { type: 'string', default: 'web:8080,service:8081' },
        'base-address': { type: 'string' },
        profile: { type: 'string' },
        control: { type: 'string', default: '127.0.0.1:10472' },
        'control-url': { type: 'string', default: 'http://127.0.0.1:10472' },
        version: { type: 'string', default: '8.6.2' },
        'write-config': { type: 'string' },
        component: { type: 'string' },
        value: { type: 'string' },
        fault: { type: 'string' },
      },
    });
  } catch (err) {
    die((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const [command, ...args] = positionals;
  const base = values['control-url'];
  switch (command) {
    case 'serve': {
      const profile = values.profile;
      let sim: SimCluster;
      let config: () => string;
      if (profile !== undefined) {
        if (!isProfileName(profile)) die(`unknown profile "${profile}"`);
        const password = process.env[SIM_PASSWORD_ENV];
        sim = new SimCluster(PROFILES[profile].simOptions({ baseAddress: values['base-address'], password }));
        config = () => profileExporterConfig(profile, sim);
      } else {
        const servers = Number(values.servers);
        if (!Number.isInteger(servers) || servers < 1) die('--servers must be a positive integer');
        sim = new SimCluster({
          servers,
          components: parseComponents(values.components),
          baseAddress: values['base-address'] ?? '127.0.10.1',
          version: values.version,
        });
        config = () => simExporterConfig(sim);
      }
      await sim.start();
      const [host, port] = values.control.split(':');
      const control = await startControl(sim, host, Number(port));
      if (values['write-config']) await writeFile(values['write-config'], config());
      const first = sim.servers[0]!;
      process.stdout.write(`simulated cluster: ${sim.servers.length} servers from ${first.name} on ${first.address}; control API ${control.url}\n`);
      const stop = (): void => void sim.stop().then(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      return;
    }
    case 'list':
      process.stdout.write(`${JSON.stringify(await call(base, 'GET', '/servers'), null, 2)}\n`);
      return;
    case 'fault': {
      const [server, fault] = args;
      if (!server || !fault) die('fault needs SERVER and FAULT');
      await call(base, 'POST', '/faults', { server, fault, component: values.component, value: values.value });
      process.stdout.write(`${server}${values.component ? `/${values.component}` : ''}: ${fault} on\n`);
      return;
    }
    case 'clear': {
      const [server] = args;
      await call(base, 'DELETE', '/faults', { server, component: values.component, fault: values.fault });
      process.stdout.write(`${server ?? 'all servers'}: faults cleared\n`);
      return;
    }
    default:
      die(command ? `unknown command "${command}"` : 'missing command');
  }
}

await main();
