/**
 * The client against a real nginx, the most common mTLS front end. With
 * `ssl_verify_client on` nginx completes the handshake and answers a missing
 * or refused certificate with HTTP 400 pages; with `optional` set-ups it
 * answers 495/496. `mtls request` must fail (exit 6) with the diagnosis, and
 * `mtls probe` must connect the refusal to what it found about the
 * certificate, rather than calling it an API error.
 */
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mtlsRequest } from '../../src/client/request.js';
import { probeServer } from '../../src/client/probe.js';
import { MtlsError } from '../../src/errors/index.js';
import { loadClientCredentials, type ClientCredentials } from '../../src/tls/credentials.js';
import { runCli } from '../helpers/cli.js';
import { haveNginx, startNginx, type RunningNginx } from '../helpers/nginx.js';
import {
  makeCa,
  makeLeaf,
  makeServerLeaf,
  tempDir,
  type TestCa,
  type TestLeaf,
} from '../helpers/pki.js';
import { Teardown } from '../helpers/teardown.js';

const DAY = 86_400_000;

/** Asserts a refused mTLS call with `verdict`, whose cause matches `re`. */
function refused(verdict: string, re: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof MtlsError, `expected MtlsError, got ${String(e)}`);
    assert.equal(e.code, 'MTLS_TLS_CLIENT_REJECTED', e.message);
    assert.equal(e.details?.verdict, verdict, e.message);
    assert.match(e.message, re);
    return true;
  };
}

describe(
  'the client behind nginx',
  { skip: haveNginx() ? false : 'nginx is not installed (apt-get install nginx-light)' },
  () => {
    const teardown = new Teardown();
    let dir: string;
    let ca: TestCa;
    let other: TestCa;
    let good: TestLeaf;
    let expired: TestLeaf;
    let stranger: TestLeaf;
    let on: RunningNginx;
    let optional: RunningNginx;
    const creds = (l: TestLeaf): Promise<ClientCredentials> =>
      loadClientCredentials({ certPath: l.certPath, keyPath: l.keyPath });

    before(async () => {
      const tmp = tempDir('mtlskit-nginx-');
      dir = tmp.dir;
      teardown.defer(tmp.cleanup);
      ca = await makeCa(dir, { name: 'Acme Client CA' });
      other = await makeCa(dir, { name: 'Other Bank CA' });
      const server = await makeServerLeaf(dir, ca);
      good = await makeLeaf(dir, ca, { cn: 'good-client' });
      expired = await makeLeaf(dir, ca, {
        cn: 'expired-client',
        notBefore: new Date(Date.now() - 40 * DAY),
        notAfter: new Date(Date.now() - 5 * DAY),
      });
      stranger = await makeLeaf(dir, other, { cn: 'stranger' });
      const tls = `    ssl_certificate ${server.certPath};
    ssl_certificate_key ${server.keyPath};
    ssl_client_certificate ${ca.certPath};
    ssl_verify_depth 2;`;
      on = await startNginx(
        dir,
        `${tls}
    ssl_verify_client on;
    location / { return 200 "hello $ssl_client_s_dn\\n"; }`,
      );
      teardown.defer(() => on.stop());
      // The usual "optional" set-up: nginx lets the request in and the
      // location turns $ssl_client_verify into its own 495/496 status pages.
      optional = await startNginx(
        dir,
        `${tls}
    ssl_verify_client optional;
    error_page 495 =495 /cert-error;
    error_page 496 =496 /no-cert;
    location = /cert-error { internal; return 495 "client certificate refused\\n"; }
    location = /no-cert { internal; return 496 "client certificate required\\n"; }
    location /open { return 200 "open\\n"; }
    location / {
      if ($ssl_client_verify = NONE) { return 496; }
      if ($ssl_client_verify != SUCCESS) { return 495; }
      return 200 "hello $ssl_client_s_dn\\n";
    }`,
      );
      teardown.defer(() => optional.stop());
    });
    after(() => teardown.run());

    const url = (n: RunningNginx, path = '/'): string => `https://localhost:${n.port}${path}`;

    it('a good certificate gets 200 through both set-ups', async () => {
      for (const n of [on, optional]) {
        const r = await mtlsRequest({
          url: url(n),
          ca: [ca.certPem],
          credentials: await creds(good),
        });
        assert.equal(r.status, 200);
        assert.equal(r.diagnosis.verdict, 'ok');
        assert.match(r.body.toString(), /CN=good-client/);
      }
    });

    it('ssl_verify_client on, no certificate: nginx 400 is client-cert-missing, not an API error', async () => {
      await assert.rejects(
        mtlsRequest({ url: url(on), ca: [ca.certPem] }),
        refused(
          'client-cert-missing',
          /nginx answered HTTP 400 "No required SSL certificate was sent".*we sent none/,
        ),
      );
    });

    it('ssl_verify_client on, expired certificate: the verdict names the expiry the client found', async () => {
      await assert.rejects(
        mtlsRequest({ url: url(on), ca: [ca.certPem], credentials: await creds(expired) }),
        refused('client-cert-expired', /"The SSL certificate error".*expired/),
      );
    });

    it('ssl_verify_client on, a certificate from a CA nginx does not list: client-cert-untrusted naming our issuer', async () => {
      await assert.rejects(
        mtlsRequest({ url: url(on), ca: [ca.certPem], credentials: await creds(stranger) }),
        refused(
          'client-cert-untrusted',
          /issued by C=BR, .*CN=Other Bank CA, which is not among the CA names the server accepts/,
        ),
      );
    });

    it('optional set-up: bare 496 and 495 statuses are recognised too', async () => {
      await assert.rejects(
        mtlsRequest({ url: url(optional), ca: [ca.certPem] }),
        refused('client-cert-missing', /HTTP 496/),
      );
      await assert.rejects(
        mtlsRequest({ url: url(optional), ca: [ca.certPem], credentials: await creds(expired) }),
        refused('client-cert-expired', /HTTP 495/),
      );
    });

    it('mtls request exits 6 with the diagnosis; without a certificate to a server that asked, it warns', async () => {
      const r = await runCli([
        'request',
        url(on),
        '--ca-file',
        ca.certPath,
        '--cert',
        expired.certPath,
        '--key',
        expired.keyPath,
      ]);
      assert.equal(r.code, 6, r.stderr);
      assert.match(
        r.stderr,
        /^error\[MTLS_TLS_CLIENT_REJECTED\]: .*"The SSL certificate error".*expired/m,
      );
      assert.match(
        r.stderr,
        /^hint: Your certificate has expired: issue a new one from the same CA \(`mtls ca issue NAME`\) and use it; the provider needs nothing new as long as the CA chain is unchanged\.$/m,
      );
      assert.equal(r.stdout, '', 'the refusal page is not printed as if it were the answer');

      const open = await runCli(['request', url(optional, '/open'), '--ca-file', ca.certPath]);
      assert.equal(open.code, 0, open.stderr);
      assert.equal(open.stdout, 'open\n');
      assert.match(
        open.stderr,
        /the server asked for a client certificate and none was configured/,
      );
    });

    it('mtls probe uses what it found about the certificate for its verdict', async () => {
      const r = await probeServer({
        target: `localhost:${on.port}`,
        ca: [ca.certPem],
        credentials: await creds(expired),
        timeoutMs: 10_000,
      });
      assert.equal(r.diagnosis.verdict, 'client-cert-expired');
      assert.equal(r.diagnosis.ok, false);
      assert.match(r.diagnosis.cause, /nginx answered HTTP 400/);
    });
  },
);
