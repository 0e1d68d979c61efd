export type WeakPasswordReason = 'too_short' | 'too_long' | 'not_a_string';

/** A password was refused before hashing. The message never carries the password. */
export class WeakPasswordError extends Error {
  constructor(
    readonly reason: WeakPasswordReason,
    readonly minLength: number,
    readonly maxLength: number,
  ) {
    super(
      reason === 'not_a_string'
        ? 'Password must be a string'
        : `Password must be ${minLength}-${maxLength} characters long`,
    );
    this.name = new.target.name;
  }
}
