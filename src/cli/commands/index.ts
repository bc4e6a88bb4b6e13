import type { Command } from 'commander';
import { registerCaCommands } from './ca.js';
import { registerKeyCommands } from './key.js';
import { registerCertCommands } from './cert.js';
import { registerPfxCommands } from './pfx.js';
import { registerGatewayAdminCommands } from './gateway-admin.js';
import { registerGatewayStartCommands } from './gateway-start.js';
import { registerRequestCommands } from './request.js';
import { registerProbeCommands } from './probe.js';
import { registerSnippetCommands } from './snippet.js';

/**
 * Registers every command group on the program. Each group lives in its own
 * file and exports one `register…` function.
 */
export function registerCommands(program: Command): void {
  registerCaCommands(program);
  registerKeyCommands(program);
  registerCertCommands(program);
  registerPfxCommands(program);
  registerGatewayAdminCommands(program);
  registerGatewayStartCommands(program);
  registerRequestCommands(program);
  registerProbeCommands(program);
  registerSnippetCommands(program);
}
