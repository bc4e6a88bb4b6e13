/**
 * The gateway configuration's key table: each key's flag and environment
 * variable set the same field, path keys resolve against the configuration
 * file, `gateway start` declares every flag, and the registry and admin token
 * variables are the management commands' (old names still read, with a warning).
 */
import 'reflect-metadata';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import {
  GATEWAY_CONFIG_KEYS,
  GATEWAY_ENV,
  loadGatewayConfig,
  type GatewayConfig,
} from '../../src/gateway/config.js';
import { ENV } from '../../src/cli/shared-options.js';
import { registerGatewayStartCommands } from '../../src/cli/commands/gateway-start.js';
import { tempDir } from '../helpers/pki.js';

const base = {
  upstream: 'http://127.0.0.1:8080',
  registry: '/srv/reg.db',
  tls: { cert: '/srv/s.pem', key: '/srv/s.key' },
};

/** A value for each overridable key, unlike its default and unlike `base`. */
const SAMPLES: Record<string, string> = {
  listen: '127.0.0.1:7001',
  upstream: 'http://127.0.0.1:7002',
  registry: 'other.db',
  'tls.cert': 'other.pem',
  'tls.key': 'other.key',
  'tls.keyPassphraseFile': 'pass.txt',
  'tls.pfx': 'other.pfx',
  'tls.pfxPasswordFile': 'pfxpass.txt',
  'ops.listen': '127.0.0.1:7003',
  'admin.listen': '127.0.0.1:7004',
  'admin.tokenFile': 'admin.token',
  logLevel: 'debug',
  workers: '3',
  proxyProtocol: 'optional',
  trustedProxies: '10.0.0.5',
};

const field = (cfg: GatewayConfig, key: string): unknown =>
  key
    .split('.')
    .reduce<unknown>(
      (v, p) =>
        v !== null && typeof v === 'object' ? new Map(Object.entries(v)).get(p) : undefined,
      cfg,
    );

describe('gateway config key table', () => {
  const overridable = GATEWAY_CONFIG_KEYS.flatMap((k) =>
    k.override ? [{ ...k, o: k.override }] : [],
  );

  test('every overridable key has a sample here (a new key gets one)', () => {
    assert.deepEqual(overridable.map((k) => k.key).sort(), Object.keys(SAMPLES).sort());
  });

  test("each key's env variable and flag reach the same field", () => {
    for (const k of overridable) {
      const sample = SAMPLES[k.key] ?? '';
      // A .pfx excludes tls.cert/tls.key: drop them so the sample is valid alone.
      const values =
        k.key === 'tls.pfx'
          ? { ...base, tls: {} }
          : k.key === 'proxyProtocol'
            ? { ...base, trustedProxies: ['10.0.0.1'] }
            : base;
      const viaEnv = loadGatewayConfig({ values, env: { [k.o.env]: sample } });
      const viaFlag = loadGatewayConfig({
        values,
        env: {},
        overrides: { [k.o.name]: sample },
      });
      const none = loadGatewayConfig({ values: base, env: {} });
      assert.deepEqual(field(viaEnv, k.key), field(viaFlag, k.key), k.key);
      assert.notDeepEqual(field(viaEnv, k.key), field(none, k.key), `${k.key} changed`);
      if (k.file === true || k.file === 'unless-url')
        assert.equal(field(viaFlag, k.key), resolve(sample), `${k.key} resolves against the cwd`);
      assert.equal(GATEWAY_ENV[k.o.name], k.o.env);
    }
  });

  test('a relative path key in the file is resolved against the file, not the cwd', () => {
    const { dir, cleanup } = tempDir('mtls-config-keys-');
    try {
      mkdirSync(join(dir, 'conf'));
      const file = join(dir, 'conf', 'gateway.yaml');
      for (const k of GATEWAY_CONFIG_KEYS.filter((x) => x.file)) {
        const [top, sub] = k.key.split('.');
        const doc: Record<string, unknown> = { ...base, tls: { ...base.tls } };
        if (k.key === 'tls.pfx') doc.tls = {};
        if (sub === undefined) doc[k.key] = 'data/x';
        else doc[top ?? ''] = { ...(doc[top ?? ''] as object), [sub]: 'data/x' };
        if (top === 'upstreamTls') {
          // Only for an https: upstream, and a certificate only with its key.
          doc.upstream = 'https://127.0.0.1:1';
          const tlsDoc = doc.upstreamTls as Record<string, unknown>;
          if (sub === 'cert') tlsDoc.key = 'data/y';
          if (sub === 'key') tlsDoc.cert = 'data/y';
        }
        writeFileSync(file, JSON.stringify(doc));
        const cfg = loadGatewayConfig({ file, env: {} });
        assert.equal(field(cfg, k.key), join(dir, 'conf', 'data', 'x'), k.key);
      }
    } finally {
      cleanup();
    }
  });

  test('the table and the schema name the same keys: every field has a row, every row a field', () => {
    const cfg = loadGatewayConfig({ values: base, env: {} });
    const rows = GATEWAY_CONFIG_KEYS.map((k) => k.key);
    /** Dotted paths of the configuration's fields; a listen address is one field. */
    const leaves = (v: unknown, path: string): string[] =>
      v !== null && typeof v === 'object' && !Array.isArray(v) && !('port' in v)
        ? Object.entries(v).flatMap(([k, x]) => leaves(x, path ? `${path}.${k}` : k))
        : [path];
    const uncovered = leaves(cfg, '').filter(
      (p) => !rows.some((r) => p === r || p.startsWith(`${r}.`)),
    );
    assert.deepEqual(uncovered, [], 'fields without a row (fix hint) in the key table');
    const missing = rows.filter((r) => field(cfg, r) === undefined);
    assert.deepEqual(missing, [], 'rows naming no field of the configuration');
  });

  test('gateway start declares each flag of the table, under the same attribute, with its help', () => {
    const program = new Command();
    registerGatewayStartCommands(program);
    const start = program.commands
      .find((c) => c.name() === 'gateway')
      ?.commands.find((c) => c.name() === 'start');
    assert.ok(start);
    const options = new Map(start.options.map((o) => [o.long, o]));
    for (const k of overridable) {
      assert.equal(options.get(k.o.flag)?.attributeName(), k.o.name, k.o.flag);
      assert.equal(options.get(k.o.flag)?.flags, k.o.flags, k.o.flag);
      assert.ok(k.o.help.length > 10, `${k.o.flag} has a help line`);
    }
    assert.match(
      options.get('--key-passphrase-file')?.description ?? '',
      /\(else env MTLS_GATEWAY_KEY_PASSPHRASE\)$/,
    );
    assert.equal(
      options.get('--listen')?.description,
      'mTLS listen address (default 127.0.0.1:8443)',
    );
  });

  test('registry and admin token: one variable with the management commands, old names deprecated', () => {
    assert.equal(GATEWAY_ENV.registry, ENV.registry);
    assert.equal(GATEWAY_ENV.adminTokenFile, ENV.adminTokenFile);
    const warnings: string[] = [];
    const old = loadGatewayConfig({
      values: { ...base, registry: undefined },
      env: { MTLS_GATEWAY_REGISTRY: '/srv/old.db', MTLS_GATEWAY_ADMIN_TOKEN_FILE: '/srv/t' },
      onDeprecated: (m) => warnings.push(m),
    });
    assert.equal(old.registry, '/srv/old.db');
    assert.equal(old.admin.tokenFile, '/srv/t');
    assert.deepEqual(warnings, [
      'MTLS_GATEWAY_REGISTRY is deprecated; set MTLS_REGISTRY instead',
      'MTLS_GATEWAY_ADMIN_TOKEN_FILE is deprecated; set MTLS_ADMIN_TOKEN_FILE instead',
    ]);
    warnings.length = 0;
    const both = loadGatewayConfig({
      values: base,
      env: { MTLS_REGISTRY: '/srv/new.db', MTLS_GATEWAY_REGISTRY: '/srv/old.db' },
      onDeprecated: (m) => warnings.push(m),
    });
    assert.equal(both.registry, '/srv/new.db', 'the current name wins');
    assert.deepEqual(warnings, []);
  });
});
