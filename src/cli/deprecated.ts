/**
 * Old spellings kept working: a hidden option that stores into the new
 * option's key and warns once, so scripts keep running while they migrate.
 */
import { Option } from 'commander';
import { warn } from './output.js';

/** The commander attribute name of a long flag (`--key-passphrase-file` → `keyPassphraseFile`). */
function attributeOf(long: string): string {
  return long.replace(/^--/, '').replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * A hidden option `flags` (e.g. `--passphrase-file <file>`) that sets the
 * value of `replacement` and prints a deprecation warning naming it (once).
 * `parse` is the replacement's reducer, for a repeatable option.
 */
export function deprecatedAlias(
  flags: string,
  replacement: string,
  attribute = attributeOf(replacement),
  parse?: (value: string, previous: string[] | undefined) => string[],
): Option {
  const opt = new Option(flags).hideHelp();
  const old = opt.long ?? flags;
  opt.attributeName = (): string => attribute;
  let warned = false;
  const note = (): void => {
    if (!warned) warn(`${old} is deprecated; use ${replacement}`);
    warned = true;
  };
  if (parse)
    opt.argParser((value: string, previous: string[] | undefined) => {
      note();
      return parse(value, previous);
    });
  else
    opt.argParser((value: string) => {
      note();
      return value;
    });
  return opt;
}

/**
 * Reads an environment variable under its current name, else under an old
 * one (with a deprecation warning naming the new name).
 */
export function envWithAlias(
  name: string,
  oldName: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const value = env[name];
  if (value !== undefined && value !== '') return value;
  const old = env[oldName];
  if (old !== undefined && old !== '') {
    warn(`${oldName} is deprecated; set ${name} instead`);
    return old;
  }
  return undefined;
}
