/**
 * A SQLite registry file as an older mtlskit left it: the migrations up to
 * `version` applied by hand, the way that build recorded them (before schema
 * 7 a `schema_version` row had no `compatible_from`), for migration and
 * rolling-upgrade tests.
 */
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/gateway/registry/index.js';

/**
 * Writes a schema-`version` registry at `path` (at most 6), then runs `fill`
 * on it for the rows the test needs, and closes it.
 */
export function writeOldRegistry(
  path: string,
  version: number,
  fill: (db: Database.Database) => void = () => undefined,
): void {
  if (version > 6) throw new Error('from schema 7 on, open the registry with this build instead');
  const db = new Database(path);
  try {
    db.exec(
      'CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    for (const m of MIGRATIONS.filter((x) => x.version <= version)) {
      db.exec(m.sqlite);
      db.prepare('INSERT INTO schema_version VALUES (?, ?, ?)').run(m.version, m.description, 'x');
    }
    fill(db);
  } finally {
    db.close();
  }
}
