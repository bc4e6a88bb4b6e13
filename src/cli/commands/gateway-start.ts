/**
 * `mtls gateway start`: runs the TLS-1.2 mTLS gateway in the foreground, in
 * one process (`--workers 1`) or as a primary supervising N workers.
 * SIGTERM / SIGINT drain gracefully; SIGHUP reloads the server credential.
 */
import type { Command } from 'commander';
import {
  GATEWAY_CONFIG_KEYS,
  KEY_PASSPHRASE_ENV,
  PFX_PASSWORD_ENV,
  type GatewayConfigOverrides,
} from '../../gateway/config-keys.js';
import { MtlsError } from '../../errors/index.js';
import { info, warn } from '../output.js';
import {
  describeRegistryLocation,
  registryUrlHasPassword,
} from '../../gateway/registry/location.js';

/** The command's flags: the config overrides plus --config and --check. */
interface StartFlags extends GatewayConfigOverrides {
  config?: string;
  check?: boolean;
}

/** The flags that override the configuration file, from the configuration's key table. */
const OVERRIDES = GATEWAY_CONFIG_KEYS.flatMap((k) => (k.override ? [k.override] : []));

const HELP = `
Configuration: a YAML file (--config), then environment variables, then flags
(later wins). Environment (one per flag): ${OVERRIDES.map((o) => o.env).join(', ')};
secrets: ${KEY_PASSPHRASE_ENV}, ${PFX_PASSWORD_ENV}.
${OVERRIDES.filter((o) => o.envAlias)
  .map((o) => `${o.envAlias ?? ''} still works, deprecated: set ${o.env}.`)
  .join('\n')}

Example config (gateway.yaml):
  listen: 127.0.0.1:8443
  upstream: http://127.0.0.1:8080
  registry: /var/lib/mtls/registry.db
  tls:
    cert: server.pem
    key: server.key
    handshakeTimeoutMs: 10000
  limits:
    maxHeaderBytes: 16kb
    maxBodyBytes: 10mb
  ops:
    listen: 127.0.0.1:9443      # /healthz, /readyz, /metrics (plain HTTP); "off" to disable
  admin:
    listen: 127.0.0.1:8444
    tokenFile: admin.token      # the admin API starts only with authentication
  workers: auto                 # processes serving the mTLS port (default: one per CPU)
  proxyProtocol: required       # behind an L4 balancer: off (default), required or optional
  trustedProxies: [10.0.0.5/32] # the balancers whose PROXY headers are believed

PROXY protocol (v1 and v2, e.g. HAProxy send-proxy / send-proxy-v2; see
deploy/haproxy.cfg): the header's source address becomes the client address for
trust selection, policy, audit and X-Forwarded-For. Refusals are audited as
proxy_untrusted, proxy_header_missing and proxy_header_invalid.

Workers: with more than one, a primary process supervises them. The workers
share the mTLS port and each holds the registry snapshot; the primary serves
the ops listener (/metrics sums every worker; /readyz is ready only when every
worker is) and the admin API, and restarts a worker that dies (with backoff;
it gives up and exits 1 when one keeps dying right after starting).

Signals: SIGTERM/SIGINT drain (requests in flight complete, up to drainTimeoutMs),
SIGHUP reloads the server credential (a broken one keeps the old one and logs why),
in every worker. Logs and audit records are JSON lines on stdout (with the
worker's pid when there are workers).

Examples:
  mtls gateway start --config gateway.yaml
  mtls gateway start --upstream http://127.0.0.1:8080 --registry reg.db --cert server.pem --key server.key
  mtls gateway start --config gateway.yaml --workers 4
  mtls gateway start --config gateway.yaml --check`;

/** Registers `mtls gateway start` under the `gateway` command group (created when absent). */
export function registerGatewayStartCommands(program: Command): void {
  const gateway =
    program.commands.find((c) => c.name() === 'gateway') ??
    program
      .command('gateway')
      .description('the TLS-1.2 mTLS gateway: run it and manage its registry');
  const start = gateway
    .command('start')
    .description('run the TLS-1.2 mTLS gateway in the foreground')
    .option('-c, --config <file>', 'YAML configuration file');
  // One flag per overridable configuration key, declared in the key table.
  for (const o of OVERRIDES) start.option(o.flags, o.help);
  start
    .option(
      '--check',
      'validate the configuration, the server credential and the registry, then exit',
    )
    .addHelpText('after', HELP)
    .action(async (flags: StartFlags) => {
      // The configuration loader (zod, yaml) and the gateway runtime (undici,
      // pino, prom-client, the registry drivers) are imported when the command
      // runs, not when it is registered: every `mtls gateway …` command
      // registers this one, and the admin commands would otherwise parse all
      // of it on each start.
      const { loadGatewayConfig } = await import('../../gateway/config.js');
      const overrides: GatewayConfigOverrides = {};
      for (const { name } of OVERRIDES) {
        const v = flags[name];
        if (v !== undefined) overrides[name] = v;
      }
      const config = loadGatewayConfig({
        ...(flags.config ? { file: flags.config } : {}),
        overrides,
        onDeprecated: warn,
      });
      if (config.registry !== null && registryUrlHasPassword(config.registry)) {
        warn(
          `the registry URL ${describeRegistryLocation(config.registry)} holds a password, which shows wherever the URL does (ps, unit files, shell history, this configuration); remove it and give it in PGPASSFILE or PGPASSWORD instead`,
        );
      }
      if (flags.check) {
        const [
          { loadServerCredential },
          { loadUpstreamTls },
          { openRegistry, newerSchemaWarning },
          { secretFileModeWarnings },
          { adminConfigured, adminSettingsOf },
          { loadAdminSettings },
          { opsExposureWarning },
        ] = await Promise.all([
          import('../../gateway/server-credential.js'),
          import('../../gateway/upstream-tls.js'),
          import('../../gateway/registry/index.js'),
          import('../../gateway/secret-files.js'),
          import('../../gateway/admin/from-config.js'),
          import('../../gateway/admin/server.js'),
          import('../../gateway/health.js'),
        ]);
        const cred = await loadServerCredential(config.tls);
        const upstreamClient = (await loadUpstreamTls(config.upstreamTls))?.client;
        for (const w of [...cred.warnings, ...(upstreamClient?.warnings ?? [])]) warn(w);
        for (const w of await secretFileModeWarnings(config)) warn(w);
        // What the start would refuse or warn about beyond the credential.
        if (adminConfigured(config.admin)) await loadAdminSettings(adminSettingsOf(config.admin));
        const opsWarning = config.ops.listen && opsExposureWarning(config.ops.listen.host);
        if (opsWarning) warn(opsWarning);
        // loadGatewayConfig requires `registry` unless told otherwise; this only narrows.
        if (config.registry === null)
          throw new MtlsError('MTLS_CONFIG_INVALID', 'no registry is configured', {
            subject: 'registry',
          });
        // A check changes nothing: the schema is read, not migrated (the start migrates it).
        const registry = await openRegistry(config.registry, {
          sqlite: { create: false, migrate: false },
          postgres: { migrate: false },
        });
        try {
          // Trust is read with this build's queries, which need its schema;
          // an older store is only counted, and an empty one holds nothing.
          const schema = registry.schemaVersion();
          let institutions = 0;
          let schemaText: string;
          if (!schema || schema.version === 0) {
            schemaText = `empty; the start creates its schema ${schema?.build ?? '?'}`;
          } else if (schema.version < schema.build) {
            institutions = (await registry.listInstitutions()).length;
            schemaText = `schema ${schema.version}; the start migrates it to ${schema.build}`;
          } else {
            institutions = (await registry.loadTrust()).length;
            schemaText = `schema ${schema.version}`;
          }
          const schemaWarning = newerSchemaWarning(schema);
          if (schemaWarning) warn(schemaWarning);
          info(
            `configuration OK; server certificate ${cred.subject}, valid until ${cred.notAfter.toISOString()}; ${upstreamClient ? `upstream client certificate ${upstreamClient.subject}, valid until ${upstreamClient.notAfter.toISOString()}; ` : ''}registry ${describeRegistryLocation(config.registry)} (${schemaText}): ${institutions} institution(s); ${config.workers === 1 ? 'one process' : `${config.workers} workers`}`,
          );
        } finally {
          await registry.close();
        }
        return;
      }
      // Caught from here on: SIGHUP's default action would kill a process
      // still starting (workers log "gateway started" before the primary is
      // done), and an early SIGTERM must still drain.
      const signals = watchSignals();
      try {
        if (config.workers > 1) {
          const { startGatewayWorkers } = await import('../../gateway/workers/primary.js');
          const gw = await startGatewayWorkers({ config });
          void signals.attach({
            close: () => gw.close(),
            reload: () => void gw.reloadCredential(),
          });
          // Settles after a drain, or when the supervisor gives up on a
          // crash-looping worker: then its reason is the command's error.
          const exit = await gw.done;
          if (!exit.ok) throw exit.error;
          return;
        }
        const { startGateway } = await import('../../gateway/gateway.js');
        const gw = await startGateway({ config });
        await signals.attach({ close: () => gw.close(), reload: () => void gw.reloadCredential() });
      } finally {
        signals.detach();
        // Stopped: a handle left open (a registry connection that hangs,
        // given up on at stop) must not keep the process running.
        setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
      }
    });
}

/** Time the stopped gateway's process gets to end by itself before it exits anyway. */
const EXIT_GRACE_MS = 1_000;

/** What the signals act on once the gateway runs. */
interface SignalTarget {
  close(): Promise<void>;
  reload(): void;
}

/** Signals caught before the gateway is started, acted on once it is. */
interface GatewaySignals {
  /** Acts on signals from now on (and on any caught so far); resolves after a SIGTERM/SIGINT drain. */
  attach(target: SignalTarget): Promise<void>;
  /** Removes the handlers. */
  detach(): void;
}

/**
 * Catches SIGTERM/SIGINT (drain) and SIGHUP (credential reload). Sets a
 * non-zero exit code when the drain fails.
 */
function watchSignals(): GatewaySignals {
  let target: SignalTarget | null = null;
  let stopSignal: string | null = null;
  let reloadPending = false;
  let stopped: () => void = () => undefined;
  const whenStopped = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const drain = (t: SignalTarget): void => {
    info(`${stopSignal}: draining`);
    t.close().then(stopped, (e: unknown) => {
      info(`drain failed: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = 1;
      stopped();
    });
  };
  const onStop = (signal: string): void => {
    if (stopSignal) return;
    stopSignal = signal;
    if (target) drain(target);
  };
  const onTerm = (): void => onStop('SIGTERM');
  const onInt = (): void => onStop('SIGINT');
  const onHup = (): void => {
    if (stopSignal) return;
    if (target) target.reload();
    else reloadPending = true;
  };
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('SIGHUP', onHup);
  return {
    attach: (t) => {
      target = t;
      if (stopSignal) drain(t);
      else if (reloadPending) t.reload();
      return whenStopped;
    },
    detach: () => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      process.off('SIGHUP', onHup);
    },
  };
}
