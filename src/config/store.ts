import type { Logger } from '../log.js';
import type { OwnMetrics } from '../metrics/own.js';
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
    private readonly metrics: OwnMetrics,
    private readonly logger: Logger,
  ) {
    metrics.reloaded(true);
    this.warn(current);
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

  private warn(config: Config): void {
    for (const warning of config.warnings) this.logger.warn({ file: config.file }, warning);
  }

  private async doReload(): Promise<ReloadResult> {
    let next: Config;
    try {
      next = await loadConfigFile(this.current.file);
    } catch (err) {
      const error = err instanceof ConfigError ? err.message : 'unexpected error while loading the configuration';
      this.metrics.reloaded(false);
      this.attempts++;
      this.logger.error({ err: error }, 'config reload failed; keeping the running configuration');
      return { ok: false, error };
    }
    if (next.hash === this.current.hash) {
      await next.close();
      this.metrics.reloaded(true);
      this.attempts++;
      return { ok: true, changed: false };
    }
    const previous = this.current;
    this.apply(next);
    this.current = next;
    this.metrics.reloaded(true);
    this.attempts++;
    await previous.close();
    this.logger.info({ file: next.file, clusters: next.clusters.length }, 'config reloaded');
    this.warn(next);
    return { ok: true, changed: true };
  }
}
