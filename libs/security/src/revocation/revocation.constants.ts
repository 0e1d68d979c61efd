/** The resolved `RevocationOptions` (`ResolvedRevocationOptions`). */
export const REVOCATION_OPTIONS = Symbol('REVOCATION_OPTIONS');
/** The claim of Keel's access tokens that holds the user's token version at issue time. */
export const TOKEN_VERSION_CLAIM = 'ver';
