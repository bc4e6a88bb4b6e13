/**
 * Name constraints (RFC 5280 §4.2.1.10, §6.1.3(b)–(c), §6.1.4(g)) for DNS
 * names, IP addresses, email addresses and directory names. Each CA's
 * constraints apply to every certificate below it that is not self-issued
 * (the leaf always). A name form the CA constrains but cannot be evaluated
 * here (URI, otherName, …) fails closed when a permitted subtree of that form
 * exists or an excluded one does. Work is bounded: constraints × names past
 * {@link NAME_CONSTRAINT_WORK_LIMIT} is refused rather than evaluated.
 */
import type { DecodedName } from './distinguished-name.js';
import {
  attributeValues,
  EMAIL_ADDRESS_OID,
  isEmptyName,
  nameWithinSubtree,
} from './distinguished-name.js';
import type { GeneralSubtree } from './extensions.js';
import type { GeneralName } from './general-names.js';
import { generalNameText } from './general-names.js';
import { at } from '../bytes.js';

/** The largest constraints × names product evaluated (OpenSSL uses a similar bound for the same attack). */
export const NAME_CONSTRAINT_WORK_LIMIT = 1 << 20;

/** The outcome of {@link checkNameConstraints}. */
export type NameConstraintCheck = { ok: true } | { ok: false; detail: string; workLimit?: boolean };

type Form = 'dns' | 'email' | 'ip' | 'dirName' | 'other';

function formOf(n: GeneralName): Form {
  if (n.type === 'dns' || n.type === 'email' || n.type === 'dirName') return n.type;
  if (n.type === 'ip' || n.type === 'ipRange') return 'ip';
  return 'other';
}

function dnsWithin(name: string, base: string): boolean {
  const n = name.toLowerCase();
  const b = base.toLowerCase();
  if (b === '') return true;
  // §4.2.1.10: a DNS constraint is satisfied by the name itself and by any name formed by adding labels on the left.
  return n === b || n.endsWith(`.${b}`);
}

function emailWithin(mailbox: string, base: string): boolean {
  const at = mailbox.lastIndexOf('@');
  const domain = mailbox.slice(at + 1).toLowerCase();
  if (base.includes('@')) {
    const bat = base.lastIndexOf('@');
    // Local parts compare exactly (an asterisk is a literal), the domain case-insensitively.
    return (
      mailbox.slice(0, at) === base.slice(0, bat) && domain === base.slice(bat + 1).toLowerCase()
    );
  }
  const b = base.toLowerCase();
  if (b.startsWith('.')) return domain.endsWith(b);
  return domain === b;
}

function ipWithin(bytes: Buffer, address: Buffer, mask: Buffer): boolean {
  if (bytes.length !== address.length) return false;
  for (let i = 0; i < bytes.length; i++)
    if (((at(bytes, i) ^ at(address, i)) & at(mask, i)) !== 0) return false;
  return true;
}

/**
 * True when `name` is within `base`; undefined when the form cannot be
 * compared. A wildcard DNS name is treated as every name it could stand for:
 * within a subtree only if all of them are, and "matching" an excluded subtree
 * if any of them might be (defensive, as the CVE-2025-61727 analysis asks).
 */
function within(
  name: GeneralName,
  base: GeneralName,
  mode: 'permit' | 'exclude',
): boolean | undefined {
  if (name.type === 'dns' && base.type === 'dns') {
    if (name.value.startsWith('*.')) {
      const parent = name.value.slice(2);
      if (mode === 'permit') return dnsWithin(parent, base.value);
      return dnsWithin(parent, base.value) || dnsWithin(base.value, parent);
    }
    return dnsWithin(name.value, base.value);
  }
  if (name.type === 'email' && base.type === 'email') return emailWithin(name.value, base.value);
  if (name.type === 'ip' && base.type === 'ipRange')
    return ipWithin(name.bytes, base.address, base.mask);
  if (name.type === 'dirName' && base.type === 'dirName')
    return nameWithinSubtree(name.name, base.name);
  if (formOf(name) === formOf(base) && formOf(name) !== 'other') return false;
  return undefined;
}

/** The names a certificate presents for constraint checks: its SANs, its subject DN, and emailAddress attributes as email names (§4.2.1.10). */
export function constrainedNames(
  subject: DecodedName,
  sans: readonly GeneralName[] | undefined,
): GeneralName[] {
  const out: GeneralName[] = [...(sans ?? [])];
  if (!isEmptyName(subject)) out.push({ type: 'dirName', name: subject });
  if (!sans?.some((s) => s.type === 'email'))
    for (const e of attributeValues(subject, EMAIL_ADDRESS_OID))
      out.push({ type: 'email', value: e });
  return out;
}

/**
 * Checks names against one CA's permitted and excluded subtrees.
 * @param names - from {@link constrainedNames}
 */
export function checkNameConstraints(
  names: readonly GeneralName[],
  nc: { permitted?: GeneralSubtree[]; excluded?: GeneralSubtree[] },
): NameConstraintCheck {
  const total = ((nc.permitted?.length ?? 0) + (nc.excluded?.length ?? 0)) * names.length;
  if (total > NAME_CONSTRAINT_WORK_LIMIT) {
    return {
      ok: false,
      workLimit: true,
      detail: `${names.length} names against ${(nc.permitted?.length ?? 0) + (nc.excluded?.length ?? 0)} constraints exceeds the work limit of ${NAME_CONSTRAINT_WORK_LIMIT} comparisons`,
    };
  }
  for (const name of names) {
    const text = name.type === 'dirName' ? 'the subject DN' : generalNameText(name);
    for (const ex of nc.excluded ?? []) {
      const r = within(name, ex.base, 'exclude');
      if (r === true)
        return {
          ok: false,
          detail: `${text} is inside the excluded subtree ${generalNameText(ex.base)}`,
        };
      if (r === undefined && formOf(name) === formOf(ex.base))
        return {
          ok: false,
          detail: `${text} cannot be checked against the excluded ${generalNameText(ex.base)}`,
        };
      if (formOf(name) === 'other' && name.type === ex.base.type)
        return {
          ok: false,
          detail: `${text} has a form (${name.type}) whose constraints cannot be evaluated`,
        };
    }
    const sameForm = (nc.permitted ?? []).filter(
      (p) =>
        formOf(p.base) === formOf(name) && (formOf(name) !== 'other' || p.base.type === name.type),
    );
    if (sameForm.length === 0) continue;
    if (formOf(name) === 'other')
      return {
        ok: false,
        detail: `${text} has a form (${name.type}) whose constraints cannot be evaluated`,
      };
    if (!sameForm.some((p) => within(name, p.base, 'permit') === true)) {
      return {
        ok: false,
        detail: `${text} is outside every permitted ${formOf(name)} subtree (${sameForm.map((p) => generalNameText(p.base)).join(', ')})`,
      };
    }
  }
  return { ok: true };
}
