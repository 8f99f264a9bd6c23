import { randomBytes } from 'node:crypto';
import type { ScopeGrant } from './scopes';
import { grantFromScope } from './scopes';

/** The result of looking up an access token. */
export type TokenState = 'valid' | 'expired' | 'unknown';

interface IssuedToken {
  readonly expiresAt: number;
  readonly grant: ScopeGrant;
}

/** Opaque access tokens with an expiry and the scopes they were granted, held in memory. */
export class TokenStore {
  private readonly tokens = new Map<string, IssuedToken>();

  constructor(private readonly now: () => number) {}

  /** `scope` is what was granted; undefined grants full access. */
  issue(ttlSeconds: number, scope?: string): string {
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(token, { expiresAt: this.now() + ttlSeconds * 1000, grant: grantFromScope(scope) });
    return token;
  }

  check(token: string): TokenState {
    return this.lookup(token).state;
  }

  /** The token's state and, when valid, what it may do. */
  lookup(token: string): { state: TokenState; grant?: ScopeGrant } {
    const issued = this.tokens.get(token);
    if (issued === undefined) {
      return { state: 'unknown' };
    }
    if (issued.expiresAt <= this.now()) {
      this.tokens.delete(token);
      return { state: 'expired' };
    }
    return { state: 'valid', grant: issued.grant };
  }
}
