/**
 * `npm run demo`: the institution's whole story from the provider's guide, in a
 * fresh temp dir — CA, client certificate and .pfx, public chain, a local
 * TLS-1.2-only mTLS server that trusts the chain, and a real mTLS call.
 * Leaves no process running; exits non-zero if any step fails.
 */
import 'reflect-metadata';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportChain, initCa, issueClientCertificate, openCa, signCsr } from '../src/ca/index.js';
import { createCsr } from '../src/pki/csr.js';
import { exportPrivateKeyPem, generateKeyPair } from '../src/pki/keys.js';
import { parseSubject } from '../src/pki/names.js';
import { parsePfx } from '../src/pki/pkcs12/index.js';

const bold = (s: string): string => (process.env.NO_COLOR || !process.stdout.isTTY ? s : `\u001b[1m${s}\u001b[0m`);
let stepNo = 0;
const step = (title: string): void => console.log(`\n${bold(`${++stepNo}. ${title}`)}`);
const show = (line: string): void => console.log(`   ${line}`);

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'mtlskit-demo-'));
  console.log(`mtlskit demo — working in ${work}`);
  const caPass = 'demo CA passphrase';
  const pfxPass = 'demo pfx password';
  try {
    step('Create the CA (guide steps 2-4): mtls ca init');
    const init = await initCa({ dir: join(work, 'myCA'), subject: '/C=BR/ST=SP/O=Acme Payments/CN=Acme Root CA', keyType: 'rsa4096', passphrase: caPass });
    show(`${init.subject}, ${init.key}, key encrypted: ${init.keyEncrypted}`);
    show(`openssl.cnf: ${init.layout.config}`);
    const ca = await openCa(init.layout.dir);

    step('Issue the client certificate and its .pfx (guide steps 5-7): mtls ca issue');
    const issued = await issueClientCertificate({ ca, name: 'acme-client', caPassphrase: caPass, pfxPassword: pfxPass });
    show(`${issued.subject} serial ${issued.serial} profile ${issued.profile}`);
    show(`certificate ${issued.certPath}`);
    show(`.pfx        ${issued.pfxPath}`);
    show('never send: the private key, the .pfx, or its password');

    step('Export the public chain for the provider (guide step 8): mtls ca chain');
    const chainPath = join(work, 'acme-chain.pem');
    const chain = await exportChain({ ca, outPath: chainPath });
    for (const c of chain.certificates) show(`${c.subject}  SHA-256 ${c.fingerprintSha256}`);

    step('Start a local TLS-1.2-only server that trusts that chain (the provider)');
    const serverKeys = await generateKeyPair('ec-p256');
    const serverCsr = await createCsr({ subject: parseSubject('/C=BR/ST=SP/O=Acme Payments/CN=localhost'), privateKey: serverKeys.privateKey });
    const serverCert = await signCsr({ ca, csr: serverCsr.pem, profile: 'server', passphrase: caPass, subjectAltNames: [{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }] });
    const server = https.createServer(
      {
        key: exportPrivateKeyPem(serverKeys.privateKey),
        cert: serverCert.pem,
        ca: await readFile(chainPath, 'utf8'),
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
      },
      (req, res) => {
        const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ hello: peer.subject?.CN, protocol: (req.socket as import('node:tls').TLSSocket).getProtocol() }));
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    show(`listening on https://127.0.0.1:${port} (TLS 1.2 only, client certificate required)`);

    try {
      step('Make a real mTLS call with the .pfx');
      const pfx = parsePfx(await readFile(issued.pfxPath), pfxPass);
      const body = await new Promise<string>((resolve, reject) => {
        const req = https.request(
          {
            host: '127.0.0.1',
            port,
            path: '/v1/ping',
            servername: 'localhost',
            key: exportPrivateKeyPem(pfx.privateKey as import('node:crypto').KeyObject),
            cert: pfx.certificate?.toString(),
            ca: chain.pem,
            minVersion: 'TLSv1.2',
            maxVersion: 'TLSv1.2',
          },
          (res) => {
            let data = '';
            res.on('data', (c) => (data += c));
            res.on('end', () => (res.statusCode === 200 ? resolve(`${res.statusCode} ${data}`) : reject(new Error(`HTTP ${res.statusCode}: ${data}`))));
          },
        );
        req.on('error', reject);
        req.end();
      });
      show(`response: ${body}`);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    await writeFile(join(work, 'DONE'), 'ok\n');
    console.log(`\n${bold('Demo finished: every step succeeded.')}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  const err = e as { code?: string; message?: string; hint?: string };
  console.error(`\ndemo failed: ${err.code ? `error[${err.code}]: ` : ''}${err.message ?? String(e)}`);
  if (err.hint) console.error(`hint: ${err.hint}`);
  process.exitCode = 1;
});
