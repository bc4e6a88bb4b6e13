import { ERROR_CODES, type ErrorCode } from './codes.js';

/** Options for {@link MtlsError}. */
export interface MtlsErrorOptions {
  /** Advice on how to fix the problem; defaults to the code's catalogue hint. */
  hint?: string;
  /** The file, field or object the error is about. */
  subject?: string;
  /** The underlying error, kept for `MTLS_DEBUG=1`. */
  cause?: unknown;
  /** Structured details for `--json` output. Never put secrets here. */
  details?: Record<string, unknown>;
}

/**
 * The one error type of mtlskit. The message says what failed, on which object
 * and why; {@link MtlsError.hint} says how to fix it.
 */
export class MtlsError extends Error {
  /** Catalogue code, such as `MTLS_POLICY_FIELD_MISMATCH`. */
  readonly code: ErrorCode;
  /** How to fix it. */
  readonly hint: string;
  /** The file, field or object concerned, if any. */
  readonly subject: string | undefined;
  /** Structured details (never secrets). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: MtlsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MtlsError';
    this.code = code;
    this.hint = options.hint ?? ERROR_CODES[code].hint;
    this.subject = options.subject;
    this.details = options.details;
  }

  /** Process exit code for this error, from its entry in the catalogue (`ERROR_CODES`). */
  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }

  /** HTTP status for this error. */
  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  /** A JSON-safe view: code, message, hint, subject, details. */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      hint: this.hint,
      ...(this.subject === undefined ? {} : { subject: this.subject }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

/** The message of a thrown value: an Error's message, anything else as a string. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** True when `e` is an {@link MtlsError}, optionally with the given code. */
export function isMtlsError(e: unknown, code?: ErrorCode): e is MtlsError {
  return e instanceof MtlsError && (code === undefined || e.code === code);
}

/**
 * Wraps any thrown value as an {@link MtlsError}; MtlsErrors pass through.
 * @param fallback - code used for foreign errors (default `MTLS_INTERNAL`)
 */
export function toMtlsError(
  e: unknown,
  fallback: ErrorCode = 'MTLS_INTERNAL',
  context?: string,
): MtlsError {
  if (e instanceof MtlsError) return e;
  const msg = errorMessage(e);
  return new MtlsError(fallback, context ? `${context}: ${msg}` : msg, { cause: e });
}

/**
 * The string `code` of a thrown value, if it has one: a Node.js system error's
 * errno name (`ENOENT`, `EEXIST`, …) or a driver's code (a PostgreSQL SQLSTATE).
 */
export function errorCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null || !('code' in e)) return undefined;
  return typeof e.code === 'string' ? e.code : undefined;
}

/**
 * System errors in words, for messages people read: what strerror(3) says on
 * Linux, lower-cased. The errno name stays beside the words (in parentheses)
 * because it is what people search for.
 */
const SYSTEM_ERROR_WORDS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  EEXIST: 'it already exists',
  ENOTEMPTY: 'the directory is not empty',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  EMFILE: 'too many open files in this process',
  ENFILE: 'too many open files on the system',
  EBUSY: 'the file or device is busy',
  ENAMETOOLONG: 'the file name is too long',
  ELOOP: 'too many levels of symbolic links',
  EIO: 'input/output error',
  EXDEV: 'the rename crosses file systems',
  ETXTBSY: 'the file is a running program',
  EAGAIN: 'resource temporarily unavailable',
  EADDRINUSE: 'the address is already in use',
  EADDRNOTAVAIL: 'the address is not on this machine',
  ECONNREFUSED: 'the connection was refused',
  ECONNRESET: 'the connection was reset by the peer',
  ETIMEDOUT: 'the operation timed out',
  EPIPE: 'the other end closed the pipe',
  ENOTFOUND: 'the host name does not resolve',
};

/**
 * A thrown value's cause in words: `permission denied (EACCES)` for a system
 * error with a known errno name, the bare name for an unknown one, and the
 * error's message otherwise.
 */
export function systemErrorText(e: unknown): string {
  const code = errorCode(e);
  if (code === undefined) return errorMessage(e);
  const words = SYSTEM_ERROR_WORDS[code];
  return words === undefined ? code : `${words} (${code})`;
}
