export * from './fake-clock';
export * from './fake-dependency-policy';
