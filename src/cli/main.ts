#!/usr/bin/env node
/**
 * The `mtls` command. Wiring only: every command module registers itself on
 * the program; the work is done by the library.
 */
import 'reflect-metadata';
import { reportError } from './output.js';
import { buildProgram, isCommanderExit, runningCommand, UsageError } from './program.js';

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (isCommanderExit(e)) return 0;
    return reportError(e, json, e instanceof UsageError ? e.command : runningCommand());
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
  (e: unknown) => {
    process.exitCode = reportError(e);
  },
);
