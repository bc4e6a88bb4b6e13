/**
 * Certificates and registries for `npm run bench:gateway`: one server CA,
 * server certificates (P-256 and RSA-2048), two measured institutions (a
 * P-256 and an RSA-2048 root, each with a client certificate of its key
 * type), and up to 10,000 more institutions, each with its own P-256 root CA
 * and its own IP in 127.0.0.0/8.
 *
 * The many CA certificates are cached in the temp directory: building one
 * costs a few ms of JS ASN.1, so 10,000 would add about half a minute to
 * every run.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Registry } from '../src/gateway/registry/types.js';
import {
  makeInstitution,
  makeServerPki,
  registerInstitution,
  type TestInstitution,
  type TestServerPki,
} from '../test/helpers/gateway-harness.js';
import { makeCa, makeLeaf, makeServerLeaf, type TestLeaf } from '../test/helpers/pki.js';
import { makeRootCaPems } from '../test/helpers/many-institutions.js';

export { manyIp, registerMany } from '../test/helpers/many-institutions.js';

/** The measured institutions' source addresses. 127.0.0.1 lets `openssl s_client` (which cannot bind a source address) act as one. */
export const EC_IP = '127.0.0.1';
export const RSA_IP = '127.0.0.3';

/** Everything the servers under test share. */
export interface BenchPki {
  server: TestServerPki;
  /** Server certificate with an RSA-2048 key (same CA, same names). */
  serverRsa: TestLeaf;
  ec: TestInstitution;
  rsa: TestInstitution;
}

/** Makes the server and client certificates in `dir`. */
export async function makeBenchPki(dir: string): Promise<BenchPki> {
  const server = await makeServerPki(dir);
  const serverRsa = await makeServerLeaf(dir, server.serverCa, {
    keyType: 'rsa2048',
    file: 'server-rsa',
  });
  const ec = await makeInstitution(dir, 'bench-ec');
  // RSA end to end: root, client and (above) server key.
  const rsaRoot = await makeCa(dir, { name: 'bench-rsa Root CA', keyType: 'rsa2048' });
  const rsaClient = await makeLeaf(dir, rsaRoot, { cn: 'bench-rsa-client', keyType: 'rsa2048' });
  return { server, serverRsa, ec, rsa: { id: 'bench-rsa', root: rsaRoot, client: rsaClient } };
}

/** Registers the two measured institutions. */
export async function registerBenchInstitutions(registry: Registry, pki: BenchPki): Promise<void> {
  await registerInstitution(registry, pki.ec.id, pki.ec.root.certPem, [EC_IP]);
  await registerInstitution(registry, pki.rsa.id, pki.rsa.root.certPem, [RSA_IP]);
}

/**
 * `n` root CA certificates (PEM), each with its own P-256 key, read from the
 * cache in the temp directory when it holds enough.
 */
export async function manyCaPems(n: number): Promise<string[]> {
  const cache = join(tmpdir(), 'mtlskit-bench-many-cas.json');
  let pems: string[] = [];
  if (existsSync(cache)) pems = JSON.parse(readFileSync(cache, 'utf8')) as string[];
  if (pems.length >= n) return pems.slice(0, n);
  pems.push(...(await makeRootCaPems(pems.length, n)));
  writeFileSync(cache, JSON.stringify(pems));
  return pems;
}
