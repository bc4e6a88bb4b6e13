/**
 * Per-address connection slots: `limits.maxConnectionsPerIp` counts the
 * connections one client address holds open on the instance, as nginx's
 * `limit_conn` does with a zone shared by its workers.
 *
 * - A single process counts them itself ({@link LocalConnectionSlots}).
 * - With workers the primary holds the counts for the instance
 *   ({@link InstanceConnectionSlots}) and a worker asks it for a slot on each
 *   connection from a registered address ({@link LeasedConnectionSlots}): a
 *   count per worker would let an address hold N times the limit. The cost is
 *   one IPC round trip per accepted connection, paid only when the limit is
 *   set, before a handshake that costs far more. The primary keeps each
 *   worker's slots apart, so a worker that dies frees its slots at once.
 *
 * The limit guards the other institutions' share of `limits.maxConnections`;
 * it is not a trust decision. So a worker whose primary does not answer in
 * time counts in its own process until the primary answers again, as the
 * request rate leases pass (see workers/worker.ts), rather than refuse every
 * connection or wait on each.
 */

/** A slot taken for one connection; released once, when the connection closes. */
export interface ConnectionSlot {
  release(): void;
}

/** Where the listener takes a connection's slot. */
export interface ConnectionSlots {
  /**
   * Takes one of the `limit` slots of `ip`: the slot, or null when `ip` holds
   * all of them. Synchronous when the counts are in this process.
   */
  acquire(ip: string, limit: number): ConnectionSlot | null | Promise<ConnectionSlot | null>;
}

/** Open slots by address: the counting both the process and the instance do. */
class SlotCounts {
  private readonly open = new Map<string, number>();

  /** Counts one more for `ip` unless it holds `limit` already; true when counted. */
  take(ip: string, limit: number): boolean {
    const held = this.open.get(ip) ?? 0;
    if (held >= limit) return false;
    this.open.set(ip, held + 1);
    return true;
  }

  /** Counts one less for `ip`. */
  give(ip: string, count = 1): void {
    const left = (this.open.get(ip) ?? 0) - count;
    if (left > 0) this.open.set(ip, left);
    else this.open.delete(ip);
  }

  held(ip: string): number {
    return this.open.get(ip) ?? 0;
  }

  entries(): IterableIterator<[string, number]> {
    return this.open.entries();
  }
}

/** Slots counted in this process: a single gateway process, or a worker cut off from its primary. */
export class LocalConnectionSlots implements ConnectionSlots {
  private readonly counts = new SlotCounts();

  acquire(ip: string, limit: number): ConnectionSlot | null {
    if (!this.counts.take(ip, limit)) return null;
    return onceSlot(() => this.counts.give(ip));
  }

  /** Connections `ip` holds now. */
  held(ip: string): number {
    return this.counts.held(ip);
  }
}

/** The instance's slots, held by the primary for every worker (its holders, by id). */
export class InstanceConnectionSlots {
  private readonly total = new SlotCounts();
  private readonly byHolder = new Map<number, SlotCounts>();

  /** Takes a slot of `ip` for `holder`; true when taken. */
  acquire(holder: number, ip: string, limit: number): boolean {
    if (!this.total.take(ip, limit)) return false;
    let mine = this.byHolder.get(holder);
    if (!mine) this.byHolder.set(holder, (mine = new SlotCounts()));
    mine.take(ip, Infinity);
    return true;
  }

  /** Gives back one slot of `ip` that `holder` took; a slot it does not hold is ignored. */
  release(holder: number, ip: string): void {
    const mine = this.byHolder.get(holder);
    if (!mine || mine.held(ip) === 0) return;
    mine.give(ip);
    this.total.give(ip);
  }

  /** Gives back every slot `holder` took (a worker that died). */
  releaseAll(holder: number): void {
    const mine = this.byHolder.get(holder);
    if (!mine) return;
    for (const [ip, count] of mine.entries()) this.total.give(ip, count);
    this.byHolder.delete(holder);
  }

  /** Connections `ip` holds on the instance. */
  held(ip: string): number {
    return this.total.held(ip);
  }
}

/** Options for {@link LeasedConnectionSlots}. */
export interface LeasedConnectionSlotsOptions {
  /**
   * Asks the primary for a slot: true when granted, false when the address
   * holds them all, null when the primary did not answer in time. A grant
   * that arrives after the null must be given back (`onLateGrant`).
   */
  ask: (ip: string, limit: number, onLateGrant: () => void) => Promise<boolean | null>;
  /** Gives a granted slot back to the primary. */
  release: (ip: string) => void;
}

/** A worker's slots: asked of the primary, counted locally while it does not answer. */
export class LeasedConnectionSlots implements ConnectionSlots {
  private readonly local = new LocalConnectionSlots();

  constructor(private readonly options: LeasedConnectionSlotsOptions) {}

  async acquire(ip: string, limit: number): Promise<ConnectionSlot | null> {
    const granted = await this.options.ask(ip, limit, () => this.options.release(ip));
    if (granted === null) return this.local.acquire(ip, limit);
    return granted ? onceSlot(() => this.options.release(ip)) : null;
  }
}

/** A slot whose release runs once however often it is called. */
function onceSlot(give: () => void): ConnectionSlot {
  let held = true;
  return {
    release: (): void => {
      if (!held) return;
      held = false;
      give();
    },
  };
}
