import type { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Each top-level command and the modules that register it, loaded on demand:
 * `mtls ca sign` never loads the gateway, PostgreSQL or undici.
 */
const GROUPS: Readonly<Record<string, () => Promise<Register[]>>> = {
  ca: async () => [(await import('./ca.js')).registerCaCommands],
  key: async () => [(await import('./key.js')).registerKeyCommands],
  csr: async () => [(await import('./key.js')).registerKeyCommands],
  cert: async () => [(await import('./cert.js')).registerCertCommands],
  pfx: async () => [(await import('./pfx.js')).registerPfxCommands],
  gateway: async () => [
    (await import('./gateway-start.js')).registerGatewayStartCommands,
    (await import('./gateway-admin.js')).registerGatewayAdminCommands,
  ],
  request: async () => [(await import('./request.js')).registerRequestCommands],
  probe: async () => [(await import('./probe.js')).registerProbeCommands],
  snippet: async () => [(await import('./snippet.js')).registerSnippetCommands],
};

/**
 * Registers the command group named by the first argument, or every group
 * (for `mtls --help`, `mtls help …` and unknown commands). Each group lives
 * in its own file and exports one `register…` function.
 */
export async function registerCommands(program: Command, argv: readonly string[]): Promise<void> {
  const first = argv.slice(2).find((a) => !a.startsWith('-'));
  const versionOnly = first === undefined && argv.some((a) => a === '--version' || a === '-V');
  const names = versionOnly
    ? []
    : first !== undefined && GROUPS[first]
      ? [first]
      : Object.keys(GROUPS);
  const seen = new Set<Register>();
  for (const name of names) {
    const load = GROUPS[name];
    if (load === undefined) continue;
    for (const register of await load()) {
      if (seen.has(register)) continue;
      seen.add(register);
      register(program);
    }
  }
}
