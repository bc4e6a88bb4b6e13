/**
 * The exit-code table every leaf command prints in its `--help`, generated
 * from the error catalogue so that help and behaviour cannot drift apart.
 */
import { ERROR_CODES, type ErrorCode } from '../errors/index.js';

/** What each exit code means, in the order of the table. */
export const EXIT_MEANINGS: Readonly<Record<number, string>> = {
  0: 'success',
  1: 'unexpected error (a bug: rerun with MTLS_DEBUG=1)',
  2: 'usage: unknown or missing option, bad argument',
  3: 'configuration: missing CA, profile, passphrase or setting',
  4: 'policy or verification denied',
  5: 'file I/O',
  6: 'network/TLS',
  130: 'interrupted (Ctrl-C)',
};

/** True for a code of the catalogue (a code from outside, e.g. the admin API, may be any string). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/** Catalogue codes grouped by the exit code they produce. */
export function codesByExit(): Map<number, ErrorCode[]> {
  const groups = new Map<number, ErrorCode[]>();
  for (const [code, entry] of Object.entries(ERROR_CODES)) {
    if (isErrorCode(code)) groups.set(entry.exit, [...(groups.get(entry.exit) ?? []), code]);
  }
  return groups;
}

/** The `Exit codes:` help section: every exit code with its meaning and a few of its catalogue codes. */
export function exitCodesHelp(): string {
  const groups = codesByExit();
  const lines = Object.entries(EXIT_MEANINGS).map(([exit, meaning]) => {
    const codes = groups.get(Number(exit)) ?? [];
    const sample =
      codes.length === 0
        ? ''
        : ` [${codes.slice(0, 3).join(', ')}${codes.length > 3 ? ', …' : ''}]`;
    return `  ${exit.padStart(3)}  ${meaning}${sample}`;
  });
  return `\nExit codes (errors print error[CODE] and hint:, or JSON with --json):\n${lines.join('\n')}\n`;
}
