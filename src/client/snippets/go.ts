/**
 * A Go program (standard library only): crypto/tls with MinVersion =
 * MaxVersion = tls.VersionTLS12 and tls.LoadX509KeyPair. Go's standard
 * library reads PEM only, so a `.pfx` is converted to PEM first.
 */
import {
  banner,
  normaliseRequest,
  pemFromPfxPaths,
  pfxToPemCommands,
  quote,
  shWord,
  type SnippetOptions,
  type SnippetResult,
} from './common.js';

/** Where the decrypted copy of an encrypted key goes: `client.key.pem` → `client.key.plain.pem`. */
function plainKeyPath(keyPath: string): string {
  return /\.pem$/i.test(keyPath)
    ? keyPath.replace(/\.pem$/i, '.plain.pem')
    : `${keyPath}.plain.pem`;
}

/** A Go string literal: characters outside the BMP as `\U` escapes (a surrogate escape does not compile). */
const q = (s: string): string => quote(s, 'U8');

/** Generates the Go program. */
export function goSnippet(options: SnippetOptions): SnippetResult {
  const r = normaliseRequest(options);
  const c = r.credentials;
  const notes: string[] = [];
  const head = [
    `// ${banner('go', r.url)}`,
    '// Go 1.18 or later; run with: go run main.go',
    '// TLS 1.2 only (MinVersion = MaxVersion = tls.VersionTLS12), as the provider requires.',
  ];
  let certPath: string | undefined;
  let keyPath: string | undefined;
  if (c.kind === 'pfx') {
    ({ certPath, keyPath } = pemFromPfxPaths(c.pfxPath));
    head.push(
      "// Go's standard library cannot read a .pfx; make PEM files from it once (the key unencrypted, mode 0600):",
    );
    for (const l of pfxToPemCommands(c.pfxPath, { plainKey: true, passwordEnv: c.passwordEnv }))
      head.push(`//   ${l}`);
    notes.push(
      `Go's standard library reads PEM only: the program uses ${certPath} (the leaf, then its intermediates) and ${keyPath}, made from the .pfx once (commands in the file).`,
    );
  } else if (c.kind === 'pem') {
    certPath = c.certPath;
    keyPath = c.keyPath;
    if (c.passphraseEnv) {
      // LoadX509KeyPair reads unencrypted keys only: the program loads the decrypted copy the comment tells the user to make.
      keyPath = plainKeyPath(c.keyPath);
      head.push(
        '// tls.LoadX509KeyPair reads unencrypted keys only: decrypt the key once (it asks for the passphrase) and keep the copy private:',
        `//   (umask 077 && openssl pkey -in ${shWord(c.keyPath)} -out ${shWord(keyPath)})`,
      );
      notes.push(
        `Go's tls.LoadX509KeyPair cannot read an encrypted key: the program loads ${keyPath}, a decrypted copy made once with openssl pkey (commands in the file); keep it mode 0600.`,
      );
    }
  }
  if (certPath)
    head.push(
      `// ${certPath} must hold the client certificate first, then any intermediate CA certificates: Go sends them all.`,
    );
  const body: string[] = [];
  if (certPath && keyPath) {
    body.push(
      `\tcert, err := tls.LoadX509KeyPair(${q(certPath)}, ${q(keyPath)})`,
      '\tif err != nil {',
      '\t\tfmt.Fprintln(os.Stderr, "cannot load the client certificate:", err)',
      '\t\tos.Exit(2)',
      '\t}',
    );
  }
  // Aligned the way gofmt aligns consecutive key-value lines.
  const fields: Array<[string, string]> = [
    ['MinVersion', 'tls.VersionTLS12'],
    ['MaxVersion', 'tls.VersionTLS12'],
  ];
  if (certPath) fields.push(['Certificates', '[]tls.Certificate{cert}']);
  const width = Math.max(...fields.map(([k]) => k.length)) + 2;
  body.push(
    '\tconfig := &tls.Config{',
    ...fields.map(([k, v]) => `\t\t${`${k}:`.padEnd(width)}${v},`),
    '\t}',
  );
  if (r.caPath) {
    body.push(
      `\tcaPEM, err := os.ReadFile(${q(r.caPath)})`,
      '\tif err != nil {',
      '\t\tfmt.Fprintln(os.Stderr, "cannot read the CA file:", err)',
      '\t\tos.Exit(2)',
      '\t}',
      '\tconfig.RootCAs = x509.NewCertPool()',
      '\tif !config.RootCAs.AppendCertsFromPEM(caPEM) {',
      '\t\tfmt.Fprintln(os.Stderr, "no certificate in the CA file")',
      '\t\tos.Exit(2)',
      '\t}',
    );
  }
  body.push(
    '\tclient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: config}}',
    `\trequest, err := http.NewRequest(${q(r.method)}, ${q(r.url)}, ${r.body !== undefined ? `strings.NewReader(${q(r.body)})` : 'nil'})`,
    '\tif err != nil {',
    '\t\tfmt.Fprintln(os.Stderr, err)',
    '\t\tos.Exit(2)',
    '\t}',
    ...r.headers.map(([k, v]) => `\trequest.Header.Add(${q(k)}, ${q(v)})`),
    '\tresponse, err := client.Do(request)',
    '\tif err != nil {',
    '\t\tfmt.Fprintln(os.Stderr, "mTLS call failed:", err)',
    '\t\tos.Exit(1)',
    '\t}',
    '\tdefer response.Body.Close()',
    '\tdata, err := io.ReadAll(response.Body)',
    '\tif err != nil {',
    '\t\tfmt.Fprintln(os.Stderr, "reading the response failed:", err)',
    '\t\tos.Exit(1)',
    '\t}',
    '\tfmt.Printf("HTTP status: %d\\n%s\\n", response.StatusCode, data)',
    '\tif response.StatusCode >= 400 {',
    '\t\tos.Exit(1)',
    '\t}',
  );
  const imports = [
    '"crypto/tls"',
    ...(r.caPath ? ['"crypto/x509"'] : []),
    '"fmt"',
    '"io"',
    '"net/http"',
    '"os"',
    ...(r.body !== undefined ? ['"strings"'] : []),
    '"time"',
  ];
  const code = [
    ...head,
    'package main',
    '',
    'import (',
    ...imports.map((i) => `\t${i}`),
    ')',
    '',
    'func main() {',
    ...body,
    '}',
    '',
  ].join('\n');
  return { lang: 'go', filename: 'main.go', code, run: 'go run main.go', notes };
}
