/**
 * The PROXY protocol keys of the gateway configuration: defaults, env and
 * flag forms, canonical CIDRs, and the errors that name the key and the fix.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isMtlsError } from '../../src/errors/index.js';
import { loadGatewayConfig } from '../../src/gateway/config.js';

const base = { upstream: 'http://127.0.0.1:8080', registry: 'reg.db', tls: { cert: 's.pem', key: 's.key' } };

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(isMtlsError(e, 'MTLS_CONFIG_INVALID'), String(e));
    return e.message;
  }
  assert.fail('expected MTLS_CONFIG_INVALID');
}

describe('gateway config: PROXY protocol', () => {
  test('off by default, no trusted proxies, 5 s header timeout', () => {
    const c = loadGatewayConfig({ values: base, env: {} });
    assert.equal(c.proxyProtocol, 'off');
    assert.deepEqual(c.trustedProxies, []);
    assert.equal(c.proxyHeaderTimeoutMs, 5_000);
  });

  test('file list, env and flag (comma-separated) forms, canonicalised like the registry', () => {
    const file = loadGatewayConfig({ values: { ...base, proxyProtocol: 'required', trustedProxies: ['10.0.0.5', '2001:DB8::/48', '::ffff:10.1.0.0/112'] }, env: {} });
    assert.deepEqual(file.trustedProxies, ['10.0.0.5/32', '2001:db8::/48', '10.1.0.0/16']);
    const env = loadGatewayConfig({ values: base, env: { MTLS_GATEWAY_PROXY_PROTOCOL: 'optional', MTLS_GATEWAY_TRUSTED_PROXIES: '10.0.0.5, 10.0.1.0/24' } });
    assert.equal(env.proxyProtocol, 'optional');
    assert.deepEqual(env.trustedProxies, ['10.0.0.5/32', '10.0.1.0/24']);
    const flag = loadGatewayConfig({ values: base, env: { MTLS_GATEWAY_TRUSTED_PROXIES: '10.9.9.9' }, overrides: { proxyProtocol: 'required', trustedProxies: '192.0.2.1' } });
    assert.deepEqual(flag.trustedProxies, ['192.0.2.1/32']);
  });

  test('errors name the key and the fix', () => {
    assert.match(configError(() => loadGatewayConfig({ values: { ...base, proxyProtocol: 'yes' }, env: {} })), /`proxyProtocol`.*off, required/);
    assert.match(configError(() => loadGatewayConfig({ values: { ...base, proxyProtocol: 'required' }, env: {} })), /`trustedProxies` is empty/);
    assert.match(configError(() => loadGatewayConfig({ values: { ...base, proxyProtocol: 'required', trustedProxies: ['10.0.0.5/8'] }, env: {} })), /trustedProxies.*host bits/);
    assert.match(configError(() => loadGatewayConfig({ values: { ...base, proxyProtocol: 'required', trustedProxies: ['0.0.0.0/0'] }, env: {} })), /trustedProxies.*every IPv4/);
    assert.match(configError(() => loadGatewayConfig({ values: { ...base, proxyProtocol: 'required', trustedProxies: ['lb.example'] }, env: {} })), /trustedProxies/);
    assert.match(configError(() => loadGatewayConfig({ values: { ...base, proxyHeaderTimeoutMs: 10 }, env: {} })), /proxyHeaderTimeoutMs/);
  });
});
