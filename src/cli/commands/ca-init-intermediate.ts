/**
 * `mtls ca init DIR --intermediate --parent ROOTDIR`: wiring for
 * src/ca/intermediate.ts. The parent's key passphrase and the new CA's are
 * two secrets, read from two sources.
 */
import type { KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import { MtlsError } from '../../errors/index.js';
import { assertEmptyOrMissing } from '../../ca/init-ca.js';
import { initIntermediateCa } from '../../ca/intermediate.js';
import { loadCaKey, type OpenCa } from '../../ca/open-ca.js';
import { readFileChecked } from '../../io/index.js';
import { isEncryptedPrivateKey, parseKeyType } from '../../pki/keys.js';
import { parseSubject } from '../../pki/names.js';
import { openCaFromCli } from '../ca-context.js';
import { out, outJson, style, withSpinner } from '../output.js';
import { dnText } from '../format.js';
import { readSecret } from '../secrets.js';
import { keyLine, newCaSettings, type NewCaCliOptions } from './ca-init-shared.js';

/** The `ca init` options this module reads. */
export interface IntermediateCliOptions extends NewCaCliOptions {
  subject: string;
  keyType: string;
  json?: boolean;
  intermediate?: boolean;
  parent?: string;
  parentPassphraseFile?: string;
}

/**
 * Runs `ca init --intermediate --parent ROOTDIR`.
 * @throws MTLS_USAGE when only one of --intermediate and --parent is given
 */
export async function initIntermediateFromCli(
  dir: string,
  o: IntermediateCliOptions,
): Promise<void> {
  if (!o.intermediate || !o.parent) {
    throw new MtlsError(
      'MTLS_USAGE',
      '--intermediate and --parent go together: --intermediate --parent ROOTDIR',
      { subject: o.parent ? '--intermediate' : '--parent' },
    );
  }
  const subject = parseSubject(o.subject);
  const keyType = parseKeyType(o.keyType);
  await assertEmptyOrMissing(resolve(dir));
  const parent = await openCaFromCli(o.parent);
  const parentKey = await parentKeyFromCli(parent, o.parentPassphraseFile);
  const settings = await newCaSettings(o, 'New intermediate CA key passphrase: ');
  const r = await withSpinner(`generating the ${keyType} intermediate key`, () =>
    initIntermediateCa({ dir, subject, keyType, parent, parentKey, ...settings }),
  );
  if (o.json) {
    outJson('ca-init', r);
    return;
  }
  out(`${style('green', '✓')} intermediate CA created in ${r.layout.dir}`);
  out(`  subject      ${dnText(r.subject)}`);
  out(
    `  signed by    ${parent.certificate.subject} (serial ${r.parentSerial} in ${r.parentDir}/index.txt)`,
  );
  out(keyLine(r));
  out(`  certificate  ${r.layout.caCert} (pathlen 0, valid until ${r.notAfter.toISOString()})`);
  out(`  chain        ${r.chainPath} (intermediate + root: what \`mtls ca chain\` exports)`);
  out(`  SHA-256      ${r.fingerprintSha256}`);
  out('Issue with --ca-dir ' + r.layout.dir + '; the root key can now go offline.');
}

/**
 * Loads the parent's key. Its passphrase comes from --parent-passphrase-file,
 * else MTLS_PARENT_CA_PASSPHRASE, else a prompt — never from
 * MTLS_CA_PASSPHRASE, which names the new CA's.
 */
async function parentKeyFromCli(parent: OpenCa, file: string | undefined): Promise<KeyObject> {
  const data = await readFileChecked(parent.config.privateKey, 'parent CA private key');
  const passphrase = isEncryptedPrivateKey(data)
    ? await readSecret({ kind: 'parentCaPassphrase', file, prompt: 'Parent CA key passphrase: ' })
    : undefined;
  return loadCaKey(parent, passphrase, data);
}
