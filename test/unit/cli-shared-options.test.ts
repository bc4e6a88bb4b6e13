/**
 * The CLI's shared options are declared once (src/cli/shared-options.ts):
 * every command's secret-file flags, --force and --json come from there, so
 * their help names the same variables in the same words everywhere.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { buildProgram, commandPath, leafCommands } from '../../src/cli/program.js';
import {
  forceOption,
  jsonOption,
  secretFileOption,
  secretHint,
  SECRETS,
} from '../../src/cli/shared-options.js';

/** `gateway start` reads the gateway's own secrets (MTLS_GATEWAY_*), from its configuration's key table. */
const GATEWAY_START = 'mtls gateway start';

const optionsOf = (leaf: Command) => leaf.options.filter((o) => !o.hidden);

test('each secret flag names its variable, in the one wording', async () => {
  const program = await buildProgram(['node', 'mtls']);
  const byFlag = new Map<string, { env: string }>(Object.values(SECRETS).map((s) => [s.flag, s]));
  const problems: string[] = [];
  let seen = 0;
  for (const leaf of leafCommands(program)) {
    if (commandPath(leaf) === GATEWAY_START) continue;
    for (const o of optionsOf(leaf)) {
      const secret = o.long === undefined ? undefined : byFlag.get(o.long);
      if (!secret) continue;
      seen++;
      if (!/^file holding the .+, - for stdin \(else .+\)$/.test(o.description))
        problems.push(`${commandPath(leaf)} ${o.flags}: "${o.description}"`);
      else if (!o.description.includes(secret.env) && !/else the /.test(o.description))
        problems.push(`${commandPath(leaf)} ${o.flags}: does not name ${secret.env}`);
    }
  }
  assert.ok(seen >= 20, `found ${seen} secret flags`);
  assert.deepEqual(problems, []);
});

test('--force and --json read the same on every command', async () => {
  const program = await buildProgram(['node', 'mtls']);
  const problems: string[] = [];
  for (const leaf of leafCommands(program)) {
    for (const o of optionsOf(leaf)) {
      if (o.long === '--force' && !/^replace .+ if it exists$/.test(o.description))
        problems.push(`${commandPath(leaf)} --force: "${o.description}"`);
      if (o.long === '--json' && !/^print .+ as JSON$/.test(o.description))
        problems.push(`${commandPath(leaf)} --json: "${o.description}"`);
    }
  }
  assert.deepEqual(problems, []);
});

test('the builders word the help and the hint from the secret table', () => {
  assert.equal(
    secretFileOption('pfxPassword').description,
    'file holding the .pfx password, - for stdin (else $MTLS_PFX_PASSWORD, else a prompt)',
  );
  assert.equal(secretFileOption('caPassphrase').flags, '--passphrase-file <file>');
  assert.equal(
    secretHint('keyPassphrase'),
    'Pass --key-passphrase-file FILE or set MTLS_KEY_PASSPHRASE.',
  );
  assert.equal(secretHint('pfxNewPassword', false), 'Pass --new-password-file FILE.');
  assert.equal(forceOption('--out').description, 'replace --out if it exists');
  assert.equal(jsonOption().description, 'print the result as JSON');
});
