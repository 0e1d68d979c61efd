export * from './config.error';
export * from './config.types';
export { ENV_VARIABLE_NAMES } from './env.schema';
export * from './load-config';
