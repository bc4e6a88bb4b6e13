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

/**
 * The `Exit codes:` help section: every exit code with its meaning and a few
 * of its catalogue codes. `json` says whether the command prints its errors
 * as JSON with `--json` (`yes`, `no`), or, for the program's own help, that
 * some commands do (`some`).
 */
export function exitCodesHelp(json: 'yes' | 'no' | 'some' = 'some'): string {
  const groups = codesByExit();
  const lines = Object.entries(EXIT_MEANINGS).map(([exit, meaning]) => {
    const codes = groups.get(Number(exit)) ?? [];
    const sample =
      codes.length === 0
        ? ''
        : ` [${codes.slice(0, 3).join(', ')}${codes.length > 3 ? ', …' : ''}]`;
    return `  ${exit.padStart(3)}  ${meaning}${sample}`;
  });
  const how = {
    yes: ', or JSON with --json',
    no: '',
    some: ', or JSON with --json where a command has it',
  }[json];
  return `\nExit codes (errors print error[CODE] and hint:${how}):\n${lines.join('\n')}\n`;
}

/**
 * One outcome of a command's `Exit codes:` prose line. Either the catalogue
 * codes the command raises for it (the exit number is looked up, so a change
 * in the catalogue changes the help), or an outcome that is no error: 0, or
 * the 1 by which a check such as `ca status` reports findings.
 */
export type ExitLinePart =
  | { readonly codes: readonly [ErrorCode, ...ErrorCode[]]; readonly text: string }
  | { readonly outcome: 0 | 1; readonly text: string };

/** Commander's and the argument parsers' codes: every command can raise them. */
export const USAGE_CODES = ['MTLS_USAGE', 'MTLS_BAD_ARGUMENT'] as const;
/** An input file that is missing, unreadable, or neither the PEM nor the DER expected. */
export const FILE_READ_CODES = [
  'MTLS_FILE_NOT_FOUND',
  'MTLS_FILE_READ',
  'MTLS_PEM_INVALID',
  'MTLS_DER_INVALID',
] as const;
/** An output file that exists (without --force) or cannot be written. */
export const FILE_WRITE_CODES = ['MTLS_FILE_EXISTS', 'MTLS_FILE_WRITE'] as const;

/** The exit code the catalogue gives `code`. */
export function exitOf(code: ErrorCode): number {
  return ERROR_CODES[code].exit;
}

/** The exit numbers a part stands for, ascending and without repeats. */
export function partExits(part: ExitLinePart): number[] {
  const exits = 'outcome' in part ? [part.outcome] : part.codes.map(exitOf);
  return [...new Set(exits)].sort((a, b) => a - b);
}

/** `3`, `3-5` for a run, `3/5` for numbers with a gap. */
function exitsText(exits: readonly number[]): string {
  const runs: number[][] = [];
  for (const e of exits) {
    const run = runs.at(-1);
    if (run?.at(-1) === e - 1) run.push(e);
    else runs.push([e]);
  }
  return runs.map((r) => (r.length === 1 ? String(r[0]) : `${r[0]}-${r.at(-1)}`)).join('/');
}

const LINE_WIDTH = 100;

/**
 * A command's `Exit codes:` prose line ("Exit codes: 0 ok, 2 usage, 3 no
 * password given, …"), parts ordered by exit and wrapped for the terminal.
 */
export function exitCodesLine(parts: readonly ExitLinePart[]): string {
  const ordered = parts
    .map((part) => ({ part, exits: partExits(part) }))
    .sort((a, b) => (a.exits[0] ?? 0) - (b.exits[0] ?? 0));
  const prose = `Exit codes: ${ordered.map(({ part, exits }) => `${exitsText(exits)} ${part.text}`).join(', ')}.`;
  const lines: string[] = [];
  let line = '';
  // `>= 400` stays on one line.
  for (const word of prose.split(/(?<!>=) /)) {
    if (line !== '' && line.length + 1 + word.length > LINE_WIDTH) {
      lines.push(line);
      line = `  ${word}`;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return `\n${lines.join('\n')}`;
}
