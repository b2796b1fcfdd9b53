import type { Logger } from '../log.js';
import { ConfigError } from './errors.js';
import { textHash } from './load.js';
import { oneAtATime } from './one-at-a-time.js';
import { parseOffThread, ParseFailed } from './parse-worker.js';
import { readConfigText } from './yaml-schema.js';
import type { Config } from './types.js';

export type ReloadResult =
  | { readonly ok: true; readonly changed: boolean }
  | { readonly ok: false; readonly error: string };

/**
 * The running configuration and its reload: load, validate (on a thread of its own, so
 * that a large file does not stall the probes), then swap whole. A file that fails keeps
 * the running configuration and sets the reload gauge to 0; a file whose text did not
 * change is answered at once, without being parsed again. Reloads run one at a
 * time, in order: one asked for while another runs is run after it, so the file on disk at
 * the last request is the one that runs.
 */
export class ConfigStore {
  private attempts = 0;

  constructor(
    private current: Config,
    private readonly apply: (config: Config) => void,
    /** Told the outcome of every load: true for success (the start counts as one). */
    private readonly reloaded: (ok: boolean) => void,
    private readonly logger: Logger,
  ) {
    reloaded(true);
    logWarnings(current, logger);
  }

  get config(): Config {
    return this.current;
  }

  /** Counts reloads, failed and unchanged ones too, from the moment each outcome is reported. */
  get generation(): number {
    return this.attempts;
  }

  /**
   * Reloads from the running config's file and answers for the file it read. While a reload
   * runs (it may have read the file before this request), another is run after it.
   */
  readonly reload: () => Promise<ReloadResult> = oneAtATime(() => this.doReload());

  private async doReload(): Promise<ReloadResult> {
    let next: Config;
    try {
      const text = await readConfigText(this.current.file);
      if (textHash(text) === this.current.textHash) {
        this.reloaded(true);
        this.attempts++;
        return { ok: true, changed: false };
      }
      next = await parseOffThread(text, this.current.file);
    } catch (err) {
      const error = err instanceof ConfigError || err instanceof ParseFailed ? err.message : 'unexpected error while loading the configuration';
      this.reloaded(false);
      this.attempts++;
      this.logger.error({ err: error }, 'config reload failed; keeping the running configuration');
      return { ok: false, error };
    }
    if (next.hash === this.current.hash) {
      this.reloaded(true);
      this.attempts++;
      return { ok: true, changed: false };
    }
    this.apply(next);
    this.current = next;
    logWarnings(next, this.logger);
    this.reloaded(true);
    this.attempts++;
    this.logger.info({ file: next.file, clusters: next.clusters.length }, 'config reloaded');
    return { ok: true, changed: true };
  }
}

/** A configuration's warnings (Config.warnings), one log line each, as --config.check prints them. */
function logWarnings(config: Config, logger: Logger): void {
  for (const warning of config.warnings ?? []) logger.warn({ file: config.file, warning }, 'configuration warning');
}
