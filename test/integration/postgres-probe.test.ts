import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { makeCerts, type Certs } from '../helpers/certs.js';
import { startPostgres, type Postgres } from '../helpers/postgres.js';
import { probesOf } from '../helpers/probe.js';
import { tempDir } from '../helpers/stack.js';

// The postgres probe against a real PostgreSQL 15 on loopback (password login, TLS), a
// closed port, a server that never answers and one that will not speak TLS.
let pg: Postgres;
let certs: Certs;
let dir: string;
let silent: Server;
let noTls: Server;
const held: Socket[] = [];
let closedPort: number;

const listen = async (server: Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

beforeAll(async () => {
  dir = await tempDir('postgres-probe-');
  pg = await startPostgres(async (address) => (certs = makeCerts(await tempDir('postgres-certs-'), `IP:${address}`)));
  await writeFile(join(dir, 'password'), `${pg.password}\n`);
  silent = createServer((s) => held.push(s.on('error', () => undefined)));
  // Answers PostgreSQL's SSLRequest with "N": no TLS here.
  noTls = createServer((s) => s.once('data', () => s.write('N')).on('error', () => undefined));
  const probe = createServer();
  closedPort = await listen(probe);
  await new Promise((resolve) => probe.close(resolve));
}, 120_000);

afterAll(async () => {
  for (const s of held) s.destroy();
  silent?.close();
  noTls?.close();
  await pg?.stop();
});

async function probe(settings: string, components = '{ name: db, endpoint: db, status: { json: in_recovery, healthy: ["false"] }, version: server_version }', timeoutMs = 5000) {
  const config = parseConfig(
    `clusters:
  - name: c
    endpoints:
      db: { postgres: { ${settings} } }
    components: [${components}]
    servers: [{ name: s, address: ${pg.address} }]
`,
    join(dir, 'postgres.yml'),
  );
  const p = probesOf(config);
  try {
    const started = performance.now();
    const result = await p.probe('db', {}, timeoutMs);
    return { result, ms: performance.now() - started };
  } finally {
    await p.close();
  }
}

describe('the postgres probe kind', () => {
  it("reads what PostgreSQL says of itself, with a password from a file or the environment, over TLS or not", async () => {
    process.env['APPCLUSTER_TEST_PG_PASSWORD'] = pg.password;
    const plain = await probe('user: monitor, password_env: APPCLUSTER_TEST_PG_PASSWORD');
    expect(plain.result).toMatchObject({ success: true, status: 'false', version: expect.stringMatching(/^15\./) });
    expect(plain.result.certNotAfterMs).toBeUndefined();
    const tls = await probe(`user: monitor, password_file: password, tls: { ca_file: "${certs.ca}" }`);
    expect(tls.result).toMatchObject({ success: true, status: 'false' });
    expect(tls.result.certNotAfterMs).toBe(Date.parse(new X509Certificate(readFileSync(certs.serverCert)).validTo));
    // TLS is what the server says it is: pg_stat_ssl of the probe's own connection.
    const ssl = await probe(`user: monitor, password_file: password, tls: { ca_file: "${certs.ca}" }, query: "SELECT ssl::text AS ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"`, '{ name: db, endpoint: db, facts: { ssl: ssl } }');
    expect(ssl.result.facts).toEqual({ ssl: 'true' });
  });

  it('calls refused credentials unauthorized, not a down database', async () => {
    await writeFile(join(dir, 'wrong'), 'not-the-password\n');
    expect((await probe('user: monitor, password_file: wrong')).result).toEqual({ success: false, reason: 'unauthorized', detail: 'SQLSTATE 28P01: password refused' });
    expect((await probe('user: nobody, password_file: password')).result).toMatchObject({ success: false, reason: 'unauthorized' });
    expect((await probe('user: monitor')).result).toMatchObject({ success: false, reason: 'unauthorized', detail: 'the server asks for a password; none is configured' });
  });

  it('runs the query read-only: a query that writes fails status_not_ok', async () => {
    const { result } = await probe('user: monitor, password_file: password, query: "CREATE TABLE t (i int)"');
    expect(result).toEqual({ success: false, reason: 'status_not_ok', detail: 'SQLSTATE 25006: the query writes, in a read-only transaction' });
  });

  it('fails a closed port connection_refused, a silent server at its deadline, and a server without TLS tls', async () => {
    expect((await probe(`host: 127.0.0.1, port: ${closedPort}, user: monitor`)).result).toMatchObject({ success: false, reason: 'connection_refused' });
    const never = await probe(`host: 127.0.0.1, port: ${await listen(silent)}, user: monitor`, undefined, 800);
    expect(never.result).toEqual({ success: false, reason: 'timeout', detail: 'deadline exceeded' });
    expect(never.ms).toBeGreaterThanOrEqual(790);
    expect(never.ms).toBeLessThan(3000);
    expect((await probe(`host: 127.0.0.1, port: ${await listen(noTls)}, user: monitor, tls: {}`)).result).toEqual({ success: false, reason: 'tls', detail: 'the server does not speak TLS' });
  });
});
