/**
 * A real HAProxy (Debian `haproxy`) for the PROXY protocol tests: runs
 * deploy/haproxy.cfg as is in the foreground (`-db`: no daemon, no master
 * process, so SIGTERM ends it), with its addresses from the environment and
 * two loopback ports the OS reported free (retried if taken in between).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from './nginx.js';

/** Where Debian installs the binary. */
export const HAPROXY_BIN = '/usr/sbin/haproxy';
/** The operator's example configuration, run by the test. */
export const HAPROXY_CFG = fileURLToPath(new URL('../../deploy/haproxy.cfg', import.meta.url));

/** True when haproxy is installed (`.ci/run` installs it). */
export function haveHaproxy(): boolean {
  return existsSync(HAPROXY_BIN) && spawnSync(HAPROXY_BIN, ['-v']).status === 0;
}

/** A running HAProxy. */
export interface RunningHaproxy {
  /** Frontend that relays with `send-proxy` (v1). */
  v1Port: number;
  /** Frontend that relays with `send-proxy-v2`. */
  v2Port: number;
  /** What haproxy printed (for failure messages). */
  output(): string;
  /** SIGTERM, then SIGKILL after 2 s; resolves once the process is gone. */
  stop(): Promise<void>;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 2_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts HAProxy in front of the gateway at 127.0.0.1:`gatewayPort`. */
export async function startHaproxy(gatewayPort: number): Promise<RunningHaproxy> {
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const v1Port = await freePort();
    const v2Port = await freePort();
    const child = spawn(HAPROXY_BIN, ['-db', '-f', HAPROXY_CFG], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        MTLS_LB_BIND: `127.0.0.1:${v1Port}`,
        MTLS_LB_V2_BIND: `127.0.0.1:${v2Port}`,
        MTLS_GATEWAY_ADDR: `127.0.0.1:${gatewayPort}`,
      },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const deadline = Date.now() + 5_000;
    const up =
      (await waitForPort(v1Port, deadline)) &&
      (await waitForPort(v2Port, deadline)) &&
      child.exitCode === null;
    if (up) return { v1Port, v2Port, output: () => out, stop: () => stopChild(child) };
    await stopChild(child);
    last = out;
  }
  throw new Error(`haproxy did not start: ${last}`);
}
