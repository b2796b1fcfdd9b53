#!/usr/bin/env node
// Writes the files of deploy/kubernetes/base/ that come from elsewhere in the repository, so
// they are never copied by hand:
//   prometheusrule.yaml  a PrometheusRule with every group of alerts/*.yml
//   config.yml           examples/mft-cluster.yml (kustomize reads only files under the
//                        kustomization's directory, so the ConfigMap cannot name it there)
// Usage: npm run generate:k8s            write them
//        node scripts/generate-k8s.mjs --check   exit 1 and name the files that differ
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse, stringify } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const base = join(root, 'deploy', 'kubernetes', 'base');
const REGENERATE = 'npm run generate:k8s';

/** The same files Prometheus loads in compose/prometheus/prometheus.yml: alerts/*.yml, rule files only. */
function ruleFiles() {
  const dir = join(root, 'alerts');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .sort()
    .map((f) => join(dir, f));
}

function prometheusRule() {
  const files = ruleFiles();
  const groups = files.flatMap((f) => parse(readFileSync(f, 'utf8')).groups);
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'appcluster',
      labels: { 'app.kubernetes.io/name': 'appcluster-exporter', 'app.kubernetes.io/part-of': 'appcluster' },
    },
    spec: { groups },
  };
  const sources = files.map((f) => relative(root, f)).join(', ');
  return `# Generated from ${sources} by \`${REGENERATE}\`; do not edit.\n${stringify(rule, { lineWidth: 0 })}`;
}

function exampleConfig() {
  const source = join(root, 'examples', 'mft-cluster.yml');
  return `# Generated from examples/mft-cluster.yml by \`${REGENERATE}\`; do not edit. Put your own\n# configuration in an overlay (docs/deploy.md, "Kubernetes").\n${readFileSync(source, 'utf8')}`;
}

/** Each generated file's path and the text it must hold. */
export function generated() {
  return [
    [join(base, 'prometheusrule.yaml'), prometheusRule()],
    [join(base, 'config.yml'), exampleConfig()],
  ];
}

function main() {
  const outputs = generated();
  if (process.argv.includes('--check')) {
    const stale = outputs.filter(([file, text]) => {
      try {
        return readFileSync(file, 'utf8') !== text;
      } catch {
        return true;
      }
    });
    for (const [file] of stale) console.error(`${relative(root, file)} differs from its sources; run \`${REGENERATE}\``);
    process.exit(stale.length === 0 ? 0 : 1);
  }
  for (const [file, text] of outputs) {
    writeFileSync(file, text);
    console.log(`wrote ${relative(root, file)}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
