export * from './decryption.error';
export * from './encryption-options';
export * from './encryption.service';
export * from './invalid-encryption-options.error';
export * from './reencrypt';
