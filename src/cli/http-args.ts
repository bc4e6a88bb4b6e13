/**
 * The curl-style HTTP options `mtls request` and `mtls snippet` share:
 * repeatable options, `-H "Name: value"`, and `-d` bodies (text, `@FILE`, `@-`).
 */
import { MtlsError } from '../errors/index.js';
import { readFileChecked } from '../io/index.js';
import { readAllStdin } from './stdin.js';

/** Commander reducer for a repeatable option: collects every value, in order. */
export const collect = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  value,
];

/**
 * Parses `-H "Name: value"`.
 * @throws MTLS_BAD_ARGUMENT when the name is not an HTTP token (RFC 9110 §5.1) or the header holds CR/LF (§5.5)
 */
export function parseHeader(h: string): [string, string] {
  const i = h.indexOf(':');
  const name = i > 0 ? h.slice(0, i).trim() : '';
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n]/.test(h)) {
    throw new MtlsError('MTLS_BAD_ARGUMENT', `-H "${h}" is not "Name: value"`, {
      subject: '-H',
      hint: 'Write a header as -H "Content-Type: application/json".',
    });
  }
  return [name, h.slice(i + 1).trim()];
}

/**
 * Reads the `-d` values into one body, as curl does: each value is the text
 * itself, `@FILE` (the file as is) or `@-` (standard input, read once and
 * repeated as is if given again), and
 * several values are joined with `&`.
 * @returns undefined when no `-d` was given
 * @throws MTLS_FILE_NOT_FOUND, MTLS_FILE_READ for an unreadable `@FILE`
 */
export async function readRequestBody(
  values: readonly string[] | undefined,
): Promise<Buffer | undefined> {
  if (!values || values.length === 0) return undefined;
  let stdin: Buffer | undefined;
  const parts: Buffer[] = [];
  for (const d of values) {
    if (d === '@-') parts.push((stdin ??= await readAllStdin()));
    else if (d.startsWith('@'))
      parts.push(await readFileChecked(d.slice(1), 'request body (-d @file)'));
    else parts.push(Buffer.from(d, 'utf8'));
  }
  const out: Buffer[] = [];
  parts.forEach((p, i) => out.push(...(i > 0 ? [Buffer.from('&'), p] : [p])));
  return Buffer.concat(out);
}
