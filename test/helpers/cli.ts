/**
 * Runs the built CLI (dist/bin/mtls.js) as a real process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Path of the built CLI entry point. */
export const CLI = join(fileURLToPath(new URL('../..', import.meta.url)), 'dist', 'bin', 'mtls.js');

/** Result of a CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `mtls ARGS…` and waits for it (no TTY: secrets must come from files or env). */
export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {},
): Promise<CliResult> {
  return runAsync(process.execPath, [CLI, ...args], {
    ...options,
    env: { NO_COLOR: '1', MTLS_CA_PASSPHRASE: '', MTLS_PFX_PASSWORD: '', ...options.env },
  });
}

/**
 * Runs a process without blocking the event loop: use it whenever the process
 * talks to a server living in the test's own process (curl, openssl s_client).
 */
export function runAsync(
  cmd: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Runs an external tool synchronously (openssl, keytool); never against an in-process server. */
export function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {},
): CliResult {
  const r = spawnSync(cmd, args, {
    cwd: options.cwd,
    input: options.input,
    env: { ...process.env, ...options.env },
    encoding: 'utf8',
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A new P-256 key (unencrypted) and a CSR for `subject` (`/C=BR/O=Acme/CN=x`),
 * made by `openssl req`: a CSR from another tool, as an institution brings one.
 */
export function opensslEcCsr(keyPath: string, csrPath: string, subject: string): CliResult {
  return run('openssl', [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyPath,
    '-subj',
    subject,
    '-out',
    csrPath,
  ]);
}

/** The `--json` error document every command prints on failure. */
export interface CliJsonError {
  error: { code: string; message: string; hint?: string; details?: Record<string, unknown> };
}

/** Parses the `--json` error document of a failed command. */
export function jsonError(stdout: string): CliJsonError['error'] {
  return (JSON.parse(stdout) as CliJsonError).error;
}

/** A running `mtls …` whose stdout is JSON lines (the gateway's log), parsed as they arrive. */
export interface JsonLogCli {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stderr: () => string;
  /** Settles with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** Starts `mtls ARGS…` with stdout parsed as JSON lines. */
export function spawnJsonLogCli(args: string[]): JsonLogCli {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let buf = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
    }
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, lines, stderr: () => stderr, exited };
}
