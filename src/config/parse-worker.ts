/**
 * Parses and validates a configuration on a thread of its own (node:worker_threads), for a
 * reload: a large file takes a second or more to validate, and on the exporter's main thread
 * that second would delay its probes and its answers. One thread per reload, ended once it
 * answered; the configuration comes back as wire data (wire.ts).
 */
import { parentPort, workerData, Worker } from 'node:worker_threads';
import { ConfigError } from './errors.js';
import { parseConfig } from './load.js';
import type { Config } from './types.js';
import { fromWire, toWire, type WireConfig } from './wire.js';

/** What the parsing thread is given. */
interface ParseJob {
  readonly text: string;
  readonly file: string;
}

/** What it answers: the configuration, or the ConfigError's message (file, line, column, field). */
type ParseAnswer = { readonly config: WireConfig } | { readonly error: string; readonly configError: boolean };

if (parentPort && (workerData as { parseJob?: ParseJob } | null)?.parseJob) {
  const { text, file } = (workerData as { parseJob: ParseJob }).parseJob;
  let answer: ParseAnswer;
  try {
    answer = { config: toWire(parseConfig(text, file)) };
  } catch (err) {
    answer = { error: err instanceof Error ? err.message : String(err), configError: err instanceof ConfigError };
  }
  parentPort.postMessage(answer);
}

/**
 * This module's thread. Tests run the sources (TypeScript, through vitest), which a worker
 * thread cannot load: they run its build, which `npm test` makes first.
 */
const SELF = import.meta.url.endsWith('.ts') ? new URL('../../dist/src/config/parse-worker.js', import.meta.url) : new URL(import.meta.url);

/** Thrown by `parseOffThread` for a file that does not validate: `message` is the ConfigError's. */
export class ParseFailed extends Error {
  override readonly name = 'ParseFailed';
}

/**
 * `parseConfig(text, file)` on a thread of its own.
 * @throws ParseFailed with the ConfigError's message (file, line, column and field) when the
 * file does not validate; Error when the thread itself failed.
 */
export function parseOffThread(text: string, file: string): Promise<Config> {
  return new Promise<Config>((resolve, reject) => {
    const worker = new Worker(SELF, { workerData: { parseJob: { text, file } satisfies ParseJob } });
    worker.once('message', (answer: ParseAnswer) => {
      void worker.terminate();
      if ('config' in answer) resolve(fromWire(answer.config));
      else reject(answer.configError ? new ParseFailed(answer.error) : new Error(answer.error));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the configuration's parsing thread ended (code ${code}) without an answer`)));
  });
}
