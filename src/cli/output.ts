/**
 * CLI output: text or JSON, NO_COLOR-aware colour, error rendering and exit codes.
 */
import type { Command } from 'commander';
import { MtlsError, toMtlsError } from '../errors/index.js';
import { cliHint } from './hints.js';

/** Options every command shares. */
export interface GlobalOptions {
  json?: boolean;
}

const useColor = (): boolean =>
  !process.env.NO_COLOR && process.stderr.isTTY === true && process.env.TERM !== 'dumb';

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

/** Prints a value as pretty JSON on stdout. */
export function outJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`);
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString('hex');
  return value;
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
      `${JSON.stringify({ ok: false, error: { ...err.toJSON(), hint } }, jsonReplacer, 2)}\n`,
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
