/**
 * `npm run bench:audit-kill`: what the audit trail keeps when the gateway is
 * killed with SIGKILL under keep-alive load, for `audit.durability: batched`
 * and `durable`. For each trial it counts the request records in the JSON
 * log (stdout, written synchronously) and in the registry, and how far the
 * registry's last record lags behind the log's last line.
 *
 * Flags: --trials N (3), --seconds S of load before the kill (2).
 */
import 'reflect-metadata';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { openSqliteRegistry } from '../src/gateway/registry/sqlite-registry.js';
import { makeBenchPki, registerBenchInstitutions, EC_IP } from './gateway-fixtures.js';
import { runRound, startGatewayProcess, startUpstream } from './gateway-servers.js';

const { values } = parseArgs({
  options: { trials: { type: 'string', default: '3' }, seconds: { type: 'string', default: '2' } },
});
const work = mkdtempSync(join(tmpdir(), 'mtlskit-bench-kill-'));
try {
  const pki = await makeBenchPki(work);
  const upstream = await startUpstream();
  console.log(
    `# audit records after SIGKILL under keep-alive load (${values.seconds} s of load, flush interval 250 ms), ${new Date().toISOString()}\n`,
  );
  console.log(
    '| durability | trial | request lines in the log | request records in the registry | missing from the registry | registry behind the log by |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const durability of ['batched', 'durable'] as const) {
    for (let t = 1; t <= Number(values.trials); t++) {
      const regPath = join(work, `registry-${durability}-${t}.db`);
      const reg = await openSqliteRegistry(regPath);
      await registerBenchInstitutions(reg, pki);
      await reg.close();
      const gw = await startGatewayProcess({
        dir: work,
        label: `${durability}-${t}`,
        registry: regPath,
        upstreamPort: upstream.port,
        certFile: pki.server.server.certPath,
        keyFile: pki.server.server.keyPath,
        workers: 1,
        durability,
      });
      const loadMs = Number(values.seconds) * 1000;
      const load = runRound(
        gw,
        {
          host: '127.0.0.1',
          localAddress: EC_IP,
          servername: 'localhost',
          caFile: pki.server.serverCa.certPath,
          certFile: pki.ec.client.certPath,
          keyFile: pki.ec.client.keyPath,
          mode: 'keepalive',
          concurrency: 8,
          durationMs: loadMs + 1_000,
        },
        2,
      );
      // Load clients take a while to start on a busy machine: count from the first audited request.
      const deadline = Date.now() + 60_000;
      while (
        !readFileSync(gw.logFile, 'utf8').includes('"kind":"request"') &&
        Date.now() < deadline
      )
        await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, loadMs));
      process.kill(gw.pid, 'SIGKILL');
      await load.catch(() => undefined);
      const lines = readFileSync(gw.logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"kind":"request"'))
        .map((l) => (JSON.parse(l) as { audit: { time: string } }).audit.time);
      const db = new Database(regPath, { readonly: true });
      const row = db
        .prepare("SELECT count(*) AS n, max(time) AS last FROM audit_log WHERE kind = 'request'")
        .get() as { n: number; last: string | null };
      db.close();
      const lastLog = lines.length ? Date.parse(lines[lines.length - 1] as string) : NaN;
      const behind = row.last ? lastLog - Date.parse(row.last) : NaN;
      console.log(
        `| ${durability} | ${t} | ${lines.length} | ${row.n} | ${lines.length - row.n} (${((100 * (lines.length - row.n)) / Math.max(1, lines.length)).toFixed(1)}%) | ${Number.isFinite(behind) ? `${behind} ms` : 'n/a'} |`,
      );
    }
  }
  await upstream.stop();
} finally {
  rmSync(work, { recursive: true, force: true });
}
