/**
 * Console sessions: an admin who proved who they are once (bearer token or
 * admin client certificate) gets a random session id in an HttpOnly,
 * SameSite=Strict cookie (Secure on TLS) with an expiry, and a separate CSRF
 * token the page keeps in memory only and sends as a header on every call.
 * The cookie alone never authorises anything: 127.0.0.1:other-port is the
 * same site as the console (ports do not count for SameSite), so a foreign
 * page's form POST would carry the cookie; it cannot read or send the CSRF
 * token (OWASP CSRF Prevention: synchronizer token pattern).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The session cookie's name. */
export const SESSION_COOKIE = 'mtls_console';
/** The header that carries the CSRF token. */
export const CSRF_HEADER = 'x-mtls-csrf';
/** Default session lifetime: one working day. */
export const DEFAULT_SESSION_TTL_SECONDS = 8 * 3600;

/** One signed-in admin. */
export interface ConsoleSession {
  id: string;
  csrf: string;
  /** Who signed in: `token` or `cert:SUBJECT`. */
  actor: string;
  /** Epoch milliseconds after which the session is void. */
  expiresAt: number;
}

/** Sessions kept in memory (a restart signs everyone out, which is fail-safe). */
export interface SessionStore {
  create(actor: string): ConsoleSession;
  /** The live session named by the request's cookie, if any. */
  fromRequest(req: IncomingMessage): ConsoleSession | undefined;
  /** Ends a session. */
  remove(id: string): void;
  /** The Set-Cookie value that carries `session`. */
  cookie(session: ConsoleSession): string;
  /** The Set-Cookie value that clears the cookie. */
  clearCookie(): string;
}

const MAX_SESSIONS = 1000;

/** Reads one cookie from the Cookie header (RFC 6265 §5.4). */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** True when `given` equals `expected`, compared in constant time. */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A session store.
 * @param secure - set the cookie's Secure attribute (the console is on HTTPS)
 * @param ttlSeconds - session lifetime
 * @param now - clock (tests)
 */
export function createSessionStore(
  secure: boolean,
  ttlSeconds = DEFAULT_SESSION_TTL_SECONDS,
  now: () => number = Date.now,
): SessionStore {
  const sessions = new Map<string, ConsoleSession>();
  const sweep = (): void => {
    const t = now();
    for (const [id, s] of sessions) if (s.expiresAt <= t) sessions.delete(id);
    // Bound memory: the oldest sessions go first (Map keeps insertion order).
    for (const id of sessions.keys()) {
      if (sessions.size < MAX_SESSIONS) break;
      sessions.delete(id);
    }
  };
  const attributes = `Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  return {
    create(actor) {
      sweep();
      const session: ConsoleSession = {
        id: randomBytes(32).toString('base64url'),
        csrf: randomBytes(32).toString('base64url'),
        actor,
        expiresAt: now() + ttlSeconds * 1000,
      };
      sessions.set(session.id, session);
      return session;
    },
    fromRequest(req) {
      const id = readCookie(req, SESSION_COOKIE);
      if (id === undefined) return undefined;
      const s = sessions.get(id);
      if (!s) return undefined;
      if (s.expiresAt <= now()) {
        sessions.delete(id);
        return undefined;
      }
      return s;
    },
    remove(id) {
      sessions.delete(id);
    },
    cookie(session) {
      const maxAge = Math.max(0, Math.floor((session.expiresAt - now()) / 1000));
      return `${SESSION_COOKIE}=${session.id}; ${attributes}; Max-Age=${maxAge}; Expires=${new Date(session.expiresAt).toUTCString()}`;
    },
    clearCookie() {
      return `${SESSION_COOKIE}=; ${attributes}; Max-Age=0`;
    },
  };
}
