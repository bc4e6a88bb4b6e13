#!/usr/bin/env node
/**
 * The `mtls` command. Wiring only: every command module registers itself on
 * the program; the work is done by the library.
 */
import 'reflect-metadata';
import { Command, CommanderError } from 'commander';
import { reportError } from './output.js';
import { registerCommands } from './commands/index.js';

const EXIT_HELP = `
Exit codes:
  0  success            4  policy or verification denied
  1  unexpected error   5  file I/O
  2  usage              6  network/TLS
  3  configuration

Set MTLS_DEBUG=1 to print stack traces. NO_COLOR disables colour.`;

/**
 * Builds the program with the command groups `argv` needs (exported for
 * tests that run it in-process).
 */
export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command('mtls')
    .description('mtlskit: private CA, client certificates, PKCS#12, mTLS client and TLS-1.2 mTLS gateway')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_HELP)
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });
  await registerCommands(program, argv);
  for (const cmd of program.commands) applyDefaults(cmd);
  return program;
}

function applyDefaults(cmd: Command): void {
  cmd.exitOverride();
  cmd.showHelpAfterError('(run with --help for usage)');
  for (const sub of cmd.commands) applyDefaults(sub);
}

async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2;
    }
    return reportError(e, argv.includes('--json'));
  }
}

// `mtls … | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.exitCode = reportError(e);
  },
);
