export * from './api-key';
export * from './credentials.constants';
export * from './password-hasher.service';
export * from './weak-password.error';
