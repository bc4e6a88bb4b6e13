/**
 * CLI output: text or JSON, NO_COLOR-aware colour, error rendering and exit codes.
 */
import type { Command } from 'commander';
import { MtlsError, toMtlsError } from '../errors/index.js';
import { dnText } from './format.js';
import { cliHint } from './hints.js';

/** Options every command shares. */
export interface GlobalOptions {
  json?: boolean;
}

const useColor = (): boolean =>
  !process.env.NO_COLOR && process.stderr.isTTY && process.env.TERM !== 'dumb';

/** Wraps text in an ANSI style when colour is allowed. */
export function style(code: 'bold' | 'red' | 'green' | 'yellow' | 'dim', text: string): string {
  if (!useColor()) return text;
  const codes = { bold: 1, red: 31, green: 32, yellow: 33, dim: 2 } as const;
  return `\u001b[${codes[code]}m${text}\u001b[0m`;
}

/** Writes a line to stdout. */
export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Writes a line to stderr (progress, warnings). */
export function info(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Prints a warning to stderr as `warning: …`. */
export function warn(line: string): void {
  process.stderr.write(`${style('yellow', 'warning')}: ${line}\n`);
}

/** The `schema` value of a JSON output: `mtls.<kind>/v1`. */
export const jsonSchema = (kind: string): string => `mtls.${kind}/v1`;

/**
 * Prints a command's result as pretty JSON on stdout, tagged with
 * `"schema": "mtls.<kind>/v1"` (a list goes under `items`). Names are the
 * same in every output: the certificate serial is `serial`, and a DN is
 * `C=BR, O=Acme, CN=x` (the CA database's oneline form is converted).
 * @param kind - what the output is, e.g. `ca-issue` (README lists the kinds and fields)
 */
export function outJson(kind: string, value: unknown): void {
  const body = Array.isArray(value) ? { items: value } : value;
  const tagged =
    typeof body === 'object' && body !== null
      ? { schema: jsonSchema(kind), ...body }
      : { schema: jsonSchema(kind), value: body };
  process.stdout.write(`${JSON.stringify(tagged, jsonReplacer, 2)}\n`);
}

/** Object keys renamed in JSON output so that one thing has one name. */
const RENAMED_KEYS: Readonly<Record<string, string>> = { serialNumber: 'serial' };

/** Values JSON cannot hold as they are: bigints, dates, buffers. */
function plainReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString('hex');
  return value;
}

function jsonReplacer(key: string, raw: unknown): unknown {
  const value = plainReplacer(key, raw);
  if ((key === 'subject' || key === 'issuer') && typeof value === 'string') return dnText(value);
  if (isPlainObject(value) && Object.keys(value).some((k) => k in RENAMED_KEYS))
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [RENAMED_KEYS[k] ?? k, v] as const),
    );
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

/**
 * Prints an error as `error[CODE]: message` and `hint: …` (or JSON with
 * `--json`) and returns the exit code. The hint is the CLI's: it names
 * only flags `command` accepts (see hints.ts). Stack traces only with MTLS_DEBUG=1.
 */
export function reportError(e: unknown, json = false, command?: Command): number {
  const err: MtlsError = toMtlsError(e);
  const hint = cliHint(err, command);
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ schema: jsonSchema('error'), ok: false, error: { ...err.toJSON(), hint } }, plainReplacer, 2)}\n`,
    );
  } else {
    process.stderr.write(`${style('red', `error[${err.code}]`)}: ${err.message}\n`);
    process.stderr.write(`${style('dim', 'hint')}: ${hint}\n`);
  }
  if (process.env.MTLS_DEBUG === '1') {
    process.stderr.write(
      `${(err.cause instanceof Error ? err.cause.stack : undefined) ?? err.stack ?? ''}\n`,
    );
  }
  return err.exitCode;
}

/**
 * Shows a spinner on stderr while `work` runs, when stderr is a terminal
 * (anything over about a second, such as RSA key generation).
 */
export async function withSpinner<T>(label: string, work: () => Promise<T>): Promise<T> {
  if (!process.stderr.isTTY || process.env.CI) return work();
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let i = 0;
  const timer = setInterval(
    () => process.stderr.write(`\r${frames[i++ % frames.length]} ${label}`),
    80,
  );
  try {
    return await work();
  } finally {
    clearInterval(timer);
    process.stderr.write('\r\u001b[K');
  }
}
