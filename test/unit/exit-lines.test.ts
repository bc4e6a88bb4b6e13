/**
 * The `Exit codes:` prose lines of the commands that have one are derived
 * from the error catalogue: every part names catalogue codes, and the numbers
 * printed are the catalogue's exits for them.
 */
import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES } from '../../src/errors/index.js';
import { exitCodesLine, isErrorCode, type ExitLinePart } from '../../src/cli/exit-help.js';
import { EXIT_LINES } from '../helpers/exit-lines.js';
import { CALL_FAILURE_CODES } from '../../src/cli/commands/request.js';
import { VERDICT_ERROR_CODES } from '../../src/client/classify.js';

/** The help's whitespace collapsed, so a wrapped line compares to its words. */
const flat = (text: string): string => text.replace(/\s+/g, ' ').trim();

/** The exits of a part as the test reads them straight off the catalogue. */
function catalogueExits(part: ExitLinePart): number[] {
  if ('outcome' in part) return [part.outcome];
  return [...new Set(part.codes.map((c) => ERROR_CODES[c].exit))].sort((a, b) => a - b);
}

describe('exit-code prose lines', () => {
  for (const [command, parts] of Object.entries(EXIT_LINES)) {
    it(`${command}: every part names catalogue codes, once, and prints the catalogue's exits in order`, () => {
      const seen = new Set<string>();
      for (const part of parts) {
        if ('outcome' in part) continue;
        for (const code of part.codes) {
          assert.ok(isErrorCode(code), `${code} is not in the catalogue`);
          assert.ok(!seen.has(code), `${code} is named by two parts`);
          seen.add(code);
        }
      }
      assert.doesNotMatch(exitCodesLine(parts), />=\n/, 'a wrap splits `>= N`');
      const line = flat(exitCodesLine(parts));
      assert.ok(line.startsWith('Exit codes: '), line);
      let at = 0;
      let last = -1;
      for (const part of [...parts].sort(
        (a, b) => (catalogueExits(a)[0] ?? 0) - (catalogueExits(b)[0] ?? 0),
      )) {
        const exits = catalogueExits(part);
        const printed = flat(`${expectedNumbers(exits)} ${part.text}`);
        const found = line.indexOf(printed, at);
        assert.ok(found >= 0, `"${printed}" is not in "${line.slice(at)}"`);
        assert.ok((exits[0] ?? 0) >= last, `${printed} is out of order`);
        at = found + printed.length;
        last = exits[0] ?? 0;
      }
      // An outcome's number must not be one the same line gives an error.
      const outcomes = parts.flatMap((p) => ('outcome' in p ? [p.outcome] : []));
      const errors = parts.flatMap((p) => ('outcome' in p ? [] : catalogueExits(p)));
      assert.deepEqual(
        outcomes.filter((o) => errors.includes(o)),
        [],
      );
    });
  }

  it('prints a run of exits as a range and a gap with a slash', () => {
    assert.equal(
      flat(
        exitCodesLine([
          {
            codes: ['MTLS_FILE_READ', 'MTLS_BAD_PASSPHRASE', 'MTLS_PASSPHRASE_REQUIRED'],
            text: 'a',
          },
          { codes: ['MTLS_NETWORK', 'MTLS_USAGE'], text: 'b' },
          { outcome: 0, text: 'ok' },
        ]),
      ),
      'Exit codes: 0 ok, 2/6 b, 3-5 a.',
    );
  });

  it('wraps at 100 columns with an indented continuation, losing no word', () => {
    const text = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const rendered = exitCodesLine([{ codes: ['MTLS_USAGE'], text }]);
    const lines = rendered.split('\n').slice(1);
    assert.ok(lines.length > 1);
    for (const l of lines) assert.ok(l.length <= 100, l);
    for (const l of lines.slice(1)) assert.match(l, /^ {2}\S/);
    assert.equal(flat(rendered), `Exit codes: 2 ${text}.`);
  });

  it('the failed-call codes are the ones the client classifies a failed call as', () => {
    const classified = new Set(Object.values(VERDICT_ERROR_CODES));
    classified.delete('MTLS_INTERNAL'); // the verdicts of a call that works
    classified.delete('MTLS_HTTP_STATUS'); // an HTTP error, a failure only with --fail
    assert.deepEqual([...CALL_FAILURE_CODES].sort(), [...classified].sort());
  });
});

/** `3`, `3-5`, `2/6`: how the help writes a part's exits (runs of consecutive numbers as ranges). */
function expectedNumbers(exits: readonly number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < exits.length) {
    let j = i;
    while (j + 1 < exits.length && exits[j + 1] === (exits[j] ?? 0) + 1) j++;
    out.push(i === j ? `${exits[i]}` : `${exits[i]}-${exits[j]}`);
    i = j + 1;
  }
  return out.join('/');
}
