import { readSource, sourceSchema } from './source.js';
import { FactError, type FactKind } from './types.js';

/** Longest value served: a version or a build name, never a file's contents. */
export const MAX_VALUE_LENGTH = 128;
/**
 * What a version or a name is made of ("2023.27 (Build 5)", "8.6.2-SP1", "Linux x64").
 * Connection strings, key=value lists and multi-line text fail it, so a selector pointed
 * at the wrong element does not publish a password.
 */
const VALUE_TEXT = /^[\p{L}\p{N} ._+~():/,#-]+$/u;

const schema = sourceSchema({ whole: false, env: false }).meta({
  description: 'A short text (an installed version) picked out of a file by one of xml, json, yaml, ini, dotenv or regex.',
});

/**
 * `value`: a short text (an installed version) picked out of a file by one selector
 * (`xml`, `json`, `yaml`, `ini`, `dotenv` or `regex`). Reports `{value}`, trimmed, when
 * it looks like a version or a name (else `refused`). A whole
 * file or an environment variable is never served, so both are refused.
 */
export const valueFact: FactKind<typeof schema> = {
  schema,
  refused: { env: 'an environment variable is never served; a fingerprint fact can hash one' },
  build(source, ctx) {
    return async () => {
      const value = String(await readSource(source, ctx)).trim();
      if (value.length > MAX_VALUE_LENGTH) throw new FactError('too_large', `the value is longer than ${MAX_VALUE_LENGTH} characters`);
      if (!VALUE_TEXT.test(value)) throw new FactError('refused', 'the value holds characters other than letters, digits, spaces and . _ + ~ ( ) : / , # -');
      return { value };
    };
  },
};
