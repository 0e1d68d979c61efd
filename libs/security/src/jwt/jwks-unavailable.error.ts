/**
 * The JWKS endpoint could not be read (network error, timeout, non-200, not a JWKS). Not the
 * token's fault: callers answer 503, not 401. The message names the URL, never a token.
 */
export class JwksUnavailableError extends Error {
  constructor(url: string, options?: { cause?: unknown }) {
    super(`JWKS at ${url} could not be fetched`, options);
    this.name = new.target.name;
  }
}
