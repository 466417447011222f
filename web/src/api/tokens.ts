// Tokens from Cognito (the console's hosted sign-in, the portal's one-time code), held in memory
// only: the ID token is sent as the bearer and renewed about two minutes before it expires while
// the refresh token lasts; when renewal fails for good the app is told it is signed out.
import { setBearer, signedOut } from './credentials';

export interface HeldTokens {
  /** What the API wants: `Authorization: Bearer <idToken>` (only ID tokens carry custom:docket_id). */
  idToken: string;
  /** When the ID token expires, in milliseconds since the epoch (as `Date.now()`). */
  expiresAt: number;
}

export class TokenHolder<T extends HeldTokens> {
  private tokens: T | null = null;
  private renewal: number | undefined;

  /** `refresh` trades the held tokens for new ones (null: the refresh token is spent). */
  constructor(private readonly refresh: (tokens: T) => Promise<T | null>) {}

  get current(): T | null {
    return this.tokens;
  }

  use(tokens: T): void {
    this.tokens = tokens;
    setBearer(tokens.idToken);
    window.clearTimeout(this.renewal);
    const wait = Math.max(tokens.expiresAt - Date.now() - 120_000, 10_000);
    this.renewal = window.setTimeout(() => void this.renew(), wait);
  }

  /** Drops the tokens; returns what was held (to revoke it, say). */
  forget(): T | null {
    const had = this.tokens;
    window.clearTimeout(this.renewal);
    this.tokens = null;
    setBearer(null);
    return had;
  }

  private async renew(): Promise<void> {
    const held = this.tokens;
    if (!held) return;
    try {
      const next = await this.refresh(held);
      if (next) return this.use(next);
    } catch {
      // Network trouble: try again shortly while the token still lasts.
      if (held.expiresAt > Date.now()) {
        this.renewal = window.setTimeout(() => void this.renew(), 30_000);
        return;
      }
    }
    this.forget();
    signedOut();
  }
}
