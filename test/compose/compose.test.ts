/**
 * The compose stack cannot run here (no Docker engine), so it is checked piece by piece
 * with the tools it runs: docker-compose validates the file, promtool and amtool check
 * the Prometheus and Alertmanager configs laid out as the containers see them (every bind
 * mount recreated as a symlink under a staging directory), and the wiring between
 * services (mount targets, host names, ports) is checked against the compose file.
 */
import { launchFlags, splitLaunch } from '../helpers/launch.js';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadAgentConfig } from '../../src/agent/config.js';
import { loadConfigFile } from '../../src/config/load.js';
import { run } from '../helpers/tools.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const composeDir = join(root, 'compose');
const composeFile = join(composeDir, 'docker-compose.yml');
const alertsDir = join(root, 'alerts');
const alertmanagerDir = join(root, 'alertmanager');

interface Service {
  image?: string;
  network_mode?: string;
  pid?: string;
  networks?: { default: { aliases: string[] } };
  build?: { context: string; dockerfile?: string } | string;
  command?: string[] | string;
  environment?: Record<string, string> | string[];
  volumes?: string[];
  ports?: string[];
}

const compose = parse(readFileSync(composeFile, 'utf8'), { merge: true }) as {
  version: string;
  services: Record<string, Service>;
};

function service(name: string): Service {
  const s = compose.services[name];
  if (!s) throw new Error(`compose/docker-compose.yml has no service ${name}`);
  return s;
}

interface Mount {
  source: string;
  target: string;
}

/** Bind mounts of a service (short syntax), sources resolved against compose/. */
function bindMounts(name: string): Mount[] {
  return (service(name).volumes ?? []).flatMap((v) => {
    const [source = '', target = ''] = v.split(':');
    return source.startsWith('.') || source.startsWith('/') ? [{ source: resolve(composeDir, source), target }] : [];
  });
}

/** The host path a container path of a service reads, through the deepest bind mount. */
function hostPath(name: string, containerPath: string): string | undefined {
  const m = bindMounts(name)
    .filter((b) => containerPath === b.target || containerPath.startsWith(`${b.target}/`))
    .sort((a, b) => b.target.length - a.target.length)[0];
  return m && join(m.source, posix.relative(m.target, containerPath));
}

function commandArgs(name: string): string[] {
  const c = service(name).command ?? [];
  return typeof c === 'string' ? c.split(/\s+/) : c;
}

function flag(name: string, flagName: string): string {
  const arg = commandArgs(name).find((a) => a.startsWith(`--${flagName}=`));
  if (!arg) throw new Error(`service ${name} has no --${flagName}= argument`);
  return arg.slice(flagName.length + 3);
}

/** Container ports a service publishes. */
function publishedPorts(name: string): number[] {
  return (service(name).ports ?? []).map((p) => Number(String(p).split(':').at(-1)));
}

let staging: string;

/**
 * Recreates a service's bind mounts under the staging directory, so that a config file
 * resolves its relative paths exactly as in the container. A mount whose source does not
 * exist fails here, as `docker compose up` would.
 */
function stage(name: string): (containerPath: string) => string {
  const base = join(staging, name);
  for (const m of bindMounts(name)) {
    const at = join(base, m.target);
    mkdirSync(dirname(at), { recursive: true });
    if (!existsSync(m.source)) throw new Error(`${name} mounts ${m.source}, which does not exist`);
    symlinkSync(m.source, at);
  }
  return (containerPath) => join(base, containerPath);
}

/** A file-name glob (`*`, `?`; none in the directory part) as a RegExp. */
function globRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${escaped}$`);
}

function globFiles(dir: string, pattern: string): string[] {
  if (!existsSync(dir)) return [];
  const re = globRegExp(pattern);
  return readdirSync(dir).filter((f) => re.test(f) && statSync(join(dir, f)).isFile());
}

beforeAll(() => {
  staging = mkdtempSync(join(tmpdir(), 'appcluster-compose-'));
});
afterAll(() => {
  rmSync(staging, { recursive: true, force: true });
});

describe('compose/docker-compose.yml', () => {
  it('is accepted by docker-compose config', () => {
    const r = run('docker-compose', ['-f', composeFile, 'config', '-q']);
    expect(r.status, r.out).toBe(0);
  });

  it('has the services of the stack, publishing the documented ports', () => {
    expect(Number(compose.version)).toBeLessThanOrEqual(3.8);
    const expected: Record<string, number[]> = {
      // The exporter shares the simulator's network (it probes 127.0.10.x there), so the
      // simulator's container publishes the exporter's port.
      exporter: [],
      prometheus: [9090],
      alertmanager: [9093],
      grafana: [3000],
      mailpit: [8025, 1025],
      sim: [10471],
      // The agents listen on the simulated nodes' addresses inside the simulator's network.
      'agent-1': [],
      'agent-2': [],
      'agent-3': [],
    };
    expect(Object.keys(compose.services).sort()).toEqual(Object.keys(expected).sort());
    const readme = readFileSync(join(composeDir, 'README.md'), 'utf8');
    for (const [name, ports] of Object.entries(expected)) {
      expect(publishedPorts(name).sort(), name).toEqual([...ports].sort());
      for (const port of ports) expect(readme, `compose/README.md documents port ${port}`).toContain(String(port));
    }
  });

  it('builds the exporter, the simulator and the agents from the repository Dockerfile', () => {
    for (const name of ['exporter', 'sim', ...AGENTS]) {
      const build = service(name).build;
      const context = typeof build === 'string' ? build : build?.context;
      expect(context && resolve(composeDir, context), name).toBe(root);
    }
    for (const name of ['exporter', ...AGENTS]) expect(service(name).image, name).toBe(service('sim').image);
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    for (const needle of [/^FROM node:20-slim\b/m, /npm ci\b/, /npm run build\b/, /npm prune --omit=dev\b/, /^EXPOSE 10471$/m]) {
      expect(dockerfile).toMatch(needle);
    }
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users.at(-1), 'the image runs as a non-root user').toMatch(/^(?!root$|0$)/);
    expect(splitLaunch(commandArgs('exporter'))).toMatchObject({ node: 'node', flags: launchFlags(), main: 'dist/src/main.js' });
    expect(commandArgs('sim').slice(0, 3)).toEqual(['node', 'dist/src/sim/cli.js', 'serve']);
    expect(hostPath('exporter', flag('exporter', 'config.file'))).toBe(join(composeDir, 'exporter', 'appcluster.yml'));
    expect(service('exporter').network_mode).toBe('service:sim');
    expect(service('sim').networks?.default.aliases).toContain('exporter');
  });
});

const AGENTS = ['agent-1', 'agent-2', 'agent-3'];

describe('compose agents', () => {
  const exporterConfigFile = join(composeDir, 'exporter', 'appcluster.yml');
  type ExporterYaml = {
    clusters: Array<{
      components: Array<{ name: string; required?: boolean; key_fingerprint?: string; probe: { http: { url: string } } }>;
      servers: Array<{ name: string; address: string }>;
    }>;
  };
  const exporterYaml = (file: string) => parse(readFileSync(file, 'utf8'), { merge: true }) as ExporterYaml;

  it('the exporter follows examples/demo.yml, with the key read from the agents', () => {
    const compose = exporterYaml(exporterConfigFile);
    const demo = exporterYaml(join(root, 'examples', 'demo.yml'));
    const agent = compose.clusters[0]!.components.find((c) => c.name === 'agent');
    expect(agent?.required).toBe(false);
    expect(agent?.key_fingerprint).toBe('facts.encryption_key.fingerprint');
    // Two sources of keys in one cluster would never agree: the simulator's is dropped.
    for (const c of demo.clusters[0]!.components) delete c.key_fingerprint;
    compose.clusters[0]!.components = compose.clusters[0]!.components.filter((c) => c !== agent);
    expect(compose).toEqual(demo);
  });

  it('the exporter configuration loads', async () => {
    const config = await loadConfigFile(exporterConfigFile);
    expect(config.clusters[0]!.servers.map((s) => s.components.map((c) => c.name))).toEqual([
      ['web', 'service', 'agent'],
      ['web', 'service', 'agent'],
      ['web', 'service', 'agent'],
    ]);
  });

  it.each(AGENTS.map((name, i) => [name, i] as const))('%s runs next to its simulated node, on the port the exporter probes', async (name, i) => {
    const s = service(name);
    expect(s.network_mode).toBe('service:sim');
    expect(s.pid).toBe('service:sim');
    const launch = splitLaunch(commandArgs(name));
    expect([launch.node, launch.flags, launch.main, launch.args[0]]).toEqual(['node', launchFlags(), 'dist/src/main.js', 'agent']);
    const server = exporterYaml(exporterConfigFile).clusters[0]!.servers[i]!;
    const url = exporterYaml(exporterConfigFile).clusters[0]!.components.find((c) => c.name === 'agent')!.probe.http.url;
    expect(flag(name, 'web.listen-address')).toBe(`${server.address}:${new URL(url.replace('{address}', server.address)).port}`);
    // Loaded as the container sees it, through its mounts.
    const at = stage(name);
    const config = await loadAgentConfig(at(flag(name, 'config.file')));
    expect(config.facts.map((f) => f.name)).toContain('encryption_key');
    const nodeConfig = readFileSync(hostPath(name, flag(name, 'config.file')) ?? '', 'utf8');
    expect(nodeConfig).toContain(`file: ${server.name}/ProGet.config`);
    expect(nodeConfig).toContain(`${server.address}`);
  });

  it('every node starts with the same key', () => {
    const keys = [1, 2, 3].map((n) => /<EncryptionKey>(\w+)<\/EncryptionKey>/.exec(readFileSync(join(composeDir, 'agent', `node-${n}`, 'ProGet.config'), 'utf8'))?.[1]);
    expect(keys[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(keys).size).toBe(1);
  });
});

describe('compose Prometheus', () => {
  const configPath = flag('prometheus', 'config.file');
  const config = () =>
    parse(readFileSync(hostPath('prometheus', configPath) ?? '', 'utf8')) as {
      rule_files?: string[];
      alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
    };

  it('is the mounted compose/prometheus/prometheus.yml', () => {
    expect(hostPath('prometheus', configPath)).toBe(join(composeDir, 'prometheus', 'prometheus.yml'));
  });

  it('passes promtool check config with the rule files resolved through the mounts', () => {
    const at = stage('prometheus');
    const r = run('promtool', ['check', 'config', at(configPath)]);
    expect(r.status, r.out).toBe(0);
  });

  it('loads every rule file in alerts/ from the mount, and nothing else', () => {
    const globs = config().rule_files ?? [];
    expect(globs.length).toBeGreaterThan(0);
    const loaded = new Set<string>();
    for (const glob of globs) {
      const containerDir = posix.join(posix.dirname(configPath), posix.dirname(glob));
      expect(hostPath('prometheus', containerDir), `${glob} is read from the ../alerts mount`).toBe(alertsDir);
      for (const f of globFiles(alertsDir, posix.basename(glob))) loaded.add(f);
    }
    const ruleFiles = readdirSync(alertsDir).filter((f) => {
      if (!/\.ya?ml$/.test(f)) return false;
      const doc = parse(readFileSync(join(alertsDir, f), 'utf8')) as unknown;
      return typeof doc === 'object' && doc !== null && 'groups' in doc;
    });
    expect(ruleFiles.length).toBeGreaterThan(0);
    expect([...loaded].sort(), `rule_files ${globs.join(', ')} must match exactly the rule files in alerts/`).toEqual(
      ruleFiles.sort(),
    );
  });

  it('scrapes the exporter as job appcluster and alerts through the alertmanager service', () => {
    const c = config();
    const job = c.scrape_configs.find((s) => s.job_name === 'appcluster');
    expect(job?.static_configs.flatMap((s) => s.targets)).toEqual(['exporter:10471']);
    expect(c.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets))).toEqual([
      'alertmanager:9093',
    ]);
  });
});

describe('compose Alertmanager', () => {
  const configPath = flag('alertmanager', 'config.file');
  type AmConfig = Record<string, unknown> & {
    global?: Record<string, unknown>;
    templates?: string[];
    receivers?: Array<Record<string, unknown> & { email_configs?: Array<Record<string, unknown>> }>;
  };
  const config = () => parse(readFileSync(hostPath('alertmanager', configPath) ?? '', 'utf8')) as AmConfig;
  const templatesDir = join(alertmanagerDir, 'templates');
  const sharedTemplates = readdirSync(templatesDir).filter((f) => f.endsWith('.tmpl'));

  it('is the compose-specific compose/alertmanager/alertmanager.yml', () => {
    expect(hostPath('alertmanager', configPath)).toBe(join(composeDir, 'alertmanager', 'alertmanager.yml'));
  });

  it('passes amtool check-config with the shared templates mounted', () => {
    const at = stage('alertmanager');
    const r = run('amtool', ['check-config', at(configPath)]);
    expect(r.status, r.out).toBe(0);
  });

  it('reads its templates from the ../alertmanager/templates mount', () => {
    const globs = config().templates ?? [];
    expect(globs.length).toBeGreaterThan(0);
    for (const glob of globs) {
      const containerDir = posix.join(posix.dirname(configPath), posix.dirname(glob));
      expect(hostPath('alertmanager', containerDir), glob).toBe(templatesDir);
    }
    const loaded = globs.flatMap((g) => globFiles(templatesDir, posix.basename(g)));
    expect(sharedTemplates.length).toBeGreaterThan(0);
    expect(loaded.sort()).toEqual([...sharedTemplates].sort());
  });

  it('uses only templates that are defined', () => {
    const defined = new Set<string>();
    for (const f of sharedTemplates) {
      for (const m of readFileSync(join(templatesDir, f), 'utf8').matchAll(/\{\{-?\s*define\s+"([^"]+)"/g)) {
        defined.add(m[1] ?? '');
      }
    }
    const text = readFileSync(hostPath('alertmanager', configPath) ?? '', 'utf8');
    const used = [...text.matchAll(/\{\{-?\s*template\s+"([^"]+)"/g)];
    expect(used.length).toBeGreaterThan(0);
    for (const m of used) {
      const name = m[1] ?? '';
      // Names Alertmanager's built-in default.tmpl defines.
      const builtIn = name.startsWith('__') || /^(email|slack|pagerduty|opsgenie|webhook)\./.test(name);
      expect(builtIn || defined.has(name), `template "${name}" is defined in alertmanager/templates`).toBe(true);
    }
  });

  it('sends mail to the Mailpit service', () => {
    const smarthosts = [
      config().global?.smtp_smarthost,
      ...(config().receivers ?? []).flatMap((r) => (r.email_configs ?? []).map((e) => e.smarthost)),
    ].filter((h): h is string => typeof h === 'string');
    expect(smarthosts.length).toBeGreaterThan(0);
    for (const h of smarthosts) expect(h).toBe('mailpit:1025');
    expect(publishedPorts('mailpit')).toContain(1025);
  });

  // Transport settings (where mail goes and how) differ between the stack and a real
  // deployment; everything else must be the same as in alertmanager/alertmanager.yml.
  const EMAIL_TRANSPORT = new Set([
    'to', 'from', 'smarthost', 'hello', 'require_tls', 'tls_config',
    'auth_username', 'auth_password', 'auth_password_file', 'auth_secret', 'auth_identity',
  ]);
  function routing(c: AmConfig): AmConfig {
    const copy = structuredClone(c);
    delete copy.templates;
    if (copy.global) {
      for (const k of Object.keys(copy.global)) if (k.startsWith('smtp_')) delete copy.global[k];
      if (Object.keys(copy.global).length === 0) delete copy.global;
    }
    for (const r of copy.receivers ?? []) {
      for (const e of r.email_configs ?? []) for (const k of Object.keys(e)) if (EMAIL_TRANSPORT.has(k)) delete e[k];
    }
    return copy;
  }
  const shared = join(alertmanagerDir, 'alertmanager.yml');
  it('routes and renders alerts as alertmanager/alertmanager.yml does', () => {
    const theirs = parse(readFileSync(shared, 'utf8')) as AmConfig;
    expect(routing(config()), `compose/alertmanager/alertmanager.yml must follow ${relative(root, shared)}`).toEqual(
      routing(theirs),
    );
  });
});

describe('compose Grafana', () => {
  it('provisions the Prometheus service as a data source', () => {
    const ds = parse(
      readFileSync(join(composeDir, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8'),
    ) as { datasources: Array<{ type: string; url: string }> };
    expect(ds.datasources.map((d) => [d.type, d.url])).toEqual([['prometheus', 'http://prometheus:9090']]);
    expect(hostPath('grafana', '/etc/grafana/provisioning/datasources/prometheus.yml')).toBe(
      join(composeDir, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'),
    );
  });

  it('provisions the dashboards from the ../dashboards mount', () => {
    const providerFile = hostPath('grafana', '/etc/grafana/provisioning/dashboards/provider.yml');
    expect(providerFile).toBe(join(composeDir, 'grafana', 'provisioning', 'dashboards', 'provider.yml'));
    const provider = parse(readFileSync(providerFile ?? '', 'utf8')) as {
      providers: Array<{ type: string; options: { path: string } }>;
    };
    for (const p of provider.providers) expect(hostPath('grafana', p.options.path)).toBe(join(root, 'dashboards'));
    const env = service('grafana').environment as Record<string, string>;
    const home = env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    if (home) expect(existsSync(hostPath('grafana', home) ?? ''), home).toBe(true);
  });
});
