export * from './breaker-state-store';
export * from './memory-breaker-state-store';
export * from './redis-breaker-state-store';
