/**
 * A throwaway PostgreSQL database per test file, on the machine's server
 * (trust auth on loopback; `.ci/run` installs and starts it).
 * `MTLS_TEST_PG_URL` names another server.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The maintenance database URL the test databases are created from. */
export const PG_ADMIN_URL =
  process.env.MTLS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The URL of database `db` on the same server as {@link PG_ADMIN_URL}. */
export function pgUrl(db: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${db}`;
  return u.toString();
}

/** Runs `fn` on a fresh client connected to `url` (default: the maintenance database). */
export async function pgAdmin<T>(fn: (c: pg.Client) => Promise<T>, url = PG_ADMIN_URL): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A database made for one test file; `drop()` removes it even while clients are connected. */
export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** Creates a database named `${prefix}_<random>`. */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await pgAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: pgUrl(name),
    drop: () =>
      pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
