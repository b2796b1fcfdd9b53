import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { failure } from './reasons.js';
import { bareHost, checkTemplate, expand } from './template.js';
import { parseTls } from './tls.js';
import type { ProbeKind, ProbeResult } from './types.js';

/**
 * `tcp`: connects to `host:port` (host defaults to `{address}`; IPv4, IPv6 with or without
 * brackets, or a host name), with an optional TLS handshake.
 */
export const tcpProbe: ProbeKind = (r, ctx) => {
  const host = r.string('host') ?? '{address}';
  const problem = checkTemplate(host);
  if (problem) throw r.error('host', problem);
  const port = r.number('port');
  if (port === undefined) throw r.error(undefined, 'missing required field "port"');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw r.error('port', 'must be a port number (1-65535)');
  const tls = r.has('tls') ? (parseTls(r.map('tls'), ctx.baseDir) ?? {}) : undefined;
  r.finish();
  return {
    bind: (server) => {
      // Sockets take IPv6 without brackets; the configuration may write either form.
      const target = bareHost(expand(host, server));
      return (signal) => connectOnce(target, port, tls, signal);
    },
    close: async () => {},
  };
};

function connectOnce(
  host: string,
  port: number,
  tls: ReturnType<typeof parseTls>,
  signal: AbortSignal,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const done = (result: ProbeResult): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = (): void => done(failure(undefined, signal));
    const socket: Socket = tls
      ? tlsConnect({ host, port, servername: isIP(host) ? undefined : host, ...tls }, () => done({ success: true }))
      : netConnect({ host, port }, () => done({ success: true }));
    socket.once('error', (err) => done(failure(err, signal)));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
