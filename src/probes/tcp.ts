import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { TcpEndpoint } from '../config/types.js';
import { failure } from './reasons.js';
import { tlsOptions, withCert } from './tls.js';
import type { Answer, ProbeKind, ProbeSignal } from './types.js';

/**
 * `tcp`: connects to `host:port` (host defaults to `{address}`; IPv4, IPv6 with or without
 * brackets, or a host name; the loader fills templates in), with an optional TLS handshake,
 * whose leaf certificate's expiry the answer carries.
 */
export const tcpProbe: ProbeKind<TcpEndpoint> = (settings) => {
  const tls = settings.tls ? (tlsOptions(settings.tls) ?? {}) : undefined;
  return {
    bind: (target) => {
      if (!('host' in target)) throw new Error('tcp probe bound to a URL');
      return (signal) => connectOnce(target.host, target.port, tls, signal);
    },
    close: async () => {},
  };
};

function connectOnce(host: string, port: number, tls: ConnectionOptions | undefined, signal: ProbeSignal): Promise<Answer> {
  return new Promise((resolve) => {
    const done = (result: Answer): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = (): void => done(failure(undefined, signal));
    const socket: Socket = tls
      ? tlsConnect({ host, port, servername: isIP(host) ? undefined : host, ...tls }, () => done(withCert({ success: true }, socket)))
      : netConnect({ host, port }, () => done({ success: true }));
    socket.once('error', (err) => done(failure(err, signal)));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
