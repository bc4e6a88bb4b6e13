/**
 * `mtls gateway institution|ca|ip|crl|rule|audit …`: registry management,
 * against the registry file (`--registry`) or a running gateway's admin API
 * (`--admin URL`). Wiring only; the work is done by src/gateway/admin and
 * src/gateway/onboarding.
 */
import type { Command } from 'commander';
import { MtlsError, type ErrorCode } from '../../errors/index.js';
import { readFileChecked } from '../../io/index.js';
import type { RegistryAdmin } from '../../gateway/admin/operations.js';
import { parseSince } from '../../gateway/admin/since.js';
import { assertWideRangeAllowed, parseCidr } from '../../gateway/registry/cidr.js';
import {
  AUDIT_REASONS,
  type AuditQuery,
  type AuditRecord,
  type CaChainRecord,
  type CrlRecord,
  type CrlSourceRecord,
  type IpRecord,
  type PinnedRule,
  type RequestRate,
} from '../../gateway/registry/types.js';
import { isPem } from '../../pki/pem.js';
import { fingerprintSha256, parseCertificates } from '../../pki/certificate.js';
import { colonHex } from '../../pki/inspect/asn1.js';
import { normalizeFingerprint } from '../../gateway/peer-cert.js';
import { normaliseFingerprint, validateRequestId } from '../../gateway/registry/validate.js';
import { assertNoPrivateKey } from '../../gateway/onboarding.js';
import { out, outJson, style, warn } from '../output.js';
import { isOneOf } from '../option-values.js';
import { DEFAULT_REGISTRY, ENV, jsonOption } from '../shared-options.js';
import { confirmOrYes } from '../confirm.js';
import { registerRegistry } from './gateway-registry.js';
import { isErrorCode } from '../exit-help.js';
import { isDurationText, parseDurationArg } from '../time-args.js';

interface TargetOptions {
  registry?: string;
  admin?: string;
  adminTokenFile?: string;
  adminCert?: string;
  adminKey?: string;
  adminCa?: string;
  json?: boolean;
}

const TARGET_HELP = `
Target (one of):
  --registry PATH        the registry file, sqlite:PATH or postgres://… (default $${ENV.registry} or ${DEFAULT_REGISTRY})
  --admin URL            a running gateway's admin API ($${ENV.adminUrl}), with
                         --admin-token-file FILE ($${ENV.adminTokenFile}) or --admin-cert/--admin-key`;

function addTarget(cmd: Command): Command {
  return cmd
    .option(
      '--registry <path>',
      `registry file, sqlite:PATH or postgres:// URL (default $${ENV.registry} or ${DEFAULT_REGISTRY})`,
    )
    .option(
      '--admin <url>',
      `admin API base URL instead of the registry file (default $${ENV.adminUrl})`,
    )
    .option(
      '--admin-token-file <file>',
      `file holding the admin bearer token (default $${ENV.adminTokenFile})`,
    )
    .option('--admin-cert <file>', 'admin client certificate (PEM) for an https admin API')
    .option('--admin-key <file>', 'its private key (PEM)')
    .option('--admin-ca <file>', 'CA that signed the admin API server certificate')
    .addOption(jsonOption())
    .addHelpText('after', TARGET_HELP);
}

/**
 * Opens the management target: the admin API when --admin (or
 * MTLS_ADMIN_URL) is set, else the registry. Only `institution add` (the
 * first write to a new registry) may create a missing SQLite file; every other
 * command on a missing path fails naming it, so a mistyped path never becomes
 * a new, empty registry.
 */
async function openTarget(
  o: TargetOptions,
  registry: 'create' | 'existing',
): Promise<RegistryAdmin> {
  const adminUrl = o.admin ?? process.env[ENV.adminUrl];
  if (adminUrl && o.registry) {
    throw new MtlsError('MTLS_USAGE', 'give either --registry or --admin, not both', {
      subject: '--admin',
    });
  }
  if (adminUrl) {
    const tokenFile = o.adminTokenFile ?? process.env[ENV.adminTokenFile];
    if (!tokenFile && !o.adminCert) {
      throw new MtlsError(
        'MTLS_USAGE',
        'the admin API needs credentials: --admin-token-file FILE or --admin-cert/--admin-key',
        { subject: '--admin-token-file' },
      );
    }
    // Loaded here, not at the top: each target pulls in a large graph (the
    // HTTP client: undici; the local registry: SQLite), and a command needs
    // only one of them, so the CLI starts without parsing the other.
    const { createAdminClient } = await import('../../gateway/admin/client.js');
    return createAdminClient({
      url: adminUrl,
      ...(tokenFile ? { tokenFile } : {}),
      ...(o.adminCert ? { certFile: o.adminCert } : {}),
      ...(o.adminKey ? { keyFile: o.adminKey } : {}),
      ...(o.adminCa ? { caFile: o.adminCa } : {}),
    });
  }
  const location = o.registry ?? process.env[ENV.registry] ?? DEFAULT_REGISTRY;
  const [{ createLocalAdmin }, { openRegistry }] = await Promise.all([
    import('../../gateway/admin/operations.js'),
    import('../../gateway/registry/index.js'),
  ]);
  return createLocalAdmin(
    await openRegistry(location, { sqlite: { create: registry === 'create' } }),
    { ownsRegistry: true },
  );
}

async function withTarget(
  o: TargetOptions,
  registry: 'create' | 'existing',
  fn: (admin: RegistryAdmin) => Promise<void>,
): Promise<void> {
  const admin = await openTarget(o, registry);
  try {
    await fn(admin);
  } finally {
    await admin.close();
  }
}

/** Prints rows as an aligned table with a header. */
function table(headers: string[], rows: (string | number | null | undefined)[][]): void {
  if (rows.length === 0) {
    out(style('dim', '(none)'));
    return;
  }
  const cells = rows.map((r) =>
    r.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c))),
  );
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)),
  );
  const line = (r: string[]): string =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  out(style('bold', line(headers)));
  for (const r of cells) out(line(r));
}

const day = (iso: string | null): string => (iso ? iso.slice(0, 10) : '-');

function parseId(value: string, what: string): number {
  if (!/^\d{1,15}$/.test(value))
    throw new MtlsError('MTLS_BAD_ARGUMENT', `${what} "${value}" is not a number`, {
      subject: what,
      hint: 'Take the id from the list command.',
    });
  return Number(value);
}

/** What {@link addListCommand} needs to know about one kind of record. */
interface ListCommandSpec<T> {
  description: string;
  /** The command line shown under "Example:". */
  example: string;
  list(admin: RegistryAdmin, institution: string | undefined): Promise<T[]>;
  print(items: T[]): void;
}

/** `GROUP list [institution]`: one institution's records, or all, as text or `--json`. */
function addListCommand<T>(group: Command, spec: ListCommandSpec<T>): void {
  addTarget(
    group
      .command('list [institution]')
      .description(spec.description)
      .addHelpText('after', `\nExample:\n  ${spec.example}`),
  ).action(async (institution: string | undefined, o: TargetOptions) =>
    withTarget(o, 'existing', async (a) => {
      const items = await spec.list(a, institution);
      if (o.json) outJson(`gateway-${groupPath(group).join('-')}-list`, items);
      else spec.print(items);
    }),
  );
}

/** What {@link addRemoveByIdCommand} needs to know about one kind of record. */
interface RemoveByIdSpec {
  /** The id argument's name (`chainId`). */
  id: string;
  /** The record, for people (`CA chain`). */
  what: string;
  remove(admin: RegistryAdmin, institution: string, id: number): Promise<void>;
}

/** The words after `mtls gateway` that lead to `group` (`crl url`). */
const groupPath = (group: Command): string[] =>
  group.parent && group.parent.name() !== 'gateway'
    ? [...groupPath(group.parent), group.name()]
    : [group.name()];

/** `GROUP remove <institution> <id>`: one record by the numeric id its `list` shows. */
function addRemoveByIdCommand(group: Command, spec: RemoveByIdSpec): void {
  const path = groupPath(group).join(' ');
  addTarget(
    group
      .command(`remove <institution> <${spec.id}>`)
      .description(`remove one ${spec.what} (see \`${path} list\` for ids)`)
      .addHelpText('after', `\nExample:\n  mtls gateway ${path} remove acme-bank 3`),
  ).action(async (institution: string, idText: string, o: TargetOptions) => {
    const id = parseId(idText, `${spec.what} id`);
    await withTarget(o, 'existing', async (a) => {
      await spec.remove(a, institution, id);
      if (o.json)
        outJson(`gateway-${groupPath(group).join('-')}-remove`, { ok: true, removed: id });
      else out(`removed ${spec.what} ${id} from ${institution}`);
    });
  });
}

async function readUpload(path: string, what: string): Promise<string | Buffer> {
  const data = await readFileChecked(path, what);
  return isPem(data) ? data.toString('utf8') : data;
}

/**
 * A SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` and `mtls ca
 * chain` print it (upper-case colon hex), whatever form it is stored in. The
 * JSON outputs keep the registry's form: 64 lower-case hex digits.
 */
export function displayFingerprint(fp: string): string {
  return colonHex(normalizeFingerprint(fp), true);
}

function printChains(chains: CaChainRecord[]): void {
  table(
    ['ID', 'INSTITUTION', 'SUBJECT (top CA)', 'NOT AFTER', 'CERTS', 'SHA-256 (top CA)'],
    chains.map((c) => [
      c.id,
      c.institutionId,
      c.subject,
      day(c.notAfter),
      c.fingerprints.length,
      ((top) => (top !== undefined ? displayFingerprint(top) : '-'))(c.fingerprints.at(-1)),
    ]),
  );
}

/**
 * Refuses a chain whose top-most CA (the self-signed root, else the last
 * certificate) does not have the fingerprint the institution confirmed out of
 * band, before anything is sent or stored.
 * @throws MTLS_BAD_ARGUMENT when `expected` is not a SHA-256 fingerprint
 * @throws MTLS_ONBOARD_REJECTED on a mismatch
 */
function assertExpectedRoot(data: string | Buffer, file: string, expected: string): void {
  const want = normaliseFingerprint(expected, '--expect-fingerprint');
  assertNoPrivateKey(data, file);
  const certs = parseCertificates(data, file);
  const top = certs.find((c) => c.subject === c.issuer) ?? certs[certs.length - 1];
  if (!top)
    throw new MtlsError('MTLS_ONBOARD_REJECTED', `${file} holds no certificate`, { subject: file });
  const got = normalizeFingerprint(fingerprintSha256(top));
  if (got !== want) {
    throw new MtlsError(
      'MTLS_ONBOARD_REJECTED',
      `the top CA of ${file} (${top.subject}) has SHA-256 ${displayFingerprint(got)}, not the expected ${displayFingerprint(want)}; nothing was registered`,
      {
        subject: '--expect-fingerprint',
        hint: 'Confirm the fingerprint with the institution out of band (they see it in `mtls ca chain`); register the chain only when both agree.',
        details: { reason: 'fingerprint_mismatch', expected: want, actual: got },
      },
    );
  }
}
function printIps(ips: IpRecord[]): void {
  table(
    ['INSTITUTION', 'IP/CIDR', 'ADDED'],
    ips.map((i) => [i.institutionId, i.cidr, day(i.createdAt)]),
  );
}
function printCrls(crls: CrlRecord[]): void {
  table(
    ['ID', 'INSTITUTION', 'ISSUER', 'SIGNER SHA-256', 'THIS UPDATE', 'NEXT UPDATE'],
    crls.map((c) => [
      c.id,
      c.institutionId,
      c.issuer,
      c.issuerFingerprint ? displayFingerprint(c.issuerFingerprint) : '-',
      c.thisUpdate,
      c.nextUpdate,
    ]),
  );
}
function printRules(rules: PinnedRule[]): void {
  table(
    ['ID', 'INSTITUTION', 'KIND', 'VALUE'],
    rules.map((r) => [r.id, r.institutionId, r.kind, r.value]),
  );
}
function printAudit(records: AuditRecord[]): void {
  table(
    [
      'TIME',
      'KIND',
      'OUTCOME',
      'REASON',
      'IP',
      'INSTITUTION',
      'SUBJECT',
      'REQUEST',
      'REQUEST ID',
      'DETAIL',
    ],
    records.map((r) => [
      r.time,
      r.kind,
      r.outcome === 'rejected' ? style('red', r.outcome) : r.outcome,
      r.reason,
      r.ip,
      r.institutionId,
      r.subject === null ? null : r.subject,
      r.kind === 'request' ? `${r.method ?? ''} ${r.path ?? ''} ${r.status ?? ''}`.trim() : null,
      r.requestId ?? null,
      r.detail,
    ]),
  );
}

/**
 * Registers the registry management commands under the `gateway` command.
 * Pass the `gateway` command object; given the root program instead, it
 * finds (or creates) its `gateway` subcommand.
 */
export function registerGatewayAdminCommands(gateway: Command): void {
  let g = gateway;
  if (gateway.name() !== 'gateway') {
    g =
      gateway.commands.find((c) => c.name() === 'gateway') ??
      gateway
        .command('gateway')
        .description('the TLS-1.2 mTLS gateway: run it and manage its registry');
  }
  registerInstitution(g);
  registerCa(g);
  registerIp(g);
  registerCrl(g);
  registerRule(g);
  registerAudit(g);
  registerRegistry(g);
}

/** An institution's request rate as `institution show` and `institution rate` say it. */
function describeRequestRate(rate: RequestRate | null): string {
  return rate
    ? `its own, ${rate.requestsPerSecond} requests/s, burst ${rate.burst}`
    : "each gateway's limits.institutionRequestsPerSecond (none when unset)";
}

/**
 * `--requests-per-second`/`--burst`: a plain decimal number; the registry
 * checks its range and names the field.
 * @throws MTLS_BAD_ARGUMENT naming the flag
 */
const rateNumber =
  (flag: string) =>
  (value: string): number => {
    if (!/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(value)) {
      throw new MtlsError(
        'MTLS_BAD_ARGUMENT',
        `${flag} must be a plain positive number, got "${value}"`,
        {
          subject: flag,
          hint: `e.g. ${flag} 100`,
        },
      );
    }
    return Number(value);
  };

function registerInstitution(g: Command): void {
  const inst = g
    .command('institution')
    .description('register, list, suspend and remove institutions');
  addTarget(
    inst
      .command('add <id>')
      .description('register an institution (status active)')
      .requiredOption('--name <name>', 'display name')
      .addHelpText(
        'after',
        '\nExample:\n  mtls gateway institution add acme-bank --name "Acme Bank" --registry /var/lib/mtls/registry.db',
      ),
  ).action(async (id: string, o: TargetOptions & { name: string }) =>
    withTarget(o, 'create', async (a) => {
      const r = await a.createInstitution({ id, name: o.name });
      if (o.json) outJson('gateway-institution-add', r);
      else
        out(
          `added institution ${r.id} (${r.name}), status ${r.status}; next: \`mtls gateway ca add ${r.id} chain.pem\` and \`mtls gateway ip add ${r.id} IP\``,
        );
    }),
  );
  addTarget(
    inst
      .command('list')
      .description('list institutions with their counts')
      .addHelpText('after', '\nExample:\n  mtls gateway institution list --json'),
  ).action(async (o: TargetOptions) =>
    withTarget(o, 'existing', async (a) => {
      const list = await a.listInstitutions();
      if (o.json) outJson('gateway-institution-list', list);
      else
        table(
          ['ID', 'NAME', 'STATUS', 'CAS', 'IPS', 'CRLS', 'RULES'],
          list.map((i) => [
            i.id,
            i.name,
            i.status === 'suspended' ? style('yellow', i.status) : i.status,
            i.chains,
            i.ips,
            i.crls,
            i.rules,
          ]),
        );
    }),
  );
  addTarget(
    inst
      .command('show <id>')
      .description('show everything registered for one institution')
      .addHelpText('after', '\nExample:\n  mtls gateway institution show acme-bank'),
  ).action(async (id: string, o: TargetOptions) =>
    withTarget(o, 'existing', async (a) => {
      const t = await a.getInstitution(id);
      if (o.json) {
        outJson('gateway-institution-show', t);
        return;
      }
      out(`${style('bold', t.institution.id)}  ${t.institution.name}`);
      out(`status:  ${t.institution.status}`);
      out(`rate:    ${describeRequestRate(t.institution.requestRate)}`);
      out(`created: ${t.institution.createdAt}   updated: ${t.institution.updatedAt}`);
      out('');
      out(style('bold', 'CA chains'));
      printChains(t.chains);
      out('');
      out(style('bold', 'IPs'));
      printIps(t.ips);
      out('');
      out(style('bold', 'CRLs'));
      printCrls(t.crls);
      out('');
      out(style('bold', 'Pinned rules'));
      printRules(t.rules);
    }),
  );
  for (const [verb, status, note] of [
    ['suspend', 'suspended', 'new connections from it are refused within 1 s'],
    ['activate', 'active', 'its connections are accepted again within 1 s'],
  ] as const) {
    addTarget(
      inst
        .command(`${verb} <id>`)
        .description(`set an institution ${status}`)
        .addHelpText('after', `\nExample:\n  mtls gateway institution ${verb} acme-bank`),
    ).action(async (id: string, o: TargetOptions) =>
      withTarget(o, 'existing', async (a) => {
        const r = await a.setInstitutionStatus(id, status);
        if (o.json) outJson(`gateway-institution-${verb}`, r);
        else out(`institution ${r.id} is ${r.status}; ${note}`);
      }),
    );
  }
  addTarget(
    inst
      .command('rate <id>')
      .description(
        "set an institution's own request rate, in place of each gateway's limits.institutionRequestsPerSecond",
      )
      .option(
        '--requests-per-second <n>',
        'sustained requests per second (0.5 is one every 2 s)',
        rateNumber('--requests-per-second'),
      )
      .option(
        '--burst <n>',
        'requests an idle institution may send at once (default: the rate)',
        rateNumber('--burst'),
      )
      .option('--clear', "drop its own rate: each gateway's limits apply to it again")
      .addHelpText(
        'after',
        '\nOver its rate, a request is answered 429 with Retry-After and audited as rate_limited; the\nrate holds for each gateway instance as a whole, and changes apply within 1 s.\n\nExamples:\n  mtls gateway institution rate acme-bank --requests-per-second 100 --burst 200\n  mtls gateway institution rate acme-bank --clear',
      ),
  ).action(
    async (
      id: string,
      o: TargetOptions & { requestsPerSecond?: number; burst?: number; clear?: true },
    ) => {
      const clear = o.clear === true;
      if (clear === (o.requestsPerSecond !== undefined) || (clear && o.burst !== undefined)) {
        throw new MtlsError(
          'MTLS_USAGE',
          clear
            ? '--clear takes no --requests-per-second or --burst'
            : 'give --requests-per-second N (and optionally --burst N), or --clear',
          {
            subject: clear ? '--clear' : '--requests-per-second',
            hint: `e.g. mtls gateway institution rate ${id} --requests-per-second 100 --burst 200`,
          },
        );
      }
      await withTarget(o, 'existing', async (a) => {
        const r = await a.setInstitutionRequestRate(
          id,
          o.requestsPerSecond === undefined
            ? null
            : { requestsPerSecond: o.requestsPerSecond, burst: o.burst },
        );
        if (o.json) outJson('gateway-institution-rate', r);
        else out(`institution ${r.id}: ${describeRequestRate(r.requestRate)}; applied within 1 s`);
      });
    },
  );
  addTarget(
    inst
      .command('remove <id>')
      .description(
        'remove an institution with its CA chains, IPs, CRLs and rules (audit records stay)',
      )
      .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
      .addHelpText(
        'after',
        '\nAsks for confirmation on a terminal; elsewhere it needs --yes.\n\nExample:\n  mtls gateway institution remove acme-bank --yes',
      ),
  ).action(async (id: string, o: TargetOptions & { yes?: boolean }) =>
    withTarget(o, 'existing', async (a) => {
      await confirmOrYes(
        `Remove institution ${id} with its CA chains, IPs, CRLs and rules?`,
        o.yes,
      );
      await a.deleteInstitution(id);
      if (o.json) outJson('gateway-institution-remove', { ok: true, removed: id });
      else out(`removed institution ${id}`);
    }),
  );
}

function registerCa(g: Command): void {
  const ca = g.command('ca').description("onboard and remove institutions' CA chains");
  addTarget(
    ca
      .command('add <institution> <chain>')
      .description(
        'check and register a CA chain file (PEM or DER): CA certificates only, valid, RSA-2048+/P-256+, SHA-256+, at most 4, chaining to a root',
      )
      .option(
        '--expect-fingerprint <sha256>',
        'refuse the chain unless its top CA has this SHA-256 (colon-hex as `mtls ca chain` prints it, or plain hex; any case)',
      )
      .addHelpText(
        'after',
        '\nExamples:\n  mtls gateway ca add acme-bank acme-ca-chain.pem\n  mtls gateway ca add acme-bank acme-ca-chain.pem --expect-fingerprint 01:BC:1C:…\n\nA file holding a private key is refused before anything is sent or stored;\nso is a chain whose top CA does not match --expect-fingerprint.',
      ),
  ).action(
    async (
      institution: string,
      file: string,
      o: TargetOptions & { expectFingerprint?: string },
    ) => {
      const data = await readUpload(file, 'CA chain file');
      if (o.expectFingerprint !== undefined) assertExpectedRoot(data, file, o.expectFingerprint);
      await withTarget(o, 'existing', async (a) => {
        const r = await a.addCaChain(institution, data, file);
        for (const w of r.warnings) warn(w);
        if (o.json) {
          outJson('gateway-ca-add', r);
          return;
        }
        out(`registered CA chain ${r.chain.id} for ${institution}:`);
        for (const c of r.certificates) {
          out(
            `  ${c.subject}  (${c.key}, ${c.signatureAlgorithm}, until ${day(c.notAfter)}${c.selfSigned ? ', self-signed root' : ''})`,
          );
          out(`    SHA-256 ${displayFingerprint(c.fingerprint)}`);
        }
      });
    },
  );
  addListCommand(ca, {
    description: "list CA chains (one institution's, or all)",
    example: 'mtls gateway ca list acme-bank',
    list: (a, institution) => a.listCaChains(institution),
    print: printChains,
  });
  addRemoveByIdCommand(ca, {
    id: 'chainId',
    what: 'CA chain',
    remove: (a, institution, id) => a.removeCaChain(institution, id),
  });
}

function registerIp(g: Command): void {
  const ip = g.command('ip').description("manage institutions' static IPs and CIDR blocks");
  addTarget(
    ip
      .command('add <institution> <cidrs...>')
      .description(
        'register IPv4/IPv6 addresses or CIDR blocks (IPv4 /16 or narrower, IPv6 /48 or narrower)',
      )
      .option(
        '--allow-wide-range',
        'accept an IPv4 block shorter than /16 or an IPv6 block shorter than /48',
      )
      .addHelpText(
        'after',
        '\nExample:\n  mtls gateway ip add acme-bank 203.0.113.7 2001:db8:10::/48',
      ),
  ).action(
    async (
      institution: string,
      cidrs: string[],
      o: TargetOptions & { allowWideRange?: boolean },
    ) => {
      const allowWideRange = o.allowWideRange === true;
      for (const c of cidrs) if (!allowWideRange) assertWideRangeAllowed(c);
      await withTarget(o, 'existing', async (a) => {
        const added: IpRecord[] = [];
        for (const c of cidrs) added.push(await a.addIp(institution, c, { allowWideRange }));
        if (o.json) outJson('gateway-ip-add', added);
        else for (const r of added) out(`registered ${r.cidr} for ${institution}`);
      });
    },
  );
  addTarget(
    ip
      .command('remove <institution> <cidr>')
      .description('remove an IP or CIDR block')
      .addHelpText('after', '\nExample:\n  mtls gateway ip remove acme-bank 203.0.113.7'),
  ).action(async (institution: string, cidr: string, o: TargetOptions) => {
    const norm = parseCidr(cidr).text;
    await withTarget(o, 'existing', async (a) => {
      await a.removeIp(institution, cidr);
      if (o.json) outJson('gateway-ip-remove', { ok: true, removed: norm });
      else out(`removed ${norm} from ${institution}`);
    });
  });
  addListCommand(ip, {
    description: "list IPs (one institution's, or all)",
    example: 'mtls gateway ip list --json',
    list: (a, institution) => a.listIps(institution),
    print: printIps,
  });
}

function registerCrl(g: Command): void {
  const crl = g.command('crl').description("manage institutions' CRLs");
  addTarget(
    crl
      .command('put <institution> <file>')
      .description(
        "check a CRL file (PEM or DER) against the institution's CAs and register it, replacing the CRL signed by the same CA certificate",
      )
      .addHelpText('after', '\nExample:\n  mtls gateway crl put acme-bank acme.crl.pem'),
  ).action(async (institution: string, file: string, o: TargetOptions) => {
    const data = await readUpload(file, 'CRL file');
    await withTarget(o, 'existing', async (a) => {
      const r = await a.putCrls(institution, data, file);
      for (const w of r.warnings) warn(w);
      if (o.json) outJson('gateway-crl-put', r);
      else
        for (const c of r.crls)
          out(
            `registered CRL ${c.id} for ${institution}: issuer ${c.issuer}, next update ${c.nextUpdate ?? '-'}`,
          );
    });
  });
  addListCommand(crl, {
    description: "list CRLs (one institution's, or all)",
    example: 'mtls gateway crl list acme-bank',
    list: (a, institution) => a.listCrls(institution),
    print: printCrls,
  });
  addRemoveByIdCommand(crl, {
    id: 'crlId',
    what: 'CRL',
    remove: (a, institution, id) => a.removeCrl(institution, id),
  });
  registerCrlUrl(crl);
}

function printCrlSources(sources: CrlSourceRecord[]): void {
  const now = Date.now();
  table(
    ['INSTITUTION', 'URL', 'EVERY', 'LAST FETCH', 'STATUS', 'CRL AGE', 'NEXT UPDATE', 'ERROR'],
    sources.map((s) => [
      s.institutionId,
      s.url,
      `${s.intervalSeconds}s`,
      s.lastFetchAt,
      s.lastStatus === 'failed' ? style('red', 'failed') : s.lastStatus,
      s.lastGoodThisUpdate
        ? `${Math.round((now - Date.parse(s.lastGoodThisUpdate)) / 60_000)}m`
        : null,
      s.lastGoodNextUpdate,
      s.lastStatus === 'failed' ? s.lastError : null,
    ]),
  );
}

function registerCrlUrl(crl: Command): void {
  const url = crl
    .command('url')
    .description('CRL distribution points the gateway downloads by itself, on a schedule');
  addTarget(
    url
      .command('add <institution> <url>')
      .description(
        "register a CRL URL (http or https); every gateway instance downloads it on the schedule, checks it against the institution's CAs and swaps it in",
      )
      .option('--every <duration>', 'download interval, 1m to 7d (default 1h)')
      .addHelpText(
        'after',
        '\nExamples:\n  mtls gateway crl url add acme-bank http://pki.acme.example/ca.crl\n  mtls gateway crl url add acme-bank https://pki.acme.example/ca.crl --every 15m',
      ),
  ).action(async (institution: string, crlUrl: string, o: TargetOptions & { every?: string }) => {
    const every = o.every === undefined ? undefined : parseDurationArg(o.every, '--every') / 1000;
    await withTarget(o, 'existing', async (a) => {
      const r = await a.addCrlSource(institution, crlUrl, every);
      if (o.json) outJson('gateway-crl-url-add', r);
      else out(`added CRL URL ${r.url} for ${institution}, downloaded every ${r.intervalSeconds}s`);
    });
  });
  addListCommand(url, {
    description:
      'list CRL URLs with their last download: time, status, CRL age, nextUpdate and the last error',
    example: 'mtls gateway crl url list acme-bank --json',
    list: (a, institution) => a.listCrlSources(institution),
    print: printCrlSources,
  });
  addTarget(
    url
      .command('remove <institution> <url>')
      .description('stop downloading a CRL URL (the CRL in service stays)')
      .addHelpText(
        'after',
        '\nExample:\n  mtls gateway crl url remove acme-bank http://pki.acme.example/ca.crl',
      ),
  ).action(async (institution: string, crlUrl: string, o: TargetOptions) =>
    withTarget(o, 'existing', async (a) => {
      await a.removeCrlSource(institution, crlUrl);
      if (o.json) outJson('gateway-crl-url-remove', { ok: true, removed: crlUrl });
      else out(`removed CRL URL ${crlUrl} from ${institution}`);
    }),
  );
  addTarget(
    url
      .command('refresh <institution> [url]')
      .description(
        'download now (with --admin: the gateway does) instead of waiting for the schedule; exits non-zero when a download is refused',
      )
      .addHelpText(
        'after',
        '\nExample:\n  mtls gateway crl url refresh acme-bank --admin http://127.0.0.1:8444 --admin-token-file admin.token',
      ),
  ).action(async (institution: string, crlUrl: string | undefined, o: TargetOptions) =>
    withTarget(o, 'existing', async (a) => {
      const results = await a.refreshCrlSources(institution, crlUrl);
      if (o.json) outJson('gateway-crl-url-refresh', results);
      else {
        for (const r of results) {
          if (r.ok)
            out(
              `${r.url}: ${r.changed ? 'new CRL stored' : 'unchanged'} (thisUpdate ${r.thisUpdate}, nextUpdate ${r.nextUpdate ?? '-'})`,
            );
          else
            warn(
              `${r.url}: refused, the last good CRL stays in service: ${r.error?.message ?? ''}`,
            );
        }
      }
      const failed = results.find((r) => !r.ok);
      if (failed?.error) {
        const reported = failed.error.code;
        const code: ErrorCode = isErrorCode(reported) ? reported : 'MTLS_INTERNAL';
        throw new MtlsError(
          code,
          `CRL download from ${failed.url} was refused: ${failed.error.message}`,
          { subject: failed.url },
        );
      }
    }),
  );
}

function registerRule(g: Command): void {
  const rule = g
    .command('rule')
    .description(
      'pin the client certificates an institution may use (by subject CN, O or SHA-256)',
    );
  addTarget(
    rule
      .command('add <institution>')
      .description(
        'add a pinned rule; once an institution has rules, its certificates must match one',
      )
      .option('--cn <value>', 'subject commonName must equal this')
      .option('--o <value>', 'subject organizationName must equal this')
      .option('--fingerprint <sha256>', 'certificate SHA-256 fingerprint (hex, colons allowed)')
      .addHelpText(
        'after',
        '\nExamples:\n  mtls gateway rule add acme-bank --cn api-client-01\n  mtls gateway rule add acme-bank --fingerprint 3A:7F:…',
      ),
  ).action(
    async (
      institution: string,
      o: TargetOptions & { cn?: string; o?: string; fingerprint?: string },
    ) => {
      const given = [
        o.cn !== undefined ? ({ kind: 'subject_cn', value: o.cn } as const) : undefined,
        o.o !== undefined ? ({ kind: 'subject_o', value: o.o } as const) : undefined,
        o.fingerprint !== undefined
          ? ({ kind: 'fingerprint_sha256', value: o.fingerprint } as const)
          : undefined,
      ].filter((x) => x !== undefined);
      const rule = given[0];
      if (given.length !== 1 || rule === undefined)
        throw new MtlsError('MTLS_USAGE', 'give exactly one of --cn, --o or --fingerprint', {
          subject: 'rule',
        });
      await withTarget(o, 'existing', async (a) => {
        const r = await a.addRule(institution, rule);
        if (o.json) outJson('gateway-rule-add', r);
        else out(`added rule ${r.id} for ${institution}: ${r.kind} = ${r.value}`);
      });
    },
  );
  addListCommand(rule, {
    description: "list pinned rules (one institution's, or all)",
    example: 'mtls gateway rule list acme-bank',
    list: (a, institution) => a.listRules(institution),
    print: printRules,
  });
  addRemoveByIdCommand(rule, {
    id: 'ruleId',
    what: 'rule',
    remove: (a, institution, id) => a.removeRule(institution, id),
  });
}

function registerAudit(g: Command): void {
  const audit = addTarget(
    g
      .command('audit')
      .description('query the audit trail (newest first)')
      .option('--since <when>', 'duration back from now (30m, 1h, 7d) or an ISO time')
      .option('--institution <id>', 'only this institution')
      .option('--outcome <outcome>', 'accepted or rejected')
      .option('--reason <reason>', `one of: ${AUDIT_REASONS.join(', ')}`)
      .option(
        '--request-id <uuid>',
        'the request with this id (from the X-Request-Id answer header or an error body)',
      )
      .option('--limit <n>', 'at most this many records (default 100, at most 10000)')
      .addHelpText(
        'after',
        '\nExamples:\n  mtls gateway audit --since 1h --outcome rejected\n  mtls gateway audit --institution acme-bank --reason unknown_ca --json\n  mtls gateway audit --request-id 01938f2a-6b1c-7d2e-9f3a-4b5c6d7e8f90',
      ),
  ).action(
    async (
      o: TargetOptions & {
        since?: string;
        institution?: string;
        outcome?: string;
        reason?: string;
        requestId?: string;
        limit?: string;
      },
    ) => {
      const q: AuditQuery = {};
      if (o.outcome !== undefined) {
        if (o.outcome !== 'accepted' && o.outcome !== 'rejected')
          throw new MtlsError(
            'MTLS_BAD_ARGUMENT',
            `--outcome must be accepted or rejected, got "${o.outcome}"`,
            { subject: '--outcome' },
          );
        q.outcome = o.outcome;
      }
      if (o.reason !== undefined) {
        const reason = o.reason;
        if (!isOneOf(reason, AUDIT_REASONS)) {
          throw new MtlsError('MTLS_BAD_ARGUMENT', `--reason "${o.reason}" is not a reason code`, {
            subject: '--reason',
            hint: `Use one of: ${AUDIT_REASONS.join(', ')}.`,
          });
        }
        q.reason = reason;
      }
      if (o.institution !== undefined) q.institutionId = o.institution;
      if (o.requestId !== undefined) q.requestId = validateRequestId(o.requestId, '--request-id');
      if (o.limit !== undefined) q.limit = parseId(o.limit, '--limit');
      const admin = Boolean(o.admin ?? process.env[ENV.adminUrl]);
      // Against the admin API a duration goes as is and is evaluated on the server's clock.
      if (o.since !== undefined)
        q.since = admin && isDurationText(o.since) ? o.since.trim() : parseSince(o.since);
      await withTarget(o, 'existing', async (a) => {
        const records = await a.queryAudit(q);
        if (o.json) outJson('gateway-audit', records);
        else printAudit(records);
      });
    },
  );
  addTarget(
    audit
      .command('prune')
      .description(
        'delete audit records older than a time now (what audit.retentionDays does hourly); the JSON log lines stay',
      )
      .requiredOption(
        '--before <when>',
        'records older than this go: a duration back from now (400d) or an ISO time',
      )
      .option('--yes', 'do not ask for confirmation')
      .addHelpText(
        'after',
        '\nExamples:\n  mtls gateway audit prune --before 400d --yes\n  mtls gateway audit prune --before 2026-01-01T00:00:00Z --admin https://127.0.0.1:8444 --yes',
      ),
  ).action(async (_own: unknown, cmd: Command) => {
    // The target options are also `audit`'s, and commander gives them to the
    // parent wherever they stand on the line: read both commands' options.
    const o = cmd.optsWithGlobals<TargetOptions & { before: string; yes?: boolean }>();
    const admin = Boolean(o.admin ?? process.env[ENV.adminUrl]);
    // As for --since: against the admin API a duration is read on the server's clock.
    const before =
      admin && isDurationText(o.before)
        ? o.before.trim()
        : parseSince(o.before, new Date(), '--before');
    await withTarget(o, 'existing', async (a) => {
      await confirmOrYes(`Delete every audit record older than ${before}?`, o.yes);
      const r = await a.pruneAudit(before);
      if (o.json) outJson('gateway-audit-prune', r);
      else out(`deleted ${r.deleted} audit record(s) older than ${r.before}`);
    });
  });
}
