/**
 * A C# (.NET 6+) top-level program: HttpClientHandler with an
 * X509Certificate2 client certificate and SslProtocols = Tls12. A custom CA
 * is trusted through X509ChainTrustMode.CustomRootTrust, never by turning
 * validation off.
 */
import {
  banner,
  normaliseRequest,
  quote,
  type SnippetOptions,
  type SnippetResult,
} from './common.js';

/** Generates the C# program. */
export function csharpSnippet(options: SnippetOptions): SnippetResult {
  const r = normaliseRequest(options);
  const c = r.credentials;
  const notes: string[] = [];
  const head = [
    `// ${banner('csharp', r.url)}`,
    '// .NET 6 or later: `dotnet new console -n MtlsCall`, replace Program.cs with this file, `dotnet run`.',
    '// TLS 1.2 only (SslProtocols.Tls12), as the provider requires.',
  ];
  const body: string[] = [];
  if (c.kind === 'pfx') {
    head.push(
      `// The .pfx password comes from the environment variable ${c.passwordEnv}; never write it into the code.`,
    );
    body.push(
      `var password = Environment.GetEnvironmentVariable(${quote(c.passwordEnv)});`,
      'if (string.IsNullOrEmpty(password))',
      '{',
      `    Console.Error.WriteLine("Set ${c.passwordEnv} to the .pfx password.");`,
      '    return 2;',
      '}',
      `var clientCertificate = new X509Certificate2(${quote(c.pfxPath)}, password);`,
    );
  } else if (c.kind === 'pem') {
    if (c.passphraseEnv)
      head.push(`// The key's passphrase comes from the environment variable ${c.passphraseEnv}.`);
    body.push(
      c.passphraseEnv
        ? `var pemCertificate = X509Certificate2.CreateFromEncryptedPemFile(${quote(c.certPath)}, Environment.GetEnvironmentVariable(${quote(c.passphraseEnv)}) ?? "", ${quote(c.keyPath)});`
        : `var pemCertificate = X509Certificate2.CreateFromPemFile(${quote(c.certPath)}, ${quote(c.keyPath)});`,
      '// Windows (SChannel) cannot use a key loaded from PEM directly: round-trip it through PKCS#12.',
      'var clientCertificate = new X509Certificate2(pemCertificate.Export(X509ContentType.Pkcs12));',
    );
  }
  if (c.kind !== 'none') {
    head.push(
      '// Intermediate CAs: .NET sends only the chain it can build from the certificate stores, not the other certificates',
      `// of ${c.kind === 'pfx' ? 'the .pfx' : 'the PEM file'}. If your certificate comes from an intermediate CA, either install that intermediate in the`,
      "// current user's intermediate store (X509Store(StoreName.CertificateAuthority, StoreLocation.CurrentUser)), or, on",
      '// .NET 8 or later, use a SocketsHttpHandler whose SslOptions.ClientCertificateContext is',
      '// SslStreamCertificateContext.Create(clientCertificate, intermediates), with the intermediates in an X509Certificate2Collection.',
    );
    notes.push(
      '.NET does not send the intermediates from the .pfx or PEM file: install them in the CurrentUser intermediate (CA) store, or on .NET 8+ pass them through SslStreamCertificateContext (see the comment in Program.cs).',
    );
  }
  body.push(
    'var handler = new HttpClientHandler',
    '{',
    '    SslProtocols = SslProtocols.Tls12,',
    '    ClientCertificateOptions = ClientCertificateOption.Manual,',
    '};',
  );
  if (c.kind !== 'none') body.push('handler.ClientCertificates.Add(clientCertificate);');
  if (r.caPath) {
    body.push(
      'var trustedCas = new X509Certificate2Collection();',
      `trustedCas.ImportFromPemFile(${quote(r.caPath)});`,
      '// Trust exactly these CAs for the server; the host name is still checked.',
      'handler.ServerCertificateCustomValidationCallback = (message, certificate, chain, errors) =>',
      '{',
      '    if (certificate is null || chain is null) return false;',
      '    if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;',
      '    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;',
      '    chain.ChainPolicy.CustomTrustStore.Clear();',
      '    chain.ChainPolicy.CustomTrustStore.AddRange(trustedCas);',
      '    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;',
      '    return chain.Build(certificate);',
      '};',
    );
  }
  const contentType = r.headers.find(([k]) => k.toLowerCase() === 'content-type')?.[1];
  body.push(
    'using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };',
    `var request = new HttpRequestMessage(new HttpMethod(${quote(r.method)}), ${quote(r.url)});`,
    ...r.headers
      .filter(([k]) => k.toLowerCase() !== 'content-type')
      .map(([k, v]) => `request.Headers.TryAddWithoutValidation(${quote(k)}, ${quote(v)});`),
  );
  if (r.body !== undefined) {
    body.push(`request.Content = new StringContent(${quote(r.body)}, Encoding.UTF8);`);
    if (contentType)
      body.push(
        `request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(${quote(contentType)});`,
      );
  }
  body.push(
    'try',
    '{',
    '    using var response = await client.SendAsync(request);',
    '    Console.WriteLine($"HTTP status: {(int)response.StatusCode}");',
    '    Console.WriteLine(await response.Content.ReadAsStringAsync());',
    '    return (int)response.StatusCode >= 400 ? 1 : 0;',
    '}',
    'catch (HttpRequestException failure)',
    '{',
    '    Console.Error.WriteLine($"mTLS call failed: {failure.Message} {failure.InnerException?.Message}");',
    '    return 1;',
    '}',
  );
  const code = [
    ...head,
    'using System.Net.Http.Headers;',
    'using System.Net.Security;',
    'using System.Security.Authentication;',
    'using System.Security.Cryptography.X509Certificates;',
    'using System.Text;',
    '',
    ...body,
    '',
  ].join('\n');
  notes.push(
    '.NET on Linux and macOS reads the modern AES .pfx; Windows before Server 2019 / Windows 10 1709 needs the legacy flavour (`mtls pfx convert --legacy`).',
  );
  return {
    lang: 'csharp',
    filename: 'Program.cs',
    code,
    run: c.kind === 'pfx' ? `${c.passwordEnv}=… dotnet run` : 'dotnet run',
    notes,
  };
}
