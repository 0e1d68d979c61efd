/**
 * Why a token was refused.
 * - `malformed`: not a compact JWS, bad encoding, or a claim of the wrong type.
 * - `bad_algorithm`: the header names an algorithm other than the configured one (`none` too).
 * - `unknown_key`: the header names a key id the verifier does not hold.
 * - `bad_signature`: altered, or signed by another key.
 * - `expired`, `not_yet_valid`: `exp` / `nbf` outside the clock tolerance.
 * - `bad_issuer`, `bad_audience`: `iss` / `aud` differ from the configured ones.
 * - `missing_claim`: a required claim (`sub`, `exp`, `iss`, `aud`, the tenant) is absent.
 */
export type InvalidTokenReason =
  | 'malformed'
  | 'bad_algorithm'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_issuer'
  | 'bad_audience'
  | 'missing_claim';

const MESSAGES: Record<InvalidTokenReason, string> = {
  malformed: 'Token is malformed',
  bad_algorithm: 'Token uses an algorithm that is not allowed',
  unknown_key: 'Token names a key that is not known',
  bad_signature: 'Token signature is invalid',
  expired: 'Token has expired',
  not_yet_valid: 'Token is not valid yet',
  bad_issuer: 'Token issuer is not accepted',
  bad_audience: 'Token audience is not accepted',
  missing_claim: 'Token lacks a required claim',
};

/**
 * A token was refused. The message carries the reason and at most a claim name: never the
 * token, its signature or claim values, so it is safe to log and to return to a client.
 */
export class InvalidTokenError extends Error {
  /** The claim at fault, when there is one (`exp`, `nbf`, `iss`, `aud`, `sub`, ...). */
  readonly claim: string | undefined;

  constructor(
    readonly reason: InvalidTokenReason,
    options: { claim?: string } = {},
  ) {
    super(
      options.claim === undefined
        ? MESSAGES[reason]
        : `${MESSAGES[reason]}: claim "${options.claim}"`,
    );
    this.name = new.target.name;
    this.claim = options.claim;
  }
}
