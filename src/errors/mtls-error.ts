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

  /** Process exit code for this error (DESIGN.md table). */
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
