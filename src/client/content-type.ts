/**
 * The Content-Type a request body gets when the caller sets none, shared by
 * `mtls request` and the snippets so that both send the same thing.
 */

/** True when the text is a JSON object or array (what an API body usually is). */
function isJsonDocument(text: string): boolean {
  const s = text.trim();
  if (!/^[[{]/.test(s)) return false;
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * The default Content-Type for a body: `application/json` when it parses as a
 * JSON object or array, else `application/x-www-form-urlencoded` (curl's `-d`
 * default).
 */
export function defaultContentType(body: string): string {
  return isJsonDocument(body) ? 'application/json' : 'application/x-www-form-urlencoded';
}
