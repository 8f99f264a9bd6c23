import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { EhrError } from './errors';

/**
 * SMART Backend Services client authentication: a short-lived JWT signed with the
 * client's private key, sent instead of a client secret.
 * @see http://hl7.org/fhir/smart-app-launch/backend-services.html#step-3-access-token
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 */

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** The signing algorithms SMART Backend Services requires servers to support. */
export type AssertionAlgorithm = 'RS384' | 'ES384';

/** SMART caps an assertion's lifetime at five minutes. */
const MAX_LIFETIME_SECONDS = 300;

export interface AssertionSigner {
  /** A fresh signed assertion (new `jti`, new `exp`) for one token request. */
  sign(nowMs: number): Promise<string>;
}

/**
 * Prepares a signer. The PEM is parsed once, here, so a malformed key fails at start-up
 * rather than at the first sync. PKCS#8, PKCS#1 (an "RSA PRIVATE KEY" PEM header) and SEC1
 * (an "EC PRIVATE KEY" PEM header) are all accepted, since key tooling differs between hospitals.
 */
export function createAssertionSigner(options: {
  readonly clientId: string;
  readonly tokenUrl: string;
  readonly privateKeyPem: string;
  readonly keyId: string;
  readonly algorithm?: AssertionAlgorithm;
}): AssertionSigner {
  const key = parsePrivateKey(options.privateKeyPem);
  const alg = options.algorithm ?? defaultAlgorithm(key);
  checkKeyFitsAlgorithm(key, alg);
  return {
    sign: (nowMs) => {
      const now = Math.floor(nowMs / 1000);
      return new SignJWT({})
        .setProtectedHeader({ alg, kid: options.keyId, typ: 'JWT' })
        .setIssuer(options.clientId)
        .setSubject(options.clientId)
        .setAudience(options.tokenUrl)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(now + MAX_LIFETIME_SECONDS)
        .sign(key);
    },
  };
}

function parsePrivateKey(pem: string): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw new EhrError('auth', 'EHR private key is not a readable PEM private key', { cause });
  }
}

function defaultAlgorithm(key: KeyObject): AssertionAlgorithm {
  return key.asymmetricKeyType === 'ec' ? 'ES384' : 'RS384';
}

function checkKeyFitsAlgorithm(key: KeyObject, alg: AssertionAlgorithm): void {
  const type = key.asymmetricKeyType;
  const fits = alg === 'RS384' ? type === 'rsa' : type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1';
  if (!fits) {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    throw new EhrError('auth', `EHR private key (${type}${curve ? ` ${curve}` : ''}) cannot sign ${alg}`);
  }
}
