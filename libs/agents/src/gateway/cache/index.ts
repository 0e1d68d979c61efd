export * from './cache-key';
export * from './replay-stream';
export * from './response-cache-options';
export * from './response-cache.service';
export { RedisCacheStore } from './redis-cache-store';
