import { randomBytes } from 'node:crypto';

/** The result of looking up an access token. */
export type TokenState = 'valid' | 'expired' | 'unknown';

/** Opaque access tokens with an expiry, held in memory. */
export class TokenStore {
  private readonly tokens = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  issue(ttlSeconds: number): string {
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(token, this.now() + ttlSeconds * 1000);
    return token;
  }

  check(token: string): TokenState {
    const expiresAt = this.tokens.get(token);
    if (expiresAt === undefined) {
      return 'unknown';
    }
    if (expiresAt <= this.now()) {
      this.tokens.delete(token);
      return 'expired';
    }
    return 'valid';
  }
}
