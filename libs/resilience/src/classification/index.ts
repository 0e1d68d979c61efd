export * from './classify-error';
export * from './retry-after';
