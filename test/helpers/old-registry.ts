/**
 * A SQLite registry file as an older mtlskit left it: the migrations up to
 * `version` applied by hand, the way that build recorded them (before schema
 * 7 a `schema_version` row had no `compatible_from`), for migration and
 * rolling-upgrade tests.
 */
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/gateway/registry/index.js';

/**
 * Writes a schema-`version` registry at `path`, then runs `fill` on it for
 * the rows the test needs, and closes it.
 */
export function writeOldRegistry(
  path: string,
  version: number,
  fill: (db: Database.Database) => void = () => undefined,
): void {
  const db = new Database(path);
  try {
    db.exec(
      'CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    for (const m of MIGRATIONS.filter((x) => x.version <= version)) {
      db.exec(m.sqlite);
      // From schema 7 on, a build records what each version allows (migrations.ts).
      if (m.version >= 7) {
        db.prepare('INSERT INTO schema_version VALUES (?, ?, ?, ?)').run(
          m.version,
          m.description,
          'x',
          m.compatibleFrom ?? m.version,
        );
      } else {
        db.prepare(
          'INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)',
        ).run(m.version, m.description, 'x');
      }
    }
    fill(db);
  } finally {
    db.close();
  }
}
