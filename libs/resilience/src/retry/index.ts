export * from './backoff';
export * from './errors/invalid-retry-options.error';
export * from './jitter-backoff';
export * from './retry-budget';
