import { readSource, sourceSchema } from './source.js';
import type { FactKind } from './types.js';

const schema = sourceSchema({ whole: true, env: true }).meta({
  description: 'The keyed hash (HMAC-SHA-256 with fingerprint_secret, 12 hex digits) of a secret in a whole file, a value in it, or an environment variable.',
});

/**
 * `fingerprint`: the keyed hash of a secret (an encryption key) read from a whole file, a
 * value in it, or an environment variable. Reports `{fingerprint}`: 12 hex digits of
 * HMAC-SHA-256 with the configured `fingerprint_secret`, the same on every node holding
 * the same key and secret. The value itself is never kept, served or logged.
 */
export const fingerprintFact: FactKind<typeof schema> = {
  schema,
  build(source, ctx, invalid) {
    const hash = ctx.fingerprint;
    if (!hash) throw invalid([], 'needs fingerprint_secret_file (or fingerprint_secret_env) at the top level, the same on every node');
    return async () => ({ fingerprint: hash(await readSource(source, ctx)) });
  },
};
