import type { Sampler } from '@opentelemetry/sdk-trace';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace';

/** The sampler names of the OpenTelemetry specification (`OTEL_TRACES_SAMPLER`). */
export type TracingSamplerType =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

export interface TracingSamplerOptions {
  /** `parentbased_*` follow the caller's `traceparent` decision. @default 'parentbased_always_on' */
  type: TracingSamplerType;
  /** Share of new traces kept by the `*traceidratio` samplers, 0 to 1. @default 1 */
  ratio: number;
}

export interface TracingOptions {
  /** `service.name` of every span. @default 'keel' */
  serviceName: string;
  /** `service.version` of every span. @default the app's package.json version */
  serviceVersion: string;
  /** `deployment.environment.name` of every span. @default 'development' */
  environment: string;
  /**
   * Base URL of an OTLP/HTTP collector, e.g. `http://127.0.0.1:4318`; spans are sent as JSON
   * to `<base>/v1/traces`. Without it tracing is off and costs nothing.
   * @default undefined (tracing off)
   */
  otlpEndpoint?: string;
  /** @default { type: 'parentbased_always_on', ratio: 1 } */
  sampler: TracingSamplerOptions;
}

export function buildSampler({ type, ratio }: TracingSamplerOptions): Sampler {
  if (!(ratio >= 0 && ratio <= 1)) {
    throw new RangeError(`Tracing sampler ratio must be from 0 to 1, got ${ratio}`);
  }
  switch (type) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      throw new RangeError(`Unknown tracing sampler type: ${String(type)}`);
  }
}
