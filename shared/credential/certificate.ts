import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';
import { CertificateClient } from '@azure/keyvault-certificates';
import { SecretClient } from '@azure/keyvault-secrets';
import forge from 'node-forge';
import { assertionExpired, type ClientCredential, type CurrentClientAuth, type TokenRequestContext } from './base';
import { type BudgetSource, describeCause, inSpan, SpanNames, type SyncError } from '../core';
import { type CertificateUnusableReason, createCredentialError, CredentialErrorCodes } from './errors';
import { keyVaultClientOptions, mapKeyVaultError } from './key-vault';

/**
 * GRAPH_CREDENTIAL=certificate: a Key Vault certificate. Its public part (`cer`) gives the SHA-256
 * thumbprint msal-node puts in the assertion's `x5t#S256` header (Key Vault's own `x5t` is SHA-1,
 * deprecated for this); the private key is only in the secret of the same name, as a PFX
 * (application/x-pkcs12, no password) or PEM (application/x-pem-file), and only when the key is
 * exportable. msal-node then signs the client assertion PS256 and sends `x5c` (subject name +
 * issuer authentication).
 *
 * Read once and cached; once per run the certificate's latest version is looked up (one small
 * GET), and a new version (a rotation) is read whole. A refused assertion reads it again, once.
 * node-forge reads the PFX: Node's crypto can use a PFX for TLS but cannot take one apart.
 */

export interface CertificateCredentialOptions {
  budgets?: BudgetSource;
  vaultUrlSetting?: string;
  nameSetting?: string;
  /** Default Date.now (expiry checks). */
  now?: () => number;
}

/** AADSTS codes of a refused certificate assertion. */
export const CertificateRejectionCodes = { signature: '700027', expired: '700024' } as const;

export interface CertificateMaterial {
  readonly version: string;
  readonly thumbprintSha256: string;
  /** As the Azure portal shows it (SHA-1, upper-case hex). */
  readonly thumbprintSha1: string;
  /** PKCS#8 PEM. */
  readonly privateKey: string;
  /** The certificate chain, PEM, leaf first. */
  readonly x5c: string;
  readonly notAfter: Date;
}

/** GRAPH_CREDENTIAL=certificate: the Key Vault certificate `name` (its public part and its exportable private key), as a ClientCredential. */
export function createCertificateCredential(
  vaultUrl: string,
  name: string,
  credential: TokenCredential,
  options: CertificateCredentialOptions = {},
): ClientCredential {
  const vaultSetting = options.vaultUrlSetting ?? 'KEY_VAULT_URL';
  const nameSetting = options.nameSetting ?? 'GRAPH_CERTIFICATE_NAME';
  const clientOptions = keyVaultClientOptions(vaultUrl, vaultSetting, options.budgets);
  const vault: CertificateVault = {
    certificates: new CertificateClient(vaultUrl, credential, clientOptions),
    secrets: new SecretClient(vaultUrl, credential, clientOptions),
    object: { vaultUrl, kind: 'certificate', name, vaultSetting, nameSetting },
    now: options.now ?? Date.now,
  };

  let cached: CertificateMaterial | undefined;
  let checkVersion = true;
  let reads = 0;

  return {
    mode: 'certificate',
    async current(): Promise<CurrentClientAuth> {
      if (cached !== undefined && checkVersion) {
        checkVersion = false;
        // One small GET per run: a newer version (a rotation) is read whole.
        const found = await latestVersion(vault);
        if (found.version !== cached.version) cached = undefined;
      }
      if (cached === undefined) {
        reads++;
        cached = await readMaterial(vault);
        checkVersion = false;
      }
      return {
        key: `${cached.version}:${cached.thumbprintSha256}`,
        auth: { clientCertificate: { thumbprintSha256: cached.thumbprintSha256, privateKey: cached.privateKey, x5c: cached.x5c } },
      };
    },
    startRun(): void {
      checkVersion = true;
    },
    isRejection: (aadsts) => aadsts === CertificateRejectionCodes.signature || aadsts === CertificateRejectionCodes.expired,
    invalidate(): void {
      cached = undefined;
    },
    rejected: (aadsts, cause, context) => certificateRejected(aadsts, cause, context, name, cached),
    get reads(): number {
      return reads;
    },
  };
}

/** The Key Vault clients of one certificate, and what its messages name. */
interface CertificateVault {
  readonly certificates: CertificateClient;
  readonly secrets: SecretClient;
  readonly object: { vaultUrl: string; kind: 'certificate'; name: string; vaultSetting: string; nameSetting: string };
  readonly now: () => number;
}

interface LatestVersion {
  version: string;
  cer: Uint8Array;
  enabled: boolean;
  expiresOn: Date | undefined;
  notBefore: Date | undefined;
}

/** The certificate's latest version (one small GET): its public part and whether it can be used now. */
async function latestVersion({ certificates, object }: CertificateVault): Promise<LatestVersion> {
  const { name, vaultUrl } = object;
  try {
    const certificate = await inSpan(SpanNames.keyVaultCertificate, {}, () => certificates.getCertificate(name));
    const version = certificate.properties.version;
    if (version === undefined || certificate.cer === undefined)
      throw createCredentialError(CredentialErrorCodes.certificateUnusable, { problem: 'noIssuedVersion', vaultUrl, name });
    return {
      version,
      cer: certificate.cer,
      enabled: certificate.properties.enabled !== false,
      expiresOn: certificate.properties.expiresOn,
      notBefore: certificate.properties.notBefore,
    };
  } catch (error) {
    throw mapKeyVaultError(error, object);
  }
}

/** The latest version whole: checked usable, its private key from the secret of the same name, matched to the certificate. */
async function readMaterial(vault: CertificateVault): Promise<CertificateMaterial> {
  const { secrets, object, now } = vault;
  const unusable = (why: CertificateUnusableReason): SyncError => certificateUnusable(object, why);
  const found = await latestVersion(vault);
  if (!found.enabled) throw unusable({ reason: 'disabled', version: found.version });
  if (found.expiresOn !== undefined && found.expiresOn.getTime() <= now()) throw unusable({ reason: 'expired', expiresOn: found.expiresOn });
  if (found.notBefore !== undefined && found.notBefore.getTime() > now() + 300_000) throw unusable({ reason: 'notYetValid', notBefore: found.notBefore });
  let secret: { value?: string; contentType?: string };
  try {
    secret = await inSpan(SpanNames.keyVaultSecret, {}, () => secrets.getSecret(object.name, { version: found.version }));
  } catch (error) {
    throw mapKeyVaultError(error, object);
  }
  const { privateKey, chain } = privateKeyAndChain(secret.value ?? '', secret.contentType);
  if (privateKey === undefined) throw unusable({ reason: 'notExportable' });
  return material(found, privateKey, chain, unusable);
}

/** Thumbprints and the x5c chain (leaf first) of a version whose private key belongs to it. */
function material(found: LatestVersion, privateKey: string, chain: string[], unusable: (why: CertificateUnusableReason) => SyncError): CertificateMaterial {
  const der = Buffer.from(found.cer);
  const leaf = new X509Certificate(der);
  if (!leaf.checkPrivateKey(createPrivateKey(privateKey))) throw unusable({ reason: 'keyMismatch', version: found.version });
  const leafPem = leaf.toString();
  const rest = chain.filter((pem) => new X509Certificate(pem).fingerprint256 !== leaf.fingerprint256);
  return {
    version: found.version,
    thumbprintSha256: createHash('sha256').update(der).digest('hex'),
    thumbprintSha1: createHash('sha1').update(der).digest('hex').toUpperCase(),
    privateKey,
    x5c: [leafPem, ...rest].join(''),
    notAfter: new Date(leaf.validTo),
  };
}

function certificateUnusable(object: CertificateVault['object'], why: CertificateUnusableReason): SyncError {
  const { name, vaultUrl, nameSetting } = object;
  return createCredentialError(
    CredentialErrorCodes.certificateUnusable,
    { problem: 'notUsable', vaultUrl, name, nameSetting, why },
    { details: { vaultUrl, certificateName: name } },
  );
}

/** What a refusal that persisted after reading the certificate again means: AADSTS700027 (upload the public part) or 700024 (the clock). */
function certificateRejected(
  aadsts: string,
  cause: unknown,
  context: TokenRequestContext,
  name: string,
  cached: CertificateMaterial | undefined,
): SyncError | undefined {
  const details = { aadsts, tenantId: context.tenantId, clientId: context.clientId, certificateName: name };
  if (aadsts === CertificateRejectionCodes.signature) {
    const thumbprints = cached === undefined ? undefined : { sha1: cached.thumbprintSha1, sha256: cached.thumbprintSha256 };
    return createCredentialError(CredentialErrorCodes.certificateRejected, { name, clientId: context.clientId, thumbprints }, { cause, details });
  }
  if (aadsts === CertificateRejectionCodes.expired) return assertionExpired(cause, details);
  return undefined;
}

/** The private key (PKCS#8 PEM) and certificates (PEM) of a certificate's secret, in either content type Key Vault uses. */
export function privateKeyAndChain(value: string, contentType: string | undefined): { privateKey: string | undefined; chain: string[] } {
  if (contentType === 'application/x-pem-file' || value.includes('-----BEGIN')) {
    const keyPem = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC )?PRIVATE KEY-----/.exec(value)?.[0];
    const chain = value.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\r?\n?/g) ?? [];
    return { privateKey: keyPem === undefined ? undefined : pkcs8(keyPem), chain: chain.map((c) => (c.endsWith('\n') ? c : `${c}\n`)) };
  }
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(forge.util.decode64(value)), '');
  } catch (error) {
    throw createCredentialError(CredentialErrorCodes.certificateUnusable, { problem: 'unreadableSecret', contentType, causeText: describeCause(error) });
  }
  const bags = (type: string): forge.pkcs12.Bag[] => p12.getBags({ bagType: type })[type] ?? [];
  const { pkcs8ShroudedKeyBag, keyBag, certBag } = forge.pki.oids as Record<string, string>;
  const key = [...bags(pkcs8ShroudedKeyBag ?? ''), ...bags(keyBag ?? '')].find((bag) => bag.key !== undefined)?.key;
  const certs = bags(certBag ?? '').flatMap((bag) => (bag.cert === undefined ? [] : [forge.pki.certificateToPem(bag.cert)]));
  return { privateKey: key === undefined ? undefined : pkcs8(forge.pki.privateKeyToPem(key)), chain: certs };
}

function pkcs8(pem: string): string {
  return createPrivateKey(pem).export({ type: 'pkcs8', format: 'pem' }).toString();
}
