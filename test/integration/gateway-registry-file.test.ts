/**
 * A running gateway follows the SQLite registry file at its configured path,
 * as an operator restoring from backup expects: a replaced file is reopened
 * and its contents apply (here: a suspension written only to the new file);
 * a deleted file makes the gateway stale, so that after the maximum staleness
 * it refuses every connection (`registry_unavailable`) and `/readyz` says not
 * ready; putting a file back brings it back. Nothing fails open.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, renameSync, statSync, unlinkSync } from 'node:fs';
import Database from 'better-sqlite3';
import { CLI } from '../helpers/cli.js';
import { join } from 'node:path';
import {
  openSqliteRegistry,
  type SqliteRegistry,
} from '../../src/gateway/registry/sqlite-registry.js';
import { tempDir } from '../helpers/pki.js';
import {
  makeInstitution,
  makeServerPki,
  mtlsAttempt,
  registerInstitution,
  run,
  startEchoUpstream,
  startTestGateway,
  waitFor,
  type EchoUpstream,
  type TestGateway,
  type TestInstitution,
  type TestServerPki,
} from '../helpers/gateway-harness.js';
import { Teardown } from '../helpers/teardown.js';

const { dir, cleanup } = tempDir('mtlskit-gw-regfile-');
const teardown = new Teardown();
teardown.defer(cleanup);
const path = join(dir, 'registry.db');
let pki: TestServerPki;
let registry: SqliteRegistry;
let upstream: EchoUpstream;
let gw: TestGateway;
let acme: TestInstitution;

/** Removes the file and its WAL companions, as `rm registry.db*` would. */
function removeRegistryFiles(p: string): void {
  for (const f of [p, `${p}-wal`, `${p}-shm`]) if (existsSync(f)) unlinkSync(f);
}

/** Writes a registry file elsewhere with `acme` registered, optionally suspended, and closes it. */
async function writeRegistryCopy(target: string, suspended: boolean): Promise<void> {
  const other = await openSqliteRegistry(target, { pollIntervalMs: 100 });
  await registerInstitution(other, 'acme', acme.root.certPem, ['127.0.0.1']);
  if (suspended) await other.setInstitutionStatus('acme', 'suspended');
  await other.close();
  for (const f of [`${target}-wal`, `${target}-shm`]) if (existsSync(f)) unlinkSync(f);
}

before(async () => {
  pki = await makeServerPki(dir);
  acme = await makeInstitution(dir, 'acme');
  registry = teardown.use(await openSqliteRegistry(path, { pollIntervalMs: 100 }));
  await registerInstitution(registry, 'acme', acme.root.certPem, ['127.0.0.1']);
  upstream = teardown.use(await startEchoUpstream());
  gw = teardown.use(await startTestGateway({ registry, upstream: upstream.url, pki }));
});

after(() => teardown.run());

/** One call from acme: the status, or `closed` before the handshake. */
const attempt = (p: string): Promise<number | 'closed'> =>
  mtlsAttempt({
    port: gw.port,
    ca: pki.serverCa.certPem,
    cert: acme.client.certPem,
    key: acme.client.keyPem,
    path: p,
  });

/** The newest audit line the gateway logged with this reason, if any. */
function loggedReason(reason: string): Record<string, unknown> | undefined {
  return gw.lines
    .map((l) => l.audit as Record<string, unknown> | undefined)
    .filter((a) => a?.reason === reason)
    .pop();
}
const readyz = async () => {
  const res = await fetch(`http://127.0.0.1:${gw.gateway.opsAddress()?.port}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe(
  'gateway: the registry file is replaced or deleted while it runs',
  { timeout: 60_000 },
  () => {
    test('a replacement file (restore from backup) is reopened: its suspension applies within a second', async () => {
      assert.equal(await attempt('/before'), 200);
      const copy = join(dir, 'restored.db');
      await writeRegistryCopy(copy, true);
      renameSync(copy, path);
      await waitFor(
        async () => (await attempt('/after-restore')) === 'closed',
        3_000,
        'the suspension in the replacement file to apply',
      );
      const record = await waitFor(
        () => loggedReason('institution_suspended'),
        2_000,
        'an institution_suspended audit record',
      );
      assert.equal(record.institutionId, 'acme');
      assert.equal((await readyz()).status, 200, 'a readable replacement keeps the gateway ready');
    });

    test('a deleted file makes the gateway stale: every call refused, /readyz not ready, and a log line says why; a restored file recovers', async () => {
      const copy = join(dir, 'active.db');
      await writeRegistryCopy(copy, false);
      renameSync(copy, path);
      await waitFor(
        async () => (await attempt('/active')) === 200,
        3_000,
        'the active registry to apply',
      );

      removeRegistryFiles(path);
      const notReady = await waitFor(
        async () => {
          const r = await readyz();
          return r.status === 503 ? r : undefined;
        },
        15_000,
        '/readyz to report not ready',
      );
      assert.match(JSON.stringify(notReady.body), /registry/i);
      assert.equal(await attempt('/while-deleted'), 'closed');
      const record = await waitFor(
        () => loggedReason('registry_unavailable'),
        2_000,
        'a registry_unavailable audit record',
      );
      assert.match(
        String(record.detail),
        /^the registry has been unreadable since .* \(registry file .*registry\.db is gone \(deleted or moved away\)\), longer than the 5000 ms the gateway may serve an unconfirmed trust snapshot; refusing connections \(fail closed\)/,
      );
      const failures = gw.lines.filter(
        (l) =>
          l.msg ===
          'registry reload failed; the previous trust snapshot stays in service until it is too stale',
      );
      assert.ok(failures.length >= 1, 'a log line says the registry reload failed');
      assert.match(
        String((failures[0]?.err as { message?: string } | undefined)?.message),
        /registry file .*registry\.db is gone \(deleted or moved away\)/,
      );
      assert.equal(failures.length, 1, 'one line per outage, not one per retry');

      await writeRegistryCopy(copy, false);
      renameSync(copy, path);
      await waitFor(async () => (await readyz()).status === 200, 5_000, '/readyz to recover');
      assert.equal(await attempt('/recovered'), 200);
    });

    test('`mtls gateway registry backup` and `restore` under a running gateway: the restore applies within a second, the file stays sound, the version only grows', async () => {
      const live = await openSqliteRegistry(path, { pollIntervalMs: 100 });
      try {
        assert.equal(await attempt('/before-backup'), 200);
        const backup = join(dir, 'backup.db');
        const made = await run(process.execPath, [
          CLI,
          'gateway',
          'registry',
          'backup',
          backup,
          '--registry',
          path,
          '--json',
        ]);
        assert.equal(made.code, 0, made.stderr);
        assert.equal((JSON.parse(made.stdout) as { institutions: number }).institutions, 1);
        assert.equal(statSync(backup).mode & 0o777, 0o600, 'the copy holds the audit trail');

        // A change after the backup, in service.
        await live.setInstitutionStatus('acme', 'suspended');
        await waitFor(async () => (await attempt('/suspended')) === 'closed', 3_000, 'suspended');
        const versionBefore = await live.version();

        const restore = (...extra: string[]) =>
          run(process.execPath, [
            CLI,
            'gateway',
            'registry',
            'restore',
            backup,
            '--registry',
            path,
            ...extra,
          ]);
        const restored = await restore('--yes');
        assert.equal(restored.code, 0, restored.stderr);
        assert.match(restored.stdout, /restored .*backup\.db into .*registry\.db: 1 institution/);
        const t0 = Date.now();
        await waitFor(
          async () => (await attempt('/after-restore')) === 200,
          3_000,
          'the restored (active) institution to apply',
        );
        assert.ok(Date.now() - t0 < 2_000, `applied in ${Date.now() - t0} ms`);
        assert.ok((await live.version()) > versionBefore, 'the version moved forward, not back');
        const check = new Database(path, { readonly: true });
        try {
          assert.deepEqual(check.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
        } finally {
          check.close();
        }
        // Refused without a confirmation where no terminal can give one.
        const unconfirmed = await restore();
        assert.equal(unconfirmed.code, 2);
        assert.match(unconfirmed.stderr, /refusing without confirmation/);
      } finally {
        await live.close();
      }
    });
  },
);
