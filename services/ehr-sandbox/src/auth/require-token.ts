import type { RequestHandler, Response } from 'express';
import { errorOutcome, HttpError } from '../fhir/outcomes';
import type { AuthOptions } from './options';
import { safeEqual } from './token-endpoint';
import type { TokenStore } from './token-store';
import { FULL_ACCESS, type ScopeGrant } from './scopes';

/**
 * Guards FHIR requests with `Authorization: Bearer`. A missing, unknown or expired token is a
 * 401 OperationOutcome with a `WWW-Authenticate` challenge, so a client knows to (re)fetch one.
 * A valid OAuth token's granted scopes are kept for the request (see {@link grantOf}).
 * @see http://hl7.org/fhir/R4/security.html#http
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function requireToken(options: AuthOptions, tokens: TokenStore): RequestHandler {
  return (req, res, next) => {
    if (options.mode === 'none') {
      next();
      return;
    }
    const token = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
    if (!token) {
      next(unauthorized('Missing bearer token', 'invalid_request'));
      return;
    }
    const { state, grant } =
      options.mode === 'bearer' ? { state: safeEqual(token, options.token) ? 'valid' : 'unknown', grant: undefined } : tokens.lookup(token);
    if (state === 'valid') {
      if (grant) setGrant(res, grant);
      next();
      return;
    }
    next(unauthorized(state === 'expired' ? 'Access token expired' : 'Invalid access token', 'invalid_token'));
  };
}

/** What the request's token may do; full access without OAuth (no token, or a static one). */
export function grantOf(res: Response): ScopeGrant {
  return (res.locals['grant'] as ScopeGrant | undefined) ?? FULL_ACCESS;
}

function setGrant(res: Response, grant: ScopeGrant): void {
  res.locals['grant'] = grant;
}

function unauthorized(text: string, error: string): HttpError {
  return new HttpError(401, errorOutcome('login', text), {
    'WWW-Authenticate': `Bearer realm="ehr-sandbox", error="${error}", error_description="${text}"`,
  });
}
