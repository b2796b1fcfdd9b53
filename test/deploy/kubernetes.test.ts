/**
 * deploy/kubernetes/: every manifest validated against the Kubernetes and prometheus-operator
 * schemas (kubernetes-models, @kubernetes-models/prometheus-operator), the generated files
 * checked against their sources, the wiring between objects and with the image checked,
 * and each kustomization rendered with `kubectl kustomize` where kubectl is installed.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { splitLaunch } from '../helpers/launch.js';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
// @ts-expect-error: a plain ES module script, without type declarations.
import { generated } from '../../scripts/generate-k8s.mjs';
import { parseShard, parseShardFromPodName } from '../../src/config/shard.js';
import { loadWebConfig } from '../../src/web/web-config.js';
import { makeCerts } from '../helpers/certs.js';
import { tempDir } from '../helpers/stack.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const k8s = join(root, 'deploy', 'kubernetes');
const kustomizations = ['base', 'shards', 'statefulset', 'web-config'];

type Doc = Record<string, any>;

/** The schema model for each apiVersion and kind the manifests use. */
const models: Record<string, new (data: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'v1/Service': Service,
  'v1/Secret': Secret,
  'v1/ConfigMap': ConfigMap,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

function validate(doc: Doc, where: string): void {
  const Model = models[`${doc.apiVersion}/${doc.kind}`];
  expect(Model, `${where}: no schema for ${doc.apiVersion} ${doc.kind}`).toBeDefined();
  expect(() => new Model!(doc).validate(), `${where}: ${doc.kind} ${doc.metadata?.name}`).not.toThrow();
}

/** Every Kubernetes object file under deploy/kubernetes (kustomizations and the files they embed left out). */
function manifestFiles(dir = k8s): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return manifestFiles(path);
    return e.name.endsWith('.yaml') && e.name !== 'kustomization.yaml' ? [path] : [];
  });
}

function docs(text: string): Doc[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length) throw d.errors[0];
    return d.toJS() as Doc;
  });
}

const baseDocs = ['deployment.yaml', 'service.yaml', 'secret.yaml', 'servicemonitor.yaml', 'prometheusrule.yaml'].flatMap((f) =>
  docs(readFileSync(join(k8s, 'base', f), 'utf8')),
);
const one = (list: Doc[], kind: string): Doc => {
  const found = list.filter((d) => d.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};

describe('manifests', () => {
  it.each(manifestFiles().map((f) => [relative(k8s, f), f]))('%s validates against its schema', (name, file) => {
    const list = docs(readFileSync(file, 'utf8'));
    expect(list.length).toBeGreaterThan(0);
    for (const doc of list) validate(doc, name);
  });

  it('the schemas catch a wrong type', () => {
    const bad = structuredClone(one(baseDocs, 'Deployment'));
    bad.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => new Deployment(bad).validate()).toThrow(/containerPort must be integer/);
  });

  it('the kustomizations name only files that exist', () => {
    for (const dir of kustomizations) {
      const k = parse(readFileSync(join(k8s, dir, 'kustomization.yaml'), 'utf8'));
      const files = [...(k.resources ?? []), ...(k.configMapGenerator ?? []).flatMap((g: Doc) => g.files)];
      for (const f of files as string[]) expect(existsSync(join(k8s, dir, f.split('=').at(-1)!)), `${dir}: ${f}`).toBe(true);
    }
  });
});

describe('generated files (npm run generate:k8s)', () => {
  it.each((generated() as [string, string][]).map(([file, text]) => [relative(root, file), file, text]))(
    '%s is what its sources give; run `npm run generate:k8s` if not',
    (_name, file, text) => {
      expect(readFileSync(file, 'utf8')).toBe(text);
    },
  );

  it('the PrometheusRule holds every group of alerts/*.yml, unchanged', () => {
    const rule = one(baseDocs, 'PrometheusRule');
    const sources = readdirSync(join(root, 'alerts'))
      .filter((f) => f.endsWith('.yml'))
      .sort()
      .flatMap((f) => parse(readFileSync(join(root, 'alerts', f), 'utf8')).groups);
    expect(sources.length).toBeGreaterThanOrEqual(3);
    expect(rule.spec.groups).toEqual(sources);
  });

  it('--check fails, naming the file, when a generated file differs', async () => {
    const ok = spawnSync(process.execPath, [join(root, 'scripts/generate-k8s.mjs'), '--check'], { encoding: 'utf8' });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    // A copy of the script and its inputs, one of them edited by hand.
    const dir = await tempDir();
    for (const f of ['scripts/generate-k8s.mjs', 'examples/mft-cluster.yml', 'deploy/kubernetes/base', 'alerts']) {
      cpSync(join(root, f), join(dir, f), { recursive: true });
    }
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    const rules = join(dir, 'alerts/alert-rules.yml');
    writeFileSync(rules, readFileSync(rules, 'utf8').replace('for: 15m', 'for: 20m'));
    const stale = spawnSync(process.execPath, [join(dir, 'scripts/generate-k8s.mjs'), '--check'], { encoding: 'utf8' });
    expect(stale.stderr).toBe('deploy/kubernetes/base/prometheusrule.yaml differs from its sources; run `npm run generate:k8s`\n');
    expect(stale.status).toBe(1);
  });
});

/** Checks the wiring of one exporter Deployment (or StatefulSet) with the objects it needs. */
function checkExporter(deployment: Doc, all: Doc[]): void {
  const pod = deployment.spec.template.spec;
  const [container] = pod.containers as Doc[];
  const args: string[] = container!.args;
  const arg = (flag: string) => args.find((a) => a.startsWith(`--${flag}=`))?.slice(flag.length + 3);

  const fromPodName = arg('shard.from-pod-name');
  // A Deployment runs two replicas of its shard; a StatefulSet one pod per shard.
  if (fromPodName === undefined) expect(deployment.spec.replicas, 'two replicas per shard').toBe(2);
  else expect(deployment.spec.replicas, 'one pod per shard: replicas = --shard.count').toBe(Number(arg('shard.count')));
  // Selects its own pods only, so shards never adopt each other's.
  for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels)) expect(deployment.spec.template.metadata.labels[k], k).toBe(v);

  // The exporter as the Dockerfile builds it: user node (1000), port 10471, config path.
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  expect(dockerfile).toMatch(new RegExp(`^USER ${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}$`, 'm'));
  expect(dockerfile).toMatch(/^EXPOSE 10471$/m);
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
  const program = splitLaunch(cmd);
  expect(container!.command, 'the program of the image CMD').toEqual([program.node, ...program.flags, program.main]);
  expect(program.args).toEqual(['--config.file=/etc/appcluster/config.yml']);
  expect(pod.securityContext.runAsNonRoot).toBe(true);
  expect(pod.automountServiceAccountToken).toBe(false);
  expect(container!.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });

  const port = (container!.ports as Doc[]).find((p) => p.name === 'http');
  expect(port?.containerPort).toBe(10471);
  expect(arg('web.listen-address')).toBe(':10471');
  expect(container!.livenessProbe.httpGet).toMatchObject({ path: '/-/healthy', port: 'http' });
  expect(container!.readinessProbe.httpGet).toMatchObject({ path: '/-/ready', port: 'http' });

  // Sized from bench/RESULTS.md: 3,000 components, 16% of a core and 182-293 MB.
  expect(container!.resources.requests).toEqual({ cpu: '200m', memory: '256Mi' });
  expect(container!.resources.limits).toEqual({ memory: '512Mi' });
  expect(container!.resources.limits.cpu).toBeUndefined();

  // The config file is the ConfigMap's config.yml, mounted where --config.file points.
  const configFile = arg('config.file')!;
  const mount = (container!.volumeMounts as Doc[]).find((m) => configFile.startsWith(`${m.mountPath}/`));
  expect(mount, `a volume mounted over ${configFile}`).toBeDefined();
  const volume = (pod.volumes as Doc[]).find((v) => v.name === mount!.name);
  const configMap = all.find((d) => d.kind === 'ConfigMap' && d.metadata.name === volume?.configMap?.name);
  if (configMap) expect(Object.keys(configMap.data)).toContain(configFile.slice(mount!.mountPath.length + 1));

  // Shard flags are valid, and the pod label that the ServiceMonitor copies says the index.
  if (fromPodName === undefined) {
    const shard = parseShard(arg('shard.index')!, arg('shard.count')!);
    expect(deployment.spec.template.metadata.labels.shard).toBe(String(shard.index));
  } else {
    // Its pod's own name, from the downward API, and every ordinal a valid shard.
    expect(fromPodName).toBe('$(POD_NAME)');
    expect(container!.env).toContainEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    expect(arg('shard.index')).toBeUndefined();
    for (let i = 0; i < deployment.spec.replicas; i++) parseShardFromPodName(`${deployment.metadata.name}-${i}`, arg('shard.count')!);
  }

  for (const from of container!.envFrom as Doc[]) {
    const secret = all.find((d) => d.kind === 'Secret' && d.metadata.name === from.secretRef.name);
    expect(secret, `Secret ${from.secretRef.name}`).toBeDefined();
  }
}

/** Service and ServiceMonitor reach every exporter pod, and its series get job="appcluster" and shard. */
function checkScraping(all: Doc[]): void {
  const service = one(all, 'Service');
  const monitor = one(all, 'ServiceMonitor');
  const deployments = all.filter((d) => d.kind === 'Deployment' || d.kind === 'StatefulSet');
  for (const d of deployments) {
    for (const [k, v] of Object.entries(service.spec.selector)) expect(d.spec.template.metadata.labels[k], `${d.metadata.name}: ${k}`).toBe(v);
    for (const label of monitor.spec.podTargetLabels ?? []) expect(d.spec.template.metadata.labels[label], label).toBeDefined();
  }
  // Every target gets a shard label: from a pod label, or from a StatefulSet pod's ordinal.
  const relabeled = monitor.spec.endpoints.every((e: Doc) => (e.relabelings ?? []).some((r: Doc) => r.targetLabel === 'shard'));
  expect((monitor.spec.podTargetLabels ?? []).includes('shard') || relabeled, 'a shard target label').toBe(true);
  for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) expect(service.metadata.labels[k], k).toBe(v);
  // The exporter-health alerts select job="appcluster".
  expect(service.metadata.labels[monitor.spec.jobLabel]).toBe('appcluster');
  const ports = monitor.spec.endpoints.map((e: Doc) => e.port);
  expect(ports).toEqual(service.spec.ports.map((p: Doc) => p.name));
  expect(service.spec.ports[0].targetPort).toBe('http');
}

describe('the base, as written', () => {
  it('wires the exporter, its Secret and its scraping', () => {
    checkExporter(one(baseDocs, 'Deployment'), baseDocs);
    checkScraping(baseDocs);
  });

  it('the web-config overlay gives a web-config.yml that the exporter loads', async () => {
    const dir = await tempDir();
    const certs = makeCerts(dir, 'DNS:appcluster-exporter');
    copyFileSync(certs.serverCert, join(dir, 'tls.crt'));
    copyFileSync(certs.serverKey, join(dir, 'tls.key'));
    const text = readFileSync(join(k8s, 'web-config', 'web-config.yml'), 'utf8');
    expect(text).toContain('/etc/appcluster-tls/');
    writeFileSync(join(dir, 'web-config.yml'), text.replaceAll('/etc/appcluster-tls/', `${dir}/`));
    const web = await loadWebConfig(join(dir, 'web-config.yml'));
    expect(web.tls).toBeDefined();
  });
});

/** kubectl's version, and whether its kustomize takes `patches` and directories in `resources` (v3 and later). */
function kubectl(): { modern: boolean; version: string } | undefined {
  const r = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (r.error) return undefined;
  // kubectl 1.21 and later embed kustomize v4+ and print its version; Debian bookworm's
  // kubernetes-client is 1.20, whose kustomize v2.0.3 renders only the base.
  const kustomize = /Kustomize Version: v(\d+)/.exec(r.stdout);
  const version = /GitVersion:"([^"]+)"/.exec(r.stdout) ?? /Client Version: (\S+)/.exec(r.stdout);
  return { modern: Number(kustomize?.[1] ?? 0) >= 4, version: version?.[1] ?? 'of unknown version' };
}

const tool = kubectl();
if (!tool) console.warn('kubectl is not installed (Debian: kubernetes-client, or kubectl); skipping `kubectl kustomize` of deploy/kubernetes');

describe.skipIf(!tool)('kubectl kustomize', () => {
  const render = (dir: string): Doc[] => {
    const r = spawnSync('kubectl', ['kustomize', join(k8s, dir)], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr, 'no warnings (deprecated fields)').toBe('');
    return docs(r.stdout);
  };

  it('renders the base: every object valid, the ConfigMap generated from the example config', () => {
    const all = render('base');
    for (const d of all) validate(d, 'base');
    expect(all.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'PrometheusRule', 'Secret', 'Service', 'ServiceMonitor']);
    const configMap = one(all, 'ConfigMap');
    expect(configMap.metadata.name).toMatch(/^appcluster-exporter-config-[a-z0-9]+$/);
    expect(configMap.data['config.yml']).toBe(readFileSync(join(k8s, 'base', 'config.yml'), 'utf8'));
    checkExporter(one(all, 'Deployment'), all);
    checkScraping(all);
  });

  const overlays = tool?.modern ? '' : ` (kubectl ${tool?.version} embeds a kustomize older than v4)`;
  if (tool && overlays) console.warn(`skipping the overlays deploy/kubernetes/shards and web-config${overlays}`);

  it.skipIf(Boolean(overlays))('renders two shards of two replicas sharing one Service, ServiceMonitor, PrometheusRule and config', () => {
    const all = render('shards');
    for (const d of all) validate(d, 'shards');
    const deployments = all.filter((d) => d.kind === 'Deployment');
    expect(deployments.map((d) => d.spec.template.spec.containers[0].args.filter((a: string) => a.startsWith('--shard.')))).toEqual([
      ['--shard.index=0', '--shard.count=2'],
      ['--shard.index=1', '--shard.count=2'],
    ]);
    for (const kind of ['Service', 'ServiceMonitor', 'PrometheusRule', 'ConfigMap', 'Secret']) one(all, kind);
    for (const d of deployments) checkExporter(d, all);
    checkScraping(all);
  });

  it.skipIf(Boolean(overlays))('renders the StatefulSet overlay: two replicas of each shard, the shard from the pod ordinal', () => {
    const all = render('statefulset');
    for (const d of all) validate(d, 'statefulset');
    expect(all.filter((d) => d.kind === 'Deployment')).toEqual([]);
    const sets = all.filter((d) => d.kind === 'StatefulSet');
    expect(sets.map((d) => d.metadata.name)).toEqual(['appcluster-exporter-a', 'appcluster-exporter-b']);
    // Identical but for the name and the label that keeps their pods apart.
    const strip = (d: Doc) => JSON.stringify(d).replaceAll(`-${d.spec.selector.matchLabels.replica}"`, '"').replaceAll(`"replica":"${d.spec.selector.matchLabels.replica}"`, '');
    expect(strip(sets[0]!)).toBe(strip(sets[1]!));
    for (const d of sets) checkExporter(d, all);
    // Prometheus's relabelling, as the operator writes it: pod appcluster-exporter-b-1 is shard 1.
    const [rule] = one(all, 'ServiceMonitor').spec.endpoints[0].relabelings;
    expect(rule).toMatchObject({ sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'shard', replacement: '$1' });
    expect('appcluster-exporter-b-1'.replace(new RegExp(`^(?:${rule.regex})$`), rule.replacement)).toBe('1');
    checkScraping(all);
  });

  it.skipIf(Boolean(overlays))('renders the web-config overlay: TLS for the probes and for Prometheus', () => {
    const all = render('web-config');
    for (const d of all) validate(d, 'web-config');
    const deployment = one(all, 'Deployment');
    const [container] = deployment.spec.template.spec.containers;
    expect(container.args).toContain('--web.config.file=/etc/appcluster-web/web-config.yml');
    expect(container.livenessProbe.httpGet.scheme).toBe('HTTPS');
    expect(container.readinessProbe.httpGet.scheme).toBe('HTTPS');
    const webConfig = all.find((d) => d.kind === 'ConfigMap' && d.metadata.name.startsWith('appcluster-exporter-web-config-'));
    expect(webConfig?.data['web-config.yml']).toBe(readFileSync(join(k8s, 'web-config', 'web-config.yml'), 'utf8'));
    expect(one(all, 'ServiceMonitor').spec.endpoints[0]).toMatchObject({ scheme: 'https', tlsConfig: { serverName: 'appcluster-exporter' } });
    checkExporter(deployment, all);
    checkScraping(all);
  });
});
