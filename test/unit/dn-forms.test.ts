/**
 * One printed form for DNs: {@link formatDn} (`C=BR, O=Acme, CN=x`), and
 * {@link displayDn} turning the RFC 4514 strings older registries stored
 * into it, whatever the values hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { displayDn, formatDn, formatRfc4514, type DistinguishedName } from '../../src/pki/names.js';

const dns: Array<{ name: string; dn: DistinguishedName }> = [
  {
    name: 'a plain subject',
    dn: [
      { type: 'C', value: 'BR' },
      { type: 'ST', value: 'SP' },
      { type: 'O', value: 'Acme' },
      { type: 'CN', value: 'acme-client' },
    ],
  },
  {
    name: 'values with commas, plus, quotes and equals',
    dn: [
      { type: 'O', value: 'Acme, Inc.' },
      { type: 'OU', value: 'a+b="c"' },
      { type: 'CN', value: 'x=y;z' },
    ],
  },
  {
    name: 'leading and trailing spaces, a leading hash',
    dn: [
      { type: 'O', value: ' padded ' },
      { type: 'CN', value: '#1' },
    ],
  },
  {
    name: 'UTF-8 text',
    dn: [
      { type: 'C', value: 'BR' },
      { type: 'ST', value: 'São Paulo' },
      { type: 'CN', value: 'Zoë' },
    ],
  },
];

for (const { name, dn } of dns) {
  test(`a stored RFC 4514 string prints as formatDn does: ${name}`, () => {
    assert.equal(displayDn(formatRfc4514(dn)), formatDn(dn));
  });
  test(`a string already in the printed form stays as it is: ${name}`, () => {
    assert.equal(displayDn(formatDn(dn)), formatDn(dn));
  });
}

test('the printed form is certificate order joined by ", "; RFC 4514 is reversed and compact', () => {
  const dn = dns[0]?.dn ?? [];
  assert.equal(formatDn(dn), 'C=BR, ST=SP, O=Acme, CN=acme-client');
  assert.equal(formatRfc4514(dn), 'CN=acme-client,O=Acme,ST=SP,C=BR');
});

test('a single attribute, an empty string and a string that does not parse come back unchanged', () => {
  assert.equal(displayDn('CN=only'), 'CN=only');
  assert.equal(displayDn(''), '');
  assert.equal(displayDn('not a dn,at all'), 'not a dn,at all');
});
