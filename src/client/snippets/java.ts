/**
 * A single-file Java 11+ program (`java MtlsCall.java`): a PKCS12 KeyStore
 * with KeyManagerFactory, SSLContext.getInstance("TLSv1.2") and
 * java.net.http.HttpClient with SSLParameters protocols {"TLSv1.2"}.
 * PEM credentials are loaded into an in-memory PKCS12 KeyStore.
 */
import {
  banner,
  normaliseRequest,
  quote,
  type SnippetOptions,
  type SnippetResult,
} from './common.js';

const PEM_HELPERS = `
  /** The DER bytes of the first PEM block with this label. */
  static byte[] pemBlock(String pem, String label, String path) {
    String begin = "-----BEGIN " + label + "-----";
    int start = pem.indexOf(begin);
    int end = pem.indexOf("-----END " + label + "-----", start);
    if (start < 0 || end < 0) throw new IllegalArgumentException(path + ": no " + label + " block");
    return Base64.getMimeDecoder().decode(pem.substring(start + begin.length(), end));
  }

  /** Reads a PKCS#8 private key, encrypted (PBES2, as mtlskit and OpenSSL 3 write it) or not. */
  static PrivateKey readPrivateKey(String path, char[] passphrase) throws Exception {
    String pem = Files.readString(Path.of(path));
    PKCS8EncodedKeySpec spec;
    if (pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
      if (passphrase == null) throw new IllegalArgumentException(path + " is encrypted: set the passphrase variable");
      EncryptedPrivateKeyInfo info = new EncryptedPrivateKeyInfo(pemBlock(pem, "ENCRYPTED PRIVATE KEY", path));
      // For PBES2 the JDK names the concrete scheme (e.g. PBEWithHmacSHA256AndAES_256) through the parameters.
      String scheme = "PBES2".equals(info.getAlgName()) ? info.getAlgParameters().toString() : info.getAlgName();
      Cipher cipher = Cipher.getInstance(scheme);
      cipher.init(Cipher.DECRYPT_MODE, SecretKeyFactory.getInstance(scheme).generateSecret(new PBEKeySpec(passphrase)), info.getAlgParameters());
      spec = info.getKeySpec(cipher);
    } else if (pem.contains("-----BEGIN PRIVATE KEY-----")) {
      spec = new PKCS8EncodedKeySpec(pemBlock(pem, "PRIVATE KEY", path));
    } else {
      throw new IllegalArgumentException(path + ": Java reads PKCS#8 keys only; convert with: openssl pkcs8 -topk8 -in " + path + " -out key.pk8.pem");
    }
    for (String algorithm : new String[] {"RSA", "EC", "Ed25519", "RSASSA-PSS"}) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(spec);
      } catch (GeneralSecurityException wrongAlgorithm) {
        // not this algorithm: try the next one
      }
    }
    throw new IllegalArgumentException(path + ": unsupported key algorithm");
  }
`;

/** Headers java.net.http.HttpClient sets itself and refuses from callers. */
const JAVA_RESTRICTED_HEADERS = new Set([
  'connection',
  'content-length',
  'expect',
  'host',
  'upgrade',
]);

/** Generates the Java program. */
export function javaSnippet(options: SnippetOptions): SnippetResult {
  const r = normaliseRequest(options);
  const c = r.credentials;
  const head = [
    `// ${banner('java', r.url)}`,
    '// Java 11 or later; run it as is with: java MtlsCall.java',
    '// TLS 1.2 only: SSLContext "TLSv1.2" and SSLParameters protocols {"TLSv1.2"}, as the provider requires.',
  ];
  const keys: string[] = [];
  const notes: string[] = [];
  if (c.kind === 'pfx') {
    head.push(
      `// The .pfx password comes from the environment variable ${c.passwordEnv}; never write it into the code.`,
    );
    keys.push(
      `    String password = System.getenv(${quote(c.passwordEnv)});`,
      '    if (password == null || password.isEmpty()) {',
      `      System.err.println("Set ${c.passwordEnv} to the .pfx password.");`,
      '      System.exit(2);',
      '    }',
      '    char[] storePassword = password.toCharArray();',
      '    KeyStore keyStore = KeyStore.getInstance("PKCS12");',
      `    try (InputStream in = Files.newInputStream(Path.of(${quote(c.pfxPath)}))) {`,
      '      keyStore.load(in, storePassword);',
      '    }',
    );
    notes.push(
      'Java 8u301+/11.0.12+/17 read the modern AES .pfx; older Java needs the legacy flavour: `mtls pfx convert client.pfx --legacy --out client-legacy.pfx`.',
    );
  } else if (c.kind === 'pem') {
    if (c.passphraseEnv)
      head.push(`// The key's passphrase comes from the environment variable ${c.passphraseEnv}.`);
    keys.push(
      '    // PEM certificate and key, loaded into an in-memory PKCS12 KeyStore.',
      '    List<Certificate> chain;',
      `    try (InputStream in = Files.newInputStream(Path.of(${quote(c.certPath)}))) {`,
      '      chain = new ArrayList<>(CertificateFactory.getInstance("X.509").generateCertificates(in));',
      '    }',
      c.passphraseEnv
        ? `    String passphrase = System.getenv(${quote(c.passphraseEnv)});`
        : '    String passphrase = null;',
      `    PrivateKey key = readPrivateKey(${quote(c.keyPath)}, passphrase == null ? null : passphrase.toCharArray());`,
      '    char[] storePassword = UUID.randomUUID().toString().toCharArray();',
      '    KeyStore keyStore = KeyStore.getInstance("PKCS12");',
      '    keyStore.load(null, null);',
      '    keyStore.setKeyEntry("client", key, storePassword, chain.toArray(new Certificate[0]));',
    );
    notes.push(
      'Java reads PKCS#8 PEM keys ("PRIVATE KEY" or "ENCRYPTED PRIVATE KEY"); a .pfx is the more usual route in Java.',
    );
  }
  const trust: string[] = r.caPath
    ? [
        '    KeyStore trustStore = KeyStore.getInstance("PKCS12");',
        '    trustStore.load(null, null);',
        `    try (InputStream in = Files.newInputStream(Path.of(${quote(r.caPath)}))) {`,
        '      int i = 0;',
        '      for (Certificate ca : CertificateFactory.getInstance("X.509").generateCertificates(in)) trustStore.setCertificateEntry("ca-" + i++, ca);',
        '    }',
        '    TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());',
        '    trust.init(trustStore);',
      ]
    : [
        '    TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());',
        "    trust.init((KeyStore) null); // the JDK's cacerts",
      ];
  const hasKeys = c.kind !== 'none';
  const publisher =
    r.body !== undefined
      ? `HttpRequest.BodyPublishers.ofString(${quote(r.body)})`
      : 'HttpRequest.BodyPublishers.noBody()';
  const code = [
    ...head,
    'import java.io.InputStream;',
    'import java.net.URI;',
    'import java.net.http.HttpClient;',
    'import java.net.http.HttpRequest;',
    'import java.net.http.HttpResponse;',
    'import java.nio.file.Files;',
    'import java.nio.file.Path;',
    'import java.security.*;',
    'import java.security.cert.Certificate;',
    'import java.security.cert.CertificateFactory;',
    'import java.security.spec.PKCS8EncodedKeySpec;',
    'import java.time.Duration;',
    'import java.util.*;',
    'import javax.crypto.Cipher;',
    'import javax.crypto.EncryptedPrivateKeyInfo;',
    'import javax.crypto.SecretKeyFactory;',
    'import javax.crypto.spec.PBEKeySpec;',
    'import javax.net.ssl.*;',
    '',
    'public class MtlsCall {',
    '  public static void main(String[] args) throws Exception {',
    ...keys,
    ...(hasKeys
      ? [
          '    KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());',
          '    keys.init(keyStore, storePassword);',
        ]
      : []),
    ...trust,
    '',
    '    SSLContext ssl = SSLContext.getInstance("TLSv1.2");',
    `    ssl.init(${hasKeys ? 'keys.getKeyManagers()' : 'null'}, trust.getTrustManagers(), null);`,
    '    SSLParameters tls = new SSLParameters();',
    '    tls.setProtocols(new String[] {"TLSv1.2"});',
    '    HttpClient client = HttpClient.newBuilder()',
    '        .sslContext(ssl)',
    '        .sslParameters(tls)',
    '        .version(HttpClient.Version.HTTP_1_1)',
    '        .connectTimeout(Duration.ofSeconds(30))',
    '        .build();',
    `    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(${quote(r.url)}))`,
    '        .timeout(Duration.ofSeconds(30))',
    `        .method(${quote(r.method)}, ${publisher});`,
    ...r.headers
      .filter(([k]) => !JAVA_RESTRICTED_HEADERS.has(k.toLowerCase()))
      .map(([k, v]) => `    request.header(${quote(k)}, ${quote(v)});`),
    '    try {',
    '      HttpResponse<String> response = client.send(request.build(), HttpResponse.BodyHandlers.ofString());',
    '      System.out.println("HTTP status: " + response.statusCode());',
    '      System.out.println(response.body());',
    '      if (response.statusCode() >= 400) System.exit(1);',
    '    } catch (java.io.IOException failure) {',
    '      System.err.println("mTLS call failed: " + failure);',
    '      System.exit(1);',
    '    }',
    '  }',
    ...(c.kind === 'pem' ? PEM_HELPERS.split('\n').slice(0, -1) : []),
    '}',
    '',
  ].join('\n');
  return {
    lang: 'java',
    filename: 'MtlsCall.java',
    code,
    run: c.kind === 'pfx' ? `${c.passwordEnv}=… java MtlsCall.java` : 'java MtlsCall.java',
    notes,
  };
}
