/**
 * Reads OpenSSL configuration files with the semantics of OpenSSL 3.0's NCONF
 * loader (config(5), crypto/conf/conf_def.c): sections, `name = value`, `#`
 * comments, `\` line continuation, quotes and escapes, `$var` / `${var}` /
 * `$(var)` / `$section::name` / `$ENV::NAME` expansion, `.include` and
 * `.pragma`. Every value keeps the file and line it came from, so later errors
 * can point at the exact place.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { MtlsError } from '../errors/index.js';
import { errorCode, systemErrorText } from '../errors/mtls-error.js';

/** One `key = value` of a section, after quote, escape and variable processing. */
export interface ConfigEntry {
  /** The section the entry belongs to (`default` for the unnamed section). */
  section: string;
  /** The key as written (`0.organizationName` keeps its `0.` prefix). */
  key: string;
  /** The value after quotes, escapes and `$` variables were processed. */
  value: string;
  /** The value text as written, before processing. */
  raw: string;
  /** The file the entry was read from (the path as given for the main file). */
  file: string;
  /** The 1-based line where the entry starts. */
  line: number;
}

/** One section: its entries in file order. */
export interface ConfigSection {
  name: string;
  /** Entries in order. A repeated key keeps only its last value, at its last position, as OpenSSL does. */
  entries: ConfigEntry[];
  /** Where the section was first opened (the main file, line 0, for `default`). */
  file: string;
  line: number;
}

/** A parsed configuration with lookup helpers. */
export interface ParsedOpenSslConfig {
  /** The main file's path as given. */
  readonly path: string;
  /** Every file read, the main file first, then includes in the order read. */
  readonly files: readonly string[];
  /** Sections in order of first appearance; `default` is always first. */
  readonly sections: readonly ConfigSection[];
  /** Things OpenSSL accepts but a reader should know (ignored pragmas, missing includes, …). */
  readonly warnings: string[];
  /** The section named `name`, if the file has it. */
  section(name: string): ConfigSection | undefined;
  /** The entry `key` of `section` only (no fallback). */
  get(section: string, key: string): ConfigEntry | undefined;
  /**
   * The entry `key` as OpenSSL's NCONF_get_string finds it: in `section`, then
   * in the default section.
   */
  lookup(section: string, key: string): ConfigEntry | undefined;
}

/** Options for {@link parseOpenSslConfig}. */
export interface ParseOpenSslConfigOptions {
  /** The file the text came from: used in messages and to resolve relative `.include`s. */
  path: string;
  /** Environment for `$ENV::NAME` and `OPENSSL_CONF_INCLUDE` (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /**
   * Home directory. The parser never expands `~` (OpenSSL does not either);
   * the option is accepted so callers can pass one options object around.
   */
  homeDir?: string;
}

/** `file:line` of an entry, for messages. */
export function formatLocation(where: { file: string; line: number }): string {
  return `${where.file}:${where.line}`;
}

/** OpenSSL's limit on a value after variable expansion (MAX_CONF_VALUE_LENGTH). */
const MAX_VALUE_LENGTH = 65536;

const isWs = (c: string | undefined): boolean =>
  c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlnum = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z0-9_]$/.test(c);
/** CONF_ALNUM_PUNCT: letters, digits, `_` and `!.%&*+,/;?@^~|-`. */
const isAlnumPunct = (c: string | undefined): boolean =>
  c !== undefined && /^[A-Za-z0-9_!.%&*+,/;?@^~|-]$/.test(c);

function valueKey(section: string, key: string): string {
  return `${section}\u0000${key}`;
}

class Config implements ParsedOpenSslConfig {
  readonly files: string[] = [];
  readonly sections: ConfigSection[] = [];
  readonly warnings: string[] = [];
  private readonly bySection = new Map<string, ConfigSection>();
  private readonly values = new Map<string, ConfigEntry>();

  constructor(readonly path: string) {
    this.open('default', path, 0);
  }

  open(name: string, file: string, line: number): ConfigSection {
    let s = this.bySection.get(name);
    if (!s) {
      s = { name, entries: [], file, line };
      this.bySection.set(name, s);
      this.sections.push(s);
    }
    return s;
  }

  set(entry: ConfigEntry): void {
    const s = this.open(entry.section, entry.file, entry.line);
    const k = valueKey(entry.section, entry.key);
    const old = this.values.get(k);
    if (old) {
      s.entries.splice(s.entries.indexOf(old), 1);
      this.warnings.push(
        `${formatLocation(entry)}: [${entry.section}] ${entry.key} is set again; this value replaces the one at ${formatLocation(old)}, as in OpenSSL`,
      );
    }
    s.entries.push(entry);
    this.values.set(k, entry);
  }

  section(name: string): ConfigSection | undefined {
    return this.bySection.get(name);
  }

  get(section: string, key: string): ConfigEntry | undefined {
    return this.values.get(valueKey(section, key));
  }

  lookup(section: string, key: string): ConfigEntry | undefined {
    return this.values.get(valueKey(section, key)) ?? this.values.get(valueKey('default', key));
  }
}

interface Flags {
  dollarid: boolean;
  abspath: boolean;
  includedir: string | undefined;
}

interface ParseState {
  cfg: Config;
  env: NodeJS.ProcessEnv;
  flags: Flags;
  section: string;
  /** Files being read, to refuse include loops. */
  stack: string[];
}

interface LogicalLine {
  text: string;
  line: number;
}

/** Splits text into logical lines: trailing CR/LF removed, `\` continuations joined (conf_def.c). */
function logicalLines(text: string): LogicalLine[] {
  const physical = text.replace(/^\uFEFF/, '').split('\n');
  if (physical.length > 0 && physical[physical.length - 1] === '') physical.pop();
  const out: LogicalLine[] = [];
  let buf = '';
  let start = 0;
  let continuing = false;
  for (const [i, raw] of physical.entries()) {
    const line = raw.replace(/[\r\n]+$/, '');
    if (!continuing) start = i + 1;
    buf += line;
    // A trailing backslash continues the line unless it is itself escaped.
    if (buf.endsWith('\\') && !buf.endsWith('\\\\')) {
      buf = buf.slice(0, -1);
      continuing = true;
      continue;
    }
    out.push({ text: buf, line: start });
    buf = '';
    continuing = false;
  }
  if (continuing) out.push({ text: buf, line: start });
  return out;
}

/** Position after a quoted run starting at `i` (scan_quote). */
function scanQuote(s: string, i: number): number {
  const q = s[i];
  i++;
  while (i < s.length && s[i] !== q) {
    if (s[i] === '\\') {
      i++;
      if (i >= s.length) return i;
    }
    i++;
  }
  return i < s.length ? i + 1 : i;
}

/** Removes a `#` comment, leaving quoted and escaped `#` alone (clear_comments). */
function clearComments(s: string): string {
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '#') return s.slice(0, i);
    if (c === '"' || c === "'") i = scanQuote(s, i);
    else if (c === '\\') i = Math.min(i + 2, s.length);
    else i++;
  }
  return s;
}

function eatWs(s: string, i: number): number {
  while (i < s.length && isWs(s[i])) i++;
  return i;
}

function eatAlnumPunct(s: string, i: number, flags: Flags): number {
  for (;;) {
    if (s[i] === '\\') {
      i = Math.min(i + 2, s.length);
      continue;
    }
    if (i < s.length && (isAlnumPunct(s[i]) || (flags.dollarid && s[i] === '$'))) {
      i++;
      continue;
    }
    return i;
  }
}

function trimEnd(s: string): string {
  return s.replace(/[ \t\r\n]+$/, '');
}

function configError(file: string, line: number, message: string, hint?: string): MtlsError {
  return new MtlsError('MTLS_CONFIG_INVALID', `${file}:${line}: ${message}`, {
    subject: `${file}:${line}`,
    ...(hint ? { hint } : {}),
  });
}

/**
 * Processes quotes, escapes and variables of one value (str_copy in conf_def.c).
 * `section` is where variables are looked up first.
 */
function strCopy(
  st: ParseState,
  section: string,
  from: string,
  file: string,
  line: number,
): string {
  let out = '';
  let i = 0;
  while (i < from.length) {
    const c = from.charAt(i);
    if (c === '"' || c === "'") {
      i++;
      while (i < from.length && from[i] !== c) {
        if (from[i] === '\\') {
          i++;
          if (i >= from.length) break;
        }
        out += from.charAt(i);
        i++;
      }
      if (from[i] === c) i++;
    } else if (c === '\\') {
      i++;
      if (i >= from.length) break;
      const v = from.charAt(i);
      i++;
      out += v === 'r' ? '\r' : v === 'n' ? '\n' : v === 'b' ? '\b' : v === 't' ? '\t' : v;
    } else if (c === '$' && (!st.flags.dollarid || from[i + 1] === '{' || from[i + 1] === '(')) {
      let j = i + 1;
      const close = from[j] === '{' ? '}' : from[j] === '(' ? ')' : '';
      if (close) j++;
      const isName = (ch: string | undefined): boolean =>
        isAlnum(ch) || (st.flags.dollarid && ch === '$');
      let refSection = section;
      let nameStart = j;
      while (j < from.length && isName(from[j])) j++;
      if (from[j] === ':' && from[j + 1] === ':') {
        refSection = from.slice(nameStart, j);
        j += 2;
        nameStart = j;
        while (j < from.length && isName(from[j])) j++;
      }
      const name = from.slice(nameStart, j);
      const shown = from.slice(i, close ? j + 1 : j);
      if (close) {
        if (from[j] !== close) {
          throw configError(
            file,
            line,
            `variable reference "${from.slice(i, j + 1)}" has no closing "${close}" (OpenSSL: "no close brace")`,
            `Write it as \${${name}}.`,
          );
        }
        j++;
      }
      const value = resolveVariable(st, refSection, name);
      if (value === undefined) {
        const where =
          refSection === section
            ? `[${section}] or the default section`
            : `[${refSection}]${refSection === 'ENV' ? ', the environment' : ''} or the default section`;
        throw configError(
          file,
          line,
          name === ''
            ? `"$" is not followed by a variable name (OpenSSL: "variable has no value")`
            : `variable "${shown}" has no value: "${name}" is not defined in ${where} before this line (OpenSSL: "variable has no value")`,
          name === ''
            ? 'Escape a literal dollar sign as \\$, or put the value in quotes.'
            : `Define ${name} earlier in the file, or escape a literal dollar sign as \\$.`,
        );
      }
      if (out.length + value.length + (from.length - j) > MAX_VALUE_LENGTH) {
        throw configError(
          file,
          line,
          `the value grows beyond ${MAX_VALUE_LENGTH} characters once variables are expanded (OpenSSL: "variable expansion too long")`,
        );
      }
      out += value;
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function resolveVariable(st: ParseState, section: string, name: string): string | undefined {
  if (name === '') return undefined;
  const own = st.cfg.get(section, name);
  if (own) return own.value;
  if (section === 'ENV') {
    const v = st.env[name];
    if (v !== undefined) return v;
  }
  return st.cfg.get('default', name)?.value;
}

function parseBool(v: string): boolean | undefined {
  if (v === 'on' || v === 'true') return true;
  if (v === 'off' || v === 'false') return false;
  return undefined;
}

function handlePragma(st: ParseState, rest: string, file: string, line: number): void {
  let p = rest;
  if (p.startsWith('=')) p = p.slice(1);
  p = trimEnd(p.replace(/^[ \t]+/, ''));
  const colon = p.indexOf(':');
  if (colon <= 0 || colon === p.length - 1) {
    throw configError(
      file,
      line,
      `.pragma "${p}" is not of the form keyword:value (OpenSSL: "invalid pragma")`,
      'Write e.g. `.pragma dollarid:on`.',
    );
  }
  const keyword = trimEnd(p.slice(0, colon));
  const value = p.slice(colon + 1).replace(/^[ \t]+/, '');
  if (keyword === 'dollarid' || keyword === 'abspath') {
    const b = parseBool(value);
    if (b === undefined) {
      throw configError(
        file,
        line,
        `.pragma ${keyword} takes on, off, true or false, not "${value}" (OpenSSL: "invalid pragma")`,
      );
    }
    st.flags[keyword] = b;
  } else if (keyword === 'includedir') {
    st.flags.includedir = value;
  } else {
    st.cfg.warnings.push(
      `${file}:${line}: unknown .pragma "${keyword}" ignored, as OpenSSL does (known: dollarid, abspath, includedir)`,
    );
  }
}

function handleInclude(
  st: ParseState,
  rest: string,
  file: string,
  line: number,
  inDirectory: boolean,
): void {
  let p = rest;
  if (p.startsWith('=')) p = p.slice(1);
  p = trimEnd(p.replace(/^[ \t]+/, ''));
  const target = strCopy(st, st.section, p, file, line);
  if (target === '') {
    st.cfg.warnings.push(`${file}:${line}: .include names no file; ignored, as OpenSSL does`);
    return;
  }
  const includeDir = st.env.OPENSSL_CONF_INCLUDE ?? st.flags.includedir;
  let path = target;
  if (!isAbsolute(path) && includeDir !== undefined && includeDir !== '')
    path = join(includeDir, path);
  if (st.flags.abspath && !isAbsolute(path)) {
    throw configError(
      file,
      line,
      `.include "${target}" is a relative path, but .pragma abspath is on (OpenSSL: "relative path")`,
      'Give the include as an absolute path.',
    );
  }
  if (!isAbsolute(path)) {
    path = resolve(dirname(file), path);
    st.cfg.warnings.push(
      `${file}:${line}: .include "${target}" is relative; mtlskit reads ${path} (relative to the including file), but OpenSSL resolves it against the working directory of the openssl process; use an absolute path or .pragma includedir so both agree`,
    );
  }
  let stat;
  try {
    stat = statSync(path);
  } catch {
    st.cfg.warnings.push(
      `${file}:${line}: .include ${path} does not exist; ignored, as OpenSSL does (its settings are missing)`,
    );
    return;
  }
  if (stat.isDirectory()) {
    if (inDirectory) {
      throw configError(
        file,
        line,
        `.include ${path} is a directory included from a file that was itself included from a directory (OpenSSL: "recursive directory include")`,
      );
    }
    const names = readdirSync(path)
      .filter((n) => /\.(cnf|conf)$/i.test(n))
      .sort();
    for (const n of names) {
      const child = join(path, n);
      if (statSync(child).isFile()) readInto(st, child, true, { file, line });
    }
    return;
  }
  readInto(st, path, inDirectory, { file, line });
}

function readInto(
  st: ParseState,
  path: string,
  inDirectory: boolean,
  from: { file: string; line: number },
): void {
  const abs = resolve(path);
  if (st.stack.includes(abs)) {
    throw configError(
      from.file,
      from.line,
      `.include ${path} includes itself (through ${st.stack.join(' → ')})`,
      'Remove the .include that closes the loop.',
    );
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new MtlsError(
      'MTLS_FILE_READ',
      `${from.file}:${from.line}: cannot read included file ${path}: ${systemErrorText(e)}`,
      {
        subject: path,
        cause: e,
      },
    );
  }
  st.stack.push(abs);
  parseText(st, text, path, inDirectory);
  st.stack.pop();
}

function parseText(st: ParseState, text: string, file: string, inDirectory: boolean): void {
  st.cfg.files.push(file);
  for (const { text: rawLine, line } of logicalLines(text)) {
    const buf = clearComments(rawLine);
    const s = eatWs(buf, 0);
    if (s >= buf.length) continue;
    if (buf[s] === '[') {
      const start = eatWs(buf, s + 1);
      let ss = start;
      let end: number;
      for (;;) {
        end = eatAlnumPunct(buf, ss, st.flags);
        const p = eatWs(buf, end);
        if (buf[p] === ']') break;
        if (p < buf.length && ss !== p) {
          ss = p;
          continue;
        }
        throw configError(
          file,
          line,
          `section header "${buf.trim()}" has no closing "]" or holds a character that section names cannot have (OpenSSL: "missing close square bracket")`,
        );
      }
      const name = strCopy(st, 'default', buf.slice(start, end), file, line);
      st.section = name;
      st.cfg.open(name, file, line);
      continue;
    }
    let pname = buf.slice(s, eatAlnumPunct(buf, s, st.flags));
    let end = s + pname.length;
    let psection = st.section;
    if (buf[end] === ':' && buf[end + 1] === ':') {
      psection = pname;
      const nameStart = end + 2;
      end = eatAlnumPunct(buf, nameStart, st.flags);
      pname = buf.slice(nameStart, end);
    }
    const p = eatWs(buf, end);
    if (pname === '.pragma' && (p !== end || buf[p] === '=')) {
      handlePragma(st, buf.slice(p), file, line);
      continue;
    }
    if (pname === '.include' && (p !== end || buf[p] === '=')) {
      handleInclude(st, buf.slice(p), file, line, inDirectory);
      continue;
    }
    if (buf[p] !== '=') {
      throw configError(
        file,
        line,
        `expected "name = value" but found "${buf.slice(s).trim()}" (OpenSSL: "missing equal sign")`,
        'Key names may hold letters, digits and _!.%&*+,/;?@^~|- only; put the value after "=".',
      );
    }
    const raw = trimEnd(buf.slice(eatWs(buf, p + 1)));
    const value = strCopy(st, psection, raw, file, line);
    st.cfg.set({ section: psection, key: pname, value, raw, file, line });
  }
}

/**
 * Parses an OpenSSL configuration file's text with NCONF semantics (config(5)).
 *
 * - The unnamed leading section is `default`; `[ default ]` reopens it.
 * - `$var`, `${var}`, `$(var)` look in the current section, then `default`;
 *   `$sect::name` in `sect`, then `default`; `$ENV::NAME` in a section called
 *   ENV, then the environment, then `default`. Variables are expanded as the
 *   file is read, so they must be defined on an earlier line.
 * - A repeated key replaces the earlier value (a warning says so).
 * - `.include` of a file, or of a directory (its `*.cnf` / `*.conf` files, in
 *   name order; OpenSSL reads them in directory order). A relative path is
 *   taken relative to the including file (OpenSSL uses its working directory,
 *   a warning says so), or to `.pragma includedir` / `OPENSSL_CONF_INCLUDE`
 *   when set, as OpenSSL does. A missing include is a warning, as in OpenSSL.
 * - `.pragma dollarid`, `abspath` and `includedir` are honoured; others are
 *   ignored with a warning.
 * - `~` is never expanded (OpenSSL does not expand it either).
 *
 * @throws MTLS_CONFIG_INVALID naming `file:line` for an undefined variable, a
 *   missing `=`, a bad section header, an invalid pragma, an include loop
 * @throws MTLS_FILE_READ when an included file exists but cannot be read
 */
export function parseOpenSslConfig(
  text: string,
  options: ParseOpenSslConfigOptions,
): ParsedOpenSslConfig {
  const cfg = new Config(options.path);
  const st: ParseState = {
    cfg,
    env: options.env ?? process.env,
    flags: { dollarid: false, abspath: false, includedir: undefined },
    section: 'default',
    stack: [resolve(options.path)],
  };
  parseText(st, text, options.path, false);
  return cfg;
}

/**
 * Reads and parses an OpenSSL configuration file.
 * @throws MTLS_FILE_NOT_FOUND when the file does not exist
 * @throws MTLS_FILE_READ when it cannot be read
 * @throws MTLS_CONFIG_INVALID as {@link parseOpenSslConfig}
 */
export function readOpenSslConfig(
  path: string,
  options: Omit<ParseOpenSslConfigOptions, 'path'> = {},
): ParsedOpenSslConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = errorCode(e);
    if (code === 'ENOENT')
      throw new MtlsError('MTLS_FILE_NOT_FOUND', `configuration file not found: ${path}`, {
        subject: path,
      });
    throw new MtlsError(
      'MTLS_FILE_READ',
      `cannot read configuration file ${path}: ${systemErrorText(e)}`,
      { subject: path, cause: e },
    );
  }
  return parseOpenSslConfig(text, { ...options, path });
}
