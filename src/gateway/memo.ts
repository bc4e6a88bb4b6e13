/**
 * Memos for answers the gateway would otherwise recompute on every
 * connection from inputs a busy client repeats: its source address and its
 * certificate.
 */

/**
 * A map of remembered answers by string key that never holds more than
 * `max` entries: once full it is emptied, rather than evicted one by one,
 * because a key space that outgrows it (many distinct addresses) gains
 * nothing from recency bookkeeping on every hit.
 */
export class BoundedMemo<V> {
  private readonly map = new Map<string, V>();

  constructor(private readonly max: number) {}

  /** The remembered answer for `key`, or undefined. */
  get(key: string): V | undefined {
    return this.map.get(key);
  }

  /** Remembers an answer (empties the memo first when it is full). */
  set(key: string, value: V): void {
    if (this.map.size >= this.max) this.map.clear();
    this.map.set(key, value);
  }

  /** Forgets every answer. */
  clear(): void {
    this.map.clear();
  }
}

/**
 * Answers about a certificate, by the certificate object and a key for the
 * rest of the question (a role, a policy, an institution). The gateway's
 * parsed certificates come from one shared cache, one object per
 * certificate, so an entry is held weakly and goes with its certificate.
 */
export class PerObjectMemo<K extends object, V extends object | string | number | boolean | null> {
  private readonly byObject = new WeakMap<K, Map<string, V>>();

  /** The answer for (`object`, `key`), computed on the first call and remembered. */
  get(object: K, key: string, compute: () => V): V {
    let byKey = this.byObject.get(object);
    if (!byKey) {
      byKey = new Map<string, V>();
      this.byObject.set(object, byKey);
    }
    const known = byKey.get(key);
    if (known !== undefined) return known;
    const value = compute();
    byKey.set(key, value);
    return value;
  }
}
