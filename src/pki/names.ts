/**
 * Distinguished names: parsing OpenSSL's `/C=BR/O=Acme/CN=x` form and RFC 4514,
 * and the attribute-type table shared by policy checks and display.
 */
import { MtlsError } from '../errors/index.js';

/** One attribute of a DN. */
export interface DnAttribute {
  /** Short name (`C`, `ST`, `O`, `CN`, `emailAddress`, …) or a dotted OID. */
  type: string;
  value: string;
}

/** A DN as an ordered list, most significant first (C … CN), as OpenSSL prints it. */
export type DistinguishedName = DnAttribute[];

/** One known attribute type. */
export interface AttributeType {
  short: string;
  long: string;
  oid: string;
  /**
   * The RFC 5280 Appendix A.1 upper bound on the value's length in
   * characters, and the `ub-…` constant that sets it; absent where RFC 5280
   * sets none (domainComponent, userId, street, postalCode, …).
   */
  upperBound?: { max: number; constant: string };
}

/** Attribute types understood by name (RFC 4519, PKCS#9), with their RFC 5280 upper bounds. */
export const ATTRIBUTE_TYPES: readonly AttributeType[] = [
  {
    short: 'C',
    long: 'countryName',
    oid: '2.5.4.6',
    upperBound: { max: 2, constant: 'ub-country-name-alpha-length' },
  },
  {
    short: 'ST',
    long: 'stateOrProvinceName',
    oid: '2.5.4.8',
    upperBound: { max: 128, constant: 'ub-state-name' },
  },
  {
    short: 'L',
    long: 'localityName',
    oid: '2.5.4.7',
    upperBound: { max: 128, constant: 'ub-locality-name' },
  },
  {
    short: 'O',
    long: 'organizationName',
    oid: '2.5.4.10',
    upperBound: { max: 64, constant: 'ub-organization-name' },
  },
  {
    short: 'OU',
    long: 'organizationalUnitName',
    oid: '2.5.4.11',
    upperBound: { max: 64, constant: 'ub-organizational-unit-name' },
  },
  {
    short: 'CN',
    long: 'commonName',
    oid: '2.5.4.3',
    upperBound: { max: 64, constant: 'ub-common-name' },
  },
  {
    short: 'emailAddress',
    long: 'emailAddress',
    oid: '1.2.840.113549.1.9.1',
    upperBound: { max: 255, constant: 'ub-emailaddress-length' },
  },
  {
    short: 'serialNumber',
    long: 'serialNumber',
    oid: '2.5.4.5',
    upperBound: { max: 64, constant: 'ub-serial-number' },
  },
  { short: 'street', long: 'streetAddress', oid: '2.5.4.9' },
  { short: 'postalCode', long: 'postalCode', oid: '2.5.4.17' },
  { short: 'title', long: 'title', oid: '2.5.4.12', upperBound: { max: 64, constant: 'ub-title' } },
  { short: 'SN', long: 'surname', oid: '2.5.4.4', upperBound: { max: 32768, constant: 'ub-name' } },
  {
    short: 'GN',
    long: 'givenName',
    oid: '2.5.4.42',
    upperBound: { max: 32768, constant: 'ub-name' },
  },
  { short: 'DC', long: 'domainComponent', oid: '0.9.2342.19200300.100.1.25' },
  { short: 'UID', long: 'userId', oid: '0.9.2342.19200300.100.1.1' },
  { short: 'organizationIdentifier', long: 'organizationIdentifier', oid: '2.5.4.97' },
];

const ALIASES: Record<string, string> = {
  E: 'emailAddress',
  EMAIL: 'emailAddress',
  S: 'ST',
  STREET: 'street',
};

/**
 * Finds an attribute type by short name, long name, alias or OID
 * (case-insensitive). Unknown dotted OIDs are returned as their own type.
 */
export function findAttributeType(name: string): AttributeType | undefined {
  const n = ALIASES[name.toUpperCase()] ?? ALIASES[name] ?? name;
  const lower = n.toLowerCase();
  const t = ATTRIBUTE_TYPES.find(
    (a) => a.short.toLowerCase() === lower || a.long.toLowerCase() === lower || a.oid === n,
  );
  if (t) return t;
  if (/^\d+(\.\d+)+$/.test(n)) return { short: n, long: n, oid: n };
  return undefined;
}

function normaliseType(raw: string, input: string): string {
  const t = findAttributeType(raw.trim());
  if (!t) {
    throw new MtlsError(
      'MTLS_BAD_SUBJECT',
      `unknown attribute type "${raw.trim()}" in subject "${input}"`,
      { subject: 'subject' },
    );
  }
  return t.short;
}

function parseSlashForm(input: string): DistinguishedName {
  const out: DistinguishedName = [];
  // Split on unescaped '/', and '+' starts a multi-valued RDN which we keep flat.
  const parts: string[] = [];
  let cur = '';
  for (let i = 1; i < input.length; i++) {
    const ch = input.charAt(i);
    if (ch === '\\' && i + 1 < input.length) {
      cur += input.charAt(++i);
    } else if (ch === '/') {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const p of parts) {
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq <= 0)
      throw new MtlsError('MTLS_BAD_SUBJECT', `subject component "${p}" has no "=" in "${input}"`, {
        subject: 'subject',
      });
    out.push({ type: normaliseType(p.slice(0, eq), input), value: p.slice(eq + 1) });
  }
  return out;
}

function unescapeDnValue(v: string, input: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const ch = v.charAt(i);
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const nx = v.slice(i + 1, i + 3);
    if (/^[0-9a-fA-F]{2}$/.test(nx)) {
      // Hex pairs may form multi-byte UTF-8 sequences.
      const bytes: number[] = [];
      while (v[i] === '\\' && /^[0-9a-fA-F]{2}$/.test(v.slice(i + 1, i + 3))) {
        bytes.push(parseInt(v.slice(i + 1, i + 3), 16));
        i += 3;
      }
      i--;
      out += Buffer.from(bytes).toString('utf8');
    } else if (i + 1 < v.length) {
      out += v.charAt(++i);
    } else {
      throw new MtlsError('MTLS_BAD_SUBJECT', `dangling "\\" in subject "${input}"`, {
        subject: 'subject',
      });
    }
  }
  return out;
}

/** Trims surrounding spaces, keeping a trailing one escaped as `\ ` (RFC 4514 §2.4). */
function trimUnescaped(text: string): string {
  let s = text.trimStart();
  for (;;) {
    if (!s.endsWith(' ')) return s;
    let slashes = 0;
    for (let i = s.length - 2; i >= 0 && s[i] === '\\'; i--) slashes++;
    if (slashes % 2 === 1) return s;
    s = s.slice(0, -1);
  }
}

function parseRfc4514(input: string): DistinguishedName {
  const rdns: string[] = [];
  let cur = '';
  let inQuotes = false;
  for (let i = 0; i < input.length; i++) {
    const ch = input.charAt(i);
    if (ch === '\\' && i + 1 < input.length) {
      cur += ch + input.charAt(++i);
    } else if (ch === '"') {
      inQuotes = !inQuotes;
    } else if ((ch === ',' || ch === ';') && !inQuotes) {
      rdns.push(cur);
      cur = '';
    } else cur += ch;
  }
  rdns.push(cur);
  const out: DistinguishedName = [];
  for (const rdn of rdns) {
    for (const atv of rdn.split(/(?<!\\)\+/)) {
      const s = trimUnescaped(atv);
      if (!s)
        throw new MtlsError('MTLS_BAD_SUBJECT', `empty component in subject "${input}"`, {
          subject: 'subject',
        });
      const eq = s.indexOf('=');
      if (eq <= 0)
        throw new MtlsError(
          'MTLS_BAD_SUBJECT',
          `subject component "${s}" has no "=" in "${input}"`,
          { subject: 'subject' },
        );
      out.push({
        type: normaliseType(s.slice(0, eq), input),
        value: unescapeDnValue(trimUnescaped(s.slice(eq + 1)), input),
      });
    }
  }
  // RFC 4514 §2.1 writes the most significant RDN last; we keep C … CN order.
  return out.reverse();
}

/**
 * Parses a subject in OpenSSL's slash form (`/C=BR/ST=SP/O=Acme/CN=Acme Root CA`)
 * or RFC 4514 (`CN=Acme Root CA,O=Acme,ST=SP,C=BR`).
 * @throws MTLS_BAD_SUBJECT naming the bad component
 */
export function parseSubject(input: string): DistinguishedName {
  const s = input.trim();
  if (!s) throw new MtlsError('MTLS_BAD_SUBJECT', 'the subject is empty', { subject: 'subject' });
  const dn = s.startsWith('/') ? parseSlashForm(s) : parseRfc4514(s);
  if (dn.length === 0)
    throw new MtlsError('MTLS_BAD_SUBJECT', `subject "${input}" has no attributes`, {
      subject: 'subject',
    });
  for (const a of dn) {
    if (a.value === '')
      throw new MtlsError('MTLS_BAD_SUBJECT', `subject field ${a.type} is empty in "${input}"`, {
        subject: a.type,
      });
    if (a.type === 'C' && !/^[A-Za-z]{2}$/.test(a.value)) {
      throw new MtlsError(
        'MTLS_BAD_SUBJECT',
        `countryName must be a two-letter ISO 3166 code, got "${a.value}"`,
        { subject: 'C' },
      );
    }
  }
  assertSubjectBounds(dn);
  return dn;
}

/**
 * Refuses a subject whose values exceed the RFC 5280 upper bounds
 * (Appendix A.1: ub-common-name 64, ub-organization-name 64,
 * ub-organizational-unit-name 64, ub-locality-name 128, ub-state-name 128,
 * ub-emailaddress-length 255, ub-serial-number 64, …), which strict parsers
 * and certificate linters enforce. Lengths count characters (code points), as
 * the ASN.1 SIZE constraint on a DirectoryString and OpenSSL's `_max` do.
 * @param source - what the subject belongs to, for the message (default `subject`; e.g. `CSR client.csr.pem`)
 * @throws MTLS_BAD_SUBJECT naming the field, its length and the bound
 */
export function assertSubjectBounds(dn: DistinguishedName, source = 'subject'): void {
  for (const a of dn) {
    const t = findAttributeType(a.type);
    if (!t?.upperBound) continue;
    // Upper bounds count characters (code points), not UTF-16 units.
    const length = Array.from(a.value).length;
    if (length > t.upperBound.max) {
      throw new MtlsError(
        'MTLS_BAD_SUBJECT',
        `${source}: ${t.long} (${t.short}) has ${length} characters; RFC 5280 allows at most ${t.upperBound.max} (${t.upperBound.constant})`,
        {
          subject: t.short,
          details: { field: t.long, length, max: t.upperBound.max },
          hint: `Shorten ${t.short} to at most ${t.upperBound.max} characters.`,
        },
      );
    }
  }
}

/** Escapes an attribute value as RFC 4514 §2.4 asks (`,`, `+`, `"`, `\\`, `<`, `>`, `;`, `=`, leading `#`/space, trailing space). */
export function escapeDnValue(v: string): string {
  return v
    .replace(/([\\,+"<>;=])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/ $/, '\\ ');
}

/** Formats a DN as RFC 4514 (most significant last: `CN=x,O=y,C=BR`). */
export function formatRfc4514(dn: DistinguishedName): string {
  return [...dn]
    .reverse()
    .map((a) => `${a.type}=${escapeDnValue(a.value)}`)
    .join(',');
}

/**
 * Formats a DN as OpenSSL's oneline form (`/C=BR/O=Acme/CN=x`), as index.txt
 * stores it: bytes outside printable ASCII are written `\\xHH` (UTF-8 bytes,
 * upper-case hex), exactly as `X509_NAME_oneline` does.
 */
export function formatSlash(dn: DistinguishedName): string {
  const escape = (v: string): string =>
    [...Buffer.from(v, 'utf8')]
      .map((b) =>
        b < 0x20 || b > 0x7e
          ? `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`
          : b === 0x2f
            ? '\\/'
            : String.fromCharCode(b),
      )
      .join('');
  return dn.map((a) => `/${a.type}=${escape(a.value)}`).join('');
}

/**
 * Formats a DN for people: RFC 4514 attribute strings (§2.4 escaping) in the
 * order OpenSSL and the certificate hold them, most significant first, joined
 * by ", " (`C=BR, ST=São Paulo, O=Acme, CN=x`). Values stay UTF-8 text.
 */
export function formatDn(dn: DistinguishedName): string {
  return dn.map((a) => `${a.type}=${escapeDnValue(a.value)}`).join(', ');
}

/**
 * A stored DN string in the form {@link formatDn} prints. Registries written
 * before DNs had one printed form hold RFC 4514 strings (`CN=x,O=y,C=BR`:
 * most significant last, nothing after the commas); such a string is parsed
 * and printed in certificate order. The two writers are told apart by their
 * separators: RFC 4514 §2.4 escapes a leading space in a value, so an
 * unescaped comma followed by anything but a space only ever comes from the
 * compact RFC 4514 form. A string already in {@link formatDn}'s form, a
 * single attribute, or one that does not parse comes back as it is.
 */
export function displayDn(stored: string): string {
  let compact = false;
  for (let i = 0; i < stored.length; i++) {
    const c = stored[i];
    if (c === '\\') i++;
    else if (c === ',' && stored[i + 1] !== ' ') {
      compact = true;
      break;
    }
  }
  if (!compact) return stored;
  try {
    return formatDn(parseRfc4514(stored));
  } catch (e) {
    if (e instanceof MtlsError) return stored;
    throw e;
  }
}

/**
 * Parses OpenSSL's oneline form as index.txt stores it (the inverse of
 * {@link formatSlash}): `\xHH` runs are UTF-8 bytes, `\/` is a slash.
 * @throws MTLS_BAD_SUBJECT for a component without "=" or an unknown type
 */
export function parseOneline(input: string): DistinguishedName {
  const decoded = input.replace(/(?:\\x[0-9A-Fa-f]{2})+/g, (run) =>
    Buffer.from(run.replace(/\\x/g, ''), 'hex').toString('utf8').replace(/[/\\]/g, '\\$&'),
  );
  return parseSlashForm(decoded);
}

/** Formats a DN as `openssl x509 -text` prints it: `C = BR, ST = SP, O = Acme, CN = x`. */
export function formatOpenSslText(dn: DistinguishedName): string {
  return dn.map((a) => `${a.type} = ${/[,+]/.test(a.value) ? `"${a.value}"` : a.value}`).join(', ');
}

/** The values of one attribute type in a DN (short/long/OID accepted). */
export function dnValues(dn: DistinguishedName, type: string): string[] {
  const t = findAttributeType(type);
  const short = t?.short ?? type;
  return dn.filter((a) => a.type === short).map((a) => a.value);
}
