/**
 * `mtls probe` against local servers, each failing in one way, and against
 * `openssl s_server -Verify 1 -tls1_2` as an independent server. The CA names
 * read off the wire must equal the ones each server was configured with.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { probeServer, type ProbeResult } from '../../src/client/probe.js';
import { loadClientCredentials } from '../../src/tls/credentials.js';
import {
  makeCa,
  makeLeaf,
  makeServerLeaf,
  tempDir,
  type MakeLeafOptions,
  type TestCa,
  type TestLeaf,
} from '../helpers/pki.js';
import {
  startClosingServer,
  startNodeServer,
  startOpensslServer,
  startScriptedServer,
  type NodeServerOptions,
  type TestServer,
} from '../helpers/tls-servers.js';
import { sendClientHello } from '../../src/tls/hello-probe.js';
import { runCli } from '../helpers/cli.js';
import { at } from '../helpers/assert.js';

const DAY = 86_400_000;

interface Fixture {
  dir: string;
  ca: TestCa;
  other: TestCa;
  server: TestLeaf;
  cleanup: () => void;
}

/** A fresh client CA, another CA, and a server certificate for localhost. */
async function fixture(): Promise<Fixture> {
  const { dir, cleanup } = tempDir('mtlskit-probe-');
  const ca = await makeCa(dir, { name: 'Acme Client CA' });
  const other = await makeCa(dir, { name: 'Other Bank CA' });
  const server = await makeServerLeaf(dir, ca);
  return { dir, ca, other, server, cleanup };
}

async function probeWith(
  f: Fixture,
  s: TestServer,
  leaf: MakeLeafOptions | null,
): Promise<ProbeResult> {
  const credentials = leaf
    ? await loadClientCredentials(
        await makeLeaf(f.dir, f.ca, leaf).then((l) => ({
          certPath: l.certPath,
          keyPath: l.keyPath,
        })),
      )
    : undefined;
  return probeServer({
    target: `localhost:${s.port}`,
    ca: [f.ca.certPem],
    ...(credentials ? { credentials } : {}),
    timeoutMs: 10_000,
  });
}

async function withServer<T>(
  start: Promise<TestServer>,
  body: (s: TestServer) => Promise<T>,
): Promise<T> {
  const s = await start;
  try {
    return await body(s);
  } finally {
    await s.close();
  }
}

const node = (f: Fixture, o: Partial<NodeServerOptions> = {}): Promise<TestServer> =>
  startNodeServer({ certPem: f.server.certPem, keyPem: f.server.keyPem, ca: [f.ca.certPem], ...o });

const accepted = (r: ProbeResult): string[] =>
  r.versions.filter((v) => v.accepted).map((v) => v.version);

test('a good client against a Node mTLS server: ok, and the CA names are those configured', async () => {
  const f = await fixture();
  try {
    await withServer(node(f, { ca: [f.ca.certPem, f.other.certPem] }), async (s) => {
      const r = await probeWith(f, s, { cn: 'good-client' });
      assert.equal(r.diagnosis.verdict, 'ok', r.diagnosis.cause);
      assert.deepEqual(accepted(r), ['TLSv1.2']);
      assert.equal(r.clientCertificateRequested, true);
      assert.deepEqual(r.certificateRequest?.acceptableCaNames, [
        'C=BR, ST=SP, O=Acme Client CA, CN=Acme Client CA',
        'C=BR, ST=SP, O=Other Bank CA, CN=Other Bank CA',
      ]);
      assert.equal(r.issuerMatch?.listed, true);
      const served = at(r.serverChain, 0);
      assert.equal(served.subject, 'C=BR, ST=SP, O=Test, CN=localhost');
      assert.ok(served.daysLeft >= 29, `${String(served.daysLeft)} days left`);
      assert.equal(r.exchange.status, 200);
      assert.deepEqual(s.seen, ['good-client']);
    });
  } finally {
    f.cleanup();
  }
});

test('a server that requests no certificate: the probe says mTLS is not enforced', async () => {
  const f = await fixture();
  try {
    await withServer(node(f, { requestCert: false }), async (s) => {
      const r = await probeWith(f, s, { cn: 'c' });
      assert.equal(r.clientCertificateRequested, false);
      assert.equal(r.certificateRequest, null);
      assert.equal(r.diagnosis.verdict, 'no-client-cert-requested');
      assert.match(r.diagnosis.hint, /does not enforce mTLS/);
    });
  } finally {
    f.cleanup();
  }
});

test('a Node server that trusts another CA drops us after the handshake; the probe names the CA mismatch', async () => {
  const f = await fixture();
  try {
    await withServer(node(f, { ca: [f.other.certPem] }), async (s) => {
      const r = await probeWith(f, s, { cn: 'c' });
      assert.equal(r.diagnosis.outcome.kind, 'closed-after-handshake');
      assert.equal(r.diagnosis.verdict, 'client-cert-untrusted');
      assert.deepEqual(r.certificateRequest?.acceptableCaNames, [
        'C=BR, ST=SP, O=Other Bank CA, CN=Other Bank CA',
      ]);
      assert.equal(r.issuerMatch?.listed, false);
      assert.match(
        r.diagnosis.cause,
        /issued by C=BR, ST=SP, O=Acme Client CA, CN=Acme Client CA.*not among.*O is "Other Bank CA" there, "Acme Client CA" in ours/,
      );
      assert.match(r.diagnosis.hint, /does not trust the CA that issued your certificate/);
    });
  } finally {
    f.cleanup();
  }
});

test('an expired client certificate: the cause names the expiry date', async () => {
  const f = await fixture();
  try {
    await withServer(node(f), async (s) => {
      const notAfter = new Date(Date.now() - 2 * DAY);
      const r = await probeWith(f, s, {
        cn: 'old',
        notBefore: new Date(Date.now() - 30 * DAY),
        notAfter,
      });
      assert.equal(r.diagnosis.outcome.kind, 'closed-after-handshake');
      assert.equal(r.diagnosis.verdict, 'client-cert-expired');
      assert.match(
        r.diagnosis.cause,
        new RegExp(`expired on ${notAfter.toISOString().slice(0, 10)}`),
      );
      assert.match(r.diagnosis.hint, /has expired: issue a new one/);
      const fresh = await probeWith(f, s, { cn: 'fresh' });
      assert.equal(
        fresh.diagnosis.verdict,
        'ok',
        'the same server accepts a valid certificate from the same CA',
      );
    });
  } finally {
    f.cleanup();
  }
});

test('a client certificate without the clientAuth EKU', async () => {
  const f = await fixture();
  try {
    await withServer(node(f), async (s) => {
      const r = await probeWith(f, s, { cn: 'server-only', profile: 'server_cert' });
      assert.equal(r.diagnosis.verdict, 'client-cert-wrong-purpose');
      assert.match(r.diagnosis.cause, /extendedKeyUsage is serverAuth, without clientAuth/);
      assert.match(r.diagnosis.hint, /extendedKeyUsage = clientAuth/);
    });
  } finally {
    f.cleanup();
  }
});

test('a Node server that drops us after the handshake with no cause we can see (same-name CA, other key)', async () => {
  const f = await fixture();
  try {
    // A CA re-created under the same name: the name is listed, but the signature does not verify.
    const impostor = await makeCa(f.dir, { name: 'Acme Client CA' });
    const leaf = await makeLeaf(f.dir, impostor, { cn: 'reissued' });
    await withServer(node(f), async (s) => {
      const credentials = await loadClientCredentials({
        certPath: leaf.certPath,
        keyPath: leaf.keyPath,
      });
      const r = await probeServer({
        target: `localhost:${s.port}`,
        ca: [f.ca.certPem],
        credentials,
      });
      assert.equal(r.issuerMatch?.listed, true);
      assert.equal(r.diagnosis.outcome.kind, 'closed-after-handshake');
      assert.equal(r.diagnosis.verdict, 'client-cert-rejected');
      assert.match(
        r.diagnosis.cause,
        /without an alert \(Node-based servers drop a rejected client this way\)/,
      );
    });
  } finally {
    f.cleanup();
  }
});

test('a TLS-1.3-only server: only TLS 1.3 is accepted and the hint says so', async () => {
  const f = await fixture();
  try {
    await withServer(node(f, { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' }), async (s) => {
      const r = await probeWith(f, s, { cn: 'c' });
      assert.deepEqual(accepted(r), ['TLSv1.3']);
      assert.deepEqual(
        r.versions.map((v) => v.accepted),
        [false, false, false, true],
      );
      assert.equal(r.clientCertificateRequested, null, 'TLS 1.3 encrypts the CertificateRequest');
      assert.equal(r.diagnosis.outcome.alert?.name, 'protocol_version');
      assert.equal(r.diagnosis.verdict, 'tls-version-mismatch');
      assert.match(r.diagnosis.cause, /we offered TLSv1\.2; the server accepts only TLSv1\.3/);
      assert.match(r.diagnosis.hint, /speaks only TLS 1\.3/);
    });
  } finally {
    f.cleanup();
  }
});

test('a server that still accepts TLS 1.0 and 1.1 is seen to accept them', async () => {
  const f = await fixture();
  try {
    // The server side lowers OpenSSL 3's security level so that it offers TLS 1.0/1.1 at all;
    // the probe's own ClientHellos need no such setting.
    await withServer(
      node(f, { minVersion: 'TLSv1', maxVersion: 'TLSv1.3', ciphers: 'DEFAULT@SECLEVEL=0' }),
      async (s) => {
        const r = await probeWith(f, s, { cn: 'c' });
        assert.deepEqual(accepted(r), ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
        assert.match(r.versions[0]?.detail ?? '', /ServerHello TLSv1 /);
        assert.equal(r.certificateRequest?.readOver, 'TLSv1.2');
        assert.equal(r.diagnosis.verdict, 'ok', 'the call itself stays on TLS 1.2');
        assert.equal(r.exchange.tls?.protocol, 'TLSv1.2');
      },
    );
  } finally {
    f.cleanup();
  }
});

test('a server that closes on connect: closed before the handshake, likely an unregistered IP', async () => {
  const f = await fixture();
  try {
    await withServer(startClosingServer(), async (s) => {
      const r = await probeWith(f, s, { cn: 'c' });
      assert.deepEqual(
        r.versions.map((v) => v.accepted),
        [null, null, null, null],
      );
      assert.equal(r.diagnosis.verdict, 'closed-before-handshake');
      assert.match(r.diagnosis.hint, /source IP it has not registered/);
    });
  } finally {
    f.cleanup();
  }
});

/** One TLS record (TLS 1.2 record version). */
const tlsRecord = (type: number, fragment: Buffer): Buffer =>
  Buffer.concat([
    Buffer.from([type, 3, 3, fragment.length >> 8, fragment.length & 0xff]),
    fragment,
  ]);

test('a warning alert before the ServerHello does not count as refusing the version; a fatal one does', async () => {
  const hello = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7),
    Buffer.from([0, 0xc0, 0x2b, 0]),
  ]);
  const flight = Buffer.concat([
    Buffer.from([2, 0, 0, hello.length]),
    hello,
    Buffer.from([14, 0, 0, 0]),
  ]);
  // unrecognized_name (112) at warning level, as servers send for an SNI they do not know (RFC 6066 §3).
  const warned = await startScriptedServer(
    Buffer.concat([tlsRecord(21, Buffer.from([1, 112])), tlsRecord(22, flight)]),
  );
  const fatal = await startScriptedServer(tlsRecord(21, Buffer.from([2, 40])));
  try {
    const w = await sendClientHello({
      host: 'localhost',
      port: warned.port,
      version: 'TLSv1.2',
      timeoutMs: 10_000,
    });
    assert.equal(w.outcome, 'server-hello', w.detail);
    assert.equal(w.accepted, true);
    assert.equal(w.alert?.name, 'unrecognized_name');
    const f = await sendClientHello({
      host: 'localhost',
      port: fatal.port,
      version: 'TLSv1.2',
      timeoutMs: 10_000,
    });
    assert.deepEqual([f.outcome, f.accepted, f.alert?.name], ['alert', false, 'handshake_failure']);
  } finally {
    await warned.close();
    await fatal.close();
  }
});

test('openssl s_server -Verify 1 -tls1_2: CA names equal the -CAfile, and its alerts are decoded', async () => {
  const f = await fixture();
  try {
    const bundle = join(f.dir, 'trusted.pem');
    writeFileSync(bundle, f.ca.certPem + f.other.certPem);
    await withServer(
      startOpensslServer({
        certPath: f.server.certPath,
        keyPath: f.server.keyPath,
        caFile: bundle,
      }),
      async (s) => {
        const good = await probeWith(f, s, { cn: 'good' });
        assert.equal(good.diagnosis.verdict, 'ok', good.diagnosis.cause);
        assert.deepEqual(good.certificateRequest?.acceptableCaNames, [
          'C=BR, ST=SP, O=Acme Client CA, CN=Acme Client CA',
          'C=BR, ST=SP, O=Other Bank CA, CN=Other Bank CA',
        ]);
        assert.deepEqual(accepted(good), ['TLSv1.2']);
        const expired = await probeWith(f, s, {
          cn: 'old',
          notBefore: new Date(Date.now() - 30 * DAY),
          notAfter: new Date(Date.now() - DAY),
        });
        assert.equal(expired.diagnosis.outcome.alert?.name, 'certificate_expired');
        assert.equal(expired.diagnosis.verdict, 'client-cert-expired');
        const noEku = await probeWith(f, s, { cn: 'srv', profile: 'server_cert' });
        assert.equal(noEku.diagnosis.outcome.alert?.name, 'unsupported_certificate');
        assert.equal(noEku.diagnosis.verdict, 'client-cert-wrong-purpose');
        const none = await probeWith(f, s, null);
        assert.equal(none.diagnosis.verdict, 'client-cert-missing');
      },
    );
    await withServer(
      startOpensslServer({
        certPath: f.server.certPath,
        keyPath: f.server.keyPath,
        caFile: f.other.certPath,
      }),
      async (s) => {
        const r = await probeWith(f, s, { cn: 'good' });
        assert.deepEqual(r.certificateRequest?.acceptableCaNames, [
          'C=BR, ST=SP, O=Other Bank CA, CN=Other Bank CA',
        ]);
        assert.equal(r.diagnosis.outcome.alert?.name, 'unknown_ca');
        assert.equal(r.diagnosis.verdict, 'client-cert-untrusted');
        assert.match(r.diagnosis.cause, /not among the CA names the server accepts/);
      },
    );
  } finally {
    f.cleanup();
  }
});

test('mtls probe (CLI): the report, --json, and exit 6 when the call fails', async () => {
  const f = await fixture();
  try {
    const leaf = await makeLeaf(f.dir, f.ca, { cn: 'cli' });
    await withServer(node(f, { ca: [f.other.certPem] }), async (s) => {
      const args = [
        'probe',
        `localhost:${s.port}`,
        '--cert',
        leaf.certPath,
        '--key',
        leaf.keyPath,
        '--ca-file',
        f.ca.certPath,
      ];
      const text = await runCli(args);
      assert.equal(text.code, 6, text.stderr);
      assert.match(text.stdout, /1\. TLS versions the server accepts\n {3}TLS 1\.0 +no/);
      assert.match(
        text.stdout,
        /3\. Acceptable client CA names.*\n {3}C=BR, ST=SP, O=Other Bank CA, CN=Other Bank CA/,
      );
      assert.match(text.stdout, /issuer listed: no/);
      assert.match(
        text.stdout,
        /Verdict: client-cert-untrusted\nCause: +our certificate is issued by/,
      );
      const json = await runCli([...args, '--json']);
      assert.equal(json.code, 6);
      const report = JSON.parse(json.stdout) as ProbeResult;
      assert.equal(report.diagnosis.verdict, 'client-cert-untrusted');
      assert.equal(report.versions.length, 4);
    });
    // A working mTLS endpoint whose path answers 404: the probe succeeds (exit 0) and reports the status; --fail makes it exit 6.
    await withServer(node(f), async (s) => {
      const args = [
        'probe',
        `localhost:${s.port}`,
        '--path',
        '/status/404',
        '--cert',
        leaf.certPath,
        '--key',
        leaf.keyPath,
        '--ca-file',
        f.ca.certPath,
        '--json',
      ];
      const ok = await runCli(args);
      assert.equal(ok.code, 0, ok.stderr);
      const report = JSON.parse(ok.stdout) as ProbeResult;
      assert.deepEqual([report.diagnosis.verdict, report.exchange.status], ['http-error', 404]);
      assert.match(report.diagnosis.hint, /HTTP 404/);
      assert.equal((await runCli([...args, '--fail'])).code, 6);
    });
  } finally {
    f.cleanup();
  }
});
