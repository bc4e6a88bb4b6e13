/**
 * The catalogue of error codes. Each code carries the process exit code the CLI
 * uses, the HTTP status an API answers with, and a default hint.
 *
 * Hints here are the library's: they name no command-line flag, so they read
 * right from code, the admin API and the CLI alike. The CLI adds its flag
 * names (src/cli/hints.ts).
 *
 * Exit codes: 1 unexpected, 2 usage, 3 configuration,
 * 4 policy or verification denied, 5 file I/O, 6 network/TLS.
 */
export interface ErrorCodeInfo {
  /** Process exit code for the CLI. */
  readonly exit: 1 | 2 | 3 | 4 | 5 | 6;
  /** HTTP status for the admin API. */
  readonly http: number;
  /** Default advice printed after `hint:` when the thrower gives none. */
  readonly hint: string;
}

const usage = (hint: string): ErrorCodeInfo => ({ exit: 2, http: 400, hint });
const config = (hint: string): ErrorCodeInfo => ({ exit: 3, http: 400, hint });
const denied = (hint: string): ErrorCodeInfo => ({ exit: 4, http: 422, hint });
const io = (hint: string): ErrorCodeInfo => ({ exit: 5, http: 500, hint });
const net = (hint: string): ErrorCodeInfo => ({ exit: 6, http: 502, hint });

/** Every code an {@link MtlsError} may carry. */
export const ERROR_CODES = {
  MTLS_INTERNAL: {
    exit: 1,
    http: 500,
    hint: 'This is a bug in mtlskit; rerun with MTLS_DEBUG=1 and report the stack trace.',
  },
  MTLS_USAGE: usage('Check the arguments against the documentation of the call or command.'),
  MTLS_BAD_SUBJECT: usage(
    'Write the subject as /C=BR/ST=SP/O=Acme/CN=Name or as RFC 4514 (CN=Name,O=Acme,C=BR).',
  ),
  MTLS_BAD_KEY_TYPE: usage('Choose one of rsa2048, rsa3072, rsa4096, ec-p256, ec-p384, ed25519.'),
  MTLS_BAD_ARGUMENT: usage('Check the value against the documented form.'),

  MTLS_CONFIG_INVALID: config('Fix the named key in the configuration file and start again.'),
  MTLS_CONFIG_UNSUPPORTED: config(
    'Remove or rewrite the directive; mtlskit names what it supports in its docs.',
  ),
  MTLS_CA_NOT_FOUND: config(
    'Point at the directory of an existing CA (with its openssl.cnf), or create the CA first.',
  ),
  MTLS_CA_CORRUPT: config(
    'Repair the named file, or restore it from backup; `openssl ca -updatedb` can check index.txt.',
  ),
  MTLS_PROFILE_UNKNOWN: config(
    'Pick one of the profiles listed by `mtls ca show`, or add an extension section to openssl.cnf.',
  ),
  MTLS_PASSPHRASE_REQUIRED: config(
    'Give the passphrase or password that protects the key or file.',
  ),

  MTLS_PEM_INVALID: io(
    'Check that the file is PEM (-----BEGIN …-----) or DER and that it is not truncated.',
  ),
  MTLS_DER_INVALID: io(
    'The DER data is truncated or is not the expected structure; re-export it from its source.',
  ),
  MTLS_FILE_NOT_FOUND: io('Check the path.'),
  MTLS_FILE_EXISTS: io('Choose another output path, or allow replacing the existing file.'),
  MTLS_FILE_WRITE: io('Check the directory exists, is writable, and the disk has space.'),
  MTLS_FILE_READ: io('Check the path and its permissions.'),
  MTLS_LOCK_TIMEOUT: io(
    'Another mtlskit process holds the CA lock; wait for it, or remove a stale lock file if no process is running.',
  ),

  MTLS_BAD_PASSPHRASE: denied('The passphrase or password is wrong for this file.'),
  MTLS_KEY_MISMATCH: denied(
    "Use the private key that was generated together with this certificate's CSR.",
  ),
  MTLS_KEY_TOO_WEAK: denied('Use RSA with at least 2048 bits, or EC P-256 or stronger.'),
  MTLS_KEY_UNSUPPORTED: denied('Use an RSA, EC (P-256/P-384/P-521) or Ed25519 key.'),
  MTLS_CSR_SIGNATURE: denied(
    'The CSR was altered or corrupted after it was signed; generate it again.',
  ),
  MTLS_POLICY_FIELD_MISMATCH: denied(
    "Make the named subject field equal to the CA's, or relax the policy in openssl.cnf.",
  ),
  MTLS_POLICY_FIELD_MISSING: denied(
    "Add the named field to the CSR subject; the CA's policy requires it.",
  ),
  MTLS_POLICY_CA_REQUEST: denied(
    'A leaf profile cannot issue a CA certificate; use a CA profile (v3_ca) for an intermediate.',
  ),
  MTLS_PRIVATE_KEY_IN_CHAIN: denied(
    'Never send a private key to the provider. Give the CA certificate file (certs/ca.cert.pem), not the key.',
  ),
  MTLS_VERIFY_FAILED: denied(
    'Read the reason; re-issue the certificate or fix the chain it is verified against.',
  ),
  MTLS_ONBOARD_REJECTED: denied(
    'Send only the public CA chain, valid today, RSA-2048+/P-256+, SHA-256 or better.',
  ),
  MTLS_ALREADY_REVOKED: denied('The certificate is already revoked; nothing to do.'),
  MTLS_NOT_FOUND: { exit: 4, http: 404, hint: 'Check the name or serial; list what exists first.' },
  MTLS_CONFLICT: {
    exit: 4,
    http: 409,
    hint: 'The object already exists; pick another name or update the existing one.',
  },
  MTLS_UNAUTHORIZED: {
    exit: 4,
    http: 401,
    hint: 'Present the admin client certificate or bearer token.',
  },
  MTLS_RATE_LIMITED: {
    exit: 4,
    http: 429,
    hint: 'Too many failed sign-ins came from this address; wait for the time the answer gives, then retry with the right credential.',
  },

  MTLS_NETWORK: net(
    'Check the host, port and that a server is listening; check firewalls and the registered source IP.',
  ),
  MTLS_TLS_HANDSHAKE: net(
    'Probe the server with the same credentials for a diagnosis (`mtls probe HOST:PORT`).',
  ),
  MTLS_TLS_VERSION: net(
    'The server and client share no TLS version; the provider accepts TLS 1.2 only.',
  ),
  MTLS_TLS_CLIENT_REJECTED: net(
    'The server refused the client certificate; check it chains to the CA the provider registered.',
  ),
  MTLS_TLS_SERVER_UNTRUSTED: net(
    "Trust the CA that signed the server's certificate, or check the host name.",
  ),
  MTLS_HTTP_STATUS: net('The server answered with an error status; read the body for its reason.'),
  MTLS_TIMEOUT: net(
    'The peer did not answer in time; check connectivity and the registered source IP.',
  ),

  // Certificate lifecycle: renewal, intermediates.
  MTLS_PATHLEN_EXCEEDED: denied(
    'A CA with pathlen 0 issues end-entity certificates only; sign further CAs with the root.',
  ),
  MTLS_RENEW_PROFILE_UNKNOWN: config(
    "Name the profile the certificate was issued with (the CA's openssl.cnf lists them).",
  ),
  MTLS_VALIDITY_BEYOND_CA: denied(
    'Ask for fewer days, or renew the CA certificate first; a certificate may not outlive its CA.',
  ),
  MTLS_SAN_REQUIRED: denied(
    "Give the server's names as subjectAltName entries (DNS:api.example, IP:203.0.113.7), in the CSR or at signing.",
  ),
} as const satisfies Record<string, ErrorCodeInfo>;

/** A known error code. */
export type ErrorCode = keyof typeof ERROR_CODES;
