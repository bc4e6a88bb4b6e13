/**
 * The commands whose `--help` carries an `Exit codes:` prose line, with the
 * parts it is derived from, by command path (as `commandPath` prints it).
 */
import type { ExitLinePart } from '../../src/cli/exit-help.js';
import { CA_STATUS_EXITS } from '../../src/cli/commands/ca-lifecycle.js';
import { CERT_SHOW_EXITS, CERT_VERIFY_EXITS } from '../../src/cli/commands/cert.js';
import { CERT_RENEW_EXITS } from '../../src/cli/commands/cert-renew.js';
import { PFX_EXITS } from '../../src/cli/commands/pfx.js';
import { PROBE_EXITS } from '../../src/cli/commands/probe.js';
import { REQUEST_EXITS } from '../../src/cli/commands/request.js';
import { SNIPPET_EXITS } from '../../src/cli/commands/snippet.js';

export const EXIT_LINES: Readonly<Record<string, readonly ExitLinePart[]>> = {
  'mtls pfx export': PFX_EXITS,
  'mtls pfx show': PFX_EXITS,
  'mtls pfx convert': PFX_EXITS,
  'mtls pfx unpack': PFX_EXITS,
  'mtls cert show': CERT_SHOW_EXITS,
  'mtls cert verify': CERT_VERIFY_EXITS,
  'mtls cert renew': CERT_RENEW_EXITS,
  'mtls request': REQUEST_EXITS,
  'mtls probe': PROBE_EXITS,
  'mtls snippet': SNIPPET_EXITS,
  'mtls ca status': CA_STATUS_EXITS,
};
