/**
 * Reads an openssl.cnf extension section (x509v3_config(5)) into an
 * {@link ExtensionProfile}, following OpenSSL 3.0's own parsing
 * (X509V3_parse_list, v2i_GENERAL_NAME, v3_check_critical, …) so that a
 * section means the same to mtlskit as to `openssl ca -extensions SECTION`.
 */
import { MtlsError } from '../errors/index.js';
import { findAttributeType, formatSlash, type DistinguishedName } from '../pki/names.js';
import { parseIpBytes } from '../pki/ip-text.js';
import {
  EKU_OIDS,
  KEY_USAGE_NAMES,
  NS_CERT_TYPE_NAMES,
  type AuthorityKeyIdSpec,
  type ExtensionProfile,
  type GeneralNameSpec,
  type KeyUsageName,
  type NsCertTypeName,
} from '../pki/profile.js';
import {
  formatLocation,
  type ConfigEntry,
  type ConfigSection,
  type ParsedOpenSslConfig,
} from './openssl-cnf.js';

/** The extension directives mtlskit reads from an extension section. */
export const SUPPORTED_EXTENSION_KEYS = [
  'basicConstraints',
  'keyUsage',
  'extendedKeyUsage',
  'subjectKeyIdentifier',
  'authorityKeyIdentifier',
  'subjectAltName',
  'issuerAltName',
  'nsCertType',
  'nsComment',
  'crlDistributionPoints',
  'authorityInfoAccess',
  'certificatePolicies',
] as const;

/**
 * Extension names OpenSSL knows that mtlskit does not build, with the reason
 * given in the error.
 */
const UNSUPPORTED_EXTENSIONS: Readonly<Record<string, string>> = {
  nameConstraints: 'name constraints',
  policyConstraints: 'policy constraints',
  policyMappings: 'policy mappings',
  inhibitAnyPolicy: 'inhibit anyPolicy',
  subjectInfoAccess: 'subject information access',
  freshestCRL: 'delta CRL locations',
  proxyCertInfo: 'proxy certificates, RFC 3820',
  tlsfeature: 'TLS feature / OCSP must-staple',
  privateKeyUsagePeriod: 'private key usage period',
  noCheck: 'OCSP no-check',
  nsBaseUrl: 'Netscape URL extensions',
  nsRevocationUrl: 'Netscape URL extensions',
  nsCaRevocationUrl: 'Netscape URL extensions',
  nsRenewalUrl: 'Netscape URL extensions',
  nsCaPolicyUrl: 'Netscape URL extensions',
  nsSslServerName: 'Netscape SSL server name',
  'sbgp-ipAddrBlock': 'RFC 3779 resources',
  'sbgp-autonomousSysNum': 'RFC 3779 resources',
  'sbgp-routerIdentifier': 'RFC 3779 resources',
  ct_precert_scts: 'certificate transparency',
  ct_precert_poison: 'certificate transparency',
  ct_cert_scts: 'certificate transparency',
  crlNumber: 'set by the CRL issuer, not by a profile',
  deltaCRL: 'delta CRLs',
  issuingDistributionPoint: 'issuing distribution point',
  CRLReason: 'a CRL entry extension',
  invalidityDate: 'a CRL entry extension',
  certificateIssuer: 'a CRL entry extension',
  noRevAvail: 'no revocation available',
  targetInformation: 'attribute certificates',
  subjectDirectoryAttributes: 'subject directory attributes',
};

const SUPPORTED = new Set<string>(SUPPORTED_EXTENSION_KEYS);

/** True when `key` is an x509v3 extension name OpenSSL knows (supported by mtlskit or not). */
export function isExtensionKey(key: string): boolean {
  return SUPPORTED.has(key) || key in UNSUPPORTED_EXTENSIONS;
}

const DOTTED_OID = /^[0-2]\.(0|[1-9]\d*)(\.(0|[1-9]\d*))*$/;

/**
 * True when a section holds at least one x509v3 extension directive (or a raw
 * `OID = DER:…` extension), so it is meant for `-extensions`.
 */
export function looksLikeExtensionSection(section: ConfigSection): boolean {
  return section.entries.some(
    (e) =>
      isExtensionKey(e.key) ||
      (DOTTED_OID.test(e.key) && /^(critical,\s*)?(DER|ASN1):/.test(e.value)),
  );
}

/** keyUsage names: short (as in the profile) and OpenSSL's long names. */
const KEY_USAGE_LONG: Readonly<Record<string, KeyUsageName>> = {
  'Digital Signature': 'digitalSignature',
  'Non Repudiation': 'nonRepudiation',
  'Key Encipherment': 'keyEncipherment',
  'Data Encipherment': 'dataEncipherment',
  'Key Agreement': 'keyAgreement',
  'Certificate Sign': 'keyCertSign',
  'CRL Sign': 'cRLSign',
  'Encipher Only': 'encipherOnly',
  'Decipher Only': 'decipherOnly',
};

const NS_CERT_TYPE_LONG: Readonly<Record<string, NsCertTypeName>> = {
  'SSL Client': 'client',
  'SSL Server': 'server',
  'S/MIME': 'email',
  'Object Signing': 'objsign',
  Unused: 'reserved',
  'SSL CA': 'sslCA',
  'S/MIME CA': 'emailCA',
  'Object Signing CA': 'objCA',
};

/** OpenSSL's long names for the EKU short names of {@link EKU_OIDS}. */
const EKU_LONG: Readonly<Record<string, string>> = {
  'TLS Web Server Authentication': 'serverAuth',
  'TLS Web Client Authentication': 'clientAuth',
  'Code Signing': 'codeSigning',
  'E-mail Protection': 'emailProtection',
  'Time Stamping': 'timeStamping',
  'OCSP Signing': 'OCSPSigning',
  'ipsec Internet Key Exchange': 'ipsecIKE',
  'Microsoft Individual Code Signing': 'msCodeInd',
  'Microsoft Commercial Code Signing': 'msCodeCom',
  'Microsoft Trust List Signing': 'msCTLSign',
  'Microsoft Encrypted File System': 'msEFS',
  'Any Extended Key Usage': 'anyExtendedKeyUsage',
};

/** Further EKU names OpenSSL knows (short and long), kept in the profile as dotted OIDs. */
const EKU_OTHER: Readonly<Record<string, string>> = {
  ipsecEndSystem: '1.3.6.1.5.5.7.3.5',
  'IPSec End System': '1.3.6.1.5.5.7.3.5',
  ipsecTunnel: '1.3.6.1.5.5.7.3.6',
  'IPSec Tunnel': '1.3.6.1.5.5.7.3.6',
  ipsecUser: '1.3.6.1.5.5.7.3.7',
  'IPSec User': '1.3.6.1.5.5.7.3.7',
  DVCS: '1.3.6.1.5.5.7.3.10',
  dvcs: '1.3.6.1.5.5.7.3.10',
  secureShellClient: '1.3.6.1.5.5.7.3.21',
  'SSH Client': '1.3.6.1.5.5.7.3.21',
  secureShellServer: '1.3.6.1.5.5.7.3.22',
  'SSH Server': '1.3.6.1.5.5.7.3.22',
  msSGC: '1.3.6.1.4.1.311.10.3.3',
  'Microsoft Server Gated Crypto': '1.3.6.1.4.1.311.10.3.3',
  nsSGC: '2.16.840.1.113730.4.1',
  'Netscape Server Gated Crypto': '2.16.840.1.113730.4.1',
  msSmartcardLogin: '1.3.6.1.4.1.311.20.2.2',
  'Microsoft Smartcard Login': '1.3.6.1.4.1.311.20.2.2',
};

const ANY_POLICY = '2.5.29.32.0';
const AD_OCSP = '1.3.6.1.5.5.7.48.1';
const AD_CA_ISSUERS = '1.3.6.1.5.5.7.48.2';

/** One element of a multi-valued extension: a list item, or an entry of an `@section`. */
interface Item {
  name: string;
  value: string | undefined;
  file: string;
  line: number;
  /** The directive (or section entry) the item comes from, for messages. */
  where: string;
}

interface Ctx {
  cfg: ParsedOpenSslConfig;
  section: string;
  entry: ConfigEntry;
  /** Names from the `oid_section` of the default section. */
  oids: ReadonlyMap<string, string>;
}

function what(ctx: Ctx): string {
  return `[${ctx.section}] ${ctx.entry.key}`;
}

function invalidAt(
  at: { file: string; line: number },
  ctx: Ctx,
  message: string,
  hint?: string,
): MtlsError {
  const loc = formatLocation(at);
  return new MtlsError('MTLS_CONFIG_INVALID', `${loc}: ${what(ctx)}: ${message}`, {
    subject: loc,
    ...(hint ? { hint } : {}),
  });
}

function unsupportedAt(
  at: { file: string; line: number },
  ctx: Ctx,
  message: string,
  hint?: string,
): MtlsError {
  const loc = formatLocation(at);
  return new MtlsError('MTLS_CONFIG_UNSUPPORTED', `${loc}: ${what(ctx)}: ${message}`, {
    subject: loc,
    hint:
      hint ??
      `Remove or rewrite the directive. mtlskit reads these extension directives: ${SUPPORTED_EXTENSION_KEYS.join(', ')}.`,
  });
}

const isSpace = (c: string | undefined): boolean => c !== undefined && /^[ \t\n\v\f\r]$/.test(c);

function stripSpaces(s: string): string | undefined {
  let a = 0;
  let b = s.length;
  while (a < b && isSpace(s[a])) a++;
  while (b > a && isSpace(s[b - 1])) b--;
  return a === b ? undefined : s.slice(a, b);
}

/** `critical,` prefix, exactly as v3_check_critical reads it (no space before the comma). */
function splitCritical(value: string): { critical: boolean; rest: string } {
  if (value.startsWith('critical,')) {
    let i = 9;
    while (isSpace(value[i])) i++;
    return { critical: true, rest: value.slice(i) };
  }
  return { critical: false, rest: value };
}

/** X509V3_parse_list: `name[:value], …`, split at the first `:` of each item. */
function parseList(text: string, ctx: Ctx): Item[] {
  const e = ctx.entry;
  const items: Item[] = [];
  const mk = (name: string, value: string | undefined): Item => ({
    name,
    value,
    file: e.file,
    line: e.line,
    where: what(ctx),
  });
  let state: 'name' | 'value' = 'name';
  let q = 0;
  let name: string | undefined;
  let p = 0;
  for (; p < text.length && text[p] !== '\r' && text[p] !== '\n'; p++) {
    const c = text[p];
    if (state === 'name') {
      if (c === ':' || c === ',') {
        const n = stripSpaces(text.slice(q, p));
        if (n === undefined)
          throw invalidAt(
            e,
            ctx,
            `empty name in "${text}" (OpenSSL: "invalid empty name")`,
            'Remove the stray comma or colon.',
          );
        q = p + 1;
        if (c === ':') {
          state = 'value';
          name = n;
        } else items.push(mk(n, undefined));
      }
    } else if (c === ',') {
      const v = stripSpaces(text.slice(q, p));
      if (v === undefined)
        throw invalidAt(
          e,
          ctx,
          `"${name}:" has no value in "${text}" (OpenSSL: "invalid null value")`,
        );
      // The 'value' state is entered only once a name was read.
      items.push(mk(name ?? '', v));
      state = 'name';
      q = p + 1;
    }
  }
  const last = stripSpaces(text.slice(q, p));
  if (state === 'value') {
    if (last === undefined)
      throw invalidAt(
        e,
        ctx,
        `"${name}:" has no value in "${text}" (OpenSSL: "invalid null value")`,
      );
    items.push(mk(name ?? '', last));
  } else {
    if (last === undefined)
      throw invalidAt(
        e,
        ctx,
        `empty name in "${text}" (OpenSSL: "invalid empty name")`,
        'Remove the stray comma, or give a value.',
      );
    items.push(mk(last, undefined));
  }
  return items;
}

function sectionItems(sectionName: string, at: { file: string; line: number }, ctx: Ctx): Item[] {
  const s = ctx.cfg.section(sectionName);
  if (!s) {
    throw invalidAt(
      at,
      ctx,
      `refers to section [${sectionName}], which does not exist`,
      `Add a [ ${sectionName} ] section, or fix the name after "@".`,
    );
  }
  if (s.entries.length === 0) throw invalidAt(at, ctx, `section [${sectionName}] is empty`);
  return s.entries.map((x) => ({
    name: x.key,
    value: x.value,
    file: x.file,
    line: x.line,
    where: `[${sectionName}] ${x.key}`,
  }));
}

/** A v2i extension's values: `@section` (whole value) or a comma list. */
function multiValues(text: string, ctx: Ctx): Item[] {
  if (text.startsWith('@')) return sectionItems(text.slice(1), ctx.entry, ctx);
  return parseList(text, ctx);
}

function misplacedCritical(item: Item, ctx: Ctx): void {
  if (item.name === 'critical') {
    throw invalidAt(
      item,
      ctx,
      `"critical" must open the value and be followed directly by a comma ("critical, …")`,
      'Write "critical," with no space before the comma, first in the value, as OpenSSL requires.',
    );
  }
}

function nameOnly(item: Item, ctx: Ctx, kind: string): string {
  misplacedCritical(item, ctx);
  if (item.value !== undefined)
    throw invalidAt(item, ctx, `${kind} "${item.name}" takes no ":${item.value}"`);
  return item.name;
}

function customOids(cfg: ParsedOpenSslConfig): Map<string, string> {
  const out = new Map<string, string>();
  const ref = cfg.get('default', 'oid_section');
  const s = ref ? cfg.section(ref.value) : undefined;
  for (const e of s?.entries ?? []) {
    // `name = oid` or `name = long name, oid`
    const parts = e.value.split(',').map((p) => p.trim());
    const oid = parts.at(-1) ?? '';
    if (!DOTTED_OID.test(oid)) continue;
    out.set(e.key, oid);
    if (parts.length > 1 && parts[0]) out.set(parts[0], oid);
  }
  return out;
}

function resolveOid(name: string, ctx: Ctx): string | undefined {
  if (DOTTED_OID.test(name)) return name;
  return ctx.oids.get(name);
}

function parseBool(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (['TRUE', 'true', 'Y', 'y', 'YES', 'yes'].includes(v)) return true;
  if (['FALSE', 'false', 'N', 'n', 'NO', 'no'].includes(v)) return false;
  return undefined;
}

function nameCmp(name: string, prefix: string): boolean {
  return name === prefix || name.startsWith(`${prefix}.`);
}

function dirNameValue(sectionName: string, item: Item, ctx: Ctx): string {
  const s = ctx.cfg.section(sectionName);
  if (!s)
    throw invalidAt(
      item,
      ctx,
      `dirName refers to section [${sectionName}], which does not exist`,
      `Add a [ ${sectionName} ] section with the name's fields (C = …, O = …, CN = …).`,
    );
  const dn: DistinguishedName = [];
  for (const x of s.entries) {
    let type = x.key;
    // X509V3_NAME_from_section skips a leading "N." / "N:" / "N," so fields can repeat.
    const sep = type.search(/[.:,]/);
    if (sep >= 0 && sep + 1 < type.length) type = type.slice(sep + 1);
    if (type.startsWith('+')) {
      throw new MtlsError(
        'MTLS_CONFIG_UNSUPPORTED',
        `${formatLocation(x)}: [${sectionName}] ${x.key}: multi-valued RDNs ("+") in a dirName are not supported`,
        {
          subject: formatLocation(x),
          hint: 'Put each attribute in its own RDN (remove the "+").',
        },
      );
    }
    const t = findAttributeType(type);
    if (!t) {
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        `${formatLocation(x)}: [${sectionName}] ${x.key}: unknown name attribute "${type}" in dirName`,
        {
          subject: formatLocation(x),
          hint: 'Use C, ST, L, O, OU, CN, emailAddress, … or a dotted OID.',
        },
      );
    }
    if (x.value === '')
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        `${formatLocation(x)}: [${sectionName}] ${x.key} is empty in dirName`,
        { subject: formatLocation(x) },
      );
    dn.push({ type: t.short, value: x.value });
  }
  if (dn.length === 0) throw invalidAt(item, ctx, `dirName section [${sectionName}] is empty`);
  return formatSlash(dn);
}

/** v2i_GENERAL_NAME: `DNS:`, `IP:`, `email:`, `URI:`, `RID:`, `dirName:`, `otherName:`. */
function generalName(item: Item, ctx: Ctx, kind: 'san' | 'ian' | 'other'): GeneralNameSpec {
  const { name, value } = item;
  if (kind === 'ian' && nameCmp(name, 'issuer') && value === 'copy') {
    throw unsupportedAt(
      item,
      ctx,
      '"issuer:copy" is not supported',
      "List the issuer's alternative names explicitly (DNS:…, URI:…, email:…).",
    );
  }
  const known = ['email', 'URI', 'DNS', 'RID', 'IP', 'dirName', 'otherName'].find((p) =>
    nameCmp(name, p),
  );
  if (!known) {
    throw invalidAt(
      item,
      ctx,
      `"${name}" is not a GeneralName type (OpenSSL: "unsupported option")`,
      'Use DNS:, IP:, email:, URI:, RID: or dirName:.',
    );
  }
  if (value === undefined)
    throw invalidAt(
      item,
      ctx,
      `"${name}" has no value (OpenSSL: "missing value"); write ${known}:value`,
    );
  switch (known) {
    case 'email':
      if (kind === 'san' && value === 'copy') return { type: 'emailCopy' };
      if (kind === 'san' && value === 'move') {
        throw unsupportedAt(
          item,
          ctx,
          '"email:move" is not supported',
          'Use email:copy, and email_in_dn = no in the CA section to keep the address out of the subject.',
        );
      }
      return { type: 'email', value };
    case 'URI':
      return { type: 'uri', value };
    case 'DNS':
      return { type: 'dns', value };
    case 'RID': {
      const oid = resolveOid(value, ctx);
      if (!oid)
        throw invalidAt(
          item,
          ctx,
          `RID "${value}" is not an OID (OpenSSL: "bad object")`,
          'Write the registered ID as a dotted OID, e.g. RID:1.2.3.4.',
        );
      return { type: 'rid', value: oid };
    }
    case 'IP':
      if (!parseIpBytes(value))
        throw invalidAt(
          item,
          ctx,
          `"${value}" is not an IPv4 or IPv6 address (OpenSSL: "bad ip address")`,
        );
      return { type: 'ip', value };
    case 'dirName':
      return { type: 'dirName', value: dirNameValue(value, item, ctx) };
    default:
      throw unsupportedAt(
        item,
        ctx,
        `otherName GeneralNames ("${name}:${value}") are not supported`,
        'Use DNS:, IP:, email:, URI:, RID: or dirName: names.',
      );
  }
}

function dedupe<T>(list: T[]): T[] {
  return [...new Set(list)];
}

function noCritical(critical: boolean, ctx: Ctx, reason: string): void {
  if (critical)
    throw invalidAt(
      ctx.entry,
      ctx,
      `must not be critical: ${reason}`,
      'Remove "critical," from the value.',
    );
}

function basicConstraints(
  text: string,
  critical: boolean,
  ctx: Ctx,
): NonNullable<ExtensionProfile['basicConstraints']> {
  let ca = false;
  let pathLen: number | undefined;
  for (const it of multiValues(text, ctx)) {
    if (it.name === 'CA') {
      const b = parseBool(it.value);
      if (b === undefined)
        throw invalidAt(
          it,
          ctx,
          `CA takes TRUE or FALSE, not "${it.value ?? ''}"`,
          'Write CA:TRUE or CA:FALSE.',
        );
      ca = b;
    } else if (it.name === 'pathlen') {
      if (it.value === undefined || !/^\d+$/.test(it.value)) {
        throw invalidAt(
          it,
          ctx,
          `pathlen takes a non-negative integer, not "${it.value ?? ''}"`,
          'Write pathlen:0 for a CA that may only issue end-entity certificates.',
        );
      }
      pathLen = Number(it.value);
    } else {
      misplacedCritical(it, ctx);
      throw invalidAt(
        it,
        ctx,
        `unknown basicConstraints option "${it.name}" (OpenSSL: "invalid name")`,
        'Use CA:TRUE|FALSE and pathlen:N.',
      );
    }
  }
  if (pathLen !== undefined && !ca) {
    // RFC 5280 §4.2.1.9: pathLenConstraint is only meaningful, and only allowed, when cA is TRUE.
    throw invalidAt(
      ctx.entry,
      ctx,
      'pathlen is set but CA is not TRUE; RFC 5280 §4.2.1.9 allows pathLenConstraint only in CA certificates',
      'Remove pathlen, or add CA:TRUE.',
    );
  }
  return { critical, value: pathLen === undefined ? { ca } : { ca, pathLen } };
}

function keyUsage(
  text: string,
  critical: boolean,
  ctx: Ctx,
): NonNullable<ExtensionProfile['keyUsage']> {
  const out: KeyUsageName[] = [];
  for (const it of multiValues(text, ctx)) {
    const n = nameOnly(it, ctx, 'keyUsage');
    const u = KEY_USAGE_NAMES.find((k) => k === n) ?? KEY_USAGE_LONG[n];
    if (!u) {
      throw invalidAt(
        it,
        ctx,
        `unknown keyUsage "${n}" (names are case-sensitive)`,
        `Use one of: ${KEY_USAGE_NAMES.join(', ')}.`,
      );
    }
    out.push(u);
  }
  return { critical, value: dedupe(out) };
}

function extendedKeyUsage(
  text: string,
  critical: boolean,
  ctx: Ctx,
): NonNullable<ExtensionProfile['extendedKeyUsage']> {
  const byOid = new Map(Object.entries(EKU_OIDS).map(([k, v]) => [v, k]));
  const out: string[] = [];
  for (const it of multiValues(text, ctx)) {
    // v2i_EXTENDED_KEY_USAGE takes the value if there is one, else the name.
    const n = it.value ?? it.name;
    let r: string | undefined;
    if (n in EKU_OIDS) r = n;
    else if (EKU_LONG[n]) r = EKU_LONG[n];
    else if (EKU_OTHER[n]) r = EKU_OTHER[n];
    else {
      const oid = resolveOid(n, ctx);
      if (oid) r = byOid.get(oid) ?? oid;
    }
    if (!r) {
      throw invalidAt(
        it,
        ctx,
        `unknown extendedKeyUsage "${n}" (names are case-sensitive)`,
        `Use one of ${Object.keys(EKU_OIDS).join(', ')}, a long name such as "TLS Web Client Authentication", or a dotted OID.`,
      );
    }
    out.push(r);
  }
  return { critical, value: dedupe(out) };
}

function subjectKeyIdentifier(text: string, critical: boolean, ctx: Ctx): 'hash' | 'none' {
  // RFC 5280 §4.2.1.2: conforming CAs MUST mark this extension non-critical.
  noCritical(critical, ctx, 'RFC 5280 §4.2.1.2 requires subjectKeyIdentifier to be non-critical');
  if (text === 'hash' || text === 'none') return text;
  throw unsupportedAt(
    ctx.entry,
    ctx,
    `a fixed subjectKeyIdentifier "${text}" is not supported (only hash or none)`,
    'Use subjectKeyIdentifier = hash: a fixed value would repeat in every certificate.',
  );
}

function authorityKeyIdentifier(
  text: string,
  critical: boolean,
  ctx: Ctx,
): AuthorityKeyIdSpec | undefined {
  // RFC 5280 §4.2.1.1: conforming CAs MUST mark this extension non-critical.
  noCritical(critical, ctx, 'RFC 5280 §4.2.1.1 requires authorityKeyIdentifier to be non-critical');
  if (text === 'none') return undefined;
  const spec: AuthorityKeyIdSpec = {};
  for (const it of multiValues(text, ctx)) {
    if (it.name !== 'keyid' && it.name !== 'issuer') {
      misplacedCritical(it, ctx);
      throw invalidAt(
        it,
        ctx,
        `unknown authorityKeyIdentifier option "${it.name}" (OpenSSL: "unknown option")`,
        'Use keyid, keyid:always, issuer or issuer:always.',
      );
    }
    if (it.value !== undefined && it.value !== 'always') {
      throw invalidAt(
        it,
        ctx,
        `"${it.name}:${it.value}": the only qualifier is ":always"`,
        `Write ${it.name} or ${it.name}:always.`,
      );
    }
    spec[it.name] = it.value === 'always' ? 'always' : 'ifAvailable';
  }
  return spec;
}

function altName(
  text: string,
  critical: boolean,
  ctx: Ctx,
  kind: 'san' | 'ian',
): NonNullable<ExtensionProfile['subjectAltName']> {
  return { critical, value: multiValues(text, ctx).map((it) => generalName(it, ctx, kind)) };
}

function nsCertType(text: string, critical: boolean, ctx: Ctx): NsCertTypeName[] {
  noCritical(
    critical,
    ctx,
    'nsCertType is a non-standard extension; a critical one makes RFC 5280 §4.2 validators reject the certificate',
  );
  const out: NsCertTypeName[] = [];
  for (const it of multiValues(text, ctx)) {
    const n = nameOnly(it, ctx, 'nsCertType');
    const t = NS_CERT_TYPE_NAMES.find((k) => k === n) ?? NS_CERT_TYPE_LONG[n];
    if (!t)
      throw invalidAt(
        it,
        ctx,
        `unknown nsCertType "${n}"`,
        `Use one of: ${NS_CERT_TYPE_NAMES.join(', ')}.`,
      );
    out.push(t);
  }
  return dedupe(out);
}

function crlDistributionPoints(text: string, critical: boolean, ctx: Ctx): GeneralNameSpec[] {
  // RFC 5280 §4.2.1.13: the extension SHOULD be non-critical; mtlskit writes it non-critical.
  noCritical(
    critical,
    ctx,
    'RFC 5280 §4.2.1.13 says it SHOULD be non-critical, and mtlskit writes it non-critical',
  );
  const out: GeneralNameSpec[] = [];
  const uriOnly = (g: GeneralNameSpec, it: Item): GeneralNameSpec => {
    if (g.type !== 'uri')
      throw unsupportedAt(
        it,
        ctx,
        'CRL distribution points must be URI: names in mtlskit',
        'Write URI:http://…/ca.crl.',
      );
    return g;
  };
  const items = text.startsWith('@')
    ? sectionItems(text.slice(1), ctx.entry, ctx)
    : parseList(text, ctx);
  for (const it of items) {
    if (
      text.startsWith('@') &&
      ['fullname', 'relativename', 'CRLissuer', 'reasons'].includes(it.name)
    ) {
      throw invalidAt(
        it,
        ctx,
        `"${it.name}" belongs in a distribution point section, which is named without "@" (OpenSSL: "unsupported option")`,
        `Write crlDistributionPoints = ${text.slice(1)} (no "@"); "@${text.slice(1)}" means a list of names such as URI.0 = http://….`,
      );
    }
    if (it.value !== undefined) {
      out.push(uriOnly(generalName(it, ctx, 'other'), it));
      continue;
    }
    // A bare name is a distribution point section (fullname =, relativename =, CRLissuer =, reasons =).
    const dp = sectionItems(nameOnly(it, ctx, 'distribution point section'), it, ctx);
    const names: GeneralNameSpec[] = [];
    for (const d of dp) {
      if (d.name !== 'fullname') {
        throw new MtlsError(
          'MTLS_CONFIG_UNSUPPORTED',
          `${formatLocation(d)}: ${d.where}: distribution point field "${d.name}" is not supported (only fullname)`,
          {
            subject: formatLocation(d),
            hint: 'Keep only fullname = URI:… in the distribution point section.',
          },
        );
      }
      const sub: Ctx = {
        ...ctx,
        entry: { ...ctx.entry, file: d.file, line: d.line, key: `${ctx.entry.key} → ${d.where}` },
      };
      const value = d.value ?? '';
      const list = value.startsWith('@')
        ? sectionItems(value.slice(1), d, sub)
        : parseList(value, sub);
      for (const g of list) names.push(uriOnly(generalName(g, sub, 'other'), g));
    }
    if (names.length !== 1) {
      throw unsupportedAt(
        it,
        ctx,
        `distribution point [${it.name}] has ${names.length} full names; mtlskit writes one URI per distribution point`,
        'List each URI as its own distribution point: crlDistributionPoints = URI:…, URI:….',
      );
    }
    out.push(...names);
  }
  return out;
}

function authorityInfoAccess(
  text: string,
  critical: boolean,
  ctx: Ctx,
): NonNullable<ExtensionProfile['authorityInfoAccess']> {
  // RFC 5280 §4.2.2.1: conforming CAs MUST mark this extension non-critical.
  noCritical(critical, ctx, 'RFC 5280 §4.2.2.1 requires authorityInfoAccess to be non-critical');
  const out: NonNullable<ExtensionProfile['authorityInfoAccess']> = [];
  for (const it of multiValues(text, ctx)) {
    const semi = it.name.indexOf(';');
    if (semi < 0) {
      throw invalidAt(
        it,
        ctx,
        `"${it.name}" has no access method; write METHOD;TYPE:value such as OCSP;URI:http://ocsp.example/ (OpenSSL: "invalid syntax")`,
      );
    }
    const m = it.name.slice(0, semi);
    const oid =
      m === 'OCSP'
        ? AD_OCSP
        : m === 'caIssuers' || m === 'CA Issuers'
          ? AD_CA_ISSUERS
          : resolveOid(m, ctx);
    const method = oid === AD_OCSP ? 'OCSP' : oid === AD_CA_ISSUERS ? 'caIssuers' : undefined;
    if (!method)
      throw unsupportedAt(
        it,
        ctx,
        `access method "${m}" is not supported (only OCSP and caIssuers)`,
      );
    out.push({
      method,
      location: generalName({ ...it, name: it.name.slice(semi + 1) }, ctx, 'other'),
    });
  }
  return out;
}

function certificatePolicies(
  text: string,
  critical: boolean,
  ctx: Ctx,
): NonNullable<ExtensionProfile['certificatePolicies']> {
  const out: string[] = [];
  for (const it of parseList(text, ctx)) {
    const n = nameOnly(it, ctx, 'policy');
    if (n.startsWith('@')) {
      throw unsupportedAt(
        it,
        ctx,
        `policy section "${n}" (policy qualifiers: CPS, userNotice) is not supported`,
        'List policy OIDs only: certificatePolicies = 1.2.3.4, ….',
      );
    }
    if (n === 'ia5org')
      throw unsupportedAt(
        it,
        ctx,
        '"ia5org" only affects policy qualifiers, which are not supported',
      );
    const oid = n === 'anyPolicy' || n === 'X509v3 Any Policy' ? ANY_POLICY : resolveOid(n, ctx);
    if (!oid)
      throw invalidAt(
        it,
        ctx,
        `"${n}" is not a policy OID`,
        'Write the policy as a dotted OID, or name it in the oid_section.',
      );
    out.push(oid);
  }
  return { critical, value: dedupe(out) };
}

/**
 * Reads one extension section of a parsed openssl.cnf into a profile, with the
 * syntax of x509v3_config(5):
 * basicConstraints, keyUsage, extendedKeyUsage (short names, long names such as
 * "TLS Web Client Authentication", dotted OIDs; known OIDs become short names),
 * subjectKeyIdentifier (hash, none), authorityKeyIdentifier (keyid[:always],
 * issuer[:always], none), subjectAltName / issuerAltName (DNS:, IP:, email:,
 * email:copy, URI:, RID:, dirName:SECTION, or `@section` with DNS.1 = …),
 * nsCertType, nsComment, crlDistributionPoints (URI: list, `@section` of
 * URI.N entries, or a bare section name holding fullname = URI:…),
 * authorityInfoAccess (OCSP;URI:…, caIssuers;URI:…) and certificatePolicies
 * (OIDs). `critical,` must open the value, as OpenSSL requires.
 *
 * @throws MTLS_PROFILE_UNKNOWN when the section does not exist
 * @throws MTLS_CONFIG_UNSUPPORTED naming file:line and the directive for any
 *   other directive, raw `DER:`/`ASN1:` values, otherName, email:move,
 *   issuer:copy, policy qualifiers, non-URI CRL distribution points
 * @throws MTLS_CONFIG_INVALID naming file:line for a bad value (unknown
 *   keyUsage name, bad IP address, missing section, critical where RFC 5280
 *   forbids it, …)
 */
export function parseExtensionSection(
  cfg: ParsedOpenSslConfig,
  sectionName: string,
): ExtensionProfile {
  const section = cfg.section(sectionName);
  if (!section) {
    const names = cfg.sections.filter(looksLikeExtensionSection).map((s) => s.name);
    throw new MtlsError(
      'MTLS_PROFILE_UNKNOWN',
      `${cfg.path} has no extension section [${sectionName}]`,
      {
        subject: sectionName,
        hint: names.length
          ? `Extension sections in the file: ${names.join(', ')}.`
          : `Add a [ ${sectionName} ] section to ${cfg.path}.`,
      },
    );
  }
  const oids = customOids(cfg);
  const profile: ExtensionProfile = { name: sectionName };
  for (const entry of section.entries) {
    const ctx: Ctx = { cfg, section: sectionName, entry, oids };
    const { critical, rest } = splitCritical(entry.value);
    const key = entry.key;
    if (/^(DER|ASN1):/.test(rest)) {
      throw unsupportedAt(
        entry,
        ctx,
        `raw extension values ("${rest.slice(0, rest.indexOf(':') + 1)}…") are not supported`,
      );
    }
    if (!SUPPORTED.has(key)) {
      const reason = UNSUPPORTED_EXTENSIONS[key];
      throw unsupportedAt(
        entry,
        ctx,
        reason
          ? `the ${key} extension is not supported by mtlskit (${reason})`
          : `"${key}" is not an x509v3 extension directive mtlskit supports${DOTTED_OID.test(key) ? '' : ' (OpenSSL would also refuse it: "unknown extension name")'}`,
      );
    }
    if (rest === '') throw invalidAt(entry, ctx, 'has no value');
    switch (key) {
      case 'basicConstraints':
        profile.basicConstraints = basicConstraints(rest, critical, ctx);
        break;
      case 'keyUsage':
        profile.keyUsage = keyUsage(rest, critical, ctx);
        break;
      case 'extendedKeyUsage':
        profile.extendedKeyUsage = extendedKeyUsage(rest, critical, ctx);
        break;
      case 'subjectKeyIdentifier':
        profile.subjectKeyIdentifier = subjectKeyIdentifier(rest, critical, ctx);
        break;
      case 'authorityKeyIdentifier': {
        const aki = authorityKeyIdentifier(rest, critical, ctx);
        if (aki) profile.authorityKeyIdentifier = aki;
        else delete profile.authorityKeyIdentifier;
        break;
      }
      case 'subjectAltName':
        profile.subjectAltName = altName(rest, critical, ctx, 'san');
        break;
      case 'issuerAltName':
        profile.issuerAltName = altName(rest, critical, ctx, 'ian');
        break;
      case 'nsCertType':
        profile.nsCertType = nsCertType(rest, critical, ctx);
        break;
      case 'nsComment':
        noCritical(
          critical,
          ctx,
          'nsComment is a non-standard extension; a critical one makes RFC 5280 §4.2 validators reject the certificate',
        );
        profile.nsComment = rest;
        break;
      case 'crlDistributionPoints':
        profile.crlDistributionPoints = crlDistributionPoints(rest, critical, ctx);
        break;
      case 'authorityInfoAccess':
        profile.authorityInfoAccess = authorityInfoAccess(rest, critical, ctx);
        break;
      case 'certificatePolicies':
        profile.certificatePolicies = certificatePolicies(rest, critical, ctx);
        break;
    }
  }
  return profile;
}
