/**
 * The registry commands as a provider operator runs them: the fingerprint the
 * institution reads from `mtls ca chain` is the one `gateway ca add/list` and
 * `institution show` print, `--expect-fingerprint` refuses a mismatch before
 * storing anything, and a wrong registry path never becomes a new registry.
 */
import 'reflect-metadata';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';

let dir: string;
let registry: string;
let chain: string;
let otherChain: string;
let fingerprint: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtls-gw-admin-'));
  registry = join(dir, 'registry.db');
  for (const name of ['acme', 'other']) {
    const init = await runCli([
      'ca',
      'init',
      join(dir, name),
      '--subject',
      `/C=BR/ST=SP/O=${name}/CN=${name} Root`,
      '--key-type',
      'ec-p256',
      '--no-passphrase',
      '--insecure',
    ]);
    assert.equal(init.code, 0, init.stderr);
  }
  chain = join(dir, 'acme-chain.pem');
  otherChain = join(dir, 'other-chain.pem');
  const c = await runCli(['ca', 'chain', '--ca-dir', join(dir, 'acme'), '--out', chain, '--json']);
  assert.equal(c.code, 0, c.stderr);
  fingerprint =
    (JSON.parse(c.stdout) as { certificates: { fingerprintSha256: string }[] }).certificates[0]
      ?.fingerprintSha256 ?? '';
  assert.match(fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.equal(
    (await runCli(['ca', 'chain', '--ca-dir', join(dir, 'other'), '--out', otherChain])).code,
    0,
  );
  const add = await runCli([
    'gateway',
    'institution',
    'add',
    'acme',
    '--name',
    'Acme',
    '--registry',
    registry,
  ]);
  assert.equal(add.code, 0, add.stderr);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('ca add refuses a chain whose root does not match --expect-fingerprint, and stores nothing', async () => {
  const r = await runCli([
    'gateway',
    'ca',
    'add',
    'acme',
    otherChain,
    '--expect-fingerprint',
    fingerprint,
    '--registry',
    registry,
  ]);
  assert.equal(r.code, 4);
  assert.match(
    r.stderr,
    new RegExp(
      `^error\\[MTLS_ONBOARD_REJECTED\\]: the top CA of .*other-chain\\.pem \\(C=BR, ST=SP, O=other, CN=other Root\\) has SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}, not the expected ${fingerprint}; nothing was registered\\n`,
    ),
  );
  assert.match(r.stderr, /\nhint: Confirm the fingerprint with the institution out of band/);
  const list = await runCli(['gateway', 'ca', 'list', 'acme', '--json', '--registry', registry]);
  assert.deepEqual((JSON.parse(list.stdout) as { items: unknown[] }).items, []);
});

test('--expect-fingerprint that is not a SHA-256 is a usage error', async () => {
  const r = await runCli([
    'gateway',
    'ca',
    'add',
    'acme',
    chain,
    '--expect-fingerprint',
    'AB:CD',
    '--registry',
    registry,
  ]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /^error\[MTLS_BAD_ARGUMENT\]: --expect-fingerprint "AB:CD" is not a SHA-256 fingerprint/,
  );
});

test('the fingerprint from ca chain, in plain lower-case hex, is accepted; add, list and institution show print it as ca chain does', async () => {
  const plain = fingerprint.replace(/:/g, '').toLowerCase();
  const r = await runCli([
    'gateway',
    'ca',
    'add',
    'acme',
    chain,
    '--expect-fingerprint',
    plain,
    '--registry',
    registry,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`\\n {4}SHA-256 ${fingerprint}\\n`));
  const list = await runCli(['gateway', 'ca', 'list', 'acme', '--registry', registry]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /SHA-256 \(top CA\)/);
  assert.ok(list.stdout.includes(fingerprint), list.stdout);
  const show = await runCli(['gateway', 'institution', 'show', 'acme', '--registry', registry]);
  assert.ok(show.stdout.includes(fingerprint), show.stdout);
  // JSON keeps the registry's form: 64 lower-case hex digits.
  const json = await runCli(['gateway', 'ca', 'list', 'acme', '--json', '--registry', registry]);
  assert.deepEqual(
    (JSON.parse(json.stdout) as { items: { fingerprints: string[] }[] }).items[0]?.fingerprints,
    [plain],
  );
});

test('a management command on a missing registry path fails naming it and creates nothing', async () => {
  const missing = join(dir, 'nowhere', 'typo.db');
  for (const args of [
    ['gateway', 'ca', 'list'],
    ['gateway', 'institution', 'list'],
    ['gateway', 'ip', 'list'],
  ]) {
    const r = await runCli([...args, '--registry', missing]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.ok(r.stderr.includes(missing), r.stderr);
    assert.equal(existsSync(missing), false);
  }
  // The same through MTLS_REGISTRY, from another directory.
  const r = await runCli(['gateway', 'ca', 'list'], {
    cwd: dir,
    env: { MTLS_REGISTRY: join(dir, 'typo2.db') },
  });
  assert.notEqual(r.code, 0);
  assert.equal(existsSync(join(dir, 'typo2.db')), false);
});

test('ip add refuses a wide range without --allow-wide-range and stores it with it', async () => {
  const r = await runCli(['gateway', 'ip', 'add', 'acme', '10.0.0.0/8', '--registry', registry]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--allow-wide-range/);
  const list = await runCli(['gateway', 'ip', 'list', 'acme', '--json', '--registry', registry]);
  assert.deepEqual((JSON.parse(list.stdout) as { items: unknown[] }).items, []);
  const ok = await runCli([
    'gateway',
    'ip',
    'add',
    'acme',
    '10.0.0.0/8',
    '--allow-wide-range',
    '--registry',
    registry,
  ]);
  assert.equal(ok.code, 0, ok.stderr);
});

test('rule remove takes the id rule list shows, says what it removed, and refuses an id that is not a number', async () => {
  const reg = ['--registry', registry];
  const add = await runCli([
    'gateway',
    'rule',
    'add',
    'acme',
    '--cn',
    'api-client',
    '--json',
    ...reg,
  ]);
  assert.equal(add.code, 0, add.stderr);
  const id = (JSON.parse(add.stdout) as { id: number }).id;
  const listed = await runCli(['gateway', 'rule', 'list', 'acme', '--json', ...reg]);
  assert.deepEqual(
    (JSON.parse(listed.stdout) as { items: { id: number; value: string }[] }).items.map((r) => [
      r.id,
      r.value,
    ]),
    [[id, 'api-client']],
  );
  const bad = await runCli(['gateway', 'rule', 'remove', 'acme', 'x1', ...reg]);
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr,
    'error[MTLS_BAD_ARGUMENT]: rule id "x1" is not a number\nhint: Take the id from the list command.\n',
  );
  const removed = await runCli(['gateway', 'rule', 'remove', 'acme', String(id), ...reg]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(removed.stdout, `removed rule ${id} from acme\n`);
  const after = await runCli(['gateway', 'rule', 'list', 'acme', '--json', ...reg]);
  assert.deepEqual((JSON.parse(after.stdout) as { items: unknown[] }).items, []);
  const again = await runCli(['gateway', 'rule', 'remove', 'acme', String(id), '--json', ...reg]);
  assert.equal(again.code, 4, again.stderr);
  assert.equal(
    (JSON.parse(again.stdout) as { error: { code: string } }).error.code,
    'MTLS_NOT_FOUND',
  );
});
