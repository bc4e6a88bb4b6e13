/**
 * The client reads the gateway's 403 reason codes: every code it maps is one
 * the gateway can actually send, and the certificate codes are recognised.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { recognizeCertificateRefusal } from '../../src/client/http-refusal.js';
import { AUDIT_REASONS } from '../../src/gateway/registry/types.js';

describe('client: mtlskit refusal codes', () => {
  test('the gateway codes for a CA certificate and a weak key are certificate refusals', () => {
    assert.deepEqual(recognizeCertificateRefusal(403, '{"error":"ca_certificate"}\n'), {
      kind: 'certificate-refused',
      reason: 'wrong-purpose',
      server: 'mtlskit',
      said: 'HTTP 403 with reason ca_certificate',
    });
    assert.equal(
      recognizeCertificateRefusal(403, '{"error":"weak_key"}')?.kind,
      'certificate-refused',
    );
    assert.equal(
      recognizeCertificateRefusal(403, '{"error":"ca_as_client"}'),
      undefined,
      'a code the gateway never sends is not guessed',
    );
    assert.equal(recognizeCertificateRefusal(403, '{"error":"upstream_error"}'), undefined);
  });

  test("the gateway's request id is carried into the diagnosis, and only when it is a UUID", () => {
    const id = '3f2b8c1e-5a7d-4e2f-9b1c-0d4e6f8a2b3c';
    assert.deepEqual(
      recognizeCertificateRefusal(403, `{"error":"revoked","requestId":"${id}"}\n`),
      {
        kind: 'certificate-refused',
        reason: 'revoked',
        server: 'mtlskit',
        said: `HTTP 403 with reason revoked (request id ${id})`,
        requestId: id,
      },
    );
    const odd = recognizeCertificateRefusal(
      403,
      '{"error":"revoked","requestId":"\\u001b[31mcall us on 555"}',
    );
    assert.equal(odd?.requestId, undefined);
    assert.equal(odd?.said, 'HTTP 403 with reason revoked');
  });

  test('every certificate reason code of the gateway is recognised', () => {
    const certificateCodes = [
      'no_client_cert',
      'unknown_ca',
      'expired',
      'not_yet_valid',
      'revoked',
      'eku_missing',
      'ca_certificate',
      'weak_key',
      'bad_certificate',
      'pinned_rule_mismatch',
    ];
    for (const code of certificateCodes) {
      assert.ok(
        (AUDIT_REASONS as readonly string[]).includes(code),
        `${code} is a gateway reason code`,
      );
      assert.ok(
        recognizeCertificateRefusal(403, JSON.stringify({ error: code })),
        `${code} is recognised`,
      );
    }
  });
});
