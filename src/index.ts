/**
 * mtlskit: the library. Every CLI command is a typed function here.
 * Importing has no side effects beyond the reflect-metadata polyfill that
 * @peculiar/x509 requires.
 */
import 'reflect-metadata';

export * from './errors/index.js';
export { writeFileAtomic, writeFilesAtomic, readFileChecked, type WriteFileAtomicOptions } from './io/index.js';
export * from './pki/index.js';
export * from './ca/index.js';
export * from './gateway/index.js';
export * from './tls/index.js';
export * from './client/index.js';
