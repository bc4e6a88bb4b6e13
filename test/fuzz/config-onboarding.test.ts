/**
 * Fuzzes the readers of text configuration (openssl.cnf with `.include` and
 * variables, the gateway's YAML file) and the provider's onboarding checks
 * for uploaded CA chains and CRLs (PEM and DER).
 */
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseOpenSslConfig } from '../../src/ca/openssl-cnf.js';
import { loadGatewayConfig } from '../../src/gateway/config.js';
import { validateCaChain, validateCrls } from '../../src/gateway/onboarding.js';
import { encodePem } from '../../src/pki/pem.js';
import { tempDir } from '../helpers/pki.js';
import { pkiSeeds, type PkiSeeds } from './seeds.js';
import { LONG_RUN, fuzz, selected } from './harness.js';

describe('fuzz: configuration files and onboarding uploads', () => {
  let s: PkiSeeds;
  let tmp: ReturnType<typeof tempDir>;
  before(async () => {
    s = await pkiSeeds();
    tmp = tempDir('mtls-fuzz-cfg-');
  });
  after(() => {
    s.cleanup();
    tmp.cleanup();
  });
  const target = (name: string, run: () => Promise<unknown>): void => {
    it(name, { skip: !selected(name) }, async () => {
      await run();
    });
  };

  target('openssl-cnf', () => {
    const dir = join(tmp.dir, 'cnf');
    mkdirSync(join(dir, 'conf.d'), { recursive: true });
    writeFileSync(
      join(dir, 'conf.d', 'extra.cnf'),
      '[ extra_ext ]\nbasicConstraints = CA:FALSE\nsubjectAltName = $ENV::FUZZ_SAN\n',
    );
    writeFileSync(
      join(dir, 'included.cnf'),
      'default_days = 30\n[ policy_loose ]\ncommonName = supplied\n',
    );
    const guide = readFileSync(new URL('../fixtures/guide-openssl.cnf', import.meta.url));
    const withIncludes = [
      'HOME = .',
      'base = /srv/ca',
      '.include included.cnf',
      '.include = conf.d',
      '[ ca ]',
      'default_ca = CA_default',
      '[ CA_default ]',
      'dir = ${base}/root',
      'certs = $dir/certs',
      'database = $(dir)/index.txt',
      'policy = policy_loose',
      'copy_extensions = copy',
      'x509_extensions = extra_ext',
      'email = ${ENV::FUZZ_MAIL}',
      'quoted = "a \\"b\\" c" # comment',
      'continued = one \\',
      '  two',
      '',
    ].join('\n');
    return fuzz({
      name: 'openssl-cnf',
      seeds: [guide, Buffer.from(withIncludes)],
      runs: 2000,
      parse: (b) => {
        const cfg = parseOpenSslConfig(b.toString('utf8'), {
          path: join(dir, 'openssl.cnf'),
          env: { FUZZ_SAN: 'DNS:x.example', FUZZ_MAIL: 'a@example.com' },
        });
        return cfg.lookup('CA_default', 'dir');
      },
    });
  });

  target('gateway-yaml', () => {
    const file = join(tmp.dir, 'gateway.yaml');
    const seed = [
      'listen: "[::1]:9000"',
      'upstream: http://127.0.0.1:8080/api/',
      'registry: data/reg.db',
      'tls:',
      '  cert: s.pem',
      '  key: s.key',
      '  handshakeTimeoutMs: 5000',
      'limits:',
      '  maxBodyBytes: 2mb',
      '  maxConnections: 100',
      'ops:',
      '  listen: off',
      'admin:',
      '  tokenFile: admin.token',
      '',
    ].join('\n');
    return fuzz({
      name: 'gateway-yaml',
      seeds: [
        Buffer.from(seed),
        Buffer.from(
          '{"listen": "127.0.0.1:0", "upstream": "https://u.example", "registry": "sqlite:x.db", "tls": {"pfx": "s.pfx"}}\n',
        ),
      ],
      runs: 1000,
      parse: (b) => {
        writeFileSync(file, b);
        return loadGatewayConfig({ file, env: {} });
      },
    });
  });

  const chainSeeds = (): Buffer[] => [
    Buffer.from(s.intermediate.certPem + s.root.certPem),
    Buffer.from(s.root.certPem),
    Buffer.from(s.intermediate.certificate.rawData),
    Buffer.from(s.root.certificate.rawData),
    Buffer.from(readFileSync(s.openssl.files.chain, 'utf8')),
  ];
  target('onboard-chain', () =>
    fuzz({
      name: 'onboard-chain',
      seeds: chainSeeds(),
      runs: 800,
      parse: (b) => validateCaChain(b, { source: 'upload.pem', knownIssuers: [s.root.certPem] }),
    }),
  );

  target('onboard-crl', () => {
    const cas = [s.root.certPem + s.intermediate.certPem];
    return fuzz({
      name: 'onboard-crl',
      seeds: [...s.crls, ...s.crls.map((d) => Buffer.from(encodePem('X509 CRL', d)))],
      runs: 1000,
      parse: (b) => validateCrls(b, cas, { source: 'upload.crl' }),
    });
  });

  it(
    'round trip: a valid chain upload gives back its certificates in chain order, whatever the order sent',
    { skip: !selected('roundtrip') },
    () => {
      const certs = [s.intermediate.certPem, s.root.certPem];
      fc.assert(
        fc.property(fc.boolean(), fc.boolean(), (reversed, der) => {
          const ordered = reversed ? [...certs].reverse() : certs;
          const r = validateCaChain(
            der ? Buffer.from(s.intermediate.certificate.rawData) : ordered.join(''),
            { source: 'upload', knownIssuers: [s.root.certPem] },
          );
          assert.equal(r.pem, der ? s.intermediate.certPem : certs.join(''));
        }),
        { seed: 0x13f022, numRuns: LONG_RUN ? 200 : 8 },
      );
    },
  );
});
