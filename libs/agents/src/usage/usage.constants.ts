/** Injection token of `UsageRecorderOptions`. */
export const USAGE_RECORDER_OPTIONS = Symbol('USAGE_RECORDER_OPTIONS');
