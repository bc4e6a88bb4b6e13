import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMtlsError, type MtlsError } from '../../src/errors/index.js';
import {
  parseOpenSslConfig,
  readOpenSslConfig,
  type ParsedOpenSslConfig,
} from '../../src/ca/openssl-cnf.js';
import { defined } from '../helpers/assert.js';

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mtls-cnf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const parse = (text: string, env: NodeJS.ProcessEnv = {}): ParsedOpenSslConfig =>
  parseOpenSslConfig(text, { path: '/cfg/openssl.cnf', env });
const val = (cfg: ParsedOpenSslConfig, s: string, k: string): string | undefined =>
  cfg.get(s, k)?.value;

function configError(fn: () => unknown, code: MtlsError['code'], ...parts: string[]): MtlsError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(isMtlsError(err, code), `expected ${code}, got ${String(err)}`);
  for (const p of parts)
    assert.ok(err.message.includes(p), `message "${err.message}" should include "${p}"`);
  return err;
}

test('sections, whitespace inside brackets, comments and the default section', () => {
  const cfg = parse(
    [
      '# top comment',
      'g = global  # trailing',
      '[ ca ]  ',
      'default_ca = CA_default',
      '[my  sect]',
      'a=1',
      '[ default ]',
      'late = yes',
    ].join('\n'),
  );
  assert.deepEqual(
    cfg.sections.map((s) => s.name),
    ['default', 'ca', 'my  sect'],
  );
  assert.equal(val(cfg, 'default', 'g'), 'global');
  assert.equal(val(cfg, 'default', 'late'), 'yes');
  assert.equal(val(cfg, 'ca', 'default_ca'), 'CA_default');
  assert.equal(val(cfg, 'my  sect', 'a'), '1');
  const e = defined(cfg.get('ca', 'default_ca'), 'ca.default_ca');
  assert.equal(e.file, '/cfg/openssl.cnf');
  assert.equal(e.line, 4);
  // lookup falls back to the default section, get does not
  assert.equal(cfg.lookup('ca', 'g')?.value, 'global');
  assert.equal(cfg.get('ca', 'g'), undefined);
});

test('quotes, escapes and line continuation as OpenSSL reads them', () => {
  const cfg = parse(
    [
      '[s]',
      'a = "q\\"uo # te" # comment',
      "b = 'sq\\'x' plain\\#hash \\n end",
      'c = one\\',
      '  two',
      'd = "dq""dbl"',
      'e = \\ lead',
      'f = x \\\\',
      'g = "$notavar"',
      'h = tail\\',
    ].join('\n'),
  );
  assert.equal(val(cfg, 's', 'a'), 'q"uo # te');
  assert.equal(val(cfg, 's', 'b'), "sq'x plain#hash \n end");
  assert.equal(val(cfg, 's', 'c'), 'one  two');
  assert.equal(cfg.get('s', 'c')?.line, 4);
  assert.equal(val(cfg, 's', 'd'), 'dqdbl');
  assert.equal(val(cfg, 's', 'e'), ' lead');
  assert.equal(val(cfg, 's', 'f'), 'x \\');
  assert.equal(val(cfg, 's', 'g'), '$notavar');
  assert.equal(val(cfg, 's', 'h'), 'tail');
});

test('CRLF line ends and a UTF-8 byte order mark', () => {
  const cfg = parse('\uFEFFa=1\r\n[s]\r\nb = 2 \r\n');
  assert.equal(val(cfg, 'default', 'a'), '1');
  assert.equal(val(cfg, 's', 'b'), '2');
});

test('variables: $var, ${var}, $(var), $section::name, ${section::name}, $ENV::NAME and fallback to default', () => {
  const cfg = parse(
    [
      'g = global',
      'HOME = /from/default',
      '[ s2 ]',
      'k = kk',
      '[ s ]',
      'dir = /ca',
      'a = $dir/certs ${dir}/x $(dir)y',
      'b = $s2::k ${s2::k} $default::g',
      'c = $g',
      'd = $ENV::MTLS_T ${ENV::MTLS_T}',
      'e = $ENV::HOME',
      'other::k2 = vv',
    ].join('\n'),
    { MTLS_T: 'envval' },
  );
  assert.equal(val(cfg, 's', 'a'), '/ca/certs /ca/x /cay');
  assert.equal(val(cfg, 's', 'b'), 'kk kk global');
  assert.equal(val(cfg, 's', 'c'), 'global');
  assert.equal(val(cfg, 's', 'd'), 'envval envval');
  // $ENV::NAME falls back to the default section when the environment lacks it
  assert.equal(val(cfg, 's', 'e'), '/from/default');
  assert.equal(val(cfg, 'other', 'k2'), 'vv');
});

test('a section named ENV overrides the environment, as in OpenSSL', () => {
  const cfg = parse('[ ENV ]\nX = fromfile\n[ s ]\na = $ENV::X', { X: 'fromenv' });
  assert.equal(val(cfg, 's', 'a'), 'fromfile');
});

test('an undefined variable is an error naming file:line, as OpenSSL reports it', () => {
  const e = configError(
    () => parse('x = 1\n[ s1 ]\na = $undefinedvar/z'),
    'MTLS_CONFIG_INVALID',
    '/cfg/openssl.cnf:3',
    'undefinedvar',
    'has no value',
  );
  assert.equal(e.subject, '/cfg/openssl.cnf:3');
  configError(
    () => parse('[s]\na = ${ENV::MTLS_NOT_SET_ANYWHERE}'),
    'MTLS_CONFIG_INVALID',
    '/cfg/openssl.cnf:2',
    'MTLS_NOT_SET_ANYWHERE',
  );
  configError(
    () => parse('a = x $ y'),
    'MTLS_CONFIG_INVALID',
    '/cfg/openssl.cnf:1',
    'not followed by a variable name',
  );
  configError(
    () => parse('v = 1\na = ${v.x}'),
    'MTLS_CONFIG_INVALID',
    '/cfg/openssl.cnf:2',
    'closing "}"',
  );
  // a variable must be defined on an earlier line
  configError(() => parse('a = $later\nlater = 1'), 'MTLS_CONFIG_INVALID', ':1');
});

test('syntax errors name file and line', () => {
  configError(
    () => parse('ok = 1\nmy key = v'),
    'MTLS_CONFIG_INVALID',
    '/cfg/openssl.cnf:2',
    'missing equal sign',
  );
  configError(
    () => parse('[ s'),
    'MTLS_CONFIG_INVALID',
    '/cfg/openssl.cnf:1',
    'missing close square bracket',
  );
  configError(() => parse('[ $v ]'), 'MTLS_CONFIG_INVALID', '/cfg/openssl.cnf:1');
});

test('a repeated key keeps the last value at its last position and warns', () => {
  const cfg = parse('[s]\ndup = 1\nother = x\ndup = 2');
  assert.deepEqual(
    cfg.section('s')?.entries.map((e) => `${e.key}=${e.value}`),
    ['other=x', 'dup=2'],
  );
  assert.ok(
    cfg.warnings.some((w) => w.includes('/cfg/openssl.cnf:4') && w.includes('/cfg/openssl.cnf:2')),
  );
});

test('numbered keys (0.organizationName) stay distinct and in order', () => {
  const cfg = parse('[dn]\n0.organizationName = A\n1.organizationName = B\ncommonName = C');
  assert.deepEqual(
    cfg.section('dn')?.entries.map((e) => e.key),
    ['0.organizationName', '1.organizationName', 'commonName'],
  );
});

test('.include of a file and of a directory, relative to the including file', (t) => {
  const dir = tmp(t);
  mkdirSync(join(dir, 'sub'));
  mkdirSync(join(dir, 'conf.d'));
  writeFileSync(join(dir, 'sub', 'inc.cnf'), 'ik = from_inc\n[ incsect ]\nx = 1\n');
  writeFileSync(join(dir, 'conf.d', 'b.cnf'), 'z = 1\n');
  writeFileSync(join(dir, 'conf.d', 'a.conf'), '[ dsec ]\ny = $s::ik\n');
  writeFileSync(join(dir, 'conf.d', 'c.txt'), 'ignored = 1\n');
  const main = join(dir, 'openssl.cnf');
  writeFileSync(
    main,
    '[ s ]\n.include sub/inc.cnf\nafter = 1\n.include = conf.d\n[ s ]\nlast = 1\n',
  );
  const cfg = readOpenSslConfig(main, { env: {} });
  assert.equal(val(cfg, 's', 'ik'), 'from_inc');
  // OpenSSL keeps the section the included file left open
  assert.equal(val(cfg, 'incsect', 'after'), '1');
  assert.equal(val(cfg, 'dsec', 'y'), 'from_inc');
  assert.equal(val(cfg, 'dsec', 'z'), '1');
  assert.equal(
    cfg.section('dsec')?.entries.some((e) => e.key === 'ignored'),
    false,
  );
  assert.equal(val(cfg, 's', 'last'), '1');
  const x = defined(cfg.get('incsect', 'x'), 'incsect.x');
  assert.equal(x.file, join(dir, 'sub', 'inc.cnf'));
  assert.equal(x.line, 3);
  assert.deepEqual(cfg.files, [
    main,
    join(dir, 'sub', 'inc.cnf'),
    join(dir, 'conf.d', 'a.conf'),
    join(dir, 'conf.d', 'b.cnf'),
  ]);
  // relative includes: OpenSSL resolves them against its working directory; we say so
  assert.ok(
    cfg.warnings.some((w) => w.startsWith(`${main}:2:`) && w.includes('working directory')),
  );
});

test('.include: includedir pragma, OPENSSL_CONF_INCLUDE, abspath, missing file, loops', (t) => {
  const dir = tmp(t);
  mkdirSync(join(dir, 'inc'));
  writeFileSync(join(dir, 'inc', 'x.cnf'), 'fromx = 1\n');
  const main = join(dir, 'openssl.cnf');
  writeFileSync(main, `.pragma includedir:${join(dir, 'inc')}\n.include x.cnf\n`);
  const a = readOpenSslConfig(main, { env: {} });
  assert.equal(val(a, 'default', 'fromx'), '1');
  assert.deepEqual(a.warnings, []);

  writeFileSync(main, '.include x.cnf\n');
  const b = readOpenSslConfig(main, { env: { OPENSSL_CONF_INCLUDE: join(dir, 'inc') } });
  assert.equal(val(b, 'default', 'fromx'), '1');

  writeFileSync(main, '.pragma = abspath:on\n.include inc/x.cnf\n');
  configError(
    () => readOpenSslConfig(main, { env: {} }),
    'MTLS_CONFIG_INVALID',
    `${main}:2`,
    'relative path',
  );

  writeFileSync(main, `.include ${join(dir, 'nope.cnf')}\nok = 1\n`);
  const c = readOpenSslConfig(main, { env: {} });
  assert.equal(val(c, 'default', 'ok'), '1');
  assert.ok(c.warnings.some((w) => w.startsWith(`${main}:1:`) && w.includes('does not exist')));

  writeFileSync(join(dir, 'inc', 'loop.cnf'), `.include ${main}\n`);
  writeFileSync(main, `.include ${join(dir, 'inc', 'loop.cnf')}\n`);
  configError(() => readOpenSslConfig(main, { env: {} }), 'MTLS_CONFIG_INVALID', 'includes itself');
});

test('.pragma: dollarid, unknown pragmas warn, malformed pragmas fail', () => {
  const cfg = parse('.pragma dollarid:true\nv$x = 1\na = $v$x ${v$x}');
  assert.equal(val(cfg, 'default', 'a'), '$v$x 1');
  const w = parse('.pragma foo:bar\na = 1');
  assert.ok(w.warnings.some((x) => x.includes('/cfg/openssl.cnf:1') && x.includes('foo')));
  configError(
    () => parse('.pragma dollarid'),
    'MTLS_CONFIG_INVALID',
    '/cfg/openssl.cnf:1',
    'invalid pragma',
  );
  configError(() => parse('.pragma dollarid:maybe'), 'MTLS_CONFIG_INVALID', '/cfg/openssl.cnf:1');
});

test('~ is not expanded by the parser (OpenSSL does not expand it either)', () => {
  const cfg = parse('[CA_default]\ndir = ~/myCA\ncerts = $dir/certs');
  assert.equal(val(cfg, 'CA_default', 'certs'), '~/myCA/certs');
});

test('oracle: openssl req reads the same values from the same file', (t) => {
  const dir = tmp(t);
  const inc = join(dir, 'inc.cnf');
  writeFileSync(inc, 'incvalue = Included\n');
  const text = [
    'base = Acme',
    `.include ${inc}`,
    '[ req ]',
    'prompt = no',
    'distinguished_name = dn',
    '[ dn ]',
    'O = "q\\"uo # te" # comment',
    "OU = 'sq\\'x' plain\\#hash $incvalue",
    'CN = $base-${base}-$(base)-$req::prompt-$ENV::MTLS_T',
    'L = one\\',
    '  two',
    'ST = "dq""dbl"',
  ].join('\n');
  const path = join(dir, 'o.cnf');
  writeFileSync(path, text);
  const ours = readOpenSslConfig(path, { env: { MTLS_T: 'envval' } });
  execFileSync('openssl', [
    'ecparam',
    '-genkey',
    '-name',
    'prime256v1',
    '-noout',
    '-out',
    join(dir, 'k.pem'),
  ]);
  execFileSync(
    'openssl',
    ['req', '-new', '-config', path, '-key', join(dir, 'k.pem'), '-out', join(dir, 'r.csr')],
    {
      env: { ...process.env, MTLS_T: 'envval' },
      stdio: 'pipe',
    },
  );
  const out = execFileSync(
    'openssl',
    ['req', '-in', join(dir, 'r.csr'), '-noout', '-subject', '-nameopt', 'multiline,-esc_msb,utf8'],
    { encoding: 'utf8' },
  );
  const theirs = new Map(
    out
      .split('\n')
      .slice(1)
      .filter((l) => l.includes('='))
      .map((l) => {
        const i = l.indexOf('=');
        return [l.slice(0, i).trim(), l.slice(i + 1).trim()] as const;
      }),
  );
  assert.equal(theirs.get('organizationName'), val(ours, 'dn', 'O'));
  assert.equal(theirs.get('organizationalUnitName'), val(ours, 'dn', 'OU'));
  assert.equal(theirs.get('commonName'), val(ours, 'dn', 'CN'));
  assert.equal(theirs.get('localityName'), val(ours, 'dn', 'L'));
  assert.equal(theirs.get('stateOrProvinceName'), val(ours, 'dn', 'ST'));
  assert.equal(val(ours, 'dn', 'CN'), 'Acme-Acme-Acme-no-envval');
});

test('oracle: openssl also refuses an undefined variable', (t) => {
  const dir = tmp(t);
  const path = join(dir, 'bad.cnf');
  writeFileSync(path, 'x = 1\n[ req ]\ndistinguished_name = $nothere\n');
  let stderr = '';
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-config',
        path,
        '-new',
        '-subj',
        '/CN=x',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'k'),
        '-out',
        join(dir, 'r'),
      ],
      { stdio: 'pipe' },
    );
  } catch (e) {
    stderr = String((e as { stderr?: Buffer }).stderr ?? '');
  }
  assert.match(stderr, /line 3/);
  assert.match(stderr, /variable has no value/);
  configError(
    () => readOpenSslConfig(path, { env: {} }),
    'MTLS_CONFIG_INVALID',
    `${path}:3`,
    'variable has no value',
  );
});
