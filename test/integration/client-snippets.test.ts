/**
 * The generated snippets, run for real: curl, node, python3 and java against
 * a local TLS-1.2 mTLS server (each must get a 200 with the client
 * certificate seen by the server) and against a TLS-1.3-only server (each
 * must fail). go and csharp get a syntax check where a toolchain exists.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  generateSnippet,
  type SnippetLanguage,
  type SnippetOptions,
} from '../../src/client/snippets/index.js';
import {
  makeCa,
  makeLeaf,
  makeServerLeaf,
  tempDir,
  type TestCa,
  type TestLeaf,
} from '../helpers/pki.js';
import { parseEcho, startNodeServer, type TestServer } from '../helpers/tls-servers.js';
import { run, runCli } from '../helpers/cli.js';
import { defined } from '../helpers/assert.js';

/** A password with characters that break naive quoting in shells and config files. */
const PASSWORD = `pa:ss "w\\rd' $HOME`;

interface Fixture {
  dir: string;
  ca: TestCa;
  client: TestLeaf;
  pfx: string;
  tls12: TestServer;
  tls13: TestServer;
  cleanup: () => Promise<void>;
}

async function fixture(): Promise<Fixture> {
  const { dir, cleanup } = tempDir('mtlskit-snippet-');
  const ca = await makeCa(dir, { name: 'Acme Client CA' });
  const server = await makeServerLeaf(dir, ca);
  const client = await makeLeaf(dir, ca, { cn: 'snippet-client' });
  const passFile = join(dir, 'pfx.pass');
  writeFileSync(passFile, `${PASSWORD}\n`);
  const pfx = join(dir, 'client.pfx');
  const r = run('openssl', [
    'pkcs12',
    '-export',
    '-inkey',
    client.keyPath,
    '-in',
    client.certPath,
    '-certfile',
    ca.certPath,
    '-out',
    pfx,
    '-passout',
    `file:${passFile}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const tls12 = await startNodeServer({
    certPem: server.certPem,
    keyPem: server.keyPem,
    ca: [ca.certPem],
  });
  const tls13 = await startNodeServer({
    certPem: server.certPem,
    keyPem: server.keyPem,
    ca: [ca.certPem],
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
  });
  return {
    dir,
    ca,
    client,
    pfx,
    tls12,
    tls13,
    cleanup: async () => {
      await tls12.close();
      await tls13.close();
      cleanup();
    },
  };
}

const RUNNERS: Partial<Record<SnippetLanguage, (file: string) => [string, string[]]>> = {
  curl: (file) => ['sh', [file]],
  node: (file) => [process.execPath, [file]],
  python: (file) => ['python3', [file]],
  java: (file) => ['java', [file]],
};

/** Writes a snippet into its own directory and runs it (asynchronously: the servers live in this process). */
async function runSnippet(
  f: Fixture,
  options: SnippetOptions,
  tag: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const snippet = generateSnippet(options);
  const dir = join(f.dir, `${options.lang}-${tag}`);
  mkdirSync(dir);
  const file = join(dir, snippet.filename);
  writeFileSync(file, snippet.code);
  const [cmd, args] = (RUNNERS[options.lang] as (file: string) => [string, string[]])(file);
  return new Promise((resolve) => {
    // stdin closed and SIGKILL on timeout: a snippet that falls back to a passphrase prompt (OpenSSL ignores SIGTERM while it prompts) fails instead of hanging.
    const child = execFile(
      cmd,
      args,
      {
        cwd: dir,
        env: { ...process.env, MTLS_PFX_PASSWORD: PASSWORD },
        timeout: 60_000,
        killSignal: 'SIGKILL',
      },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : -1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end();
  });
}

function call(
  f: Fixture,
  lang: SnippetLanguage,
  server: TestServer,
  credentials: 'pfx' | 'pem',
): SnippetOptions {
  return {
    lang,
    url: `${server.url}/v1/payments?src=${lang}`,
    method: 'POST',
    headers: [['X-Request-Id', `it's-${lang}`]],
    // é inside the BMP, 😀 outside it (a surrogate pair in UTF-16): each language must send both as UTF-8.
    body: '{"amount": 10, "note": "caf\u00e9 \u{1F600}"}',
    caPath: f.ca.certPath,
    ...(credentials === 'pfx'
      ? { pfxPath: f.pfx }
      : { certPath: f.client.certPath, keyPath: f.client.keyPath }),
  };
}

async function expectWorks(
  f: Fixture,
  lang: SnippetLanguage,
  credentials: 'pfx' | 'pem',
): Promise<void> {
  const r = await runSnippet(f, call(f, lang, f.tls12, credentials), `${credentials}-12`);
  assert.equal(r.code, 0, `${lang}/${credentials} against TLS 1.2: ${r.stderr}`);
  assert.match(r.stdout, /HTTP status: 200/, `${lang} prints the status`);
  const echoed = parseEcho(defined(/\{"ok":true.*\}/.exec(r.stdout), 'the echoed request')[0]);
  assert.deepEqual(
    [echoed.method, echoed.path, echoed.body, echoed.contentType, echoed.client],
    [
      'POST',
      `/v1/payments?src=${lang}`,
      '{"amount": 10, "note": "caf\u00e9 \u{1F600}"}',
      'application/json',
      'snippet-client',
    ],
    `${lang}/${credentials}: the server saw the request and our certificate`,
  );
}

async function expectFailsOn13(
  f: Fixture,
  lang: SnippetLanguage,
  credentials: 'pfx' | 'pem',
): Promise<void> {
  const r = await runSnippet(f, call(f, lang, f.tls13, credentials), `${credentials}-13`);
  assert.notEqual(r.code, 0, `${lang} must fail against a TLS-1.3-only server`);
  assert.match(
    `${r.stdout}${r.stderr}`,
    /protocol[ _]version|PROTOCOL_VERSION/i,
    `${lang} fails on the version: ${r.stderr}`,
  );
}

test('curl, node, python3 and java snippets get a 200 over TLS 1.2 mTLS and fail against TLS 1.3 only', async () => {
  const f = await fixture();
  try {
    for (const [lang, credentials] of [
      ['curl', 'pfx'],
      ['curl', 'pem'],
      ['node', 'pfx'],
      ['node', 'pem'],
      ['python', 'pem'],
      ['java', 'pfx'],
    ] as const) {
      await expectWorks(f, lang, credentials);
    }
    for (const [lang, credentials] of [
      ['curl', 'pfx'],
      ['node', 'pfx'],
      ['python', 'pem'],
      ['java', 'pfx'],
    ] as const) {
      await expectFailsOn13(f, lang, credentials);
    }
    assert.equal(f.tls12.seen.length, 6);
  } finally {
    await f.cleanup();
  }
});

test('the python snippet for a .pfx names the PEM files, the commands that make them, and reads the .pfx password', () => {
  const s = generateSnippet({
    lang: 'python',
    url: 'https://api.example.com/',
    pfxPath: 'client.pfx',
    headers: [['X-Mood', 'fine \u{1F600}']],
  });
  assert.match(
    s.code,
    /openssl pkcs12 -in client\.pfx -passin env:MTLS_PFX_PASSWORD -clcerts -nokeys -out client\.cert\.pem/,
  );
  // mtls pfx unpack encrypts the key with the .pfx password: the script reads that one.
  assert.match(
    s.code,
    /load_cert_chain\(certfile="client\.cert\.pem", keyfile="client\.key\.pem", password=os\.environ\.get\("MTLS_PFX_PASSWORD"\)\)/,
  );
  // Python parses it, and the header value is the emoji itself, not two lone surrogates.
  const check =
    'import ast,sys\nt=ast.parse(sys.stdin.read())\nv=[n.value for n in ast.walk(t) if isinstance(n, ast.Constant) and isinstance(n.value, str)]\nsys.exit(0 if "fine \\U0001F600" in v else 1)';
  const py = spawnSync('python3', ['-c', check], { input: s.code, encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr || 'the header value is not U+1F600 in Python');
});

test('python with a .pfx from an intermediate CA: PEM files from mtls pfx unpack or from the OpenSSL commands send the intermediate', async () => {
  const f = await fixture();
  try {
    const issuing = await makeCa(f.dir, { name: 'Acme Issuing CA', issuer: f.ca });
    const leaf = await makeLeaf(f.dir, issuing, { cn: 'chained-client' });
    writeFileSync(join(f.dir, 'cas.pem'), issuing.certPem + f.ca.certPem);
    // The server trusts the root only: without the intermediate the client is refused.
    for (const route of ['unpack', 'openssl'] as const) {
      const dir = join(f.dir, `pfx-${route}`);
      mkdirSync(dir);
      const pfx = join(dir, 'client.pfx');
      const made = run(
        'openssl',
        [
          'pkcs12',
          '-export',
          '-inkey',
          leaf.keyPath,
          '-in',
          leaf.certPath,
          '-certfile',
          join(f.dir, 'cas.pem'),
          '-out',
          pfx,
          '-passout',
          'env:MTLS_PFX_PASSWORD',
        ],
        { env: { MTLS_PFX_PASSWORD: PASSWORD } },
      );
      assert.equal(made.code, 0, made.stderr);
      const options: SnippetOptions = {
        lang: 'python',
        url: `${f.tls12.url}/chained`,
        pfxPath: pfx,
        caPath: f.ca.certPath,
      };
      if (route === 'unpack') {
        const r = await runCli(['pfx', 'unpack', pfx, '--out-dir', dir, '--name', 'client'], {
          env: { MTLS_PFX_PASSWORD: PASSWORD },
        });
        assert.equal(r.code, 0, r.stderr);
      } else {
        const commands = generateSnippet(options)
          .code.split('\n')
          .map((l) => l.trim())
          .filter((l) => l.startsWith('openssl '));
        assert.equal(commands.length, 3, commands.join('\n'));
        const r = run('sh', ['-c', commands.join(' && ')], {
          cwd: dir,
          env: { MTLS_PFX_PASSWORD: PASSWORD },
        });
        assert.equal(r.code, 0, r.stderr);
      }
      const out = await runSnippet(f, options, route);
      assert.equal(out.code, 0, `${route}: ${out.stderr}`);
      assert.match(out.stdout, /HTTP status: 200/);
      assert.equal(
        parseEcho(defined(/\{"ok":true.*\}/.exec(out.stdout), 'the echoed request')[0]).client,
        'chained-client',
        route,
      );
    }
  } finally {
    await f.cleanup();
  }
});

const hasTool = (tool: string): boolean =>
  spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

test(
  'the go snippet passes gofmt (syntax check)',
  {
    skip: hasTool('gofmt') ? false : 'no Go toolchain on this machine: the go snippet is untested',
  },
  () => {
    const s = generateSnippet({
      lang: 'go',
      url: 'https://api.example.com/',
      certPath: 'c.pem',
      keyPath: 'k.pem',
      caPath: 'ca.pem',
      body: '{}',
    });
    const r = spawnSync('gofmt', ['-e'], { input: s.code, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  },
);

test(
  'the csharp snippet builds (syntax check)',
  {
    skip: hasTool('dotnet') ? false : 'no .NET SDK on this machine: the csharp snippet is untested',
  },
  () => {
    const { dir, cleanup } = tempDir('mtlskit-cs-');
    try {
      assert.equal(
        spawnSync('dotnet', ['new', 'console', '-o', dir, '--force'], { encoding: 'utf8' }).status,
        0,
      );
      writeFileSync(
        join(dir, 'Program.cs'),
        generateSnippet({
          lang: 'csharp',
          url: 'https://api.example.com/',
          pfxPath: 'c.pfx',
          caPath: 'ca.pem',
          body: '{}',
        }).code,
      );
      const r = spawnSync('dotnet', ['build', dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout);
    } finally {
      cleanup();
    }
  },
);

test('mtls snippet (CLI): --out writes the file once, --json describes it', async () => {
  const { dir, cleanup } = tempDir('mtlskit-snippet-cli-');
  try {
    const out = join(dir, 'call.sh');
    const args = [
      'snippet',
      '--lang',
      'curl',
      'https://api.example.com/v1/ping',
      '--pfx',
      'client.pfx',
      '--ca-file',
      'ca.pem',
      '--out',
      out,
    ];
    const first = await runCli(args);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /wrote .*call\.sh; run: MTLS_PFX_PASSWORD=… sh .*call\.sh/);
    assert.equal(statSync(out).mode & 0o777, 0o755);
    assert.match(readFileSync(out, 'utf8'), /--tlsv1\.2 \\\n {2}--tls-max 1\.2/);
    const again = await runCli(args);
    assert.equal(again.code, 5);
    assert.match(again.stderr, /error\[MTLS_FILE_EXISTS\]/);
    const json = await runCli([
      'snippet',
      '--lang',
      'java',
      'https://api.example.com/',
      '--pfx',
      'c.pfx',
      '--json',
    ]);
    const parsed = JSON.parse(json.stdout) as { filename: string; code: string; notes: string[] };
    assert.equal(parsed.filename, 'MtlsCall.java');
    assert.match(parsed.code, /KeyStore\.getInstance\("PKCS12"\)/);
    const data = await runCli(
      ['snippet', '--lang', 'curl', 'https://api.example.com/', '-d', 'a=1', '-d', '@-'],
      { input: 'b=2' },
    );
    assert.equal(data.code, 0, data.stderr);
    assert.match(
      data.stdout,
      /--data-binary 'a=1&b=2'/,
      '-d repeats and joins with &, @- reads stdin, as in mtls request',
    );
    const bad = await runCli(['snippet', '--lang', 'cobol', 'https://api.example.com/']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /error\[MTLS_BAD_ARGUMENT\]: unknown language "cobol"/);
  } finally {
    cleanup();
  }
});
