import type { Logger } from '../log.js';
import { ConfigError } from './errors.js';
import { loadConfigFile } from './load.js';
import type { Config } from './types.js';

export type ReloadResult =
  | { readonly ok: true; readonly changed: boolean }
  | { readonly ok: false; readonly error: string };

/**
 * The running configuration and its reload: load, validate, then swap whole. A file that
 * fails keeps the running configuration and sets the reload gauge to 0; an unchanged file
 * is not applied again.
 */
export class ConfigStore {
  private reloading: Promise<ReloadResult> | undefined;
  private attempts = 0;

  constructor(
    private current: Config,
    private readonly apply: (config: Config) => void,
    /** Told the outcome of every load: true for success (the start counts as one). */
    private readonly reloaded: (ok: boolean) => void,
    private readonly logger: Logger,
  ) {
    reloaded(true);
  }

  get config(): Config {
    return this.current;
  }

  /** Counts reloads, failed and unchanged ones too, from the moment each outcome is reported. */
  get generation(): number {
    return this.attempts;
  }

  /** Reloads from the running config's file; concurrent calls share one reload. */
  reload(): Promise<ReloadResult> {
    this.reloading ??= this.doReload().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async doReload(): Promise<ReloadResult> {
    let next: Config;
    try {
      next = await loadConfigFile(this.current.file);
    } catch (err) {
      const error = err instanceof ConfigError ? err.message : 'unexpected error while loading the configuration';
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
    this.reloaded(true);
    this.attempts++;
    this.logger.info({ file: next.file, clusters: next.clusters.length }, 'config reloaded');
    return { ok: true, changed: true };
  }
}
