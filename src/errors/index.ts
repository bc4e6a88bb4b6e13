export { ERROR_CODES, type ErrorCode, type ErrorCodeInfo } from './codes.js';
export { MtlsError, isMtlsError, toMtlsError, type MtlsErrorOptions } from './mtls-error.js';
