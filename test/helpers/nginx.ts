/**
 * A real nginx (Debian `nginx-light`) for the client tests: one TLS 1.2
 * server on 127.0.0.1 and a free port, started in the foreground as a single
 * process with every path inside a temp dir, so nothing on the machine's own
 * nginx is touched.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

/** Where Debian installs the binary. */
export const NGINX_BIN = '/usr/sbin/nginx';

/** True when nginx is installed (`.ci/run` installs nginx-light). */
export function haveNginx(): boolean {
  return existsSync(NGINX_BIN) && spawnSync(NGINX_BIN, ['-v']).status === 0;
}

/** A running nginx. */
export interface RunningNginx {
  port: number;
  stop: () => Promise<void>;
}

/** A port the OS reports free right now. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** True once 127.0.0.1:`port` accepts connections, false at `deadline` (epoch ms). */
export async function waitForPort(port: number, deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/**
 * Starts nginx with `server` as the body of its one `server { … }` block
 * (after `listen 127.0.0.1:PORT ssl;`). Retries on another port if the one
 * picked was taken in between.
 */
export async function startNginx(dir: string, server: string): Promise<RunningNginx> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const conf = join(dir, `nginx-${port}.conf`);
    writeFileSync(
      conf,
      `daemon off;
master_process off;
pid ${join(dir, `nginx-${port}.pid`)};
error_log ${join(dir, `nginx-${port}.error.log`)} info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir};
  proxy_temp_path ${dir};
  fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir};
  scgi_temp_path ${dir};
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_protocols TLSv1.2;
${server}
  }
}
`,
    );
    const child = spawn(NGINX_BIN, ['-p', dir, '-c', conf], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    if (await waitForPort(port, Date.now() + 5000)) {
      return {
        port,
        stop: async () => {
          child.kill('SIGTERM');
          await exited;
        },
      };
    }
    child.kill('SIGKILL');
    await exited;
    if (!/Address already in use/.test(stderr)) throw new Error(`nginx did not start: ${stderr}`);
  }
  throw new Error('nginx did not start: no free port after 3 attempts');
}
