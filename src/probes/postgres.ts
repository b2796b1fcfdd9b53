import { isIP, Socket } from 'node:net';
import pg from 'pg';
import type { PostgresEndpoint } from '../config/types.js';
import { failure } from './reasons.js';
import { tlsOptions, withCert } from './tls.js';
import type { Answer, ProbeKind, ProbeSignal } from './types.js';

/**
 * What some SQLSTATE codes (PostgreSQL docs, Appendix A, "PostgreSQL Error Codes") say, in
 * the exporter's words: a server's own message text never leaves the probe.
 */
const SQLSTATE_WORDS: Record<string, string> = {
  '28P01': 'password refused',
  '28000': 'not allowed to connect (pg_hba.conf)',
  '3D000': 'no such database',
  '53300': 'too many connections',
  '57P01': 'shutting down',
  '57P03': 'cannot connect now (starting up or shutting down)',
  '25006': 'the query writes, in a read-only transaction',
};

/**
 * `postgres`: connects to PostgreSQL with the `pg` client (TLS when `tls` is set, required
 * then, with the certificate checked as configured), runs one query in a read-only
 * transaction (`default_transaction_read_only`), hands the components its first row
 * (columns by name; times as RFC 3339 text) and closes, all within the probe's deadline: at
 * the deadline the connection is destroyed wherever it stands.
 *
 * Failures: refused credentials (SQLSTATE class 28) are `unauthorized`, a credentials
 * problem and not a down database; any other error PostgreSQL sends (starting up, no such
 * database, a failing query) is `status_not_ok` with its SQLSTATE; a server that will not
 * speak TLS is `tls`; socket failures as for every probe.
 */
export const postgresProbe: ProbeKind<PostgresEndpoint> = (e) => {
  const tls = e.tls ? (tlsOptions(e.tls) ?? {}) : undefined;
  return {
    bind: (target) => {
      if (!('host' in target)) throw new Error('postgres probe bound to a URL');
      return (signal) => queryOnce(e, target.host, target.port, tls, signal);
    },
    close: async () => {},
  };
};

async function queryOnce(e: PostgresEndpoint, host: string, port: number, tls: object | undefined, signal: ProbeSignal): Promise<Answer> {
  let socket: Socket | undefined;
  const client = new pg.Client({
    host,
    port,
    database: e.database,
    user: e.user,
    ...(e.password ? { password: e.password.reveal() } : {}),
    // pg names the server for SNI and the certificate check itself, and never SNI for an IP address.
    ssl: tls ? { ...tls, ...(isIP(host) ? {} : { servername: host }) } : false,
    application_name: 'appcluster-exporter',
    options: '-c default_transaction_read_only=on',
    // The socket is the probe's own, so the deadline can close it at any stage.
    stream: () => (socket = new Socket()),
  });
  // Errors after the probe settled (the socket destroyed at the deadline) have nobody to tell.
  client.on('error', () => undefined);
  const onAbort = (): void => {
    socket?.destroy();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal.aborted) throw signal.reason;
    await client.connect();
    const result = await client.query<Record<string, unknown>>(e.query);
    const body = rowOf(result.rows[0]);
    const stream = (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;
    const answer = withCert({ success: true, body }, stream);
    await client.end();
    return answer;
  } catch (err) {
    return pgFailure(err, signal);
  } finally {
    signal.removeEventListener('abort', onAbort);
    socket?.destroy();
  }
}

/** A row as JSON paths read it: times as RFC 3339 text, binary columns left out. */
function rowOf(row: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [column, v] of Object.entries(row ?? {})) {
    if (v instanceof Date) out[column] = Number.isNaN(v.getTime()) ? undefined : v.toISOString();
    else if (!Buffer.isBuffer(v)) out[column] = v;
  }
  return out;
}

function pgFailure(err: unknown, signal: ProbeSignal): Answer {
  if (signal.aborted) return failure(err, signal);
  if (err instanceof pg.DatabaseError && typeof err.code === 'string') {
    const words = SQLSTATE_WORDS[err.code];
    const detail = `SQLSTATE ${err.code}${words ? `: ${words}` : ''}`;
    return { success: false, reason: err.code.startsWith('28') ? 'unauthorized' : 'status_not_ok', detail };
  }
  const message = err instanceof Error ? err.message : '';
  // pg's own words (lib/connection.js, lib/crypto/sasl.js): fixed texts, not the server's.
  if (message === 'The server does not support SSL connections') return { success: false, reason: 'tls', detail: 'the server does not speak TLS' };
  if (/password must be a string|no password/i.test(message)) return { success: false, reason: 'unauthorized', detail: 'the server asks for a password; none is configured' };
  return failure(err, signal);
}
