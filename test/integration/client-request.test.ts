/**
 * `mtls request` and the library behind it, against local Node mTLS servers:
 * .pfx files made by openssl (modern AES and RC2-40) and PEM credentials,
 * the wrong password, a server that rejects the client, -d @file, -o, -i,
 * --fail, --json, --resolve, and the dispatcher / https.Agent for apps.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request as undiciRequest } from 'undici';
import { createMtlsAgent, createMtlsDispatcher } from '../../src/client/dispatcher.js';
import { mtlsRequest } from '../../src/client/request.js';
import { loadClientCredentials } from '../../src/tls/credentials.js';
import { isMtlsError } from '../../src/errors/index.js';
import {
  makeCa,
  makeLeaf,
  makeServerLeaf,
  tempDir,
  type TestCa,
  type TestLeaf,
} from '../helpers/pki.js';
import { parseEcho, startNodeServer, type TestServer } from '../helpers/tls-servers.js';
import { jsonError, run, runCli } from '../helpers/cli.js';

interface Fixture {
  dir: string;
  ca: TestCa;
  other: TestCa;
  client: TestLeaf;
  pfx: string;
  passwordFile: string;
  server: TestServer;
  cleanup: () => Promise<void>;
}

const PASSWORD = 'correct horse: "battery"';

/** A CA, a client certificate, its .pfx (made by openssl), and a TLS-1.2 mTLS server trusting the CA. */
async function fixture(serverCa?: 'other'): Promise<Fixture> {
  const { dir, cleanup } = tempDir('mtlskit-request-');
  const ca = await makeCa(dir, { name: 'Acme Client CA' });
  const other = await makeCa(dir, { name: 'Other Bank CA' });
  const serverLeaf = await makeServerLeaf(dir, ca);
  const client = await makeLeaf(dir, ca, { cn: 'acme-client' });
  const passwordFile = join(dir, 'pfx.pass');
  writeFileSync(passwordFile, `${PASSWORD}\n`);
  const pfx = join(dir, 'client.pfx');
  const r = run('openssl', [
    'pkcs12',
    '-export',
    '-inkey',
    client.keyPath,
    '-in',
    client.certPath,
    '-certfile',
    ca.certPath,
    '-out',
    pfx,
    '-passout',
    `file:${passwordFile}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const server = await startNodeServer({
    certPem: serverLeaf.certPem,
    keyPem: serverLeaf.keyPem,
    ca: [serverCa === 'other' ? other.certPem : ca.certPem],
  });
  return {
    dir,
    ca,
    other,
    client,
    pfx,
    passwordFile,
    server,
    cleanup: async () => {
      await server.close();
      cleanup();
    },
  };
}

test('library: a good call via an openssl .pfx (modern and RC2-40) and via PEM', async () => {
  const f = await fixture();
  try {
    const legacy = join(f.dir, 'client-rc2.pfx');
    const r = run('openssl', [
      'pkcs12',
      '-export',
      '-legacy',
      '-inkey',
      f.client.keyPath,
      '-in',
      f.client.certPath,
      '-out',
      legacy,
      '-passout',
      `file:${f.passwordFile}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      run('openssl', [
        'pkcs12',
        '-info',
        '-noout',
        '-legacy',
        '-in',
        legacy,
        '-passin',
        `file:${f.passwordFile}`,
      ]).stderr,
      /RC2/,
    );
    const sources = [
      { pfxPath: f.pfx, password: PASSWORD },
      { pfxPath: legacy, password: PASSWORD },
      { certPath: f.client.certPath, keyPath: f.client.keyPath },
    ];
    for (const source of sources) {
      const credentials = await loadClientCredentials(source);
      const res = await mtlsRequest({
        url: `${f.server.url}/v1/ping`,
        credentials,
        ca: [f.ca.certPem],
      });
      assert.equal(res.status, 200);
      assert.equal(parseEcho(res.body.toString()).client, 'acme-client');
      assert.equal(res.tls.protocol, 'TLSv1.2');
      assert.equal(res.tls.clientCertificateRequested, true);
      assert.deepEqual(res.tls.acceptableCaNames, [
        'C=BR, ST=SP, O=Acme Client CA, CN=Acme Client CA',
      ]);
      assert.equal(
        res.tls.clientCertificateSent?.[0]?.subject,
        'C=BR, ST=SP, O=Test, CN=acme-client',
      );
      assert.equal(res.diagnosis.verdict, 'ok');
    }
    assert.deepEqual(f.server.seen, ['acme-client', 'acme-client', 'acme-client']);
  } finally {
    await f.cleanup();
  }
});

test('library: a rejected client gets an MtlsError whose message names the cause', async () => {
  const f = await fixture('other');
  try {
    const credentials = await loadClientCredentials({ pfxPath: f.pfx, password: PASSWORD });
    await assert.rejects(
      mtlsRequest({ url: f.server.url, credentials, ca: [f.ca.certPem] }),
      (e) => {
        assert.ok(isMtlsError(e, 'MTLS_TLS_CLIENT_REJECTED'));
        assert.equal(e.exitCode, 6);
        assert.match(
          e.message,
          /issued by C=BR, ST=SP, O=Acme Client CA, CN=Acme Client CA.*not among the CA names the server accepts/,
        );
        assert.equal(e.details?.verdict, 'client-cert-untrusted');
        return true;
      },
    );
    await assert.rejects(loadClientCredentials({ pfxPath: f.pfx, password: 'wrong' }), (e) =>
      isMtlsError(e, 'MTLS_BAD_PASSPHRASE'),
    );
  } finally {
    await f.cleanup();
  }
});

test('library: --resolve keeps the host name for SNI and verification', async () => {
  const f = await fixture();
  try {
    const named = await makeServerLeaf(f.dir, f.ca, {
      cn: 'api.mtls.test',
      sans: [{ type: 'dns', value: 'api.mtls.test' }],
      file: 'api',
    });
    const s = await startNodeServer({
      certPem: named.certPem,
      keyPem: named.keyPem,
      ca: [f.ca.certPem],
    });
    try {
      const credentials = await loadClientCredentials({
        certPath: f.client.certPath,
        keyPath: f.client.keyPath,
      });
      const res = await mtlsRequest({
        url: `https://api.mtls.test:${s.port}/`,
        credentials,
        ca: [f.ca.certPem],
        resolve: [{ host: 'api.mtls.test', port: s.port, address: '127.0.0.1' }],
      });
      assert.equal(res.status, 200);
      assert.equal(res.tls.servername, 'api.mtls.test');
      // The same server called by IP: its certificate does not name 127.0.0.1.
      await assert.rejects(
        mtlsRequest({ url: `https://127.0.0.1:${s.port}/`, credentials, ca: [f.ca.certPem] }),
        (e) =>
          isMtlsError(e, 'MTLS_TLS_SERVER_UNTRUSTED') &&
          e.details?.verdict === 'server-name-mismatch',
      );
    } finally {
      await s.close();
    }
  } finally {
    await f.cleanup();
  }
});

test('library: an untrusted server and a plain-HTTP port are named as such', async () => {
  const f = await fixture();
  const plain = createHttpServer((_req, res) => res.end('plain'));
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  try {
    const credentials = await loadClientCredentials({
      certPath: f.client.certPath,
      keyPath: f.client.keyPath,
    });
    // Default trust is the system roots, which do not include the test CA.
    await assert.rejects(mtlsRequest({ url: f.server.url, credentials }), (e) => {
      assert.ok(isMtlsError(e, 'MTLS_TLS_SERVER_UNTRUSTED'));
      assert.equal(e.details?.verdict, 'server-untrusted');
      assert.match(e.hint, /--ca-file FILE/);
      return true;
    });
    const port = (plain.address() as AddressInfo).port;
    await assert.rejects(mtlsRequest({ url: `https://localhost:${port}/`, credentials }), (e) => {
      assert.ok(isMtlsError(e, 'MTLS_TLS_HANDSHAKE'));
      assert.equal(e.details?.verdict, 'not-tls');
      assert.match(e.message, /HTTP\/1\.1 400/);
      return true;
    });
  } finally {
    await new Promise<void>((resolve) => plain.close(() => resolve()));
    await f.cleanup();
  }
});

test('library: a server that accepts us but never answers is a timeout, not a rejection', async () => {
  const f = await fixture();
  const leaf = await makeServerLeaf(f.dir, f.ca, { file: 'slow' });
  const slow = await startNodeServer({
    certPem: leaf.certPem,
    keyPem: leaf.keyPem,
    ca: [f.ca.certPem],
    hang: true,
  });
  try {
    const credentials = await loadClientCredentials({
      certPath: f.client.certPath,
      keyPath: f.client.keyPath,
    });
    await assert.rejects(
      mtlsRequest({ url: `${slow.url}/slow`, credentials, ca: [f.ca.certPem], timeoutMs: 1000 }),
      (e) => {
        assert.ok(isMtlsError(e, 'MTLS_TIMEOUT'), String(e));
        assert.equal(e.details?.verdict, 'timeout');
        assert.equal((e.details.outcome as { kind: string }).kind, 'timeout');
        assert.match(e.message, /the mTLS handshake completed .* no HTTP answer in time/);
        assert.match(e.hint, /retry with a longer --timeout/);
        return true;
      },
    );
  } finally {
    await slow.close();
    await f.cleanup();
  }
});

test('library: createMtlsDispatcher (undici) and createMtlsAgent (https.Agent) make the same call', async () => {
  const f = await fixture();
  try {
    const credentials = await loadClientCredentials({ pfxPath: f.pfx, password: PASSWORD });
    const dispatcher = createMtlsDispatcher({ credentials, ca: [f.ca.certPem] });
    try {
      const res = await undiciRequest(`${f.server.url}/undici`, { dispatcher });
      assert.equal(res.statusCode, 200);
      assert.equal(((await res.body.json()) as { path: string }).path, '/undici');
    } finally {
      await dispatcher.close();
    }
    const agent = createMtlsAgent({ credentials, ca: [f.ca.certPem], keepAlive: false });
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(`${f.server.url}/agent`, { agent }, (res) => {
        let data = '';
        res.setEncoding('utf8').on('data', (c: string) => (data += c));
        res.on('end', () => resolve(data));
      });
      req.on('error', reject);
      req.end();
    });
    agent.destroy();
    assert.equal(parseEcho(body).client, 'acme-client');
    // Pinned to TLS 1.2 by default: a TLS-1.3-only server is refused.
    const leaf = await makeServerLeaf(f.dir, f.ca, { file: 'srv13' });
    const s13 = await startNodeServer({
      certPem: leaf.certPem,
      keyPem: leaf.keyPem,
      ca: [f.ca.certPem],
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
    });
    const d13 = createMtlsDispatcher({ credentials, ca: [f.ca.certPem] });
    try {
      await assert.rejects(undiciRequest(s13.url, { dispatcher: d13 }), /protocol version/);
    } finally {
      await d13.close();
      await s13.close();
    }
  } finally {
    await f.cleanup();
  }
});

test('mtls request (CLI): .pfx and PEM calls, -d @file, -X, -H, -o, -v, --json', async () => {
  const f = await fixture();
  try {
    const pfxArgs = ['--pfx', f.pfx, '--password-file', f.passwordFile, '--ca-file', f.ca.certPath];
    const viaPfx = await runCli(['request', `${f.server.url}/hello`, ...pfxArgs]);
    assert.equal(viaPfx.code, 0, viaPfx.stderr);
    assert.equal(parseEcho(viaPfx.stdout).client, 'acme-client');

    const bodyFile = join(f.dir, 'payment.json');
    writeFileSync(bodyFile, '{"amount": 10}\n');
    const out = join(f.dir, 'answer.json');
    const pem = [
      '--cert',
      f.client.certPath,
      '--key',
      f.client.keyPath,
      '--ca-file',
      f.ca.certPath,
    ];
    const put = await runCli([
      'request',
      `${f.server.url}/pay`,
      '-X',
      'PUT',
      '-H',
      'X-Request-Id: 42',
      '-d',
      `@${bodyFile}`,
      '-o',
      out,
      '-v',
      ...pem,
    ]);
    assert.equal(put.code, 0, put.stderr);
    assert.equal(put.stdout, '', 'with -o the body goes to the file only');
    const echoed = parseEcho(readFileSync(out, 'utf8'));
    assert.deepEqual(
      [echoed.method, echoed.body, echoed.contentType],
      ['PUT', '{"amount": 10}\n', 'application/json'],
    );
    assert.match(put.stderr, /\* TLS TLSv1\.2, cipher ECDHE-ECDSA-AES\d+-GCM-SHA\d+/);
    assert.match(
      put.stderr,
      /\* Server certificate chain:\n\* +0 C=BR, ST=SP, O=Test, CN=localhost +\[expires \d{4}-\d\d-\d\d \(\d+ days\)/,
    );
    assert.match(
      put.stderr,
      /\* Server asked for a client certificate; acceptable CA names:\n\* +C=BR, ST=SP, O=Acme Client CA, CN=Acme Client CA/,
    );
    assert.match(put.stderr, /\* We sent:\n\* +0 C=BR, ST=SP, O=Test, CN=acme-client/);

    const again = await runCli(['request', `${f.server.url}/pay`, '-o', out, ...pem]);
    assert.equal(again.code, 5, 'an existing -o file is not replaced without --force');
    assert.match(again.stderr, /error\[MTLS_FILE_EXISTS\]/);

    // -d is repeatable and joined with &, as in curl; @- reads stdin.
    const form = await runCli(
      ['request', `${f.server.url}/form`, '-d', 'a=1', '-d', '@-', '-d', `@${bodyFile}`, ...pem],
      { input: 'b=2' },
    );
    assert.equal(form.code, 0, form.stderr);
    const formEcho = parseEcho(form.stdout);
    assert.deepEqual(
      [formEcho.body, formEcho.contentType],
      ['a=1&b=2&{"amount": 10}\n', 'application/x-www-form-urlencoded'],
    );

    const json = await runCli(['request', `${f.server.url}/j`, '--json', ...pem]);
    const parsed = JSON.parse(json.stdout) as {
      status: number;
      body: { text: string };
      tls: { protocol: string };
      diagnosis: { verdict: string };
    };
    assert.equal(parsed.status, 200);
    assert.equal(parseEcho(parsed.body.text).path, '/j');
    assert.equal(parsed.tls.protocol, 'TLSv1.2');
    assert.equal(parsed.diagnosis.verdict, 'ok');
  } finally {
    await f.cleanup();
  }
});

test('mtls request (CLI): wrong .pfx password, key mismatch, rejected client, -i, --fail', async () => {
  const f = await fixture('other');
  try {
    const wrongPw = join(f.dir, 'wrong.pass');
    writeFileSync(wrongPw, 'not the password\n');
    const bad = await runCli(['request', f.server.url, '--pfx', f.pfx, '--password-file', wrongPw]);
    assert.equal(bad.code, 4);
    assert.match(bad.stderr, /error\[MTLS_BAD_PASSPHRASE\]: .*client\.pfx.*password is wrong/);
    assert.doesNotMatch(
      bad.stderr,
      /not the password|at \w+ \(/,
      'no password and no stack trace in the output',
    );

    const otherLeaf = await makeLeaf(f.dir, f.ca, { cn: 'someone-else' });
    const mismatch = await runCli([
      'request',
      f.server.url,
      '--cert',
      f.client.certPath,
      '--key',
      otherLeaf.keyPath,
    ]);
    assert.equal(mismatch.code, 4);
    assert.match(mismatch.stderr, /error\[MTLS_KEY_MISMATCH\]/);

    const rejected = await runCli([
      'request',
      f.server.url,
      '--pfx',
      f.pfx,
      '--password-file',
      f.passwordFile,
      '--ca-file',
      f.ca.certPath,
    ]);
    assert.equal(rejected.code, 6);
    assert.match(
      rejected.stderr,
      /error\[MTLS_TLS_CLIENT_REJECTED\]: .*our certificate is issued by C=BR, ST=SP, O=Acme Client CA, CN=Acme Client CA, which is not among the CA names the server accepts/,
    );
    assert.match(
      rejected.stderr,
      /hint: The server does not trust the CA that issued your certificate \(it accepts: C=BR, ST=SP, O=Other Bank CA, CN=Other Bank CA/,
    );
  } finally {
    await f.cleanup();
  }
  const g = await fixture();
  try {
    const pem = [
      '--cert',
      g.client.certPath,
      '--key',
      g.client.keyPath,
      '--ca-file',
      g.ca.certPath,
    ];
    const plain = await runCli(['request', `${g.server.url}/status/404`, '-i', ...pem]);
    assert.equal(plain.code, 0, 'an HTTP error is not an exit code without --fail');
    assert.match(
      plain.stdout,
      /^HTTP\/1\.1 404 Not Found\ncontent-type: application\/json\n(.*\n)*x-test: yes\n(.*\n)*\n\{"ok":true,"method":"GET","path":"\/status\/404"/,
    );
    const outFile = join(g.dir, 'never.json');
    const failing = await runCli([
      'request',
      `${g.server.url}/status/404`,
      '--fail',
      '-o',
      outFile,
      ...pem,
    ]);
    assert.equal(failing.code, 6);
    assert.equal(failing.stdout, '');
    assert.match(failing.stderr, /error\[MTLS_HTTP_STATUS\]: .*HTTP 404 Not Found/);
    assert.equal(existsSync(outFile), false, 'a failed command leaves no partial output');
    // Exit 6 is shared with network failures: --json tells them apart by the status.
    const failingJson = await runCli([
      'request',
      `${g.server.url}/status/404`,
      '--fail',
      '--json',
      ...pem,
    ]);
    assert.equal(failingJson.code, 6);
    assert.deepEqual(jsonError(failingJson.stdout).details, {
      status: 404,
      statusText: 'Not Found',
    });
    const help = await runCli(['request', '--help']);
    assert.match(
      help.stdout.replace(/\s+/g, ' '),
      /Exit code 6 is shared: tell the cases apart by the error code \(MTLS_HTTP_STATUS for a plain HTTP error with --fail, MTLS_TLS_CLIENT_REJECTED for a refused certificate\) or, with --json, by error\.details: only a plain HTTP error carries status without verdict\./,
    );
  } finally {
    await g.cleanup();
  }
});
