/**
 * Builds the `mtls` commander program: the command groups, the shared help
 * sections, and the mapping of commander's own usage errors onto the error
 * catalogue (so they print like every other error, and as JSON with --json).
 */
import { Command, CommanderError, Help } from 'commander';
import { MtlsError } from '../errors/index.js';
import { registerCommands } from './commands/index.js';
import { exitCodesHelp } from './exit-help.js';
import { acceptedFlags, commandPath } from './hints.js';
import { versionText } from './version.js';
import { registerCompletionCommand } from './completion.js';

export { acceptedFlags, commandPath };

const FOOTER = `
Set MTLS_DEBUG=1 to print stack traces. NO_COLOR disables colour.`;

/** Commander outcomes that are not errors. */
const NOT_ERRORS = new Set([
  'commander.helpDisplayed',
  'commander.version',
  'commander.help',
  'commander.executeSubCommandAsync',
]);

/** A commander usage error, kept with the command that raised it. */
export class UsageError extends MtlsError {
  constructor(
    message: string,
    /** The command whose parsing failed. */
    readonly command: Command,
  ) {
    super('MTLS_USAGE', message, {
      hint: `Run \`${commandPath(command)} --help\` for its options and examples.`,
    });
  }
}

/** The leaf commands of a program (those with an action and no subcommands). */
export function leafCommands(cmd: Command): Command[] {
  return cmd.commands.length === 0 ? [cmd] : cmd.commands.flatMap(leafCommands);
}

/**
 * Builds the program with the command groups `argv` needs (all of them for
 * `mtls --help` and for tests that walk the tree).
 */
export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command('mtls')
    .description(
      'mtlskit: private CA, client certificates, PKCS#12, mTLS client and TLS-1.2 mTLS gateway',
    )
    .version(versionText(), '-V, --version', 'print the versions of mtlskit, Node and OpenSSL')
    .addHelpText('after', `${exitCodesHelp()}${FOOTER}`);
  await registerCommands(program, argv);
  registerCompletionCommand(program);
  applyDefaults(program, argv);
  program.hook('preAction', (_root, action) => {
    running = action;
  });
  return program;
}

function applyDefaults(cmd: Command, argv: readonly string[]): void {
  // Commander prints its own "error: …" line unless told not to; ours goes through reportError.
  cmd.configureOutput({ outputError: () => undefined });
  // Commander's help does not say which options are required; the reader
  // would learn it from an error.
  cmd.configureHelp({
    optionDescription: (option) => {
      const base = new Help().optionDescription(option);
      return option.mandatory ? `${base} (required)` : base;
    },
  });
  cmd.exitOverride((err) => {
    if (NOT_ERRORS.has(err.code)) throw err;
    throw new UsageError(usageMessage(err, cmd, argv), cmd);
  });
  if (cmd.commands.length === 0 && cmd.parent)
    cmd.addHelpText(
      'after',
      exitCodesHelp(cmd.options.some((o) => o.long === '--json') ? 'yes' : 'no'),
    );
  for (const sub of cmd.commands) applyDefaults(sub, argv);
}

/**
 * Commander's message without its `error: ` prefix. Commander checks
 * required options before unknown ones; an unknown flag is the likelier
 * mistake (a typo of the required one), so it is named first.
 */
function usageMessage(err: CommanderError, cmd: Command, argv: readonly string[]): string {
  if (err.code === 'commander.missingMandatoryOptionValue') {
    const known = acceptedFlags(cmd);
    const end = argv.indexOf('--');
    const unknown = (end < 0 ? argv : argv.slice(0, end))
      .slice(2)
      .find((a) => a.startsWith('--') && !known.has(a.split('=')[0] ?? a));
    if (unknown !== undefined) return `unknown option '${unknown.split('=')[0]}'`;
  }
  return err.message.replace(/^error: /, '');
}

let running: Command | undefined;

/** The command whose action is running (for hints that name its flags). */
export function runningCommand(): Command | undefined {
  return running;
}

/** True for commander's non-error outcomes (help shown, version printed). */
export function isCommanderExit(e: unknown): boolean {
  return e instanceof CommanderError && NOT_ERRORS.has(e.code);
}
