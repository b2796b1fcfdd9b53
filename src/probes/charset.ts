/**
 * The text of an answer's body: its bytes decoded by the byte order mark, else by the
 * charset its Content-Type declares, else as UTF-8.
 */
import { parse } from 'content-type';
import iconv from 'iconv-lite';
import { clip, ProbeFailure } from './reasons.js';

/** Byte order marks and the encodings they mean (the WHATWG Encoding Standard's "BOM sniff"). */
const BOMS: readonly [readonly number[], string][] = [
  [[0xef, 0xbb, 0xbf], 'utf-8'],
  [[0xfe, 0xff], 'utf-16be'],
  [[0xff, 0xfe], 'utf-16le'],
];

/**
 * The encoding a charset label names, as browsers read it (the WHATWG Encoding Standard's
 * labels, which Node's TextDecoder knows with its full ICU: `latin1` and `iso-8859-1` are
 * windows-1252, their superset); undefined for a label it does not know.
 */
function encodingOf(label: string): string | undefined {
  const key = label.toLowerCase();
  let encoding = encodings.get(key);
  if (encoding === undefined) {
    try {
      encoding = new TextDecoder(label).encoding;
    } catch {
      encoding = null;
    }
    if (encodings.size < ENCODINGS_MAX) encodings.set(key, encoding);
  }
  return encoding ?? undefined;
}

/** Labels looked up so far (null: none such), as every probe of a server asks again. */
const encodings = new Map<string, string | null>();
/** Most labels kept: a server that declares a new one each time costs a look-up per probe, no more. */
const ENCODINGS_MAX = 64;

/**
 * Decodes with iconv-lite: Node 20's TextDecoder reads windows-1252 as ISO-8859-1 since
 * 20.18.3 (0x80 is U+0080, not the euro sign: nodejs/node#60888). TextDecoder decodes the
 * three encodings iconv-lite lacks (iso-2022-jp, x-mac-cyrillic, x-user-defined), which it
 * reads right. Either drops a byte order mark of the encoding.
 */
function decodeAs(body: Buffer, encoding: string): string {
  return iconv.encodingExists(encoding) ? iconv.decode(body, encoding) : new TextDecoder(encoding).decode(body);
}

/**
 * Decodes `body` as text. A byte order mark wins over the declared charset, as in
 * browsers (the WHATWG Encoding Standard, "decode"), and is dropped; without either the
 * body is UTF-8 (RFC 8259 section 8.1, for JSON). Bytes that are not valid in the
 * encoding read as U+FFFD. Throws a ProbeFailure `bad_body` naming a charset that is not
 * an encoding's label (`unsupported charset "ebcdic"`).
 */
export function decodeText(body: Buffer, contentType: string | undefined): string {
  for (const [bom, encoding] of BOMS) {
    if (body.length >= bom.length && bom.every((b, i) => body[i] === b)) return decodeAs(body, encoding);
  }
  const charset = contentType === undefined ? undefined : parse(contentType).parameters['charset']?.trim();
  if (charset === undefined || charset === '') return decodeAs(body, 'utf-8');
  const encoding = encodingOf(charset);
  if (encoding === undefined) throw new ProbeFailure('bad_body', `unsupported charset "${clip(charset, 40)}"`);
  return decodeAs(body, encoding);
}
