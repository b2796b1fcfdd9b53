import { createHmac } from 'node:crypto';

/** Hex digits a key hash keeps: 48 bits tell keys apart and reveal nothing of them. */
export const KEY_HASH_LENGTH = 12;

/**
 * The keyed hash of a key or key fingerprint: HMAC-SHA-256 with `secret`, in hex,
 * truncated to 12 digits. The exporter applies it to every key a probe reads; the agent
 * publishes it, so a fingerprint made on one node compares with one made on another
 * holding the same secret. `raw` as bytes (a key file) or as UTF-8 text.
 */
export function keyHash(secret: string | Buffer, raw: string | Buffer): string {
  return createHmac('sha256', secret).update(raw).digest('hex').slice(0, KEY_HASH_LENGTH);
}
