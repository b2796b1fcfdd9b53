import { connect } from 'node:net';
import { z } from 'zod';
import { bareHost, checkAddress } from '../../config/template.js';
import { nonEmptyText } from '../../config/yaml-schema.js';
import { failure } from '../../probes/reasons.js';
import { duration, integer } from '../fields.js';
import { elapsedSeconds } from './elapsed.js';
import type { FactKind } from './types.js';

const DEFAULT_TIMEOUT_MS = 2_000;

const schema = z
  .strictObject({
    host: nonEmptyText()
      .check((ctx) => {
        const bad = checkAddress(ctx.value);
        if (bad) ctx.issues.push({ code: 'custom', input: ctx.value, message: bad });
      })
      .meta({ description: 'An address or host name of this node. Default 127.0.0.1.' })
      .optional(),
    port: integer(1, 65535, 'a port number').meta({ type: 'integer', minimum: 1, maximum: 65535, description: 'The port to connect to.' }),
    timeout: duration(60_000).optional().meta({ description: 'Longest the connect may take, at most 1m. Default 2s.' }),
  })
  .meta({ description: 'Whether a local port accepts connections: {state, seconds, reason}.' });

/**
 * `tcp`: whether a local port accepts connections (`port`, `host` default 127.0.0.1,
 * `timeout` default 2s). Reports `{state: "up" | "down", seconds, reason}`: the connect
 * time, and on failure a reason from the exporter's closed set (`connection_refused`,
 * `timeout`, ...). A port that refuses is a fact, not an error.
 */
export const tcpFact: FactKind<typeof schema> = {
  schema,
  build(settings) {
    const target = bareHost(settings.host ?? '127.0.0.1');
    const { port } = settings;
    const timeoutMs = settings.timeout ?? DEFAULT_TIMEOUT_MS;
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
  },
};
