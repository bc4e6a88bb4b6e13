/**
 * basicConstraints pathLenConstraint, enforced when signing (RFC 5280
 * §4.2.1.9): a CA whose certificate says pathlen N may sit atop at most N
 * further CA certificates, so with pathlen 0 it issues end-entity
 * certificates only. `openssl ca` signs such a certificate without a word;
 * every verifier then refuses the whole path it belongs to.
 */
import * as x509 from '@peculiar/x509';
import { MtlsError } from '../errors/index.js';
import type { ExtensionProfile } from '../pki/profile.js';

/** Inputs for {@link assertPathLength}. */
export interface AssertPathLengthOptions {
  /** The signing CA's certificate. */
  signer: x509.X509Certificate;
  /** The profile the new certificate is built from. */
  profile: ExtensionProfile;
  /** The signing CA's certificate file, for the message. */
  signerSource: string;
}

/**
 * Refuses to build a CA certificate that its signer's pathLenConstraint forbids:
 * the signer has pathlen 0, or the profile asks for a pathlen not below the signer's.
 * @throws MTLS_PATHLEN_EXCEEDED
 */
export function assertPathLength(options: AssertPathLengthOptions): void {
  const { signer, profile } = options;
  const child = profile.basicConstraints?.value;
  if (child?.ca !== true) return;
  const limit = signer.getExtension(x509.BasicConstraintsExtension)?.pathLength;
  if (limit === undefined) return;
  if (limit === 0) {
    throw new MtlsError(
      'MTLS_PATHLEN_EXCEEDED',
      `the CA ${signer.subject} has pathlen 0 (${options.signerSource}) and may not sign another CA certificate (profile ${profile.name})`,
      {
        subject: profile.name,
        hint: 'Sign the new CA with the root, or use a leaf profile.',
      },
    );
  }
  if (child.pathLen !== undefined && child.pathLen >= limit) {
    throw new MtlsError(
      'MTLS_PATHLEN_EXCEEDED',
      `profile ${profile.name} asks for pathlen ${child.pathLen}, but the signing CA ${signer.subject} allows at most ${limit - 1} below it`,
      {
        subject: profile.name,
        hint: `Set pathlen:${limit - 1} or lower in [ ${profile.name} ] basicConstraints.`,
      },
    );
  }
}
