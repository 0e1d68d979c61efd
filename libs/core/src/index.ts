export { NestingTooDeepError } from './json/nesting-too-deep.error';
export { MAX_JSON_DEPTH, nestsDeeperThan } from './json/json-depth';
export { portableColumnTypes } from './persistence/column-types';
export { isUniqueViolation } from './persistence/unique-violation';
export { bigintColumn } from './persistence/bigint-column';
export { LruMap } from './cache/lru-map';
export type { KeysetCursor } from './pagination/keyset-cursor';
export {
  decodeKeysetCursor,
  encodeKeysetCursor,
  INVALID_CURSOR_MESSAGE,
} from './pagination/keyset-cursor';
export { Clock, systemClock } from './clock';
export { errorMessage } from './error-message';
export type { BatchedWriterOptions } from './batched-writer';
export { BatchedWriter } from './batched-writer';
