/**
 * x509-limbo conformance: every native case runs through verifyCertificate.
 * A wrong answer fails the test unless the case is on EXPECTED_DIFFERENCES
 * (each with its reason). No bad chain may be accepted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { derBlocksOf } from '../../src/pki/pem.js';
import { verifyCertificate } from '../../src/pki/verify-certificate.js';
import { EXPECTED_DIFFERENCES } from '../fixtures/x509-limbo/expected-differences.js';

interface LimboCase {
  id: string;
  validation_kind: 'CLIENT' | 'SERVER';
  trusted_certs: string[];
  untrusted_intermediates: string[];
  peer_certificate: string;
  validation_time: string | null;
  expected_result: 'SUCCESS' | 'FAILURE';
  expected_peer_name: { kind: string; value: string } | null;
  max_chain_depth: number | null;
  crls: string[];
}

const suite = JSON.parse(
  readFileSync(new URL('../fixtures/x509-limbo/x509-limbo.json', import.meta.url), 'utf8'),
) as { testcases: LimboCase[] };
const der = (pem: string): Buffer => derBlocksOf(pem, ['CERTIFICATE'])[0];

function run(c: LimboCase): { ok: boolean; reason?: string } {
  const r = verifyCertificate({
    certificate: der(c.peer_certificate),
    chain: c.trusted_certs.map(der),
    untrusted: c.untrusted_intermediates.map(der),
    purpose: c.validation_kind === 'CLIENT' ? 'client' : 'server',
    at: c.validation_time ? new Date(c.validation_time) : new Date('2025-06-01T00:00:00Z'),
    ...(c.expected_peer_name ? { name: c.expected_peer_name.value } : {}),
    ...(c.max_chain_depth !== null ? { maxDepth: c.max_chain_depth } : {}),
    // limbo's model: every trusted certificate is a trust anchor, self-signed or not.
    partialChain: true,
    crls: c.crls.map((p) => derBlocksOf(p, ['X509 CRL'])[0]),
  });
  return r.ok ? { ok: true } : { ok: false, reason: `${r.reason}: ${r.detail}` };
}

describe('x509-limbo conformance', () => {
  it('gives the expected answer for every case not listed as an expected difference', () => {
    const wrong: string[] = [];
    const badAccepted: string[] = [];
    let right = 0;
    let ran = 0;
    let outOfScope = 0;
    let outOfScopeRight = 0;
    const outOfScopeAccepted: string[] = [];
    const stale: string[] = [];
    for (const c of suite.testcases) {
      const r = run(c);
      const good = r.ok === (c.expected_result === 'SUCCESS');
      const listed = EXPECTED_DIFFERENCES[c.id];
      // A 'differs' entry the validator now gets right is stale: it would hide a regression.
      if (listed?.scope === 'differs' && good) stale.push(c.id);
      if (listed?.scope === 'out-of-scope') {
        outOfScope++;
        if (good) outOfScopeRight++;
        else if (r.ok) outOfScopeAccepted.push(c.id);
        continue;
      }
      ran++;
      if (good) right++;
      else {
        if (r.ok) badAccepted.push(c.id);
        if (!listed)
          wrong.push(`${c.id} expected ${c.expected_result}, got ${r.ok ? 'SUCCESS' : r.reason}`);
      }
    }
    const score = (100 * right) / ran;
    const all = suite.testcases.length;
    process.stdout.write(
      `# x509-limbo: ${right}/${ran} right (${score.toFixed(1)}%), ${badAccepted.length} bad chains accepted; ` +
        `${outOfScope} out of scope (${outOfScopeRight} of them right, ${outOfScopeAccepted.length} bad chains accepted by design); ` +
        `all ${all} cases: ${right + outOfScopeRight} right (${((100 * (right + outOfScopeRight)) / all).toFixed(1)}%)\n`,
    );
    const unknown = Object.keys(EXPECTED_DIFFERENCES).filter(
      (id) => !suite.testcases.some((c) => c.id === id),
    );
    assert.deepEqual(unknown, [], 'expected differences that name no case of the suite');
    assert.deepEqual(stale, [], 'expected differences the validator now answers right');
    assert.ok(
      Object.values(EXPECTED_DIFFERENCES).every((d) => d.reason.length > 20),
      'every expected difference has its reason',
    );
    assert.deepEqual(wrong, [], wrong.join('\n'));
    assert.deepEqual(badAccepted, [], 'bad chains accepted');
    assert.ok(score >= 99, `score ${score.toFixed(1)}% < 99%`);
  });
});
