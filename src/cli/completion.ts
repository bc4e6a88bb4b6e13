/**
 * `mtls completion bash|zsh|fish`: shell completion generated from the
 * command tree, so it always offers the commands and flags that exist.
 */
import { Argument, type Command } from 'commander';
import { MtlsError } from '../errors/index.js';

/** The shells a script can be written for. */
export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;

/** One command of the tree: its path below `mtls` and what may follow it. */
interface Node {
  path: string;
  subcommands: string[];
  flags: Array<{ long: string; takesValue: boolean; description: string }>;
}

function walk(cmd: Command, prefix: string[], out: Node[]): Node[] {
  const visible = cmd.commands.filter((c) => c.name() !== 'help');
  out.push({
    path: prefix.join(' '),
    subcommands: visible.map((c) => c.name()),
    flags: cmd.options
      .filter((o) => !o.hidden && o.long !== undefined)
      .map((o) => ({
        long: o.long ?? '',
        takesValue: o.required || o.optional,
        description: o.description,
      })),
  });
  for (const c of visible) walk(c, [...prefix, c.name()], out);
  return out;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function bashScript(nodes: Node[]): string {
  const known = nodes.map((n) => n.path).filter((p) => p !== '');
  const cases = nodes
    .map((n) => {
      const flags = [...n.flags.map((f) => f.long), '--help'].join(' ');
      return `    ${quote(n.path)}) subs=${quote(n.subcommands.join(' '))} flags=${quote(flags)} ;;`;
    })
    .join('\n');
  return `# mtls completion for bash: source <(mtls completion bash)
_mtls() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" i w subs="" flags=""
  local known=${quote(`|${known.join('|')}|`)}
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ $w == -* ]] && continue
    if [[ $known == *"|\${path:+$path }$w|"* ]]; then path="\${path:+$path }$w"; fi
  done
  case "$path" in
${cases}
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ -n $subs ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _mtls mtls
`;
}

function zshScript(nodes: Node[]): string {
  return `#compdef mtls
# mtls completion for zsh: source <(mtls completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bashScript(nodes).replace(/^# mtls completion for bash.*\n/, '')}`;
}

function fishScript(nodes: Node[]): string {
  const known = nodes.map((n) => quote(n.path)).join(' ');
  const lines = [
    '# mtls completion for fish: mtls completion fish | source',
    'function __mtls_path',
    `    set -l known ${known}`,
    '    set -l path',
    '    for t in (commandline -opc)[2..-1]',
    "        string match -q -- '-*' $t; and continue",
    "        set -l cand (string join ' ' $path $t)",
    '        contains -- $cand $known; and set path $path $t',
    '    end',
    "    string join ' ' $path",
    'end',
    'function __mtls_is',
    '    set -l p (__mtls_path)',
    '    test "$p" = "$argv[1]"',
    'end',
    'complete -c mtls -f',
  ];
  for (const n of nodes) {
    const when = `-n ${quote(`__mtls_is ${quote(n.path)}`)}`;
    if (n.subcommands.length > 0)
      lines.push(`complete -c mtls ${when} -a ${quote(n.subcommands.join(' '))}`);
    for (const f of n.flags) {
      lines.push(
        `complete -c mtls ${when} -l ${f.long.replace(/^--/, '')}${f.takesValue ? ' -r -F' : ''} -d ${quote(f.description.slice(0, 80))}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The completion script for `shell`, built from `program`'s commands.
 * @throws MTLS_USAGE for a shell other than bash, zsh or fish
 */
export function completionScript(program: Command, shell: string): string {
  const nodes = walk(program, [], []);
  switch (shell) {
    case 'bash':
      return bashScript(nodes);
    case 'zsh':
      return zshScript(nodes);
    case 'fish':
      return fishScript(nodes);
    default:
      throw new MtlsError('MTLS_USAGE', `no completion for shell "${shell}"`, {
        subject: 'shell',
        hint: `Choose one of ${COMPLETION_SHELLS.join(', ')}.`,
      });
  }
}

/** Registers `mtls completion SHELL` (every command group must be registered for it to see them). */
export function registerCompletionCommand(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script for bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'the shell').choices([...COMPLETION_SHELLS]))
    .addHelpText(
      'after',
      `
Examples:
  $ source <(mtls completion bash)          # in ~/.bashrc
  $ source <(mtls completion zsh)           # in ~/.zshrc
  $ mtls completion fish > ~/.config/fish/completions/mtls.fish`,
    )
    .action((shell: string) => {
      process.stdout.write(completionScript(program, shell));
    });
}
