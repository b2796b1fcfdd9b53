import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Snapshot } from '../../src/evaluate/snapshot.js';
import { startExporter, type ExporterOptions, type RunningExporter } from '../../src/exporter.js';
import { createLogger, type Logger } from '../../src/log.js';
import { SimCluster, type SimOptions } from '../../src/sim/cluster.js';
import { simExporterConfig, type SimExporterConfigOptions } from '../../src/sim/exporter-config.js';

/** A loopback base address of its own for each test file, so files can run in parallel. */
export function randomBase(): string {
  const a = 20 + Math.floor(Math.random() * 230);
  const b = Math.floor(Math.random() * 250);
  return `127.${a}.${b}.1`;
}

export async function tempDir(prefix = 'appcluster-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export interface Stack {
  readonly sim: SimCluster;
  readonly exporter: RunningExporter;
  readonly configFile: string;
  readonly logLines: string[];
  status(): Promise<Snapshot>;
  metrics(): Promise<string>;
  close(): Promise<void>;
}

/** A simulated cluster on its own loopback addresses and an exporter probing it. */
export async function startStack(
  sim: Partial<SimOptions> = {},
  config: SimExporterConfigOptions = {},
  logger?: Logger,
  /** More exporter options, e.g. `alertmanagerUrl`. */
  exporterOptions: Partial<ExporterOptions> = {},
): Promise<Stack> {
  const cluster = new SimCluster({
    servers: 3,
    components: [
      { name: 'web', port: 8080 },
      { name: 'service', port: 8081 },
    ],
    baseAddress: randomBase(),
    ...sim,
  });
  await cluster.start();
  const dir = await tempDir();
  const configFile = join(dir, 'config.yml');
  await writeFile(
    configFile,
    simExporterConfig(cluster, { heartbeatInterval: '1s', probeTimeout: '400ms', staleTimeout: '3s', ...config }),
  );
  const logLines: string[] = [];
  const exporter = await startExporter({
    configFile,
    listenAddress: '127.0.0.1:0',
    // Tests reload through POST /-/reload, as an operator with --web.enable-lifecycle does.
    enableLifecycle: true,
    logger: logger ?? createLogger('debug', 'logfmt', { write: (s: string) => logLines.push(s) }),
    ...exporterOptions,
  });
  return {
    sim: cluster,
    exporter,
    configFile,
    logLines,
    status: async () => ((await (await fetch(`${exporter.url}/api/v1/status`)).json()) as { data: Snapshot }).data,
    metrics: async () => (await fetch(`${exporter.url}/metrics`)).text(),
    close: async () => {
      await exporter.close();
      await cluster.stop();
    },
  };
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
