import { connect } from 'node:net';
import { failure } from '../../probes/reasons.js';
import { bareHost, checkAddress } from '../../probes/template.js';
import { elapsedSeconds } from './elapsed.js';
import type { FactKind } from './types.js';

const DEFAULT_TIMEOUT_MS = 2_000;

/**
 * `tcp`: whether a local port accepts connections (`port`, `host` default 127.0.0.1,
 * `timeout` default 2s). Reports `{state: "up" | "down", seconds, reason}`: the connect
 * time, and on failure a reason from the exporter's closed set (`connection_refused`,
 * `timeout`, ...). A port that refuses is a fact, not an error.
 */
export const tcpFact: FactKind = (r) => {
  const host = r.string('host') ?? '127.0.0.1';
  const bad = checkAddress(host);
  if (bad) throw r.error('host', bad);
  const port = r.number('port');
  if (port === undefined) throw r.error(undefined, 'missing required field "port"');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw r.error('port', 'must be a port number (1-65535)');
  const timeoutMs = r.duration('timeout', 60_000) ?? DEFAULT_TIMEOUT_MS;
  r.finish();
  const target = bareHost(host);
  return () =>
    new Promise((resolve) => {
      const started = performance.now();
      const signal = AbortSignal.timeout(timeoutMs);
      const socket = connect({ host: target, port });
      const done = (reason: string | null): void => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve({ state: reason ? 'down' : 'up', seconds: elapsedSeconds(started), reason });
      };
      const onAbort = (): void => done('timeout');
      socket.once('connect', () => done(null));
      socket.once('error', (err) => done(failure(err, signal).reason ?? 'error'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
};
