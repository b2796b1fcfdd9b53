import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { FactError, type FactErrorReason } from './types.js';

const CHUNK = 64 * 1024;

const ERRNO_REASONS: Record<string, FactErrorReason> = {
  ENOENT: 'not_found',
  ENOTDIR: 'not_found',
  EACCES: 'permission_denied',
  EPERM: 'permission_denied',
  EISDIR: 'not_a_file',
};

/** A file system error as a FactError; the detail names the errno code, never the message. */
export function fileError(err: unknown): FactError {
  if (err instanceof FactError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string') return new FactError('error', err instanceof Error ? err.name : 'error');
  return new FactError(ERRNO_REASONS[code] ?? 'error', `cannot read the file: ${code}`);
}

/**
 * Reads a regular file whole, but never more than `limit` bytes: a file that is larger
 * (or grows past the limit while read) is `too_large`, and the rest is not read. A
 * directory, device or pipe is `not_a_file`; it is opened non-blocking, so a FIFO with no
 * writer does not hold a thread. Rejects with FactError only.
 */
export async function readBounded(path: string, limit: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw fileError(err);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new FactError('not_a_file', 'not a regular file');
    if (stat.size > limit) throw new FactError('too_large', `over the ${limit}-byte limit`);
    // Read until the end, not to the size the stat gave: the file may grow meanwhile, and
    // reading one byte past the limit is how that shows.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, limit + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, total);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > limit) throw new FactError('too_large', `over the ${limit}-byte limit`);
    }
    return Buffer.concat(chunks, total);
  } catch (err) {
    throw fileError(err);
  } finally {
    await handle.close();
  }
}

/**
 * Text of a file read by `readBounded`: UTF-8, or UTF-16LE when the file starts with its
 * byte order mark (Windows tools write configuration files both ways); a BOM is dropped.
 */
export function decodeText(bytes: Buffer): string {
  return new TextDecoder(bytes[0] === 0xff && bytes[1] === 0xfe ? 'utf-16le' : 'utf-8').decode(bytes);
}
