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
import { MtlsError } from '../../src/errors/index.js';
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

  // ------------------------------------------------------------ round trips

  /** One piece of a value: literal text, a reference to an earlier entry, or an environment variable. */
  type CnfPart =
    | { kind: 'text'; text: string; quote: 'none' | '"' | "'" }
    | { kind: 'ref'; to: number; form: '$' | '{' | '(' }
    | { kind: 'env'; name: 'FUZZ_A' | 'FUZZ_B' };
  const cnfText = fc.stringMatching(/^[A-Za-z0-9 #$"'\\=[\]:;,./@!{}()-]{1,12}$/);
  const cnfPart: fc.Arbitrary<CnfPart> = fc.oneof(
    fc.record({
      kind: fc.constant('text' as const),
      text: cnfText,
      quote: fc.constantFrom('none' as const, '"' as const, "'" as const),
    }),
    fc.record({
      kind: fc.constant('ref' as const),
      to: fc.nat(),
      form: fc.constantFrom('$' as const, '{' as const, '(' as const),
    }),
    fc.record({
      kind: fc.constant('env' as const),
      name: fc.constantFrom('FUZZ_A' as const, 'FUZZ_B' as const),
    }),
  );
  const cnfName = fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/);

  it(
    'round trip: an openssl.cnf written with sections, an .include, quotes, escapes and variables reads back every value, file and line',
    { skip: !selected('roundtrip') },
    () => {
      const dir = join(tmp.dir, 'cnf-roundtrip');
      mkdirSync(dir, { recursive: true });
      const env = { FUZZ_A: 'from env', FUZZ_B: 'x$y#z' };
      fc.assert(
        fc.property(
          fc.uniqueArray(
            cnfName.filter((n) => n !== 'default'),
            { minLength: 1, maxLength: 4 },
          ),
          fc.uniqueArray(cnfName, { minLength: 1, maxLength: 10 }),
          fc.array(fc.nat(), { minLength: 10, maxLength: 10 }),
          fc.array(fc.array(cnfPart, { minLength: 1, maxLength: 3 }), {
            minLength: 10,
            maxLength: 10,
          }),
          fc.nat(),
          fc.array(fc.constantFrom(' = ', '=', '\t=  ', ' =')),
          (sections, keys, placement, partsOf, includeAfter, spacing) => {
            // Blocks in file order: the default section, then each section; the
            // blocks from `includeAt` on live in the included file.
            const blocks = ['default', ...sections];
            const includeAt = 1 + (includeAfter % sections.length);
            const entries = keys.map((key, i) => ({
              key,
              block: (placement[i] as number) % blocks.length,
              parts: partsOf[i] as CnfPart[],
            }));
            entries.sort((a, b) => a.block - b.block);
            const main: string[] = [];
            const inc: string[] = [];
            const mainFile = join(dir, 'openssl.cnf');
            const incFile = join(dir, 'included.cnf');
            const expected: {
              section: string;
              key: string;
              value: string;
              file: string;
              line: number;
            }[] = [];
            let tooLong = false;
            for (const [b, section] of blocks.entries()) {
              const out = b >= includeAt ? inc : main;
              if (b > 0) out.push(`[ ${section} ]`);
              for (const [n, e] of entries.entries()) {
                if (e.block !== b) continue;
                let written = '';
                let value = '';
                for (const [p, part] of e.parts.entries()) {
                  if (part.kind === 'text') {
                    value += part.text;
                    // An escaped trailing space is trimmed like any other (trim_ws in conf_def.c): quote it.
                    const quote =
                      part.quote === 'none' && p === e.parts.length - 1 && part.text.endsWith(' ')
                        ? '"'
                        : part.quote;
                    if (quote === 'none') {
                      // Outside quotes a backslash escapes any character except r, n, b and t.
                      written += part.text.replace(/[^A-Za-z0-9]/g, (c) => `\\${c}`);
                    } else {
                      const q = quote;
                      written +=
                        q +
                        part.text.replace(/[\\"']/g, (c) =>
                          c === q || c === '\\' ? `\\${c}` : c,
                        ) +
                        q;
                    }
                  } else if (part.kind === 'env') {
                    value += env[part.name];
                    written += `\${ENV::${part.name}}`;
                  } else {
                    // A reference to an earlier entry (or literal text when there is none).
                    const earlier = expected.length;
                    if (earlier === 0) {
                      value += 'none';
                      written += 'none';
                      continue;
                    }
                    const target = expected[part.to % earlier] as (typeof expected)[number];
                    value += target.value;
                    const name =
                      target.section === section || target.section === 'default'
                        ? target.key
                        : `${target.section}::${target.key}`;
                    const next = e.parts[p + 1];
                    const bare =
                      part.form === '$' &&
                      (next === undefined || next.kind !== 'text' || next.quote !== 'none');
                    written += bare ? `$${name}` : part.form === '{' ? `\${${name}}` : `$(${name})`;
                  }
                }
                if (value.length > 65536) tooLong = true;
                out.push(
                  `${e.key}${spacing[n % Math.max(1, spacing.length)] ?? ' = '}${written}${n % 3 === 0 ? '   # a comment' : ''}`,
                );
                expected.push({
                  section,
                  key: e.key,
                  value,
                  file: b >= includeAt ? incFile : mainFile,
                  line: (b >= includeAt ? inc : main).length,
                });
              }
              if (b === includeAt - 1) main.push(`.include ${incFile}`);
            }
            writeFileSync(incFile, inc.join('\n') + '\n');
            const parse = (): ReturnType<typeof parseOpenSslConfig> =>
              parseOpenSslConfig(main.join('\n') + '\n', { path: mainFile, env });
            if (tooLong) {
              assert.throws(
                parse,
                (e: unknown) => e instanceof MtlsError && e.code === 'MTLS_CONFIG_INVALID',
              );
              return;
            }
            const cfg = parse();
            assert.deepEqual(cfg.files, [mainFile, incFile]);
            for (const x of expected) {
              const got = cfg.get(x.section, x.key);
              assert.ok(got, `[${x.section}] ${x.key} is missing`);
              assert.deepEqual(
                { value: got.value, file: got.file, line: got.line },
                { value: x.value, file: x.file, line: x.line },
                `[${x.section}] ${x.key}\n${main.join('\n')}\n--- included\n${inc.join('\n')}`,
              );
              // Keys are unique across sections, so a default key is found from any section.
              if (x.section === 'default')
                assert.equal(cfg.lookup(sections[0] as string, x.key)?.value, x.value);
            }
          },
        ),
        { seed: 0x13f022, numRuns: LONG_RUN ? 5000 : 300 },
      );
    },
  );

  it(
    'round trip: a gateway YAML file written with random settings loads back with those values (paths resolved, sizes in bytes)',
    { skip: !selected('roundtrip') },
    () => {
      const dir = join(tmp.dir, 'yaml-roundtrip');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, 'gateway.yaml');
      const octet = fc.nat(255);
      const ipv4 = fc.tuple(octet, octet, octet, octet).map((b) => b.join('.'));
      const listen = fc.oneof(
        fc
          .tuple(ipv4, fc.nat(65535))
          .map(([host, port]) => ({ host, port, text: `${host}:${port}` })),
        fc.nat(65535).map((port) => ({ host: '::1', port, text: `[::1]:${port}` })),
      );
      const units = { '': 1, kb: 1024, KiB: 1024, mb: 1024 ** 2 } as const;
      const size = (min: number, max: number) =>
        fc
          .tuple(fc.constantFrom(...(Object.keys(units) as (keyof typeof units)[])), fc.nat())
          .map(([unit, n]) => {
            const lo = Math.ceil(min / units[unit]);
            const count = lo + (n % (Math.floor(max / units[unit]) - lo + 1));
            return {
              yaml: unit === '' ? String(count) : JSON.stringify(`${count}${unit}`),
              bytes: count * units[unit],
            };
          });
      const between = (min: number, max: number) => fc.integer({ min, max });
      const segment = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,8}$/);
      fc.assert(
        fc.property(
          fc.record({
            listen,
            admin: listen,
            scheme: fc.constantFrom('http', 'https'),
            host: fc.domain(),
            port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
            path: fc.array(segment, { maxLength: 3 }),
            registry: fc.oneof(
              segment.map((s) => ({ yaml: `data/${s}.db`, relative: true })),
              segment.map((s) => ({ yaml: `postgres://mtls@db.example/${s}`, relative: false })),
            ),
            cert: segment,
            key: segment,
            handshakeTimeoutMs: between(100, 120_000),
            maxHeaderBytes: size(1024, 1024 * 1024),
            maxBodyBytes: size(0, 1024 ** 3 * 4),
            maxConnections: between(1, 1_000_000),
            crlMaxBytes: size(1024, 100 * 1024 * 1024),
            stale: fc.constantFrom('fail_closed' as const, 'fail_open_with_alarm' as const),
            subjectHeader: fc.stringMatching(/^X-[A-Za-z0-9]{1,12}-Subject$/),
            durability: fc.constantFrom('batched' as const, 'durable' as const),
            logLevel: fc.constantFrom('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
            registryPollMs: between(50, 250),
            workers: between(1, 1024),
            proxies: fc.array(
              fc.tuple(ipv4, between(8, 32)).map(([ip, prefix]) => {
                const n = ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
                const net = prefix === 32 ? n : n - (n % 2 ** (32 - prefix));
                const text = [24, 16, 8, 0].map((s) => Math.floor(net / 2 ** s) % 256).join('.');
                return `${text}/${prefix}`;
              }),
              { maxLength: 3 },
            ),
          }),
          (v) => {
            fc.pre(
              v.admin.host !== v.listen.host ||
                v.admin.port !== v.listen.port ||
                v.admin.port === 0,
            );
            const upstream = `${v.scheme}://${v.host}${v.port === undefined ? '' : `:${v.port}`}/${v.path.join('/')}`;
            const yaml = [
              `listen: ${JSON.stringify(v.listen.text)}`,
              `upstream: ${JSON.stringify(upstream)}`,
              `registry: ${JSON.stringify(v.registry.yaml)}`,
              'tls:',
              `  cert: ${v.cert}.pem`,
              `  key: "keys/${v.key}.key"`,
              `  handshakeTimeoutMs: ${v.handshakeTimeoutMs}`,
              'limits:',
              `  maxHeaderBytes: ${v.maxHeaderBytes.yaml}`,
              `  maxBodyBytes: ${v.maxBodyBytes.yaml}`,
              `  maxConnections: ${v.maxConnections}`,
              'crl:',
              `  stale: ${v.stale}`,
              `  maxBytes: ${v.crlMaxBytes.yaml}`,
              'identityHeaders:',
              `  subject: ${v.subjectHeader}`,
              'ops:',
              '  listen: off',
              'admin:',
              `  listen: ${JSON.stringify(v.admin.text)}`,
              '  tokenFile: admin.token',
              'audit:',
              `  durability: ${v.durability}`,
              `logLevel: ${v.logLevel}`,
              `registryPollMs: ${v.registryPollMs}`,
              `workers: ${v.workers}`,
              ...(v.proxies.length > 0
                ? [
                    'proxyProtocol: required',
                    'trustedProxies:',
                    ...v.proxies.map((p) => `  - ${p}`),
                  ]
                : []),
              '',
            ].join('\n');
            writeFileSync(file, yaml);
            const cfg = loadGatewayConfig({ file, env: {} });
            const defaultPort = v.scheme === 'http' ? 80 : 443;
            assert.deepEqual(
              {
                listen: cfg.listen,
                upstream: cfg.upstream,
                registry: cfg.registry,
                tls: [cfg.tls.cert, cfg.tls.key, cfg.tls.handshakeTimeoutMs],
                limits: [
                  cfg.limits.maxHeaderBytes,
                  cfg.limits.maxBodyBytes,
                  cfg.limits.maxConnections,
                ],
                crl: [cfg.crl.stale, cfg.crl.maxBytes],
                subject: cfg.identityHeaders.subject,
                ops: cfg.ops.listen,
                admin: [cfg.admin.listen, cfg.admin.tokenFile],
                rest: [cfg.audit.durability, cfg.logLevel, cfg.registryPollMs, cfg.workers],
                proxy: [cfg.proxyProtocol, cfg.trustedProxies],
              },
              {
                listen: { host: v.listen.host, port: v.listen.port },
                upstream: `${v.scheme}://${v.host}${v.port === undefined || v.port === defaultPort ? '' : `:${v.port}`}${v.path.length ? `/${v.path.join('/')}` : ''}`,
                registry: v.registry.relative ? join(dir, v.registry.yaml) : v.registry.yaml,
                tls: [
                  join(dir, `${v.cert}.pem`),
                  join(dir, 'keys', `${v.key}.key`),
                  v.handshakeTimeoutMs,
                ],
                limits: [v.maxHeaderBytes.bytes, v.maxBodyBytes.bytes, v.maxConnections],
                crl: [v.stale, v.crlMaxBytes.bytes],
                subject: v.subjectHeader,
                ops: null,
                admin: [{ host: v.admin.host, port: v.admin.port }, join(dir, 'admin.token')],
                rest: [v.durability, v.logLevel, v.registryPollMs, v.workers],
                proxy: [v.proxies.length > 0 ? 'required' : 'off', v.proxies],
              },
              yaml,
            );
          },
        ),
        { seed: 0x13f022, numRuns: LONG_RUN ? 5000 : 200 },
      );
    },
  );

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
