export * from './invalid-ip-allow-list.error';
export * from './ip-allow-list';
export * from './ip-allow-list.guard';
export * from './ip-not-allowed.error';
export * from './ip-restricted.decorator';
export * from './network.constants';
