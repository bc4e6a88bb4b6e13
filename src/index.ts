/**
 * mtlskit: the institution side of the library (PKI, CA, TLS credentials,
 * the mTLS client). Every CLI command on that side is a typed function here.
 * The gateway lives at `mtlskit/gateway`, so that importing this entry never
 * loads a native module. Importing has no side effects beyond the
 * reflect-metadata polyfill that @peculiar/x509 requires.
 */
import 'reflect-metadata';

export * from './errors/index.js';
export {
  writeFileAtomic,
  writeFilesAtomic,
  readFileChecked,
  type WriteFileAtomicOptions,
} from './io/index.js';
export * from './pki/index.js';
export * from './ca/index.js';
export * from './tls/index.js';
export * from './client/index.js';
