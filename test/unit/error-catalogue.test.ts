/**
 * Keeps the error catalogue (src/errors/codes.ts), the code that raises its
 * codes and the reference a user reads (docs/errors.md) in step: a code no
 * one raises is dead weight in the docs, a code without a section leaves the
 * user alone with `error[CODE]`, and a section that states the wrong exit
 * code breaks the scripts written against it.
 *
 * The source is read with the TypeScript parser (syntax only), so a code
 * named in a comment or inside a message text does not count as raised.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { ERROR_CODES, type ErrorCodeInfo } from '../../src/errors/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SRC = join(ROOT, 'src');
const CODES_FILE = join(SRC, 'errors', 'codes.ts');
const DOC_FILE = join(ROOT, 'docs', 'errors.md');
const README = join(ROOT, 'README.md');

const catalogue: Readonly<Record<string, ErrorCodeInfo>> = ERROR_CODES;
const codes = Object.keys(catalogue);
function info(code: string): ErrorCodeInfo {
  const entry = catalogue[code];
  if (!entry) throw new Error(`${code} is not in ERROR_CODES`);
  return entry;
}

/**
 * The category rule. Each category helper in codes.ts fixes the exit code
 * (and the HTTP status) of every code built with it; exit 1 belongs to
 * MTLS_INTERNAL alone, because a script must be able to tell "mtlskit has a
 * bug" from every failure the user can fix.
 */
const CATEGORY_EXIT = { usage: 2, config: 3, denied: 4, io: 5, net: 6 } as const;
const CATEGORY_HTTP = { usage: 400, config: 400, denied: 422, io: 500, net: 502 } as const;
type Category = keyof typeof CATEGORY_EXIT;
const isCategory = (name: string): name is Category => Object.hasOwn(CATEGORY_EXIT, name);
const CATEGORY_EXITS = new Set<number>(Object.values(CATEGORY_EXIT));
const INTERNAL = 'MTLS_INTERNAL';

/**
 * Name prefixes that commit a code to a category, so that a code filed under
 * the wrong helper is caught: a file problem exits 5, a TLS problem 6, a
 * configuration problem 3, a policy refusal 4.
 */
const PREFIX_EXIT: ReadonlyArray<readonly [string, number]> = [
  ['MTLS_FILE_', 5],
  ['MTLS_TLS_', 6],
  ['MTLS_CONFIG_', 3],
  ['MTLS_POLICY_', 4],
];

/** Every exit code the CLI can end with, as the docs' table must list them. */
const EXIT_MEANINGS: ReadonlyArray<readonly [number, string]> = [
  [0, 'success'],
  [1, 'unexpected'],
  [2, 'usage'],
  [3, 'configuration'],
  [4, 'denied'],
  [5, 'file'],
  [6, 'network'],
  [130, 'interrupted'],
];

function listTs(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) files.push(...listTs(p));
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) files.push(p);
  }
  return files;
}

const parse = (file: string): ts.SourceFile =>
  ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);

/** Where a code is raised: file and line, for the failure messages. */
interface RaiseSite {
  readonly code: string;
  readonly where: string;
}

const isErrorCodeType = (t: ts.TypeNode | undefined): boolean =>
  t !== undefined && /^ErrorCode(\s*\|\s*undefined)?$/.test(t.getText());

const calleeName = (e: ts.LeftHandSideExpression): string | undefined =>
  ts.isIdentifier(e) ? e.text : ts.isPropertyAccessExpression(e) ? e.name.text : undefined;

function functionName(fn: ts.SignatureDeclaration): string | undefined {
  if (
    (ts.isFunctionDeclaration(fn) || ts.isMethodDeclaration(fn)) &&
    fn.name &&
    ts.isIdentifier(fn.name)
  )
    return fn.name.text;
  if (
    (ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) &&
    ts.isVariableDeclaration(fn.parent) &&
    ts.isIdentifier(fn.parent.name)
  ) {
    return fn.parent.name.text;
  }
  return undefined;
}

/**
 * The functions that build an MtlsError from a code they are given: a
 * parameter typed `ErrorCode`, and a body that constructs an MtlsError or
 * calls another such builder. `isMtlsError(e, code)` takes an ErrorCode too,
 * but only compares, so it is not one. Result: name → index of the code parameter.
 */
function findBuilders(files: readonly ts.SourceFile[]): Map<string, number> {
  const builders = new Map<string, number>([['MtlsError', 0]]);
  const candidates: { name: string; index: number; body: ts.Node }[] = [];
  for (const sf of files) {
    const visit = (node: ts.Node): void => {
      if (
        (ts.isFunctionDeclaration(node) ||
          ts.isMethodDeclaration(node) ||
          ts.isArrowFunction(node) ||
          ts.isFunctionExpression(node)) &&
        node.body
      ) {
        const name = functionName(node);
        const index = node.parameters.findIndex((p) => isErrorCodeType(p.type));
        if (name && index >= 0) candidates.push({ name, index, body: node.body });
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  const builds = (body: ts.Node): boolean => {
    let found = false;
    const visit = (node: ts.Node): void => {
      if (found) return;
      if (ts.isNewExpression(node) && calleeName(node.expression) === 'MtlsError') found = true;
      else if (ts.isCallExpression(node) && builders.has(calleeName(node.expression) ?? ''))
        found = true;
      else ts.forEachChild(node, visit);
    };
    visit(body);
    return found;
  };
  for (let grew = true; grew;) {
    grew = false;
    for (const c of candidates) {
      if (!builders.has(c.name) && builds(c.body)) {
        builders.set(c.name, c.index);
        grew = true;
      }
    }
  }
  return builders;
}

/**
 * Climbs from a code literal through the expressions that only pass it on
 * (parentheses, `cond ? 'A' : 'B'`, `as`, `satisfies`) to the node that uses it.
 */
function usingNode(lit: ts.Node): { node: ts.Node; child: ts.Node } {
  let child = lit;
  let node = lit.parent;
  while (
    ts.isParenthesizedExpression(node) ||
    ts.isAsExpression(node) ||
    ts.isSatisfiesExpression(node) ||
    (ts.isConditionalExpression(node) && node.condition !== child)
  ) {
    child = node;
    node = node.parent;
  }
  return { node, child };
}

/**
 * True when the literal is raised: passed as the code to `new MtlsError(` or
 * to a builder, returned by a function declared to return an ErrorCode (a
 * chooser such as the OpenSSL-reason mapper), given as the value of a typed
 * `ErrorCode` variable or parameter default, or listed as a value in a table
 * declared as mapping to ErrorCode. Comparisons (`e.code === 'X'`,
 * `isMtlsError(e, 'X')`) and mere mentions are not raises.
 */
function isRaise(lit: ts.StringLiteralLike, builders: ReadonlyMap<string, number>): boolean {
  const { node, child } = usingNode(lit);
  if ((ts.isNewExpression(node) || ts.isCallExpression(node)) && node.arguments) {
    const index = builders.get(calleeName(node.expression) ?? '');
    if (ts.isNewExpression(node) && calleeName(node.expression) !== 'MtlsError') return false;
    return index !== undefined && node.arguments[index] === child;
  }
  if ((ts.isVariableDeclaration(node) || ts.isParameter(node)) && node.initializer === child)
    return isErrorCodeType(node.type);
  const enclosingFn = (n: ts.Node): ts.SignatureDeclaration | undefined => {
    for (let p = n; ; p = p.parent) {
      if (ts.isFunctionLike(p)) return p;
      if (ts.isSourceFile(p)) return undefined;
    }
  };
  if (ts.isReturnStatement(node)) return isErrorCodeType(enclosingFn(node)?.type);
  if (ts.isArrowFunction(node) && node.body === child) return isErrorCodeType(node.type);
  if (ts.isPropertyAssignment(node) && node.initializer === child) {
    let table: ts.Node = node.parent;
    while (!ts.isVariableDeclaration(table) && !ts.isSourceFile(table)) table = table.parent;
    return (
      ts.isVariableDeclaration(table) &&
      table.type !== undefined &&
      /\bErrorCode\b/.test(table.type.getText())
    );
  }
  return false;
}

function findRaiseSites(): RaiseSite[] {
  const files = listTs(SRC)
    .filter((f) => f !== CODES_FILE)
    .map(parse);
  const builders = findBuilders(files);
  const known = new Set(codes);
  const sites: RaiseSite[] = [];
  for (const sf of files) {
    const visit = (node: ts.Node): void => {
      if (
        (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) &&
        known.has(node.text) &&
        isRaise(node, builders)
      ) {
        const { line } = sf.getLineAndCharacterOfPosition(node.getStart());
        sites.push({ code: node.text, where: `${relative(ROOT, sf.fileName)}:${line + 1}` });
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return sites;
}

/** The category helper each catalogue entry is built with, read from codes.ts; `literal` for a written-out object. */
function categoriesInCodesTs(): Map<string, Category | 'literal'> {
  const sf = parse(CODES_FILE);
  const result = new Map<string, Category | 'literal'>();
  const visit = (node: ts.Node): void => {
    if (
      ts.isVariableDeclaration(node) &&
      ts.isIdentifier(node.name) &&
      node.name.text === 'ERROR_CODES' &&
      node.initializer
    ) {
      let init: ts.Expression = node.initializer;
      while (ts.isAsExpression(init) || ts.isSatisfiesExpression(init)) init = init.expression;
      assert.ok(
        ts.isObjectLiteralExpression(init),
        'ERROR_CODES is no longer an object literal; update this test',
      );
      for (const p of init.properties) {
        assert.ok(
          ts.isPropertyAssignment(p),
          `ERROR_CODES: ${p.getText()} is not a plain "CODE: helper('hint')" entry`,
        );
        const name = p.name.getText();
        if (ts.isObjectLiteralExpression(p.initializer)) result.set(name, 'literal');
        else if (
          ts.isCallExpression(p.initializer) &&
          ts.isIdentifier(p.initializer.expression) &&
          isCategory(p.initializer.expression.text)
        ) {
          result.set(name, p.initializer.expression.text);
        } else
          assert.fail(
            `ERROR_CODES.${name} is built with ${p.initializer.getText().slice(0, 40)}…; use one of ${Object.keys(CATEGORY_EXIT).join(', ')}()`,
          );
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return result;
}

/** The `## HEADING` sections of docs/errors.md, in order, with their text. */
function docSections(): { heading: string; body: string }[] {
  const text = readFileSync(DOC_FILE, 'utf8');
  const sections: { heading: string; body: string }[] = [];
  for (const part of text.split(/^(?=## )/m)) {
    const m = /^## (.*)\n/.exec(part);
    if (m) sections.push({ heading: (m[1] ?? '').trim(), body: part.slice(m[0].length) });
  }
  return sections;
}

/** The line every code's section carries, exactly. */
const statusLine = (code: string): string =>
  `Exit code: ${info(code).exit}. HTTP status: ${info(code).http}.`;

describe('error catalogue', () => {
  test('codes are unique and spelled MTLS_UPPER_CASE', () => {
    // Object keys are unique by construction; a duplicate key in the source
    // silently keeps the last entry, so count the keys in the source text.
    const inSource = [...categoriesInCodesTs().keys()];
    const dups = inSource.filter((c, i) => inSource.indexOf(c) !== i);
    assert.deepEqual(dups, [], `duplicate keys in src/errors/codes.ts: ${dups.join(', ')}`);
    const bad = codes.filter((c) => !/^MTLS_[A-Z0-9_]+$/.test(c));
    assert.deepEqual(bad, [], `codes must match /^MTLS_[A-Z0-9_]+$/: ${bad.join(', ')}`);
  });

  test('every code is raised somewhere in src/', () => {
    const raised = new Set(findRaiseSites().map((s) => s.code));
    const dead = codes.filter((c) => !raised.has(c));
    assert.deepEqual(
      dead,
      [],
      `never raised (no \`new MtlsError('CODE', …)\` or builder call outside codes.ts): ${dead.join(', ')}. ` +
        'Raise it where the failure happens, or delete it from src/errors/codes.ts and its section from docs/errors.md.',
    );
  });

  test("each code's exit code follows its category", () => {
    const categories = categoriesInCodesTs();
    assert.deepEqual(
      [...categories.keys()].sort(),
      [...codes].sort(),
      'codes.ts source and ERROR_CODES disagree',
    );
    for (const [code, category] of categories) {
      const { exit, http } = info(code);
      if (category === 'literal') {
        if (code === INTERNAL) {
          assert.equal(exit, 1, `${INTERNAL} must exit 1`);
          assert.equal(http, 500, `${INTERNAL} must answer HTTP 500`);
        } else {
          // A written-out entry only refines the HTTP status of a category.
          assert.ok(
            CATEGORY_EXITS.has(exit),
            `${code}: exit ${exit} is no category's (${JSON.stringify(CATEGORY_EXIT)}); exit 1 is ${INTERNAL}'s alone`,
          );
          assert.ok(
            http >= 400 && http <= 599,
            `${code}: HTTP status ${http} is not an error status`,
          );
        }
      } else {
        assert.equal(
          exit,
          CATEGORY_EXIT[category],
          `${code} is a ${category}() code and must exit ${CATEGORY_EXIT[category]}`,
        );
        assert.equal(
          http,
          CATEGORY_HTTP[category],
          `${code} is a ${category}() code and must answer HTTP ${CATEGORY_HTTP[category]}`,
        );
      }
      for (const [prefix, want] of PREFIX_EXIT) {
        if (code.startsWith(prefix))
          assert.equal(
            exit,
            want,
            `${code}: codes named ${prefix}* exit ${want}; file it under the matching helper`,
          );
      }
    }
  });

  test('every default hint is a sentence', () => {
    for (const code of codes) {
      const { hint } = info(code);
      assert.ok(hint.trim().length > 0, `${code}: the hint is empty`);
      assert.ok(hint.endsWith('.'), `${code}: the hint must end with a full stop: "${hint}"`);
    }
  });

  test('docs/errors.md has one section per code, stating its exit code and HTTP status', () => {
    const sections = docSections();
    const headings = sections.map((s) => s.heading);
    const codeHeadings = headings.filter((h) => h.startsWith('MTLS_'));
    const missing = codes.filter((c) => !codeHeadings.includes(c));
    assert.deepEqual(
      missing,
      [],
      `docs/errors.md lacks a section for: ${missing.join(', ')}. Add for each:\n` +
        missing
          .map(
            (c) =>
              `## ${c}\n\nWhat it means.\n\n${statusLine(c)}\n\n**Typical causes.** …\n\n**Fix.** …\n`,
          )
          .join('\n'),
    );
    const unknown = codeHeadings.filter((h) => !codes.includes(h));
    assert.deepEqual(
      unknown,
      [],
      `docs/errors.md has sections for codes that are not in the catalogue (remove them): ${unknown.join(', ')}`,
    );
    const twice = codeHeadings.filter((h, i) => codeHeadings.indexOf(h) !== i);
    assert.deepEqual(
      twice,
      [],
      `docs/errors.md has more than one section for: ${twice.join(', ')}`,
    );
    for (const { heading, body } of sections) {
      if (!codes.includes(heading)) continue;
      const lines = body.split('\n').map((l) => l.trim());
      assert.ok(
        lines.includes(statusLine(heading)),
        `docs/errors.md, ## ${heading}: needs the line "${statusLine(heading)}" (from src/errors/codes.ts)`,
      );
      const stated = lines.filter((l) => /^Exit code: /.test(l));
      assert.equal(
        stated.length,
        1,
        `docs/errors.md, ## ${heading}: states its exit code more than once`,
      );
      assert.match(
        body,
        /\*\*Typical causes\.\*\*\s+\S/,
        `docs/errors.md, ## ${heading}: needs a "**Typical causes.**" paragraph`,
      );
      assert.match(
        body,
        /\*\*Fix\.\*\*\s+\S/,
        `docs/errors.md, ## ${heading}: needs a "**Fix.**" paragraph`,
      );
      const meaning = body.slice(0, body.indexOf('Exit code: ')).trim();
      assert.ok(
        meaning.length > 0,
        `docs/errors.md, ## ${heading}: start with a paragraph saying what the code means`,
      );
    }
  });

  test("docs/errors.md's exit-code table lists every exit code", () => {
    const text = readFileSync(DOC_FILE, 'utf8');
    const rows = new Map<number, string>();
    for (const m of text.matchAll(/^\|\s*(\d+)\s*\|\s*([^|]+)\|/gm))
      rows.set(Number(m[1]), (m[2] ?? '').trim());
    for (const [exit, word] of EXIT_MEANINGS) {
      assert.ok(rows.has(exit), `docs/errors.md: the exit-code table needs a row for ${exit}`);
      assert.match(
        rows.get(exit) ?? '',
        new RegExp(word, 'i'),
        `docs/errors.md: exit ${exit} should mean "${word}"`,
      );
    }
    const used = new Set(codes.map((c) => info(c).exit));
    for (const exit of used)
      assert.ok(
        rows.has(exit),
        `docs/errors.md: exit ${exit} is used by the catalogue but not in the table`,
      );
  });

  test('the README points at docs/errors.md and names only catalogue codes', () => {
    const readme = readFileSync(README, 'utf8');
    assert.match(
      readme,
      /\]\(docs\/errors\.md\)/,
      'README.md should link to docs/errors.md rather than repeat the catalogue',
    );
    assert.doesNotMatch(
      readme,
      /^\|\s*Exit code\s*\|/m,
      'README.md repeats the exit-code table; link to docs/errors.md instead',
    );
    for (const file of [README, DOC_FILE]) {
      for (const m of readFileSync(file, 'utf8').matchAll(/error\[(MTLS_[A-Z0-9_]+)\]/g)) {
        assert.ok(
          codes.includes(m[1] ?? ''),
          `${relative(ROOT, file)} shows error[${m[1]}], which is not in the catalogue`,
        );
      }
    }
  });
});
