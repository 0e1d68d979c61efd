// The security library's building blocks so far; the module, guards and stores of users,
// tenants and API keys come next (issue 5).
export * from './credentials';
export * from './jwt';
export * from './rate-limit';
export * from './secrets';
export * from './throttling';
