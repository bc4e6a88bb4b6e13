/**
 * The deployment examples in deploy/ stay true to the code: the example
 * configuration loads, keeps the registry password out of the URL, and the
 * systemd unit names only environment variables the gateway reads and a
 * command line the CLI accepts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GATEWAY_ENV, loadGatewayConfig } from '../../src/gateway/config.js';
import { tempDir } from '../helpers/pki.js';
import { at } from '../helpers/assert.js';

const root = join(import.meta.dirname, '..', '..');
const unitPath = join(root, 'deploy', 'mtls-gateway.service');
const configPath = join(root, 'deploy', 'gateway.yaml');
const unit = readFileSync(unitPath, 'utf8');

describe('deploy/ examples', () => {
  test('gateway.yaml is a valid configuration with a password-free PostgreSQL registry', () => {
    const cfg = loadGatewayConfig({ file: configPath, env: {} });
    assert.ok(cfg.registry);
    const url = new URL(cfg.registry);
    assert.equal(url.protocol, 'postgres:');
    assert.equal(url.password, '', 'the password comes from PGPASSFILE, never the URL');
    assert.equal(
      cfg.ops.listen?.host,
      '127.0.0.1',
      'the unauthenticated ops listener stays on loopback',
    );
    assert.equal(
      cfg.proxyProtocol,
      'required',
      'behind a balancer, every connection carries the client address',
    );
  });

  test('the systemd unit sets only environment variables the gateway reads, and no secret', () => {
    const known = new Set<string>([...Object.values(GATEWAY_ENV), 'PGPASSFILE']);
    const set = [...unit.matchAll(/^Environment=([A-Z0-9_]+)=(.*)$/gm)].map((m) => ({
      name: at(m, 1),
      value: at(m, 2),
    }));
    assert.ok(set.length > 0);
    for (const { name, value } of set) {
      assert.ok(known.has(name), `${name} is not read by the gateway`);
      assert.match(name, /FILE$/, `${name}: secrets are passed as files, never as values`);
      assert.ok(
        value.startsWith('%d/') || value.startsWith('/etc/mtls/secrets/'),
        `${name} points at a credential file`,
      );
    }
    assert.match(unit, /^ExecStart=\S+ gateway start --config \/etc\/mtls\/gateway\.yaml$/m);
    assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    assert.match(
      unit,
      /^KillMode=mixed$/m,
      'SIGTERM to the primary only: it drains the workers itself',
    );
  });

  test(
    'systemd-analyze accepts the unit',
    {
      skip:
        spawnSync('systemd-analyze', ['--version']).status !== 0 &&
        'systemd-analyze is not installed',
    },
    () => {
      // The unit names the installed CLI, which a test machine lacks: check a
      // copy that runs /bin/true, so that only the unit's own syntax is judged.
      const { dir, cleanup } = tempDir('mtlskit-unit-');
      try {
        const copy = join(dir, 'mtls-gateway.service');
        writeFileSync(copy, unit.replaceAll('/usr/local/bin/mtls', '/bin/true'));
        const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr.trim(), '', r.stderr);
      } finally {
        cleanup();
      }
    },
  );

  test('the CRL renewal units: daily and catch-up timer, passphrase by credential, DER published, status checked; systemd-analyze accepts them', (t) => {
    const service = readFileSync(join(root, 'deploy', 'mtls-crl.service'), 'utf8');
    const timer = readFileSync(join(root, 'deploy', 'mtls-crl.timer'), 'utf8');
    assert.match(timer, /^OnCalendar=daily$/m);
    assert.match(timer, /^Persistent=true$/m, 'a run missed while the host was down still happens');
    assert.match(service, /^Type=oneshot$/m);
    assert.match(service, /^LoadCredential=ca-passphrase:\/etc\/mtls\/secrets\/ca\.pass$/m);
    assert.match(
      service,
      /^ExecStart=\/usr\/local\/bin\/mtls ca crl .*--passphrase-file %d\/ca-passphrase .*--der/m,
    );
    assert.match(service, /^ExecStartPost=\/usr\/local\/bin\/mtls ca status /m);
    assert.doesNotMatch(service, /^Environment=/m, 'no secret in the environment');
    if (spawnSync('systemd-analyze', ['--version']).status !== 0) {
      t.skip('systemd-analyze is not installed');
      return;
    }
    const { dir, cleanup } = tempDir('mtlskit-unit-');
    try {
      const copy = join(dir, 'mtls-crl.service');
      writeFileSync(copy, service.replaceAll('/usr/local/bin/mtls', '/bin/true'));
      writeFileSync(join(dir, 'mtls-crl.timer'), timer);
      const r = spawnSync('systemd-analyze', ['verify', copy, join(dir, 'mtls-crl.timer')], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.trim(), '', r.stderr);
    } finally {
      cleanup();
    }
  });
});
