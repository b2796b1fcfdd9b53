#!/usr/bin/env node
// Installs the real programs the tests run against, from Debian's packages, when missing:
// Prometheus and promtool, Alertmanager and amtool, Chromium, docker-compose (which
// only checks the compose file here; no Docker engine is needed), kubectl for
// `kubectl kustomize` (Debian bookworm's kubernetes-client is 1.20: its kustomize renders
// deploy/kubernetes/base, and test/deploy/kubernetes.test.ts skips the overlays with it),
// systemd for `systemd-analyze verify` of the exporter's and the agent's units (works
// without systemd as PID 1), etcd (server and etcdctl) for the end-to-end test on a real
// three-member cluster, and Patroni with PostgreSQL and its etcd client for the one on a
// real two-node Patroni cluster. These packages try to start their own services on install
// (with no init system running they do not); the tests start their own instances on
// 127.x.y.z addresses, which a packaged service on 127.0.0.1 does not collide with.
//
// With --bench, what `npm run bench` runs instead: blackbox_exporter (Debian's
// prometheus-blackbox-exporter, the peer the exporter is measured against), and nothing of
// the tests' list. The load and agent benchmarks run only this project's programs.
import { spawnSync } from 'node:child_process';

const bench = process.argv.includes('--bench');
const testNeeds = [
  { bin: 'prometheus', pkg: 'prometheus' },
  { bin: 'promtool', pkg: 'prometheus' },
  { bin: 'prometheus-alertmanager', pkg: 'prometheus-alertmanager' },
  { bin: 'amtool', pkg: 'prometheus-alertmanager' },
  { bin: 'chromium', pkg: 'chromium' },
  { bin: 'docker-compose', pkg: 'docker-compose', noRecommends: true },
  { bin: 'kubectl', pkg: 'kubernetes-client', noRecommends: true },
  { bin: 'systemd-analyze', pkg: 'systemd', noRecommends: true },
  { bin: 'etcd', pkg: 'etcd-server', noRecommends: true },
  { bin: 'etcdctl', pkg: 'etcd-client', noRecommends: true },
  { bin: 'patroni', pkg: 'patroni', noRecommends: true },
  // Reaps the postmasters Patroni orphans, where PID 1 does not (test/helpers/patroni.ts).
  { bin: 'tini', pkg: 'tini', noRecommends: true },
  // Not on PATH: Debian keeps each PostgreSQL major under /usr/lib/postgresql/N/bin.
  { bin: 'postgres', pkg: 'postgresql', noRecommends: true, check: 'ls /usr/lib/postgresql/*/bin/postgres' },
  // Patroni's etcd client, one of several DCS clients its package accepts.
  { bin: 'python3-etcd', pkg: 'python3-etcd', noRecommends: true, check: '/usr/bin/python3 -c "import etcd"' },
];
const benchNeeds = [{ bin: 'prometheus-blackbox-exporter', pkg: 'prometheus-blackbox-exporter' }];
const needs = bench ? benchNeeds : testNeeds;
const again = bench ? 'run `npm run bench` again' : 'run the tests again';

const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const present = (n) => (n.check ? spawnSync('sh', ['-c', `${n.check} >/dev/null 2>&1`]).status === 0 : has(n.bin));
const missing = needs.filter((n) => !present(n));
if (missing.length === 0) process.exit(0);

const pkgs = (list) => [...new Set(list.map((n) => n.pkg))];
const all = pkgs(missing);
const isRoot = process.getuid?.() === 0;
const hasApt = has('apt-get');
if (!isRoot || !hasApt) {
  const how = hasApt
    ? `Install ${missing.length > 1 ? 'them' : 'it'} as root, then ${again}:\n  sudo apt-get update && sudo apt-get install -y ${all.join(' ')}\n`
    : `Install the Debian/Ubuntu package${all.length > 1 ? 's' : ''} ${all.join(', ')} (or the same programs from your distribution), then ${again}.\n`;
  const blackbox = bench
    ? 'Without root or apt: take blackbox_exporter from https://github.com/prometheus/blackbox_exporter/releases and put it on\n' +
      'the PATH under the Debian name, e.g. ln -s "$PWD/blackbox_exporter" /usr/local/bin/prometheus-blackbox-exporter.\n' +
      'Or measure the exporter alone: npm run build && node dist/bench/run.js --skip-blackbox\n'
    : '';
  console.error(`${bench ? 'npm run bench needs' : 'Missing programs'}: ${missing.map((n) => n.bin).join(', ')}.\n${how}${blackbox}`);
  process.exit(1);
}

console.log(`Installing from Debian's packages: ${all.join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
// Another job on the machine (a second CI run, unattended-upgrades) may hold apt's locks.
// apt-get waits for the dpkg lock itself (DPkg::Lock::Timeout) but not for the lists lock
// of `update`; so wait while another apt or dpkg runs, and retry a run that lost the race.
const LOCK_WAIT_MS = 10 * 60_000;
const busy = () => ['apt-get', 'apt', 'dpkg', 'unattended-upgr'].some((p) => spawnSync('pgrep', ['-x', p]).status === 0);
const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const apt = (args) => {
  const until = Date.now() + LOCK_WAIT_MS;
  for (let said = false; ; ) {
    while (busy() && Date.now() < until) {
      if (!said) console.log('Another apt or dpkg is running; waiting for it to finish...');
      said = true;
      pause(2000);
    }
    const r = spawnSync('apt-get', ['-o', `DPkg::Lock::Timeout=${LOCK_WAIT_MS / 1000}`, ...args], { stdio: ['ignore', 'inherit', 'pipe'], env, encoding: 'utf8' });
    process.stderr.write(r.stderr ?? '');
    if (r.status === 0) return;
    if (/Could not get lock|Unable to lock|is another process using it/i.test(r.stderr ?? '') && Date.now() < until) {
      console.log('apt is locked by another process; retrying...');
      pause(5000);
      continue;
    }
    console.error(`apt-get ${args.join(' ')} failed (exit ${r.status}); install ${all.join(' ')} by hand and ${again}.`);
    process.exit(1);
  }
};
apt(['update', '-qq']);
const plain = pkgs(missing.filter((n) => !n.noRecommends));
const lean = pkgs(missing.filter((n) => n.noRecommends));
if (plain.length) apt(['install', '-y', '-qq', ...plain]);
if (lean.length) apt(['install', '-y', '-qq', '--no-install-recommends', ...lean]);
const still = needs.filter((n) => !present(n));
if (still.length) {
  console.error(`Still missing after install: ${still.map((n) => n.bin).join(', ')}`);
  process.exit(1);
}
