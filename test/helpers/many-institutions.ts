/**
 * Many institutions at once (the 300-institution test, the 10,000-institution
 * bench): each with its own self-signed P-256 root CA and its own IP in
 * 127.0.0.0/8, registered straight through the registry library.
 */
import { validateCaChain } from '../../src/gateway/onboarding.js';
import type { Registry } from '../../src/gateway/registry/types.js';
import { buildCertificate } from '../../src/pki/certificate.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import { parseSubject } from '../../src/pki/names.js';
import { BUILTIN_PROFILES, type ExtensionProfile } from '../../src/pki/profile.js';

/** The IP of the i-th extra institution: 127.10.x.y (i < 65,536). */
export function manyIp(i: number): string {
  return `127.10.${(i >> 8) & 255}.${i & 255}`;
}

/** The id of the i-th extra institution. */
export function manyId(i: number): string {
  return `inst-${String(i).padStart(5, '0')}`;
}

/** Builds root CA certificates (PEM) `from`..`to-1`, each with its own P-256 key (the keys are dropped). */
export async function makeRootCaPems(from: number, to: number): Promise<string[]> {
  const profile = BUILTIN_PROFILES.v3_ca as ExtensionProfile;
  const pems: string[] = [];
  for (let i = from; i < to; i++) {
    const keys = await generateKeyPair('ec-p256');
    const built = await buildCertificate({
      subject: parseSubject(`/C=BR/O=Institution ${i}/CN=Institution ${i} Root CA`),
      publicKey: keys.publicKey,
      signer: { privateKey: keys.privateKey },
      profile,
      days: 3650,
    });
    pems.push(built.pem);
  }
  return pems;
}

/**
 * Registers one institution per PEM (`manyId(i)`, one CA, `manyIp(i)`),
 * validating each chain as onboarding does, without its per-call duplicate
 * lookups (every CA here is fresh).
 * @returns the time taken in ms
 */
export async function registerMany(registry: Registry, pems: string[]): Promise<number> {
  const t0 = performance.now();
  for (const [i, pem] of pems.entries()) {
    const id = manyId(i);
    const v = validateCaChain(pem, { source: `${id}.pem` });
    await registry.createInstitution({ id, name: `Institution ${i}` });
    await registry.addCaChain(id, {
      pem: v.pem,
      fingerprints: v.fingerprints,
      subject: v.subject,
      notAfter: v.notAfter,
    });
    await registry.addIp(id, manyIp(i));
  }
  return performance.now() - t0;
}
