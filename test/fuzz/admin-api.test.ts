/**
 * Posts fuzzed bodies to a real admin API listener (SQLite registry, bearer
 * token): CA chain and CRL uploads (PEM, DER, JSON `{pem}`) and the JSON
 * bodies of institutions, IPs, rules and status changes. Every answer must be
 * a success or a 4xx carrying a catalogue code and a hint; never a 5xx.
 */
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, type ErrorCode } from '../../src/errors/codes.js';
import { MtlsError } from '../../src/errors/index.js';
import { startAdminServer, type RunningAdmin } from '../../src/gateway/admin/server.js';
import {
  openSqliteRegistry,
  type SqliteRegistry,
} from '../../src/gateway/registry/sqlite-registry.js';
import { encodePem } from '../../src/pki/pem.js';
import { makeCa, tempDir, type TestCa } from '../helpers/pki.js';
import { pkiSeeds, type PkiSeeds } from './seeds.js';
import { LONG_RUN, fuzz, selected } from './harness.js';
import { Teardown } from '../helpers/teardown.js';

const TOKEN = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';

describe('fuzz: admin API request bodies', () => {
  const teardown = new Teardown();
  let s: PkiSeeds;
  let tmp: ReturnType<typeof tempDir>;
  let registry: SqliteRegistry;
  let admin: RunningAdmin;
  /** A root and issuing CA registered nowhere: the valid uploads of admin-cas. */
  let uploadRoot: TestCa;
  let uploadIssuing: TestCa;
  before(async () => {
    s = await pkiSeeds();
    teardown.defer(s.cleanup);
    tmp = tempDir('mtls-fuzz-admin-');
    teardown.defer(tmp.cleanup);
    uploadRoot = await makeCa(tmp.dir, { name: 'Fuzz Upload Root' });
    uploadIssuing = await makeCa(tmp.dir, { name: 'Fuzz Upload Issuing CA', issuer: uploadRoot });
    registry = teardown.use(await openSqliteRegistry(join(tmp.dir, 'registry.db')));
    const tokenFile = join(tmp.dir, 'admin.token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    admin = teardown.use(
      await startAdminServer({ registry, port: 0, tokenFile, bodyLimit: 64 * 1024 }),
    );
    await send(
      'POST',
      '/v1/institutions',
      'application/json',
      Buffer.from('{"id":"acme","name":"Acme"}'),
    );
    await send(
      'POST',
      '/v1/institutions/acme/cas',
      'application/x-pem-file',
      Buffer.from(s.root.certPem),
    );
    await send(
      'POST',
      '/v1/institutions',
      'application/json',
      Buffer.from('{"id":"fresh","name":"Fresh"}'),
    );
  });
  after(() => teardown.run());

  /** One request; a 4xx becomes the MtlsError it carries, anything else unexpected an Error. */
  async function send(method: string, path: string, type: string, body: Buffer): Promise<unknown> {
    const res = await fetch(`${admin.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': type },
      body,
    });
    const text = await res.text();
    if (res.status < 400) return res.status;
    if (res.status >= 500) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
    const err = (JSON.parse(text) as { error?: { code?: string; message?: string; hint?: string } })
      .error;
    if (!err?.code || !(err.code in ERROR_CODES))
      throw new Error(`${method} ${path} answered ${res.status} without a catalogue code: ${text}`);
    throw new MtlsError(err.code as ErrorCode, err.message ?? '', { hint: err.hint ?? '' });
  }
  const uploadTypes = [
    'application/x-pem-file',
    'application/octet-stream',
    'application/pkix-crl',
    'application/json',
  ];
  /** The same bytes as a raw upload or inside `{"pem": …}`, by the input's length. */
  const upload = (method: string, path: string) => (b: Buffer) => {
    const type = uploadTypes[b.length % uploadTypes.length] as string;
    return send(
      method,
      path,
      type,
      type === 'application/json' ? Buffer.from(JSON.stringify({ pem: b.toString('latin1') })) : b,
    );
  };
  const target = (name: string, run: () => Promise<unknown>): void => {
    it(name, { skip: !selected(name) }, async () => {
      await run();
    });
  };

  /**
   * Uploads to an institution that holds no CA, then removes what was stored:
   * a CA belongs to one institution and is refused as a duplicate once
   * registered, so without this every valid input after the first would
   * exercise only that refusal.
   */
  const uploadToEmpty = async (b: Buffer): Promise<unknown> => {
    const status = await upload('POST', '/v1/institutions/fresh/cas')(b);
    const res = await fetch(`${admin.url}/v1/institutions/fresh/cas`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const { items } = (await res.json()) as { items: Array<{ id: number }> };
    for (const { id } of items) {
      const del = await fetch(`${admin.url}/v1/institutions/fresh/cas/${id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      assert.ok(del.ok, `DELETE chain ${id} answered ${del.status}`);
    }
    return status;
  };
  target('admin-cas', () =>
    fuzz({
      name: 'admin-cas',
      seeds: [
        Buffer.from(uploadIssuing.certPem + uploadRoot.certPem),
        Buffer.from(uploadRoot.certPem),
        Buffer.from(uploadRoot.certificate.rawData),
      ],
      runs: 500,
      parse: uploadToEmpty,
    }),
  );
  target('admin-crls', () =>
    fuzz({
      name: 'admin-crls',
      seeds: [...s.crls.map((d) => Buffer.from(encodePem('X509 CRL', d))), ...s.crls],
      runs: 500,
      parse: upload('PUT', '/v1/institutions/acme/crls'),
    }),
  );
  it('a corrupted CRL upload is a 422 with the reason not_a_crl, and nothing is stored', async () => {
    const stored = async (): Promise<unknown[]> =>
      (
        (await (
          await fetch(`${admin.url}/v1/institutions/acme/crls`, {
            headers: { authorization: `Bearer ${TOKEN}` },
          })
        ).json()) as { items: unknown[] }
      ).items;
    const before = await stored();
    const crl = Buffer.from(s.crls[0] as Buffer);
    const mid = crl.length >> 1;
    crl.writeUInt8(crl.readUInt8(mid) ^ 0xff, mid);
    const truncated = crl.subarray(0, crl.length - 9);
    const res = await fetch(`${admin.url}/v1/institutions/acme/crls`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/pkix-crl' },
      body: truncated,
    });
    const body = (await res.json()) as {
      error: { code: string; hint: string; details?: { check?: string } };
    };
    assert.equal(res.status, 422);
    assert.equal(body.error.code, 'MTLS_ONBOARD_REJECTED');
    assert.equal(body.error.details?.check, 'not_a_crl');
    assert.ok(body.error.hint.length > 0);
    assert.deepEqual(await stored(), before);
  });

  /** Every admin route with a JSON body, each with a body it accepts (the fuzz seeds). */
  const bodies: [string, string, string][] = [
    ['POST', '/v1/institutions', '{"id":"beta-bank","name":"Beta Bank"}'],
    ['PATCH', '/v1/institutions/acme', '{"status":"suspended"}'],
    ['POST', '/v1/institutions/acme/ips', '{"cidr":"203.0.113.0/24"}'],
    ['POST', '/v1/institutions/acme/rules', '{"kind":"subject_cn","value":"client.acme.example"}'],
    [
      'POST',
      '/v1/institutions/acme/rules',
      `{"kind":"fingerprint_sha256","value":"${'AB:'.repeat(31)}CD"}`,
    ],
    [
      'POST',
      '/v1/institutions/acme/crl-urls',
      '{"url":"http://127.0.0.1:9/acme.crl","intervalSeconds":3600}',
    ],
  ];
  it(
    'the admin-json seeds are requests the API accepts',
    { skip: !selected('admin-json') },
    async () => {
      // Seeds that the API refuses would leave the accepting paths unfuzzed.
      for (const [method, path, body] of bodies) {
        const status = await send(method, path, 'application/json', Buffer.from(body));
        assert.ok(
          typeof status === 'number' && status < 300,
          `${method} ${path} ${body}: ${String(status)}`,
        );
      }
    },
  );
  target('admin-json', () => {
    return fuzz({
      name: 'admin-json',
      seeds: bodies.map(([, , b]) => Buffer.from(b)),
      runs: 1000,
      parse: (b) => {
        const [method, path] = bodies[b.length % bodies.length] as [string, string, string];
        return send(method, path, 'application/json', b);
      },
    });
  });
  it(
    'round trip: an institution created with a random id and name reads back with them, and is listed once',
    { skip: !selected('roundtrip') },
    async () => {
      const get = async (path: string): Promise<unknown> =>
        (
          await fetch(`${admin.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })
        ).json();
      await fc.assert(
        fc.asyncProperty(
          fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$/),
          // Printable ASCII without surrounding spaces.
          fc.stringMatching(/^[!-~]([ -~]{0,58}[!-~])?$/),
          async (id, name) => {
            const status = await send(
              'POST',
              '/v1/institutions',
              'application/json',
              Buffer.from(JSON.stringify({ id: `rt-${id}`, name })),
            ).catch((e: unknown) => e);
            if (status instanceof MtlsError) {
              // The same id drawn twice is a conflict, never anything else.
              assert.equal(status.code, 'MTLS_CONFLICT', status.message);
              return;
            }
            assert.equal(status, 201);
            const back = (await get(`/v1/institutions/rt-${encodeURIComponent(id)}`)) as {
              institution: { id: string; name: string; status: string };
            };
            assert.deepEqual(back.institution, {
              ...back.institution,
              id: `rt-${id}`,
              name,
              status: 'active',
            });
            const listed = (
              (await get('/v1/institutions')) as { items: { id: string }[] }
            ).items.filter((i) => i.id === `rt-${id}`);
            assert.equal(listed.length, 1);
          },
        ),
        { seed: 0x13f022, numRuns: LONG_RUN ? 2000 : 60 },
      );
    },
  );
});
