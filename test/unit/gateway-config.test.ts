/**
 * Gateway configuration: defaults, precedence (flags > env > file), relative
 * paths, and error messages that name the key and the fix.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isMtlsError } from '../../src/errors/index.js';
import { loadGatewayConfig, parseListenAddress } from '../../src/gateway/config.js';
import { tempDir } from '../helpers/pki.js';

const base = {
  upstream: 'http://127.0.0.1:8080',
  registry: 'reg.db',
  tls: { cert: 's.pem', key: 's.key' },
};

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(isMtlsError(e, 'MTLS_CONFIG_INVALID'), String(e));
    return e.message;
  }
  assert.fail('expected MTLS_CONFIG_INVALID');
}

describe('gateway config', () => {
  test('defaults: 127.0.0.1:8443, ops on 127.0.0.1:9443, admin off, sane limits', () => {
    const c = loadGatewayConfig({ values: base, env: {} });
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 8443 });
    assert.deepEqual(c.ops.listen, { host: '127.0.0.1', port: 9443 });
    assert.equal(c.admin.tokenFile, null);
    assert.equal(c.limits.maxHeaderBytes, 16 * 1024);
    assert.equal(c.limits.maxBodyBytes, 10 * 1024 * 1024);
    assert.equal(c.tls.handshakeTimeoutMs, 10_000);
    assert.equal(c.registryPollMs, 250);
    assert.equal(c.identityHeaders.subject, 'X-Mtls-Subject');
    assert.equal(c.upstream, 'http://127.0.0.1:8080');
  });

  test('a YAML file with relative paths, sizes with units, and flag/env precedence', () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'gw.yaml');
      writeFileSync(
        file,
        [
          'listen: "[::1]:9000"',
          'upstream: http://127.0.0.1:8080/api/',
          'registry: data/reg.db',
          'tls:',
          '  cert: s.pem',
          '  key: s.key',
          'limits:',
          '  maxBodyBytes: 2mb',
          'ops:',
          '  listen: off',
          '',
        ].join('\n'),
      );
      const c = loadGatewayConfig({
        file,
        env: { MTLS_GATEWAY_LISTEN: '127.0.0.1:7000', MTLS_GATEWAY_UPSTREAM: 'http://10.0.0.1' },
        overrides: { upstream: 'https://127.0.0.1:9999' },
      });
      assert.deepEqual(c.listen, { host: '127.0.0.1', port: 7000 }, 'env beats the file');
      assert.equal(c.upstream, 'https://127.0.0.1:9999', 'flags beat env');
      assert.equal(
        c.registry,
        join(dir, 'data/reg.db'),
        'paths in the file resolve against its directory',
      );
      assert.equal(c.tls.cert, join(dir, 's.pem'));
      assert.equal(c.limits.maxBodyBytes, 2 * 1024 * 1024);
      assert.equal(c.ops.listen, null);
      const pg = loadGatewayConfig({
        values: { ...base, registry: 'postgres://u@127.0.0.1/db' },
        env: {},
      });
      assert.equal(pg.registry, 'postgres://u@127.0.0.1/db', 'URLs are not resolved as paths');
      const flagPath = loadGatewayConfig({
        values: base,
        overrides: { registry: 'x.db' },
        env: {},
      });
      assert.equal(flagPath.registry, resolve('x.db'));
    } finally {
      cleanup();
    }
  });

  test('errors name the key, the value and the fix', () => {
    assert.match(
      configError(() =>
        loadGatewayConfig({ values: { ...base, listen: '127.0.0.1:70000' }, env: {} }),
      ),
      /key `listen`: .*70000.*fix: write HOST:PORT/,
    );
    assert.match(
      configError(() =>
        loadGatewayConfig({ values: { ...base, listen: 'gateway.example:443' }, env: {} }),
      ),
      /not an IP address/,
    );
    assert.match(
      configError(() => loadGatewayConfig({ values: { ...base, upstream: 'ftp://x' }, env: {} })),
      /key `upstream`: scheme ftp: is not supported/,
    );
    assert.match(
      configError(() =>
        loadGatewayConfig({
          values: { ...base, tls: { ...base.tls, handshakeTimeout: 5 } },
          env: {},
        }),
      ),
      /unknown key `tls\.handshakeTimeout`; did you mean `tls\.handshakeTimeoutMs`\?/,
    );
    assert.match(
      configError(() => loadGatewayConfig({ values: { ...base, registryPollMs: 5000 } })),
      /key `registryPollMs`: .*fix: give milliseconds between 50 and 250/,
    );
    assert.match(
      configError(() => loadGatewayConfig({ values: { ...base, registryPollMs: 500 } })),
      /key `registryPollMs`/,
      'a poll over 250 ms leaves no room to apply a change within 1 s',
    );
    assert.match(
      configError(() =>
        loadGatewayConfig({ values: { ...base, tls: { ...base.tls, pfx: 'x.pfx' } }, env: {} }),
      ),
      /both set/,
    );
    assert.match(
      configError(() =>
        loadGatewayConfig({
          values: { upstream: 'http://x', tls: { cert: 'a', key: 'b' } },
          env: {},
        }),
      ),
      /key `registry` is missing/,
    );
    assert.match(
      configError(() =>
        loadGatewayConfig({
          values: { ...base, identityHeaders: { subject: 'Bad Header' } },
          env: {},
        }),
      ),
      /identityHeaders\.subject.*not a valid HTTP header name/,
    );
    assert.match(
      configError(() =>
        loadGatewayConfig({ values: { ...base, ops: { listen: '127.0.0.1:8443' } }, env: {} }),
      ),
      /`ops\.listen` uses the same address as `listen`/,
    );
  });

  test('listen address forms', () => {
    assert.deepEqual(parseListenAddress('8443'), { host: '127.0.0.1', port: 8443 });
    assert.deepEqual(parseListenAddress(':0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseListenAddress('[::]:443'), { host: '::', port: 443 });
    assert.deepEqual(parseListenAddress('localhost:1'), { host: '127.0.0.1', port: 1 });
  });
});

describe('gateway config: PROXY protocol', () => {
  test('off by default, no trusted proxies, 5 s header timeout', () => {
    const c = loadGatewayConfig({ values: base, env: {} });
    assert.equal(c.proxyProtocol, 'off');
    assert.deepEqual(c.trustedProxies, []);
    assert.equal(c.proxyHeaderTimeoutMs, 5_000);
  });

  test('file list, env and flag (comma-separated) forms, canonicalised like the registry', () => {
    const file = loadGatewayConfig({
      values: {
        ...base,
        proxyProtocol: 'required',
        trustedProxies: ['10.0.0.5', '2001:DB8::/48', '::ffff:10.1.0.0/112'],
      },
      env: {},
    });
    assert.deepEqual(file.trustedProxies, ['10.0.0.5/32', '2001:db8::/48', '10.1.0.0/16']);
    const env = loadGatewayConfig({
      values: base,
      env: {
        MTLS_GATEWAY_PROXY_PROTOCOL: 'optional',
        MTLS_GATEWAY_TRUSTED_PROXIES: '10.0.0.5, 10.0.1.0/24',
      },
    });
    assert.equal(env.proxyProtocol, 'optional');
    assert.deepEqual(env.trustedProxies, ['10.0.0.5/32', '10.0.1.0/24']);
    const flag = loadGatewayConfig({
      values: base,
      env: { MTLS_GATEWAY_TRUSTED_PROXIES: '10.9.9.9' },
      overrides: { proxyProtocol: 'required', trustedProxies: '192.0.2.1' },
    });
    assert.deepEqual(flag.trustedProxies, ['192.0.2.1/32']);
  });

  test('errors name the key and the fix', () => {
    assert.match(
      configError(() => loadGatewayConfig({ values: { ...base, proxyProtocol: 'yes' }, env: {} })),
      /`proxyProtocol`.*off, required/,
    );
    assert.match(
      configError(() =>
        loadGatewayConfig({ values: { ...base, proxyProtocol: 'required' }, env: {} }),
      ),
      /`trustedProxies` is empty/,
    );
    assert.match(
      configError(() =>
        loadGatewayConfig({
          values: { ...base, proxyProtocol: 'required', trustedProxies: ['10.0.0.5/8'] },
          env: {},
        }),
      ),
      /trustedProxies.*host bits/,
    );
    assert.match(
      configError(() =>
        loadGatewayConfig({
          values: { ...base, proxyProtocol: 'required', trustedProxies: ['0.0.0.0/0'] },
          env: {},
        }),
      ),
      /trustedProxies.*every IPv4/,
    );
    assert.match(
      configError(() =>
        loadGatewayConfig({
          values: { ...base, proxyProtocol: 'required', trustedProxies: ['lb.example'] },
          env: {},
        }),
      ),
      /trustedProxies/,
    );
    assert.match(
      configError(() =>
        loadGatewayConfig({ values: { ...base, proxyHeaderTimeoutMs: 10 }, env: {} }),
      ),
      /proxyHeaderTimeoutMs/,
    );
  });
});
