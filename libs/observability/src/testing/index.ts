// @keel/observability/testing: helpers for specs that check what the library exports.
export type { ExportedSpan, OtlpSink } from './otlp-sink';
export { startOtlpSink } from './otlp-sink';
