import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { probesOf } from '../helpers/probe.js';

// The prometheus probe against a loopback server that answers each path with one
// exposition: etcd's own lines (etcd 3.4 /metrics), Patroni's (Patroni 3.0 /metrics), a
// malformed one, a huge one, and one without the sample a component reads.
const ETCD = `# HELP etcd_server_has_leader Whether or not a leader exists. 1 is existence, 0 is not.
# TYPE etcd_server_has_leader gauge
etcd_server_has_leader 1
# HELP etcd_server_is_leader Whether or not this member is a leader. 1 if is, 0 otherwise.
# TYPE etcd_server_is_leader gauge
etcd_server_is_leader 0
# HELP etcd_server_leader_changes_seen_total The number of leader changes seen.
# TYPE etcd_server_leader_changes_seen_total counter
etcd_server_leader_changes_seen_total 3
# HELP etcd_server_version Which version is running. 1 for 'server_version' label with current version.
# TYPE etcd_server_version gauge
etcd_server_version{server_version="3.4.30"} 1
# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.
# TYPE etcd_disk_wal_fsync_duration_seconds histogram
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} 0
etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 12
etcd_disk_wal_fsync_duration_seconds_sum 0.25
etcd_disk_wal_fsync_duration_seconds_count 12
# TYPE etcd_debugging_mvcc_db_total_size_in_bytes gauge
etcd_debugging_mvcc_db_total_size_in_bytes 2.0480e+04
`;
const PATRONI = `# HELP patroni_version Patroni semver without periods.
# TYPE patroni_version gauge
patroni_version{scope="demo"} 030000
# HELP patroni_primary Value is 1 if this node is the leader, 0 otherwise.
# TYPE patroni_primary gauge
patroni_primary{scope="demo"} 1
# HELP patroni_xlog_paused Value is 1 if the Postgres xlog is paused, 0 otherwise.
# TYPE patroni_xlog_paused gauge
patroni_xlog_paused{scope="demo"} 0
# TYPE patroni_postmaster_start_time gauge
patroni_postmaster_start_time{scope="demo"} 1765130000.123
# TYPE odd gauge
odd{a="x\\"y",b="2"} +Inf
`;
const BODIES: Record<string, string> = {
  '/etcd': ETCD,
  '/patroni': PATRONI,
  '/html': '<html><body>Not Found</body></html>\n',
  '/bad-label': 'etcd_server_has_leader{a=1} 1\n',
  '/bad-value': 'etcd_server_has_leader one\n',
  '/missing': '# TYPE etcd_server_has_leader gauge\netcd_server_has_leader 1\n',
  // 2 MiB of valid lines: over the default body_size_limit of 1 MiB.
  '/huge': Array.from({ length: 70_000 }, (_, i) => `series_${i}_padding_padding 1`).join('\n'),
};

let server: Server;
let port: number;
const accepts: string[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    accepts.push(String(req.headers.accept));
    const body = BODIES[req.url ?? ''];
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function probes(components: string) {
  const config = parseConfig(
    `clusters:
  - name: c
    endpoints:
${Object.keys(BODIES)
  .map((path) => `      ${path.slice(1)}: { prometheus: { url: "http://{address}:${port}${path}" } }`)
  .join('\n')}
    components:
${components}
    servers: [{ name: s, address: 127.0.0.1 }]
`,
    'prometheus.yml',
  );
  return probesOf(config);
}

describe('the prometheus probe kind', () => {
  it("reads a sample's value as a status, a value or a fact, and a label as a fact or version", async () => {
    const p = probes(`      - name: member
        endpoint: etcd
        status: { json: etcd_server_has_leader.value, healthy: ["1"] }
        version: etcd_server_version.labels.server_version
        values:
          leader_changes_seen_total: etcd_server_leader_changes_seen_total.value
          db_size_bytes: etcd_debugging_mvcc_db_total_size_in_bytes.value
          wal_fsync_seconds_count: etcd_disk_wal_fsync_duration_seconds_count.value
        facts: { leader: etcd_server_is_leader.value }
      - name: patroni
        endpoint: patroni
        status: { json: patroni_primary.value, healthy: ["0", "1"] }
        values: { postmaster_start_time_seconds: patroni_postmaster_start_time.value, xlog_paused: '["patroni_xlog_paused{scope=\\"demo\\"}"].value' }
        facts: { primary: patroni_primary.value, scope: patroni_primary.labels.scope, odd: '["odd{a=\\"x\\\\\\"y\\",b=\\"2\\"}"].value' }
`);
    try {
      expect(await p.probe('member')).toMatchObject({
        success: true,
        status: '1',
        version: '3.4.30',
        values: { leader_changes_seen_total: 3, db_size_bytes: 20480, wal_fsync_seconds_count: 12 },
        facts: { leader: '0' },
      });
      const patroni = await p.probe('patroni');
      expect(patroni).toMatchObject({
        success: true,
        values: { postmaster_start_time_seconds: 1765130000.123, xlog_paused: 0 },
        facts: { primary: '1', scope: 'demo', odd: '+Inf' },
      });
      expect(patroni.problems).toBeUndefined();
      // The text format, not OpenMetrics or protobuf, whatever else the server speaks.
      expect(accepts.at(-1)).toBe('text/plain;version=0.0.4;q=1,*/*;q=0.1');
    } finally {
      await p.close();
    }
  });

  it('fails a malformed exposition bad_body, whatever line is wrong', async () => {
    const reading = (endpoint: string) => `      - { name: ${endpoint}, endpoint: ${endpoint}, status: { json: etcd_server_has_leader.value, healthy: ["1"] } }\n`;
    const p = probes(['html', 'bad-label', 'bad-value'].map(reading).join(''));
    try {
      for (const name of ['html', 'bad-label', 'bad-value']) {
        expect(await p.probe(name), name).toEqual({ success: false, reason: 'bad_body', detail: 'not Prometheus text format' });
      }
    } finally {
      await p.close();
    }
  });

  it('fails an exposition over body_size_limit body_too_large, and one without the sample as the http probe does', async () => {
    const p = probes(`      - { name: huge, endpoint: huge, status: { json: series_0_padding_padding.value, healthy: ["1"] } }
      - { name: missing, endpoint: missing, status: { json: etcd_server_is_leader.value, healthy: ["1"] }, values: { changes: etcd_server_leader_changes_seen_total.value } }
      - { name: value-only, endpoint: missing, values: { changes: etcd_server_leader_changes_seen_total.value } }
`);
    try {
      expect(await p.probe('huge')).toMatchObject({ success: false, reason: 'body_too_large' });
      expect(await p.probe('missing')).toMatchObject({ success: false, reason: 'bad_body', detail: 'status field missing', problems: ['value changes: missing'] });
      expect(await p.probe('value-only')).toMatchObject({ success: true, problems: ['value changes: missing'] });
    } finally {
      await p.close();
    }
  });
});
