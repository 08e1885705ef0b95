import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';

/** The stand-in Entra ID's signing key: RS256 JWTs, published as a JWKS, verified by Graph and Key Vault. */

export interface AccessTokenClaims {
  aud: string;
  iss: string;
  tid: string;
  appid: string;
  azp: string;
  oid: string;
  sub: string;
  idtyp: 'app';
  ver: '1.0' | '2.0';
  roles?: string[];
}

export interface VerifiedToken extends AccessTokenClaims {
  exp: number;
  iat: number;
  nbf: number;
}

export type VerifyResult = { ok: true; claims: VerifiedToken } | { ok: false; reason: string };

export class SigningKey {
  readonly kid = randomUUID().replace(/-/g, '').slice(0, 27);
  readonly #privateKey: KeyObject;
  readonly publicKey: KeyObject;

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.#privateKey = privateKey;
    this.publicKey = publicKey;
  }

  sign(claims: AccessTokenClaims, lifetimeSeconds: number): string {
    const now = Math.floor(Date.now() / 1000);
    return jwt.sign({ ...claims, iat: now, nbf: now - 300, exp: now + lifetimeSeconds, uti: randomUUID() }, this.#privateKey, {
      algorithm: 'RS256',
      keyid: this.kid,
      header: { alg: 'RS256', typ: 'JWT', kid: this.kid },
    });
  }

  /** Signature, expiry, audience (any of `audiences`) and issuer, as a resource server checks them. */
  verify(token: string, audiences: readonly string[], issuer: string): VerifyResult {
    try {
      const claims = jwt.verify(token, this.publicKey, { algorithms: ['RS256'], issuer }) as VerifiedToken;
      if (!audiences.includes(claims.aud)) return { ok: false, reason: `Invalid audience '${claims.aud}'` };
      return { ok: true, claims };
    } catch (error) {
      if (error instanceof jwt.TokenExpiredError) return { ok: false, reason: 'Lifetime validation failed, the token is expired.' };
      return { ok: false, reason: `Access token validation failure: ${error instanceof Error ? error.message : String(error)}` };
    }
  }

  jwks(): { keys: object[] } {
    const jwk = this.publicKey.export({ format: 'jwk' });
    return { keys: [{ kty: 'RSA', use: 'sig', kid: this.kid, alg: 'RS256', n: jwk.n, e: jwk.e }] };
  }
}
