export { NestingTooDeepError } from './json/nesting-too-deep.error';
export { MAX_JSON_DEPTH, nestsDeeperThan } from './json/json-depth';
export { portableColumnTypes } from './persistence/column-types';
export { isUniqueViolation } from './persistence/unique-violation';
export { bigintColumn } from './persistence/bigint-column';
export { LruMap } from './cache/lru-map';
