#!/usr/bin/env node
// Installs the real programs the tests run against, from Debian's packages, when missing:
// Prometheus and promtool, Alertmanager and amtool, Chromium, docker-compose (which
// only checks the compose file here; no Docker engine is needed), kubectl for
// `kubectl kustomize` (Debian bookworm's kubernetes-client is 1.20: its kustomize renders
// deploy/kubernetes/base, and test/deploy/kubernetes.test.ts skips the overlays with it),
// and systemd for `systemd-analyze verify` of the exporter's and the agent's units (works
// without systemd as PID 1).
import { spawnSync } from 'node:child_process';

const needs = [
  { bin: 'prometheus', pkg: 'prometheus' },
  { bin: 'promtool', pkg: 'prometheus' },
  { bin: 'prometheus-alertmanager', pkg: 'prometheus-alertmanager' },
  { bin: 'amtool', pkg: 'prometheus-alertmanager' },
  { bin: 'chromium', pkg: 'chromium' },
  { bin: 'docker-compose', pkg: 'docker-compose', noRecommends: true },
  { bin: 'kubectl', pkg: 'kubernetes-client', noRecommends: true },
  { bin: 'systemd-analyze', pkg: 'systemd', noRecommends: true },
];
if (process.argv.includes('--bench')) needs.push({ bin: 'prometheus-blackbox-exporter', pkg: 'prometheus-blackbox-exporter' });

const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const missing = needs.filter((n) => !has(n.bin));
if (missing.length === 0) process.exit(0);

const pkgs = (list) => [...new Set(list.map((n) => n.pkg))];
const all = pkgs(missing);
const isRoot = process.getuid?.() === 0;
const hasApt = has('apt-get');
if (!isRoot || !hasApt) {
  console.error(
    `Missing programs: ${missing.map((n) => n.bin).join(', ')}.\n` +
      (hasApt
        ? `Install them as root:  sudo apt-get update && sudo apt-get install -y ${all.join(' ')}\n`
        : `Install the Debian/Ubuntu packages ${all.join(', ')} (or the same programs from your distribution), then run the tests again.\n`),
  );
  process.exit(1);
}

console.log(`Installing from Debian's packages: ${all.join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const apt = (args) => {
  const r = spawnSync('apt-get', args, { stdio: 'inherit', env });
  if (r.status !== 0) {
    console.error(`apt-get ${args.join(' ')} failed (exit ${r.status}); install ${all.join(' ')} by hand and run again.`);
    process.exit(1);
  }
};
apt(['update', '-qq']);
const plain = pkgs(missing.filter((n) => !n.noRecommends));
const lean = pkgs(missing.filter((n) => n.noRecommends));
if (plain.length) apt(['install', '-y', '-qq', ...plain]);
if (lean.length) apt(['install', '-y', '-qq', '--no-install-recommends', ...lean]);
const still = needs.filter((n) => !has(n.bin));
if (still.length) {
  console.error(`Still missing after install: ${still.map((n) => n.bin).join(', ')}`);
  process.exit(1);
}
