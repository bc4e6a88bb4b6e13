/** The mTLS client: requests, probes and diagnosis, snippets, dispatcher/agent. */
export * from './request.js';
export * from './probe.js';
export * from './dispatcher.js';
export * from './diagnose.js';
export * from './classify.js';
export * from './hints.js';
export * from './certificates.js';
export * from './connection.js';
export * from './snippets/index.js';
