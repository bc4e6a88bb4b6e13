import type { Command } from 'commander';
import { registerPfxCommands } from './pfx.js';

/**
 * Registers every command group on the program. Each group lives in its own
 * file and exports one `register…` function.
 */
export function registerCommands(program: Command): void {
  void program;
  registerPfxCommands(program);
}
