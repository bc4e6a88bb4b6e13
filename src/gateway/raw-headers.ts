/**
 * Node's raw header list (`req.rawHeaders`, undici's `string[]` headers):
 * names and values alternating, in the order they arrived.
 */

/** The raw list as `[name, value]` pairs; a trailing name without a value is dropped. */
export function rawHeaderPairs(raw: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    if (name !== undefined && value !== undefined) pairs.push([name, value]);
  }
  return pairs;
}
