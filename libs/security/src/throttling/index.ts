export { SlidingWindowThrottlerStorage } from './sliding-window-throttler.storage';
