/**
 * Writes openssl.cnf text: the inverse of {@link parseExtensionSection} for
 * extension profiles, and the complete configuration `mtls ca init` puts in a
 * new CA directory, which `openssl ca -config DIR/openssl.cnf` accepts as it
 * stands ([ ca ], [ CA_default ], the policies, [ req ], usr_cert and v3_ca, with an
 * absolute `dir`, plus client_cert,
 * server_cert, v3_intermediate_ca and crl_ext).
 */
import { isAbsolute, relative } from 'node:path';
import { MtlsError } from '../errors/index.js';
import { dnValues, parseSubject, type DistinguishedName } from '../pki/names.js';
import { BUILTIN_PROFILES, type ExtensionProfile, type GeneralNameSpec } from '../pki/profile.js';
import { caLayout } from './layout.js';

/** The CRL extensions mtlskit writes: RFC 5280 §5.2.1 requires authorityKeyIdentifier in CRLs. */
export const CRL_EXTENSIONS_PROFILE: Readonly<ExtensionProfile> = {
  name: 'crl_ext',
  authorityKeyIdentifier: { keyid: 'always' },
};

/**
 * Encodes a value so that OpenSSL's config reader (str_copy) gives it back
 * unchanged: `\ # $ " '` are escaped, control characters use `\n \r \t \b`,
 * and trailing whitespace (which the reader trims) is quoted.
 * @throws MTLS_BAD_ARGUMENT for other control characters, which no openssl.cnf value can hold
 */
export function encodeCnfValue(value: string): string {
  const m = /[ \t]+$/.exec(value);
  const body = m ? value.slice(0, m.index) : value;
  let out = '';
  for (const ch of body) {
    if ('\\#$"\''.includes(ch)) out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    else if (/[\u0000-\u001f\u007f]/.test(ch)) {
      throw new MtlsError(
        'MTLS_BAD_ARGUMENT',
        `the value ${JSON.stringify(value)} holds a control character that openssl.cnf cannot represent`,
      );
    } else out += ch;
  }
  // Leading whitespace: the reader skips it before the value, but not an escaped one.
  out = out.replace(/^[ ]/, '\\ ');
  if (m) out += `"${m[0]}"`;
  return out;
}

const SECTION_NAME = /^[A-Za-z0-9_!.%&*+,/;?@^~|-]+$/;

function checkSectionName(name: string): void {
  if (!SECTION_NAME.test(name)) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `"${name}" cannot be an openssl.cnf section name (letters, digits and _!.%&*+,/;?@^~|- only)`,
      { subject: name },
    );
  }
}

/** True when a value cannot sit in a comma list (X509V3_parse_list) as it stands. */
function needsSection(v: string): boolean {
  return /[,\r\n]/.test(v) || v !== v.trim() || v === '';
}

interface Aux {
  sections: string[];
  used: Set<string>;
  base: string;
}

function auxName(aux: Aux, suffix: string): string {
  let name = `${aux.base}_${suffix}`;
  for (let i = 2; aux.used.has(name); i++) name = `${aux.base}_${suffix}${i}`;
  aux.used.add(name);
  return name;
}

function dirNameSection(value: string, aux: Aux): string {
  const dn: DistinguishedName = parseSubject(value);
  const name = auxName(aux, 'dirname');
  const counts = new Map<string, number>();
  for (const a of dn) counts.set(a.type, (counts.get(a.type) ?? 0) + 1);
  const seen = new Map<string, number>();
  const lines = dn.map((a) => {
    const n = seen.get(a.type) ?? 0;
    seen.set(a.type, n + 1);
    const key = (counts.get(a.type) ?? 0) > 1 ? `${n}.${a.type}` : a.type;
    return `${key} = ${encodeCnfValue(a.value)}`;
  });
  aux.sections.push(`[ ${name} ]\n${lines.join('\n')}\n`);
  return name;
}

const GN_TYPE: Readonly<Record<Exclude<GeneralNameSpec['type'], 'emailCopy'>, string>> = {
  dns: 'DNS',
  ip: 'IP',
  email: 'email',
  uri: 'URI',
  dirName: 'dirName',
  rid: 'RID',
};

/** One GeneralName as `TYPE` and value. */
function gnParts(g: GeneralNameSpec, aux: Aux): [string, string] {
  if (g.type === 'emailCopy') return ['email', 'copy'];
  if (g.type === 'dirName') return ['dirName', dirNameSection(g.value, aux)];
  return [GN_TYPE[g.type], g.value];
}

/**
 * A GeneralName list: inline `TYPE:value, …` when every value fits a comma
 * list, else an `@section` of `TYPE.N = value` entries.
 */
function gnList(
  names: ReadonlyArray<{ prefix?: string; gn: GeneralNameSpec }>,
  aux: Aux,
  suffix: string,
): string {
  const parts = names.map(({ prefix, gn }) => {
    const [t, v] = gnParts(gn, aux);
    return { t: `${prefix ?? ''}${t}`, v };
  });
  if (!parts.some((p) => needsSection(p.v))) return parts.map((p) => `${p.t}:${p.v}`).join(', ');
  const name = auxName(aux, suffix);
  const counter = new Map<string, number>();
  const lines = parts.map((p) => {
    const n = (counter.get(p.t) ?? 0) + 1;
    counter.set(p.t, n);
    return `${p.t}.${n} = ${encodeCnfValue(p.v)}`;
  });
  aux.sections.push(`[ ${name} ]\n${lines.join('\n')}\n`);
  return `@${name}`;
}

function crit(critical: boolean, v: string): string {
  return critical ? `critical, ${v}` : v;
}

function akiValue(spec: NonNullable<ExtensionProfile['authorityKeyIdentifier']>): string {
  const parts: string[] = [];
  if (spec.keyid) parts.push(spec.keyid === 'always' ? 'keyid:always' : 'keyid');
  if (spec.issuer) parts.push(spec.issuer === 'always' ? 'issuer:always' : 'issuer');
  return parts.length ? parts.join(', ') : 'none';
}

function plainList(field: string, profile: string, values: readonly string[]): string {
  for (const v of values) {
    if (needsSection(v) || v.includes(':')) {
      throw new MtlsError(
        'MTLS_BAD_ARGUMENT',
        `profile ${profile}: ${field} value "${v}" cannot be written to openssl.cnf`,
        { subject: `${profile}.${field}` },
      );
    }
  }
  return values.join(', ');
}

/**
 * Writes one extension profile as an openssl.cnf section (x509v3_config(5)),
 * plus any helper sections it needs (dirName names, `@alt_names`-style lists
 * for values holding commas). Directives follow the profile's field order, so
 * the built-in profiles read like the guide. `parseExtensionSection` of the
 * result deep-equals the profile.
 * @throws MTLS_BAD_ARGUMENT when the profile holds something openssl.cnf cannot express
 */
export function renderExtensionSection(profile: ExtensionProfile): string {
  checkSectionName(profile.name);
  const aux: Aux = { sections: [], used: new Set([profile.name]), base: profile.name };
  const lines: string[] = [];
  const put = (k: string, v: string): void => {
    lines.push(`${k} = ${v}`);
  };
  // In the profile's own key order, so that the section reads back in that order.
  const fields: Array<[string, unknown]> = Object.entries(profile);
  for (const [field, value] of fields) {
    if (field === 'name' || value === undefined) continue;
    const p = profile;
    switch (field) {
      case 'basicConstraints': {
        const bc = p.basicConstraints;
        if (!bc) break;
        const v = [`CA:${bc.value.ca ? 'TRUE' : 'FALSE'}`];
        if (bc.value.pathLen !== undefined) v.push(`pathlen:${bc.value.pathLen}`);
        put(field, crit(bc.critical, v.join(', ')));
        break;
      }
      case 'keyUsage': {
        const ku = p.keyUsage;
        if (!ku) break;
        put(field, crit(ku.critical, plainList(field, p.name, ku.value)));
        break;
      }
      case 'extendedKeyUsage': {
        const eku = p.extendedKeyUsage;
        if (!eku) break;
        put(field, crit(eku.critical, plainList(field, p.name, eku.value)));
        break;
      }
      case 'subjectKeyIdentifier':
        if (p.subjectKeyIdentifier) put(field, p.subjectKeyIdentifier);
        break;
      case 'authorityKeyIdentifier':
        if (p.authorityKeyIdentifier) put(field, akiValue(p.authorityKeyIdentifier));
        break;
      case 'subjectAltName':
      case 'issuerAltName': {
        const alt = p[field];
        if (!alt || alt.value.length === 0) break;
        put(
          field,
          crit(
            alt.critical,
            gnList(
              alt.value.map((gn) => ({ gn })),
              aux,
              field === 'subjectAltName' ? 'alt_names' : 'issuer_alt_names',
            ),
          ),
        );
        break;
      }
      case 'nsCertType':
        if (p.nsCertType) put(field, plainList(field, p.name, p.nsCertType));
        break;
      case 'nsComment': {
        const c = p.nsComment;
        if (c === undefined) break;
        if (/^(critical,|DER:|ASN1:)/.test(c)) {
          throw new MtlsError(
            'MTLS_BAD_ARGUMENT',
            `profile ${p.name}: an nsComment starting with "${c.slice(0, c.indexOf(c.startsWith('critical,') ? ',' : ':') + 1)}" would be read as an option by OpenSSL`,
            {
              subject: `${p.name}.nsComment`,
            },
          );
        }
        put(
          field,
          // eslint-disable-next-line no-control-regex -- finding control characters is the point
          /[\u0000-\u001f]/.test(c) ? encodeCnfValue(c) : `"${c.replace(/[\\"]/g, '\\$&')}"`,
        );
        break;
      }
      case 'crlDistributionPoints': {
        const dps = p.crlDistributionPoints;
        if (dps?.length)
          put(
            field,
            gnList(
              dps.map((gn) => ({ gn })),
              aux,
              'crl_dp',
            ),
          );
        break;
      }
      case 'authorityInfoAccess': {
        const aia = p.authorityInfoAccess;
        if (aia?.length)
          put(
            field,
            gnList(
              aia.map((a) => ({ prefix: `${a.method};`, gn: a.location })),
              aux,
              'aia',
            ),
          );
        break;
      }
      case 'certificatePolicies': {
        const cp = p.certificatePolicies;
        if (cp?.value.length) put(field, crit(cp.critical, plainList(field, p.name, cp.value)));
        break;
      }
      default:
        throw new MtlsError(
          'MTLS_BAD_ARGUMENT',
          `profile ${p.name}: the field ${field} has no openssl.cnf form in this version of mtlskit`,
          { subject: `${p.name}.${field}` },
        );
    }
  }
  const main = `[ ${profile.name} ]\n${lines.map((l) => `${l}\n`).join('')}`;
  return [main, ...aux.sections].join('\n');
}

/**
 * Comments written above built-in sections, where `openssl ca` needs to be
 * told something `mtls ca sign` does by itself, so both sign the same way.
 */
const PROFILE_NOTES: Readonly<Record<string, readonly string[]>> = {
  usr_cert: [
    "The guide's profile, kept as written. keyEncipherment suits RSA keys only",
    '(RFC 5480 §3, RFC 8410 §5): mtls ca sign leaves it out, with a warning, for EC',
    'and Ed25519 requests. openssl ca writes this keyUsage as it stands, so sign',
    'EC and Ed25519 requests with -extensions client_cert instead.',
  ],
  client_cert: [
    'digitalSignature only: a TLS client key only signs CertificateVerify (RFC 5246 §7.4.8).',
  ],
  server_cert: [
    'digitalSignature only, for every key type: with ECDHE the server key only signs',
    '(RFC 8422 §5.4); keyEncipherment serves RSA key transport, which mtlskit never',
    'negotiates. Server certificates need a subjectAltName (RFC 9525 §6.3): mtls ca',
    "sign copies the CSR's and refuses without one; openssl ca copies nothing",
    '(copy_extensions = none), so give it the names with -extfile, e.g. a file holding',
    '"subjectAltName = DNS:api.example" plus this section\'s lines.',
  ],
};

/**
 * The subject fields `policy_strict` (the guide's policy, the default) makes
 * every issued certificate match in the CA's own subject: a CA whose subject
 * lacks one of them can issue nothing under it.
 */
export const STRICT_MATCH_FIELDS = [
  'countryName',
  'stateOrProvinceName',
  'organizationName',
] as const;

/** Options for {@link renderOpenSslCnf}. */
export interface RenderCnfOptions {
  /** The CA directory; must be absolute (OpenSSL expands neither `~` nor a relative path against the file). */
  dir: string;
  /** The CA's subject: its C, ST, L, O and OU become the `[req_distinguished_name]` defaults. */
  caSubject?: DistinguishedName;
  /** `default_days` (default 375, as in the guide). */
  defaultDays?: number;
  /** `default_crl_days` (default 30, as in the guide). */
  defaultCrlDays?: number;
  /** `default_md` (default sha256). */
  defaultMd?: 'sha256' | 'sha384' | 'sha512';
  /** The active policy (default `policy_strict`, as in the guide). */
  policy?: 'policy_strict' | 'policy_loose';
  /** `x509_extensions`: the profile `openssl ca` uses without `-extensions` (default `usr_cert`, the classic openssl.cnf client profile). */
  defaultProfile?: string;
  /** Extension profiles to write (default {@link BUILTIN_PROFILES}); crl_ext is added unless given. */
  profiles?: Readonly<Record<string, ExtensionProfile>>;
  /** `[req] default_bits` (default 2048, as in the guide). */
  defaultBits?: number;
}

function positiveInt(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1)
    throw new MtlsError('MTLS_BAD_ARGUMENT', `${what} must be a positive whole number, got ${n}`, {
      subject: what,
    });
  return n;
}

function table(rows: ReadonlyArray<[string, string] | string>): string {
  const width = Math.max(
    ...rows.filter((r): r is [string, string] => Array.isArray(r)).map(([k]) => k.length),
  );
  return rows.map((r) => (Array.isArray(r) ? `${r[0].padEnd(width)} = ${r[1]}` : r)).join('\n');
}

/**
 * Writes a complete openssl.cnf for a CA in `dir` (an absolute path, written
 * escaped so spaces, `$` and `#` survive OpenSSL's reader). Sections:
 * [ca], [CA_default] (the guide's keys without RANDFILE, plus
 * x509_extensions, copy_extensions = none and unique_subject = no),
 * policy_strict, policy_loose, [req] (string_mask utf8only, default_md
 * sha256), req_distinguished_name (defaults from the CA subject), then one
 * section per profile (v3_ca, v3_intermediate_ca, v3_req, usr_cert,
 * client_cert, server_cert by default) and crl_ext. Paths follow
 * {@link caLayout}.
 * @throws MTLS_BAD_ARGUMENT for a relative `dir`, a bad number, an unknown
 *   default profile, or a profile openssl.cnf cannot express
 */
export function renderOpenSslCnf(options: RenderCnfOptions): string {
  if (!isAbsolute(options.dir)) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `the CA directory must be an absolute path in openssl.cnf, got "${options.dir}"`,
      {
        subject: 'dir',
        hint: 'Resolve the path first (path.resolve); OpenSSL reads a relative dir against its working directory and never expands "~".',
      },
    );
  }
  const profiles: Record<string, ExtensionProfile> = { ...(options.profiles ?? BUILTIN_PROFILES) };
  if (!profiles.crl_ext) profiles.crl_ext = { ...CRL_EXTENSIONS_PROFILE };
  const defaultProfile = options.defaultProfile ?? 'usr_cert';
  if (!profiles[defaultProfile]) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `default profile "${defaultProfile}" is not among the profiles written (${Object.keys(profiles).join(', ')})`,
      {
        subject: 'defaultProfile',
      },
    );
  }
  for (const [k, p] of Object.entries(profiles)) {
    if (p.name !== k)
      throw new MtlsError(
        'MTLS_BAD_ARGUMENT',
        `profile key "${k}" differs from its name "${p.name}"`,
        { subject: k },
      );
  }
  const layout = caLayout(options.dir);
  const rel = (p: string): string => `$dir/${relative(options.dir, p).split('\\').join('/')}`;
  const subject = options.caSubject ?? [];
  const first = (t: string): string | undefined => dnValues(subject, t)[0];

  const out: string[] = [];
  out.push(
    [
      '# openssl.cnf written by mtlskit for the CA in this directory.',
      '# `openssl ca -config <this file>` accepts it as it stands.',
      '# dir is absolute: OpenSSL expands neither "~" nor paths relative to this file.',
      '',
      '[ ca ]',
      'default_ca = CA_default',
      '',
    ].join('\n'),
  );
  out.push(
    `${table([
      '[ CA_default ]',
      ['dir', encodeCnfValue(options.dir)],
      ['certs', rel(layout.certs)],
      ['crl_dir', rel(layout.crlDir)],
      ['new_certs_dir', rel(layout.newCerts)],
      ['database', rel(layout.database)],
      ['serial', rel(layout.serial)],
      ['private_key', rel(layout.caKey)],
      ['certificate', rel(layout.caCert)],
      ['crlnumber', rel(layout.crlNumber)],
      ['crl', rel(layout.crl)],
      ['crl_extensions', 'crl_ext'],
      ['default_crl_days', String(positiveInt(options.defaultCrlDays ?? 30, 'defaultCrlDays'))],
      ['default_md', options.defaultMd ?? 'sha256'],
      ['name_opt', 'ca_default'],
      ['cert_opt', 'ca_default'],
      ['default_days', String(positiveInt(options.defaultDays ?? 375, 'defaultDays'))],
      ['preserve', 'no'],
      ['policy', options.policy ?? 'policy_strict'],
      ['x509_extensions', defaultProfile],
      '# Never copy CSR extensions: a CSR could ask for CA:TRUE or extra names (ca(1) WARNINGS).',
      ['copy_extensions', 'none'],
      '# Renewing with the same subject must not fail ("TXT_DB error number 2");',
      '# index.txt.attr says the same, and openssl ca reads it from there first.',
      ['unique_subject', 'no'],
    ])}\n`,
  );
  out.push(
    `${table([
      "# Subject fields must equal the CA certificate's C, ST and O.",
      '[ policy_strict ]',
      ...STRICT_MATCH_FIELDS.map((f): [string, string] => [f, 'match']),
      ['organizationalUnitName', 'optional'],
      ['commonName', 'supplied'],
      ['emailAddress', 'optional'],
    ])}\n`,
  );
  out.push(
    `${table([
      '# Any subject with a commonName.',
      '[ policy_loose ]',
      ['countryName', 'optional'],
      ['stateOrProvinceName', 'optional'],
      ['localityName', 'optional'],
      ['organizationName', 'optional'],
      ['organizationalUnitName', 'optional'],
      ['commonName', 'supplied'],
      ['emailAddress', 'optional'],
    ])}\n`,
  );
  out.push(
    `${table([
      '[ req ]',
      ['default_bits', String(positiveInt(options.defaultBits ?? 2048, 'defaultBits'))],
      ['distinguished_name', 'req_distinguished_name'],
      ['string_mask', 'utf8only'],
      ['default_md', 'sha256'],
      ['x509_extensions', 'v3_ca'],
    ])}\n`,
  );
  const dnRows: Array<[string, string] | string> = ['[ req_distinguished_name ]'];
  const field = (
    key: string,
    prompt: string,
    type: string | undefined,
    extra: Array<[string, string]> = [],
  ): void => {
    dnRows.push([key, prompt]);
    const d = type ? first(type) : undefined;
    if (d !== undefined) dnRows.push([`${key}_default`, encodeCnfValue(d)]);
    dnRows.push(...extra);
  };
  field('countryName', 'Country Name (2 letter code)', 'C', [
    ['countryName_min', '2'],
    ['countryName_max', '2'],
  ]);
  field('stateOrProvinceName', 'State or Province Name', 'ST');
  field('localityName', 'Locality Name', 'L');
  field('0.organizationName', 'Organization Name', 'O');
  field('organizationalUnitName', 'Organizational Unit Name', 'OU');
  field('commonName', 'Common Name', undefined, [['commonName_max', '64']]);
  field('emailAddress', 'Email Address', undefined, [['emailAddress_max', '64']]);
  out.push(`${table(dnRows)}\n`);
  for (const p of Object.values(profiles)) {
    const note = p === BUILTIN_PROFILES[p.name] ? PROFILE_NOTES[p.name] : undefined;
    out.push(
      note
        ? `${note.map((l) => `# ${l}`).join('\n')}\n${renderExtensionSection(p)}`
        : renderExtensionSection(p),
    );
  }
  return out.join('\n');
}
