import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/**
 * Self-signed RSA-2048 certificates shaped like the ones Key Vault issues with `issuer: Self`
 * (serial of 16 random bytes, SHA-256 signature, key usage digitalSignature + keyEncipherment
 * (critical), basic constraints CA:false, EKU serverAuth + clientAuth, subject and authority key
 * identifiers), in every form Key Vault hands them out: DER (`cer` of a certificate), PKCS#12
 * (secret value for `application/x-pkcs12`) and PEM (secret value for `application/x-pem-file`).
 * Keys come from node:crypto (fast); node-forge builds the certificate and the PFX.
 */

export interface CertificateOptions {
  /** The subject's CN. Default: "local-stand-in". */
  commonName?: string;
  /** Default: one hour ago (or, with `expired`, one year and one day ago). */
  notBefore?: Date;
  /** Default: one year after now (or, with `expired`, one day ago). */
  notAfter?: Date;
  /** An already-expired certificate: the defaults become now-1y-1d .. now-1d. */
  expired?: boolean;
}

export interface GeneratedCertificate {
  /** "CN=<commonName>", as Key Vault writes a policy's x509_props.subject. */
  subject: string;
  /** The certificate, PEM, "\n" line ends. */
  certificatePem: string;
  /** PKCS#8 ("BEGIN PRIVATE KEY"), PEM, "\n" line ends. */
  privateKeyPem: string;
  /** The certificate, DER (what Key Vault returns base64-encoded as `cer`). */
  der: Buffer;
  /** PKCS#12 with the key and the certificate, empty password, base64: Key Vault's secret value for application/x-pkcs12. */
  pfxBase64: string;
  /** Private key PEM then certificate PEM: Key Vault's secret value for application/x-pem-file. */
  pemBundle: string;
  /** SHA-1 of the DER, upper-case hex without separators (node's X509Certificate.fingerprint without the colons). */
  thumbprintSha1Hex: string;
  /** SHA-256 of the DER, upper-case hex without separators (X509Certificate.fingerprint256 without the colons). */
  thumbprintSha256Hex: string;
  /** SHA-1 of the DER, base64url without padding: a Key Vault certificate's `x5t`. */
  x5tBase64Url: string;
  /** Serial number, lower-case hex. */
  serialNumberHex: string;
  notBefore: Date;
  notAfter: Date;
}

const hour = 60 * 60 * 1000;
const day = 24 * hour;

/** Generates a self-signed RSA-2048 certificate and its key, in all the forms above. */
export function generateCertificate(options: CertificateOptions = {}): GeneratedCertificate {
  const commonName = options.commonName ?? 'local-stand-in';
  const now = Date.now();
  const notBefore = options.notBefore ?? new Date(options.expired === true ? now - 366 * day : now - hour);
  const notAfter = options.notAfter ?? new Date(options.expired === true ? now - day : now + 365 * day);
  if (notAfter.getTime() <= notBefore.getTime())
    throw new Error(`generateCertificate: notAfter (${notAfter.toISOString()}) must be after notBefore (${notBefore.toISOString()})`);

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(privateKeyPem);
  const publicKey = forge.pki.setRsaPublicKey(key.n, key.e);

  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // 16 random bytes, first bit cleared so the DER INTEGER stays positive.
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const name = [{ shortName: 'CN', value: commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
    { name: 'basicConstraints', cA: false },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'authorityKeyIdentifier', keyIdentifier: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());

  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  const certificatePem = pemOf('CERTIFICATE', der);
  const sha1 = createHash('sha1').update(der).digest();
  return {
    subject: `CN=${commonName}`,
    certificatePem,
    privateKeyPem,
    der,
    pfxBase64: pfxOf(key, cert),
    pemBundle: privateKeyPem + certificatePem,
    thumbprintSha1Hex: sha1.toString('hex').toUpperCase(),
    thumbprintSha256Hex: createHash('sha256').update(der).digest('hex').toUpperCase(),
    x5tBase64Url: sha1.toString('base64url'),
    serialNumberHex: cert.serialNumber,
    notBefore,
    notAfter,
  };
}

/** A PKCS#12 holding only the certificate (no key bag), empty password, base64: a non-exportable key's secret value for application/x-pkcs12. */
export function certificateOnlyPfxBase64(certificatePem: string): string {
  return pfxOf(null, forge.pki.certificateFromPem(certificatePem));
}

/** PKCS#12 as Key Vault exports it: empty password, the key shrouded with pbeWithSHAAnd3-KeyTripleDES-CBC, a SHA-1 MAC. */
function pfxOf(key: forge.pki.rsa.PrivateKey | null, cert: forge.pki.Certificate): string {
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, cert, '', { algorithm: '3des', count: 2000 });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary').toString('base64');
}

/** PEM with 64-character lines and "\n" line ends, as Key Vault writes it. */
function pemOf(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
