/** The http probe kind driven directly, as the monitor drives it, without an exporter around it. */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { ServerFields } from '../../src/config/types.js';
import { buildProbes } from '../../src/probes/build.js';
import { read } from '../../src/probes/extract.js';
import { Deadline } from '../../src/monitor/deadline.js';
import type { ProbeResult, ProbeSignal } from '../../src/probes/types.js';

/** One component's probe: its endpoint's request, then what the component reads from the answer. */
export type Probe = (signal: ProbeSignal) => Promise<ProbeResult>;

export interface BoundProbe {
  readonly probe: Probe;
  close(): Promise<void>;
}

/**
 * Prepares an `http` probe from the YAML of its settings, bound to one server. An
 * `extract:` mapping in the settings holds what the component reads (status, version, ...),
 * which the configuration puts next to the probe.
 */
export function httpProbeFrom(settingsYaml: string, server: Partial<ServerFields> = {}): BoundProbe {
  const { extract, ...http } = (parse(settingsYaml) ?? {}) as { extract?: Record<string, unknown> };
  const s = { name: 'server-1', address: '127.0.0.1', site: 'primary', role: 'active', labels: {}, ...server };
  // JSON is YAML: the configuration is written as one JSON document.
  const config = parseConfig(
    JSON.stringify({ clusters: [{ name: 'c', components: [{ name: 'c', probe: { http }, ...extract }], servers: [s] }] }),
    `${process.cwd()}/probe.yml`,
  );
  const built = buildProbes(config);
  const component = config.clusters[0]!.servers[0]!.components[0]!;
  const endpoint = built.probes.get(component.endpoint)!;
  return { probe: async (signal) => read(component.read, await endpoint(signal), built.hashKey), close: () => built.close() };
}

/** Runs one probe under a deadline the way the monitor does: a Deadline and a timer. */
export async function runProbe(probe: Probe, timeoutMs: number): Promise<ProbeResult> {
  const deadline = new Deadline();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  try {
    return await probe(deadline);
  } finally {
    clearTimeout(timer);
  }
}

export interface RawServer {
  readonly server: Server;
  readonly port: number;
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

/** A raw TCP server on 127.0.0.1 (port chosen by the OS) that hands each connection to `onConnection`. */
export async function rawServer(onConnection: (socket: Socket) => void): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    raw.connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const raw: RawServer = {
    server,
    port: (server.address() as AddressInfo).port,
    connections: 0,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return raw;
}

/**
 * Calls `onRequest` with each complete request head a connection carries (requests have
 * no body here); `onRequest` writes the answer.
 */
export function onRequests(socket: Socket, onRequest: (head: string, index: number) => void): void {
  let buffered = '';
  let index = 0;
  socket.on('data', (data: Buffer) => {
    buffered += data.toString('latin1');
    for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
      const head = buffered.slice(0, end);
      buffered = buffered.slice(end + 4);
      onRequest(head, index++);
    }
  });
}
