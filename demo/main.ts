/**
 * `npm run demo`: the institution's whole story from the provider's guide, in a
 * fresh temp dir — CA, client certificate and .pfx, public chain, a local
 * TLS-1.2-only mTLS server that trusts the chain, and a real mTLS call.
 * Leaves no process running; exits non-zero if any step fails.
 */
import 'reflect-metadata';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportChain, initCa, issueClientCertificate, openCa } from '../src/ca/index.js';
import { mtlsRequest } from '../src/client/index.js';
import { loadGatewayConfig } from '../src/gateway/config.js';
import { startGateway } from '../src/gateway/gateway.js';
import { onboardCaChain } from '../src/gateway/onboarding.js';
import { openRegistry } from '../src/gateway/registry/index.js';
import { buildCertificate } from '../src/pki/certificate.js';
import { exportPrivateKeyPem, generateKeyPair } from '../src/pki/keys.js';
import { parseSubject } from '../src/pki/names.js';
import { BUILTIN_PROFILES, type ExtensionProfile } from '../src/pki/profile.js';
import { loadClientCredentials } from '../src/tls/index.js';

const bold = (s: string): string =>
  process.env.NO_COLOR || !process.stdout.isTTY ? s : `\u001b[1m${s}\u001b[0m`;
let stepNo = 0;
const step = (title: string): void => console.log(`\n${bold(`${++stepNo}. ${title}`)}`);
const show = (line: string): void => console.log(`   ${line}`);

/** Runs a call that must fail and returns what the client was told. */
async function describeFailure(
  call: () => Promise<{ status: number; body: Buffer }>,
): Promise<string> {
  try {
    const r = await call();
    if (r.status < 400) throw new Error(`expected a refusal, got HTTP ${r.status}`);
    return `refused with HTTP ${r.status} ${r.body.toString('utf8').trim()}`;
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.message?.startsWith('expected a refusal')) throw e;
    return `refused: ${err.code ?? ''} ${err.message ?? String(e)}`.trim();
  }
}

/** Opens a TLS connection from a given loopback source address. */
function connectFrom(localAddress: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({
      socket: net.connect({ host: '127.0.0.1', port, localAddress }),
      servername: 'localhost',
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    });
    s.on('secureConnect', () => {
      s.destroy();
      resolve('unexpectedly completed a handshake');
    });
    s.on('error', (e: NodeJS.ErrnoException) =>
      resolve(`closed before any handshake (${e.code ?? e.message})`),
    );
    s.on('close', () => resolve('closed before any handshake'));
  });
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'mtlskit-demo-'));
  console.log(`mtlskit demo — working in ${work}`);
  const caPass = 'demo CA passphrase';
  const pfxPass = 'demo pfx password';
  try {
    step('Create the CA (guide steps 2-4): mtls ca init');
    const init = await initCa({
      dir: join(work, 'myCA'),
      subject: '/C=BR/ST=SP/O=Acme Payments/CN=Acme Root CA',
      keyType: 'rsa4096',
      passphrase: caPass,
    });
    show(`${init.subject}, ${init.key}, key encrypted: ${init.keyEncrypted}`);
    show(`openssl.cnf: ${init.layout.config}`);
    const ca = await openCa(init.layout.dir);

    step('Issue the client certificate and its .pfx (guide steps 5-7): mtls ca issue');
    const issued = await issueClientCertificate({
      ca,
      name: 'acme-client',
      caPassphrase: caPass,
      pfxPassword: pfxPass,
    });
    show(`${issued.subject} serial ${issued.serial} profile ${issued.profile}`);
    show(`certificate ${issued.certPath}`);
    show(`.pfx        ${issued.pfxPath}`);
    show('never send: the private key, the .pfx, or its password');

    step('Export the public chain for the provider (guide step 8): mtls ca chain');
    const chainPath = join(work, 'acme-chain.pem');
    const chain = await exportChain({ ca, outPath: chainPath });
    for (const c of chain.certificates) show(`${c.subject}  SHA-256 ${c.fingerprintSha256}`);

    step(
      'The provider registers the institution: CA chain + static IP 127.0.0.1 (mtls gateway ca add / ip add)',
    );
    const registry = await openRegistry(join(work, 'registry.db'));
    await registry.createInstitution({ id: 'acme', name: 'Acme Payments' });
    const onboarded = await onboardCaChain(registry, 'acme', await readFile(chainPath, 'utf8'), {
      source: chainPath,
    });
    await registry.addIp('acme', '127.0.0.1/32');
    show(
      `institution acme: ${onboarded.chain.fingerprints.length} CA certificate(s), IP 127.0.0.1/32`,
    );

    step('Start the TLS-1.2-only mTLS gateway in front of a demo upstream (mtls gateway start)');
    const upstream = http.createServer((req, res) => {
      const identity = Object.fromEntries(
        Object.entries(req.headers).filter(([k]) => k.startsWith('x-mtls-')),
      );
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          path: req.url,
          identity,
          authorization: req.headers.authorization ?? null,
        }),
      );
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const providerCa = await generateKeyPair('ec-p256');
    const providerRoot = await buildCertificate({
      subject: parseSubject('/C=BR/O=Provider/CN=Provider Root'),
      signer: { privateKey: providerCa.privateKey },
      profile: BUILTIN_PROFILES.v3_ca as ExtensionProfile,
      days: 30,
    });
    const gwKeys = await generateKeyPair('ec-p256');
    const gwCert = await buildCertificate({
      subject: parseSubject('/C=BR/O=Provider/CN=localhost'),
      publicKey: gwKeys.publicKey,
      signer: { privateKey: providerCa.privateKey, certificate: providerRoot.certificate },
      profile: BUILTIN_PROFILES.server_cert as ExtensionProfile,
      extraSubjectAltNames: [
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ],
      days: 30,
    });
    await writeFile(join(work, 'gw.cert.pem'), gwCert.pem);
    await writeFile(join(work, 'gw.key.pem'), exportPrivateKeyPem(gwKeys.privateKey), {
      mode: 0o600,
    });
    const config = loadGatewayConfig({
      overrides: {
        listen: '127.0.0.1:0',
        opsListen: '127.0.0.1:0',
        upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
        cert: join(work, 'gw.cert.pem'),
        key: join(work, 'gw.key.pem'),
        logLevel: 'silent',
      },
      requireRegistry: false,
      env: {},
    });
    const gateway = await startGateway({ config, registry, env: {} });
    const port = gateway.address().port;
    show(`gateway on https://127.0.0.1:${port} → upstream ${config.upstream}`);

    try {
      const url = `https://localhost:${port}/v1/payments`;
      const base = {
        url,
        ca: [providerRoot.pem],
        resolve: [{ host: 'localhost', port, address: '127.0.0.1' }],
      };

      step('A good call with the .pfx (mtls request): the upstream sees the verified identity');
      const credentials = await loadClientCredentials({
        pfxPath: issued.pfxPath,
        password: pfxPass,
      });
      const good = await mtlsRequest({
        ...base,
        credentials,
        headers: [
          ['authorization', 'Basic ZGVtbzpkZW1v'],
          ['x-mtls-institution', 'spoofed'],
        ],
      });
      show(`HTTP ${good.status} over ${good.tls.protocol} ${good.tls.cipher}`);
      show(`upstream received: ${good.body.toString('utf8')}`);
      if (good.status !== 200) throw new Error(`the good call got HTTP ${good.status}`);

      step('Bad calls, each refused and audited with its reason');
      const otherKeys = await generateKeyPair('ec-p256');
      const other = await buildCertificate({
        subject: parseSubject('/C=BR/O=Mallory/CN=Mallory CA'),
        signer: { privateKey: otherKeys.privateKey },
        profile: BUILTIN_PROFILES.v3_ca as ExtensionProfile,
        days: 30,
      });
      const intruderKeys = await generateKeyPair('ec-p256');
      const intruder = await buildCertificate({
        subject: parseSubject('/C=BR/O=Mallory/CN=intruder'),
        publicKey: intruderKeys.publicKey,
        signer: { privateKey: otherKeys.privateKey, certificate: other.certificate },
        profile: BUILTIN_PROFILES.client_cert as ExtensionProfile,
        days: 30,
      });
      await writeFile(join(work, 'intruder.cert.pem'), intruder.pem);
      await writeFile(
        join(work, 'intruder.key.pem'),
        exportPrivateKeyPem(intruderKeys.privateKey),
        { mode: 0o600 },
      );
      const intruderCreds = await loadClientCredentials({
        certPath: join(work, 'intruder.cert.pem'),
        keyPath: join(work, 'intruder.key.pem'),
      });
      const attempts: Array<[string, () => Promise<string>]> = [
        [
          'a certificate from another CA',
          async () => describeFailure(() => mtlsRequest({ ...base, credentials: intruderCreds })),
        ],
        [
          'TLS 1.3',
          async () => describeFailure(() => mtlsRequest({ ...base, credentials, tls: '1.3' })),
        ],
        ['an unregistered source IP (127.0.0.2)', async () => connectFrom('127.0.0.2', port)],
      ];
      for (const [what, attempt] of attempts) show(`${what}: ${await attempt()}`);
      await gateway.flushAudit();
      const audit = await registry.queryAudit({ outcome: 'rejected' });
      show('audit trail (operator view):');
      for (const a of audit)
        show(
          `  ${a.time} ${a.ip} ${a.kind} ${a.outcome} reason=${a.reason}${a.subject ? ` subject="${a.subject}"` : ''}`,
        );
      const reasons = new Set(audit.map((a) => a.reason));
      for (const want of ['unknown_ca', 'tls_version', 'ip_not_registered']) {
        if (!reasons.has(want)) throw new Error(`expected an audit record with reason ${want}`);
      }
    } finally {
      await gateway.close({ drainTimeoutMs: 2000 });
      await registry.close();
      await new Promise<void>((r) => upstream.close(() => r()));
    }
    await writeFile(join(work, 'DONE'), 'ok\n');
    console.log(`\n${bold('Demo finished: every step succeeded.')}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  const err = e as { code?: string; message?: string; hint?: string };
  console.error(
    `\ndemo failed: ${err.code ? `error[${err.code}]: ` : ''}${err.message ?? String(e)}`,
  );
  if (err.hint) console.error(`hint: ${err.hint}`);
  process.exitCode = 1;
});
