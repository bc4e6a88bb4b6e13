/**
 * Interprets the `openssl ca` part of an openssl.cnf: `[ca] default_ca`, the
 * CA section (`[CA_default]` in the guide), its policy, CRL settings, the
 * extension sections (signing profiles) and `[req]`'s distinguished-name
 * prompts. This is what `mtls ca adopt DIR` reads to take over a CA built by
 * hand with the guide's commands.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { MtlsError } from '../errors/index.js';
import { findAttributeType } from '../pki/names.js';
import type { ExtensionProfile } from '../pki/profile.js';
import {
  formatLocation,
  parseOpenSslConfig,
  readOpenSslConfig,
  type ConfigEntry,
  type ParsedOpenSslConfig,
} from './openssl-cnf.js';
import type { PolicyRule } from './policy.js';
import { looksLikeExtensionSection, parseExtensionSection } from './x509v3-config.js';
import { systemErrorText } from '../errors/mtls-error.js';

/** `default_days` when the CA section has none (the guide's value; `openssl ca` itself would demand `-days`). */
export const DEFAULT_CA_DAYS = 375;
/** `default_crl_days` when the CA section sets neither it nor `default_crl_hours`. */
export const DEFAULT_CRL_DAYS = 30;

/** One rule of the CA's DN policy, in file order. */
export interface PolicyFieldRule {
  /** The attribute's long name (`countryName`), whatever spelling the file used. */
  field: string;
  rule: PolicyRule;
  file: string;
  line: number;
}

/** One distinguished-name prompt of `[req]`'s `distinguished_name` section, for `mtls csr new`. */
export interface ReqField {
  /** The key as written (`0.organizationName`). */
  key: string;
  /** The attribute's long name, `N.` prefix removed (`organizationName`). */
  field: string;
  /** The attribute's short name (`O`). */
  short: string;
  /** The prompt text (with `prompt = no`: the long name). */
  prompt: string;
  /** `…_default`. */
  default?: string;
  /** A fixed value: `…_value`, or the entry's value with `prompt = no`. */
  value?: string;
  /** `…_min` / `…_max`: length limits of the answer. */
  min?: number;
  max?: number;
  /** A `+` before the name: joins the previous RDN (multi-valued RDN). */
  multiValued?: boolean;
  file: string;
  line: number;
}

/** The `[req]` settings mtlskit uses. */
export interface ReqConfig {
  defaultBits?: number;
  defaultMd?: string;
  stringMask?: string;
  /** The section named by `distinguished_name`. */
  distinguishedName?: string;
  /** `prompt = no` makes the DN section hold values rather than prompts. */
  prompt: boolean;
  x509Extensions?: string;
  reqExtensions?: string;
}

/** A CA-section key that mtlskit reads but does not act on, and why that is safe. */
export interface IgnoredSetting {
  key: string;
  value: string;
  reason: string;
  file: string;
  line: number;
}

/** Options for {@link loadCaConfig}. */
export interface LoadCaConfigOptions {
  /** The configuration file (default `DIR/openssl.cnf`). */
  configPath?: string;
  /** Environment for `$ENV::NAME` (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** What `~` expands to (default `os.homedir()`). */
  homeDir?: string;
  /**
   * What to do with an extension section that mtlskit cannot read and that the
   * CA section does not name (`x509_extensions` / `crl_extensions`):
   * `error` (default) throws its error; `skip` leaves the profile out, lists it
   * in `skippedProfiles` and adds a warning.
   */
  badProfiles?: 'error' | 'skip';
}

/** A profile left out under `badProfiles: 'skip'`. */
export interface SkippedProfile {
  name: string;
  /** The error reading it raised (names file:line and the directive). */
  error: MtlsError;
}

/** The CA settings of an openssl.cnf, typed, with absolute paths. */
export interface CaConfigResult {
  /** The configuration file read (absolute). */
  configPath: string;
  /** The CA directory given to {@link loadCaConfig} (absolute). */
  caDir: string;
  /** The CA section named by `[ca] default_ca` (`CA_default`). */
  caSection: string;
  /** `dir`, absolute (the CA directory when the file has no `dir`). */
  dir: string;
  certs?: string;
  crlDir?: string;
  newCertsDir: string;
  database: string;
  serialFile: string;
  /** `crlnumber`; absent means `openssl ca -gencrl` writes v1 CRLs without a CRL number. */
  crlNumberFile?: string;
  crlFile?: string;
  privateKey: string;
  certificate: string;
  /** `default_days` (default {@link DEFAULT_CA_DAYS}). */
  defaultDays: number;
  /** `default_crl_days` (default {@link DEFAULT_CRL_DAYS} when `default_crl_hours` is also unset). */
  defaultCrlDays: number;
  /** `default_crl_hours` (default 0), added to `defaultCrlDays`. */
  defaultCrlHours: number;
  /** `default_md`; `default` means the key type's default digest (SHA-256 for RSA and EC; none for Ed25519). Default `sha256`. */
  defaultMd: 'sha256' | 'sha384' | 'sha512' | 'default';
  /** `policy`: the policy section's name. */
  policy: string;
  /** The policy as field (long name) → rule, in file order. */
  policyFields: Record<string, PolicyRule>;
  /** The same policy as a list with locations (fits `applyPolicy`'s `policy`). */
  policyRules: PolicyFieldRule[];
  /** `copy_extensions` (default `none`). */
  copyExtensions: 'none' | 'copy' | 'copyall';
  /** `unique_subject`: from `index.txt.attr` if it sets it, else the CA section, else OpenSSL's default `yes`. */
  uniqueSubject: boolean;
  uniqueSubjectSource: 'index.txt.attr' | 'openssl.cnf' | 'default';
  /** `x509_extensions`: the profile `openssl ca` uses when given no `-extensions`. */
  x509Extensions?: string;
  /** `crl_extensions`, when its section exists. */
  crlExtensions?: string;
  /** `preserve` (default false): keep the CSR's DN order. */
  preserve: boolean;
  /** `email_in_dn` (default true): keep emailAddress in the subject. */
  emailInDn: boolean;
  /** Every extension section, by name. */
  profiles: Record<string, ExtensionProfile>;
  /** Profiles left out under `badProfiles: 'skip'`. */
  skippedProfiles: SkippedProfile[];
  /** `[req]`, when the file has one. */
  req?: ReqConfig;
  /** `[req]`'s DN prompts in order (empty without `[req] distinguished_name`). */
  reqFields: ReqField[];
  /** CA-section keys mtlskit deliberately does not act on. */
  ignored: IgnoredSetting[];
  /** `file:line` of each CA-section key used (`default_days` → `…/openssl.cnf:21`). */
  sources: Record<string, string>;
  /** Things the user should know: `~` expanded, defaults supplied, keys OpenSSL would trip on. */
  warnings: string[];
  /** The parsed file, for further lookups. */
  parsed: ParsedOpenSslConfig;
}

/** CA-section keys holding paths (`~` expansion and absolute resolution apply). */
const PATH_KEYS = [
  'dir',
  'certs',
  'crl_dir',
  'new_certs_dir',
  'database',
  'serial',
  'private_key',
  'certificate',
  'crlnumber',
  'crl',
  'RANDFILE',
] as const;

/** CA-section keys mtlskit honours (each becomes a field of the result). */
const HONOURED_KEYS = new Set<string>([
  ...PATH_KEYS.filter((k) => k !== 'RANDFILE'),
  'default_days',
  'default_crl_days',
  'default_crl_hours',
  'default_md',
  'policy',
  'x509_extensions',
  'crl_extensions',
  'copy_extensions',
  'preserve',
  'email_in_dn',
  'unique_subject',
]);

/** CA-section keys `openssl ca` reads that mtlskit accepts without acting on them, and why. */
const MSIE_HACK_REASON = "msie_hack = no is OpenSSL's default behaviour";
const IGNORED_KEYS: Readonly<Record<string, string>> = {
  RANDFILE:
    'mtlskit takes randomness from the operating system CSPRNG (node:crypto); no seed file is read or written',
  name_opt: "display option of openssl ca's confirmation prompt; mtlskit prints its own summary",
  cert_opt: "display option of openssl ca's confirmation prompt; mtlskit prints its own summary",
  rand_serial:
    'mtlskit always uses a random positive serial of at least 64 bits from a CSPRNG (RFC 5280 §4.1.2.2) and keeps the serial file valid',
  utf8: 'mtlskit always reads subject values as UTF-8',
  string_mask: 'mtlskit encodes names as with string_mask = utf8only',
  msie_hack: MSIE_HACK_REASON,
};

/** CA-section keys that change what `openssl ca` signs and that mtlskit does not implement. */
const UNSUPPORTED_KEYS: Readonly<Record<string, string>> = {
  default_startdate:
    'a fixed start date for every certificate is not supported; mtlskit certificates start now',
  default_enddate: 'a fixed end date for every certificate is not supported; use default_days',
  msie_hack: 'msie_hack = yes (T61String encoding for old Internet Explorer) is not supported',
};

/** Keys openssl ca reads from the CA section (any other key is only a variable). */
const CA_KEYS_OPENSSL_READS = new Set<string>([
  ...HONOURED_KEYS,
  ...Object.keys(IGNORED_KEYS),
  ...Object.keys(UNSUPPORTED_KEYS),
]);

function loc(e: { file: string; line: number }): string {
  return formatLocation(e);
}

function invalid(e: ConfigEntry, section: string, message: string, hint?: string): MtlsError {
  return new MtlsError(
    'MTLS_CONFIG_INVALID',
    `${loc(e)}: [${section}] ${e.key} = ${e.value}: ${message}`,
    { subject: loc(e), ...(hint ? { hint } : {}) },
  );
}

function yesNo(e: ConfigEntry, section: string): boolean {
  const v = e.value.trim().toLowerCase();
  if (['yes', 'y', 'true', 'on', '1'].includes(v)) return true;
  if (['no', 'n', 'false', 'off', '0'].includes(v)) return false;
  throw invalid(e, section, 'expected yes or no', `Write ${e.key} = yes or ${e.key} = no.`);
}

function nonNegativeInt(e: ConfigEntry, section: string, min = 0): number {
  const v = e.value.trim();
  if (!/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) {
    throw invalid(e, section, `expected a whole number${min > 0 ? ` of at least ${min}` : ''}`);
  }
  return Number(v);
}

function digest(e: ConfigEntry, section: string): CaConfigResult['defaultMd'] {
  const v = e.value.trim().toLowerCase();
  const map: Record<string, CaConfigResult['defaultMd']> = {
    sha256: 'sha256',
    'sha-256': 'sha256',
    'sha2-256': 'sha256',
    sha384: 'sha384',
    'sha-384': 'sha384',
    'sha2-384': 'sha384',
    sha512: 'sha512',
    'sha-512': 'sha512',
    'sha2-512': 'sha512',
    default: 'default',
  };
  const md = map[v];
  if (md) return md;
  if (['sha1', 'sha-1', 'md5', 'md4', 'md2', 'mdc2', 'ripemd160'].includes(v)) {
    // SHA-1 and MD5 signatures are forgeable by chosen-prefix collisions (RFC 6194 §3; RFC 9155 deprecates them in TLS 1.2).
    throw invalid(
      e,
      section,
      `mtlskit refuses to sign with ${e.value}: it is broken for signatures (RFC 6194 §3, RFC 9155)`,
      'Use default_md = sha256.',
    );
  }
  throw new MtlsError(
    'MTLS_CONFIG_UNSUPPORTED',
    `${loc(e)}: [${section}] default_md = ${e.value}: digest not supported (sha256, sha384, sha512 or default)`,
    {
      subject: loc(e),
      hint: 'Use default_md = sha256.',
    },
  );
}

function expandHome(value: string, home: string): string | undefined {
  if (value === '~') return home;
  if (value.startsWith('~/')) return join(home, value.slice(2));
  return undefined;
}

function readAttrFile(
  path: string,
  env: NodeJS.ProcessEnv,
): { value: boolean; where: string } | undefined {
  if (!existsSync(path)) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new MtlsError('MTLS_FILE_READ', `cannot read ${path}: ${systemErrorText(e)}`, {
      subject: path,
      cause: e,
    });
  }
  const attr = parseOpenSslConfig(text, { path, env });
  const e = attr.get('default', 'unique_subject');
  if (!e) return undefined;
  return { value: yesNo(e, 'index.txt.attr'), where: loc(e) };
}

function readReq(
  cfg: ParsedOpenSslConfig,
  warnings: string[],
): { req?: ReqConfig; fields: ReqField[] } {
  const s = cfg.section('req');
  if (!s) return { fields: [] };
  const get = (k: string): ConfigEntry | undefined => cfg.lookup('req', k);
  for (const k of ['input_password', 'output_password']) {
    const e = cfg.get('req', k);
    if (e)
      warnings.push(
        `${loc(e)}: [req] ${k} keeps a passphrase in plain text in openssl.cnf; mtlskit never reads passphrases from it (use --passphrase-file or a prompt) — remove the line`,
      );
  }
  const req: ReqConfig = { prompt: get('prompt')?.value.trim() !== 'no' };
  const bits = get('default_bits');
  if (bits) req.defaultBits = nonNegativeInt(bits, 'req', 512);
  const md = get('default_md');
  if (md) req.defaultMd = md.value;
  const mask = get('string_mask');
  if (mask) req.stringMask = mask.value;
  const x = get('x509_extensions');
  if (x) req.x509Extensions = x.value;
  const r = get('req_extensions');
  if (r) req.reqExtensions = r.value;
  const dnRef = get('distinguished_name');
  if (!dnRef) return { req, fields: [] };
  req.distinguishedName = dnRef.value;
  const dn = cfg.section(dnRef.value);
  if (!dn) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `${loc(dnRef)}: [req] distinguished_name = ${dnRef.value}, but the file has no [ ${dnRef.value} ] section`,
      {
        subject: loc(dnRef),
        hint: `Add a [ ${dnRef.value} ] section (countryName = Country Name (2 letter code), …).`,
      },
    );
  }
  const fields: ReqField[] = [];
  for (const e of dn.entries) {
    if (req.prompt && /_(default|min|max|value)$/.test(e.key)) continue;
    let type = e.key;
    // req(1): a leading "N." / "N:" / "N," lets a field repeat.
    const sep = type.search(/[.:,]/);
    if (sep >= 0 && sep + 1 < type.length) type = type.slice(sep + 1);
    const multiValued = type.startsWith('+');
    if (multiValued) type = type.slice(1);
    const t = findAttributeType(type);
    if (!t || t.short === t.oid) {
      warnings.push(
        `${loc(e)}: [${dn.name}] ${e.key}: "${type}" is not a name attribute mtlskit knows; the prompt is skipped (OpenSSL skips unknown names too)`,
      );
      continue;
    }
    const f: ReqField = {
      key: e.key,
      field: t.long,
      short: t.short,
      prompt: req.prompt ? e.value : t.long,
      file: e.file,
      line: e.line,
    };
    if (multiValued) f.multiValued = true;
    if (req.prompt) {
      const d = cfg.lookup(dn.name, `${e.key}_default`);
      if (d) f.default = d.value;
      const v = cfg.lookup(dn.name, `${e.key}_value`);
      if (v) f.value = v.value;
      const min = cfg.lookup(dn.name, `${e.key}_min`);
      if (min) f.min = nonNegativeInt(min, dn.name);
      const max = cfg.lookup(dn.name, `${e.key}_max`);
      if (max) f.max = nonNegativeInt(max, dn.name);
    } else {
      f.value = e.value;
    }
    fields.push(f);
  }
  return { req, fields };
}

/**
 * Loads the CA settings of `DIR/openssl.cnf` (or `configPath`), with
 * `openssl ca` semantics: `[ca] default_ca` names the CA section; its keys
 * fall back to the default section as OpenSSL's lookups do.
 *
 * Paths become absolute. A path that starts with `~/` (or is `~`) is expanded
 * to `homeDir` with a warning naming file:line: OpenSSL itself does not expand
 * `~`, and mtlskit's own configs use absolute paths. A relative path is taken
 * relative to the CA directory, with a warning (OpenSSL uses its working
 * directory).
 *
 * CA-section keys:
 * - honoured: dir, certs, crl_dir, new_certs_dir, database, serial, crlnumber,
 *   crl, private_key, certificate, default_days (default 375, with a warning:
 *   `openssl ca` would demand -days), default_crl_days / default_crl_hours
 *   (default 30 days, with a warning), default_md (sha256|sha384|sha512|default;
 *   default sha256 with a warning), policy, x509_extensions, crl_extensions,
 *   copy_extensions, preserve, email_in_dn, unique_subject;
 * - accepted and ignored with a reason (see `ignored`): RANDFILE, name_opt,
 *   cert_opt, rand_serial, utf8, string_mask (a warning unless utf8only),
 *   msie_hack = no;
 * - refused (MTLS_CONFIG_UNSUPPORTED): default_startdate, default_enddate,
 *   msie_hack = yes, digests other than SHA-2;
 * - any other key is not read by `openssl ca` either: it is kept as a variable,
 *   with a warning in case it is a misspelt setting.
 *
 * Every extension section (one holding x509v3 extension directives, or named
 * by x509_extensions / crl_extensions / [req]) becomes a profile.
 *
 * @throws MTLS_CA_NOT_FOUND when DIR or its openssl.cnf does not exist
 * @throws MTLS_CONFIG_INVALID naming file:line: no `[ca] default_ca`, no CA
 *   section, no policy, a missing required path (new_certs_dir, database,
 *   serial, certificate, private_key), a bad value, SHA-1/MD5
 * @throws MTLS_CONFIG_UNSUPPORTED naming file:line: a key mtlskit cannot
 *   honour, an unsupported extension directive
 */
// Promise-returning so that reading the files may become asynchronous without
// breaking callers; being async, every throw below reaches them as a rejection.
// eslint-disable-next-line @typescript-eslint/require-await -- see above
export async function loadCaConfig(
  dir: string,
  options: LoadCaConfigOptions = {},
): Promise<CaConfigResult> {
  const caDir = resolve(dir);
  const env = options.env ?? process.env;
  const home = options.homeDir ?? homedir();
  let st;
  try {
    st = statSync(caDir);
  } catch {
    throw new MtlsError('MTLS_CA_NOT_FOUND', `no CA directory at ${caDir}`, { subject: caDir });
  }
  if (!st.isDirectory())
    throw new MtlsError('MTLS_CA_NOT_FOUND', `${caDir} is not a directory`, { subject: caDir });
  const configPath = options.configPath ? resolve(options.configPath) : join(caDir, 'openssl.cnf');
  if (!existsSync(configPath)) {
    throw new MtlsError(
      'MTLS_CA_NOT_FOUND',
      `${options.configPath ? configPath : `${caDir} has no openssl.cnf`} (looked for ${configPath})`,
      {
        subject: configPath,
        hint: 'A CA built with the guide keeps its configuration in DIR/openssl.cnf; name the file explicitly if it lives elsewhere, or create the CA first.',
      },
    );
  }
  const parsed = readOpenSslConfig(configPath, { env, homeDir: home });
  const warnings = [...parsed.warnings];
  const sources: Record<string, string> = {};

  const defaultCa = parsed.lookup('ca', 'default_ca');
  if (!defaultCa || defaultCa.value === '') {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `${configPath}: no default_ca in the [ ca ] section, so there is no CA section to read`,
      {
        subject: configPath,
        hint: 'Add\n[ ca ]\ndefault_ca = CA_default\nto the file, above the CA section.',
      },
    );
  }
  const caSection = defaultCa.value;
  if (!parsed.section(caSection)) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `${loc(defaultCa)}: default_ca = ${caSection}, but the file has no [ ${caSection} ] section`,
      {
        subject: loc(defaultCa),
        hint: `Add a [ ${caSection} ] section with dir, database, serial, new_certs_dir, certificate, private_key, default_md and policy, or fix the name.`,
      },
    );
  }
  const get = (k: string): ConfigEntry | undefined => {
    const e = parsed.lookup(caSection, k);
    if (e) sources[k] = loc(e);
    return e;
  };

  // Keys physically in the CA section: classify each.
  const ignored: IgnoredSetting[] = [];
  for (const e of parsed.section(caSection)?.entries ?? []) {
    const v = e.value.trim();
    if (e.key === 'msie_hack' && ['no', 'n', 'false', 'off', '0'].includes(v.toLowerCase())) {
      ignored.push({
        key: e.key,
        value: e.value,
        reason: MSIE_HACK_REASON,
        file: e.file,
        line: e.line,
      });
      continue;
    }
    const unsupported = UNSUPPORTED_KEYS[e.key];
    if (unsupported) {
      throw new MtlsError(
        'MTLS_CONFIG_UNSUPPORTED',
        `${loc(e)}: [${caSection}] ${e.key} = ${e.value}: ${unsupported}`,
        {
          subject: loc(e),
          hint: `Remove ${e.key} from [${caSection}]; mtlskit honours: ${[...HONOURED_KEYS].join(', ')}.`,
        },
      );
    }
    const reason = IGNORED_KEYS[e.key];
    if (reason) {
      ignored.push({ key: e.key, value: e.value, reason, file: e.file, line: e.line });
      if (e.key === 'string_mask' && v !== 'utf8only') {
        warnings.push(
          `${loc(e)}: [${caSection}] string_mask = ${e.value}: mtlskit encodes subject names as with utf8only (UTF8String; PrintableString for countryName, RFC 5280 §4.1.2.6), so string types may differ from what openssl ca would write`,
        );
      }
      continue;
    }
    if (!CA_KEYS_OPENSSL_READS.has(e.key)) {
      warnings.push(
        `${loc(e)}: [${caSection}] ${e.key} is not a setting openssl ca reads; it is only a variable for $${e.key} (check the spelling if it was meant as a setting)`,
      );
    }
  }

  // Paths.
  const tilde: string[] = [];
  const relative: string[] = [];
  const pathOf = (k: (typeof PATH_KEYS)[number]): string | undefined => {
    const e = get(k);
    if (!e) return undefined;
    let v = e.value;
    const expanded = expandHome(v, home);
    if (expanded !== undefined) {
      tilde.push(`${k} (${loc(e)})`);
      v = expanded;
    }
    if (v === '') throw invalid(e, caSection, 'the path is empty');
    if (!isAbsolute(v)) {
      relative.push(`${k} (${loc(e)})`);
      v = resolve(caDir, v);
    }
    return v;
  };
  const paths: Partial<Record<(typeof PATH_KEYS)[number], string>> = {};
  for (const k of PATH_KEYS) {
    const p = pathOf(k);
    if (p !== undefined) paths[k] = p;
  }
  if (tilde.length) {
    warnings.push(
      `"~" expanded to ${home} in ${tilde.join(', ')}: OpenSSL itself does not expand "~" (openssl ca would look for a directory literally named "~" under its working directory); mtlskit's own configs use absolute paths, so write dir = ${paths.dir ?? home} in the file`,
    );
  }
  if (relative.length) {
    warnings.push(
      `relative paths resolved against the CA directory ${caDir}: ${relative.join(', ')}; openssl ca resolves them against its working directory, so run it from ${caDir} or make the paths absolute`,
    );
  }
  const required = (
    k: 'new_certs_dir' | 'database' | 'serial' | 'certificate' | 'private_key',
    example: string,
  ): string => {
    const p = paths[k];
    if (p === undefined) {
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        `${configPath}: [${caSection}] has no ${k}; openssl ca cannot sign without it`,
        {
          subject: `${configPath} [${caSection}] ${k}`,
          hint: `Add ${k} = ${example} to [ ${caSection} ].`,
        },
      );
    }
    return p;
  };
  const dirValue = paths.dir ?? caDir;
  if (paths.dir !== undefined && paths.dir !== caDir) {
    warnings.push(
      `${sources.dir}: dir = ${paths.dir} is not the CA directory ${caDir}; mtlskit uses the paths as the file gives them`,
    );
  }

  // Numbers and digests.
  const daysE = get('default_days');
  let defaultDays = DEFAULT_CA_DAYS;
  if (daysE) defaultDays = nonNegativeInt(daysE, caSection, 1);
  else
    warnings.push(
      `${configPath}: [${caSection}] has no default_days; mtlskit uses ${DEFAULT_CA_DAYS} days (openssl ca would refuse to sign without -days)`,
    );
  const crlDaysE = get('default_crl_days');
  const crlHoursE = get('default_crl_hours');
  let defaultCrlDays = crlDaysE ? nonNegativeInt(crlDaysE, caSection) : 0;
  const defaultCrlHours = crlHoursE ? nonNegativeInt(crlHoursE, caSection) : 0;
  if (defaultCrlDays === 0 && defaultCrlHours === 0) {
    defaultCrlDays = DEFAULT_CRL_DAYS;
    warnings.push(
      `${configPath}: [${caSection}] sets no default_crl_days or default_crl_hours; mtlskit uses ${DEFAULT_CRL_DAYS} days (openssl ca -gencrl would refuse without -crldays)`,
    );
  }
  const mdE = get('default_md');
  let defaultMd: CaConfigResult['defaultMd'] = 'sha256';
  if (mdE) defaultMd = digest(mdE, caSection);
  else
    warnings.push(
      `${configPath}: [${caSection}] has no default_md; mtlskit uses sha256 (openssl ca would refuse to sign without -md)`,
    );

  // Policy.
  const policyE = get('policy');
  if (!policyE) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `${configPath}: [${caSection}] has no policy; openssl ca cannot sign without one`,
      {
        subject: `${configPath} [${caSection}] policy`,
        hint: 'Add policy = policy_strict to the CA section and a [ policy_strict ] section (countryName = match, …, commonName = supplied).',
      },
    );
  }
  const policySection = parsed.section(policyE.value);
  if (!policySection) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `${loc(policyE)}: policy = ${policyE.value}, but the file has no [ ${policyE.value} ] section`,
      {
        subject: loc(policyE),
        hint: `Add a [ ${policyE.value} ] section (countryName = match, …, commonName = supplied).`,
      },
    );
  }
  if (policySection.entries.length === 0) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `${loc(policySection)}: policy section [${policySection.name}] is empty, so every subject field would be dropped`,
      {
        subject: loc(policySection),
        hint: 'Name at least commonName = supplied.',
      },
    );
  }
  const policyRules: PolicyFieldRule[] = [];
  const policyFields: Record<string, PolicyRule> = {};
  for (const e of policySection.entries) {
    const t = findAttributeType(e.key);
    if (!t)
      throw invalid(
        e,
        policySection.name,
        `unknown name attribute "${e.key}" (OpenSSL: "unknown object type in 'policy' configuration")`,
      );
    if (e.value !== 'match' && e.value !== 'supplied' && e.value !== 'optional') {
      throw invalid(
        e,
        policySection.name,
        'a policy rule is match, supplied or optional (lower case, as OpenSSL reads it)',
      );
    }
    policyRules.push({ field: t.long, rule: e.value, file: e.file, line: e.line });
    policyFields[t.long] = e.value;
  }

  // Flags.
  const copyE = get('copy_extensions');
  let copyExtensions: CaConfigResult['copyExtensions'] = 'none';
  if (copyE) {
    const v = copyE.value.trim().toLowerCase();
    if (v !== 'none' && v !== 'copy' && v !== 'copyall')
      throw invalid(copyE, caSection, 'expected none, copy or copyall');
    copyExtensions = v;
    if (v === 'copyall') {
      warnings.push(
        `${loc(copyE)}: copy_extensions = copyall copies every extension of a CSR over the profile's, including basicConstraints CA:TRUE from a hostile CSR (ca(1) WARNINGS); prefer none or copy`,
      );
    }
  }
  const preserveE = get('preserve');
  const emailE = get('email_in_dn');
  const uniqueE = get('unique_subject');
  const database = required('database', '$dir/index.txt');
  const attr = readAttrFile(`${database}.attr`, env);
  let uniqueSubject = true;
  let uniqueSubjectSource: CaConfigResult['uniqueSubjectSource'] = 'default';
  if (attr) {
    uniqueSubject = attr.value;
    uniqueSubjectSource = 'index.txt.attr';
    sources.unique_subject = attr.where;
  } else if (uniqueE) {
    uniqueSubject = yesNo(uniqueE, caSection);
    uniqueSubjectSource = 'openssl.cnf';
  }

  // Extension sections.
  const x509E = get('x509_extensions');
  const crlExtE = get('crl_extensions');
  if (x509E && !parsed.section(x509E.value)) {
    throw new MtlsError(
      'MTLS_CONFIG_INVALID',
      `${loc(x509E)}: x509_extensions = ${x509E.value}, but the file has no [ ${x509E.value} ] section`,
      {
        subject: loc(x509E),
        hint: `Add a [ ${x509E.value} ] section, or remove x509_extensions.`,
      },
    );
  }
  let crlExtensions: string | undefined;
  if (crlExtE) {
    if (parsed.section(crlExtE.value)) crlExtensions = crlExtE.value;
    else {
      warnings.push(
        `${loc(crlExtE)}: crl_extensions = ${crlExtE.value}, but the file has no [ ${crlExtE.value} ] section; openssl ca -gencrl fails with this file. Add [ ${crlExtE.value} ] with authorityKeyIdentifier = keyid:always (RFC 5280 §5.2.1)`,
      );
    }
  }
  const { req, fields: reqFields } = readReq(parsed, warnings);
  const mustRead = new Set(
    [x509E?.value, crlExtensions, req?.x509Extensions, req?.reqExtensions].filter(
      (s): s is string => !!s,
    ),
  );
  const profiles: Record<string, ExtensionProfile> = {};
  const skippedProfiles: SkippedProfile[] = [];
  for (const s of parsed.sections) {
    if (
      s.name === caSection ||
      s.name === policySection.name ||
      s.name === 'ca' ||
      s.name === 'req'
    )
      continue;
    if (!mustRead.has(s.name) && !looksLikeExtensionSection(s)) continue;
    try {
      profiles[s.name] = parseExtensionSection(parsed, s.name);
    } catch (e) {
      if (!(e instanceof MtlsError) || mustRead.has(s.name)) throw e;
      if (options.badProfiles !== 'skip') {
        throw new MtlsError(e.code, e.message, {
          cause: e,
          ...(e.subject === undefined ? {} : { subject: e.subject }),
          hint: `${e.hint} If you never sign with [${s.name}], delete that section instead (loadCaConfig's badProfiles: 'skip' leaves it out).`,
        });
      }
      skippedProfiles.push({ name: s.name, error: e });
      warnings.push(`profile [${s.name}] left out: ${e.message}`);
    }
  }
  for (const name of [req?.x509Extensions, req?.reqExtensions]) {
    if (name && !parsed.section(name))
      warnings.push(
        `${configPath}: [req] names extension section [${name}], which does not exist; openssl req fails with this file`,
      );
  }

  const result: CaConfigResult = {
    configPath,
    caDir,
    caSection,
    dir: dirValue,
    newCertsDir: required('new_certs_dir', '$dir/newcerts'),
    database,
    serialFile: required('serial', '$dir/serial'),
    privateKey: required('private_key', '$dir/private/ca.key.pem'),
    certificate: required('certificate', '$dir/certs/ca.cert.pem'),
    defaultDays,
    defaultCrlDays,
    defaultCrlHours,
    defaultMd,
    policy: policySection.name,
    policyFields,
    policyRules,
    copyExtensions,
    uniqueSubject,
    uniqueSubjectSource,
    preserve: preserveE ? yesNo(preserveE, caSection) : false,
    emailInDn: emailE ? yesNo(emailE, caSection) : true,
    profiles,
    skippedProfiles,
    reqFields,
    ignored,
    sources,
    warnings,
    parsed,
  };
  if (paths.certs !== undefined) result.certs = paths.certs;
  if (paths.crl_dir !== undefined) result.crlDir = paths.crl_dir;
  if (paths.crlnumber !== undefined) result.crlNumberFile = paths.crlnumber;
  if (paths.crl !== undefined) result.crlFile = paths.crl;
  if (x509E) result.x509Extensions = x509E.value;
  if (crlExtensions) result.crlExtensions = crlExtensions;
  if (req) result.req = req;
  return result;
}
