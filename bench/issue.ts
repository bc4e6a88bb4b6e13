/**
 * `npm run bench`: certificates issued AND recorded (index.txt, newcerts/,
 * serial, under the CA lock, atomic writes) per second, for an RSA-4096 and a
 * P-256 CA, next to two references measured in the same run:
 *   - `openssl speed` signatures per second for the same key type (the ceiling);
 *   - a loop of `openssl ca` processes signing on the same CA directory.
 * Not a test: numbers on a shared machine are noisy; read the ratios.
 */
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCa, loadCaKey, openCa, signCsr } from '../src/ca/index.js';
import { createCsr } from '../src/pki/csr.js';
import { generateKeyPair, type KeyType } from '../src/pki/keys.js';
import { parseSubject } from '../src/pki/names.js';

const N_OURS = Number(process.env.BENCH_N ?? 200);
const N_OPENSSL = Number(process.env.BENCH_N_OPENSSL ?? 40);

function opensslSpeed(alg: string): number {
  const r = spawnSync('openssl', ['speed', '-seconds', '2', alg], { encoding: 'utf8' });
  // Last table line: "rsa 4096 bits 0.001s 0.00003s  800.0  30000.0" or "256 bits ecdsa (nistp256) 0.0000s 0.0001s 30000.0 10000.0"
  const line = r.stdout.trim().split('\n').pop() ?? '';
  const nums = line
    .trim()
    .split(/\s+/)
    .map(Number)
    .filter((n) => Number.isFinite(n));
  return nums[nums.length - 2] ?? NaN;
}

async function benchCa(keyType: KeyType, speedAlg: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'mtlskit-bench-'));
  try {
    const dir = join(work, 'ca');
    await initCa({
      dir,
      subject: '/C=BR/ST=SP/O=Bench/CN=Bench Root',
      keyType,
      noPassphrase: true,
    });
    const ca = await openCa(dir);
    const caKey = await loadCaKey(ca);
    const leaf = await generateKeyPair('ec-p256');
    const csrs: string[] = [];
    for (let i = 0; i < Math.max(N_OURS, N_OPENSSL); i++) {
      csrs.push(
        (
          await createCsr({
            subject: parseSubject(`/C=BR/ST=SP/O=Bench/CN=client-${i}`),
            privateKey: leaf.privateKey,
          })
        ).pem,
      );
    }
    // Warm-up.
    await signCsr({ ca, csr: csrs[0] as string, caKey, profile: 'client' });
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N_OURS; i++)
      await signCsr({ ca, csr: csrs[i] as string, caKey, profile: 'client' });
    const ours = N_OURS / (Number(process.hrtime.bigint() - t0) / 1e9);

    const csrFile = join(work, 'c.csr');
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < N_OPENSSL; i++) {
      writeFileSync(csrFile, csrs[i] as string);
      const r = spawnSync(
        'openssl',
        [
          'ca',
          '-batch',
          '-config',
          join(dir, 'openssl.cnf'),
          '-extensions',
          'client_cert',
          '-notext',
          '-in',
          csrFile,
          '-out',
          join(work, 'o.pem'),
        ],
        { encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(`openssl ca failed: ${r.stderr}`);
    }
    const opensslCa = N_OPENSSL / (Number(process.hrtime.bigint() - t1) / 1e9);
    const speed = opensslSpeed(speedAlg);
    console.log(
      `${keyType.padEnd(8)} mtlskit ${ours.toFixed(1).padStart(8)} certs/s | openssl ca loop ${opensslCa.toFixed(1).padStart(7)} certs/s (mtlskit x${(ours / opensslCa).toFixed(2)}) | openssl speed ${speed.toFixed(0).padStart(7)} signs/s (mtlskit at ${((ours / speed) * 100).toFixed(1)}% of the ceiling)`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

console.log(
  `mtlskit issue benchmark: ${N_OURS} certificates per CA (openssl ca: ${N_OPENSSL} processes), P-256 client keys, records in index.txt`,
);
await benchCa('rsa4096', 'rsa4096');
await benchCa('ec-p256', 'ecdsap256');
