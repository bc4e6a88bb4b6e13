import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { MtlsError } from '../../src/errors/index.js';
import type { FetchCrlOptions } from '../../src/gateway/crl-fetch.js';
import {
  CrlRefresher,
  type CrlFetchOutcome,
  type CrlSource,
} from '../../src/gateway/crl-refresher.js';
import { waitFor } from '../helpers/gateway-harness.js';
import { defined } from '../helpers/assert.js';

/** A pino logger that keeps its lines for assertions. */
function memoryLog(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info' },
    { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  return { log, lines };
}

const source = (
  id: number,
  url = `http://crl.test/${id}.crl`,
  intervalSeconds = 3600,
): CrlSource => ({ id, institutionId: `inst-${id}`, url, intervalSeconds });

/** A download that records its URL, and a store that finds nothing new in it. */
const recordingFetches = (
  fetched: string[],
): Pick<ConstructorParameters<typeof CrlRefresher>[0], 'fetchImpl' | 'apply'> => ({
  fetchImpl: (o) => {
    fetched.push(o.url);
    return Promise.resolve({ body: Buffer.from('x'), finalUrl: o.url, contentType: null });
  },
  apply: () =>
    Promise.resolve({ changed: false, thisUpdate: '2026-12-01T00:00:00.000Z', nextUpdate: null }),
});

describe('CrlRefresher', () => {
  it('fetches a new source at once, stores it, and keeps the last good CRL when a later download fails', async () => {
    const { log, lines } = memoryLog();
    const stored: string[] = [];
    let serve: () => Buffer = () => Buffer.from('crl-1');
    const outcomes: CrlFetchOutcome[] = [];
    const r = new CrlRefresher({
      listSources: () => Promise.resolve([source(1)]),
      fetchImpl: (o: FetchCrlOptions) =>
        Promise.resolve({ body: serve(), finalUrl: o.url, contentType: null }),
      apply: (_s, body) => {
        if (body.toString() === 'tampered')
          return Promise.reject(
            new MtlsError('MTLS_ONBOARD_REJECTED', 'the signature does not verify', {
              details: { check: 'crl_signature' },
            }),
          );
        stored.push(body.toString());
        return Promise.resolve({
          changed: true,
          thisUpdate: '2026-12-01T00:00:00.000Z',
          nextUpdate: '2026-12-08T00:00:00.000Z',
        });
      },
      onOutcome: (o) => outcomes.push(o),
      log,
    });
    await r.sync();
    const first = await r.refresh(1);
    assert.equal(first.ok, true);
    assert.deepEqual(stored, ['crl-1']);

    serve = () => Buffer.from('tampered');
    const second = await r.refresh(1);
    assert.equal(second.ok, false);
    assert.equal(second.code, 'MTLS_ONBOARD_REJECTED');
    assert.deepEqual(stored, ['crl-1'], 'the refused download replaced nothing');
    const warn = defined(
      lines.find((l) => l.event === 'crl_refresh_failed'),
      'a crl_refresh_failed log line',
    );
    assert.equal(warn.check, 'crl_signature');
    assert.match(String(warn.msg), /last good CRL stays in service: the signature does not verify/);
    assert.ok(outcomes.length >= 2);
    await r.stop();
  });

  it('follows the registered sources: removed ones stop, changed ones start over', async () => {
    const { log } = memoryLog();
    let sources = [source(1), source(2)];
    const fetched: string[] = [];
    const r = new CrlRefresher({
      listSources: () => Promise.resolve(sources),
      ...recordingFetches(fetched),
      log,
    });
    await r.sync();
    await waitFor(() => fetched.length >= 2, 5_000, 'both first downloads');
    assert.deepEqual(fetched.sort(), ['http://crl.test/1.crl', 'http://crl.test/2.crl']);
    sources = [source(2, 'http://crl.test/2b.crl')];
    await r.sync();
    await waitFor(() => fetched.length >= 3, 5_000, 'the changed source download');
    assert.deepEqual(fetched.slice(2), ['http://crl.test/2b.crl']);
    await assert.rejects(
      r.refresh(1),
      (e: unknown) => e instanceof MtlsError && e.code === 'MTLS_NOT_FOUND',
    );
    assert.equal(r.outcomes.has(1), false);
    await r.stop();
  });

  it("a sync for one institution reads and reconciles only that institution's sources", async () => {
    const { log } = memoryLog();
    let sources = [source(1), source(2)];
    const asked: Array<string | undefined> = [];
    const fetched: string[] = [];
    const r = new CrlRefresher({
      listSources: (institutionId) => {
        asked.push(institutionId);
        return Promise.resolve(
          sources.filter((s) => institutionId === undefined || s.institutionId === institutionId),
        );
      },
      ...recordingFetches(fetched),
      log,
    });
    await r.sync();
    await waitFor(() => fetched.length >= 2, 5_000, 'both first downloads');
    // inst-1's source goes away and inst-2's changes URL; only inst-1 is synced.
    sources = [source(2, 'http://crl.test/2b.crl')];
    await r.sync('inst-1');
    assert.deepEqual(asked, [undefined, 'inst-1']);
    await assert.rejects(
      r.refresh(1),
      (e: unknown) => e instanceof MtlsError && e.code === 'MTLS_NOT_FOUND',
    );
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(fetched.length, 2, "inst-2's schedule was not touched");
    await r.sync('inst-2');
    await waitFor(() => fetched.length >= 3, 5_000, 'the changed source download');
    assert.deepEqual(fetched.slice(2), ['http://crl.test/2b.crl']);
    await r.stop();
  });

  it('retries a failed download sooner than its interval', async () => {
    const { log } = memoryLog();
    let calls = 0;
    const r = new CrlRefresher({
      listSources: () => Promise.resolve([source(1, 'http://crl.test/1.crl', 3600)]),
      fetchImpl: () => {
        calls++;
        return Promise.reject(new MtlsError('MTLS_NETWORK', 'CRL download failed: ECONNREFUSED'));
      },
      apply: () => assert.fail('nothing to apply'),
      retrySeconds: 0.05,
      log,
    });
    await r.sync();
    await new Promise((res) => setTimeout(res, 400));
    await r.stop();
    assert.ok(calls >= 3, `retried ${calls} times`);
  });
});
