import type { RequestHandler } from 'express';
import { errorOutcome, HttpError } from '../fhir/outcomes';
import type { AuthOptions } from './options';
import { safeEqual } from './token-endpoint';
import type { TokenStore } from './token-store';

/**
 * Guards FHIR requests with `Authorization: Bearer`. A missing, unknown or expired token is a
 * 401 OperationOutcome with a `WWW-Authenticate` challenge, so a client knows to (re)fetch one.
 * @see http://hl7.org/fhir/R4/security.html#http
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function requireToken(options: AuthOptions, tokens: TokenStore): RequestHandler {
  return (req, _res, next) => {
    if (options.mode === 'none') {
      next();
      return;
    }
    const token = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
    if (!token) {
      next(unauthorized('Missing bearer token', 'invalid_request'));
      return;
    }
    const state = options.mode === 'bearer' ? (safeEqual(token, options.token) ? 'valid' : 'unknown') : tokens.check(token);
    if (state === 'valid') {
      next();
      return;
    }
    next(unauthorized(state === 'expired' ? 'Access token expired' : 'Invalid access token', 'invalid_token'));
  };
}

function unauthorized(text: string, error: string): HttpError {
  return new HttpError(401, errorOutcome('login', text), {
    'WWW-Authenticate': `Bearer realm="ehr-sandbox", error="${error}", error_description="${text}"`,
  });
}
