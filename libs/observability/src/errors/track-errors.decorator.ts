import { Reflector } from '@nestjs/core';

export interface TrackErrorsOptions {
  /** The service, client or queue the errors are reported under, e.g. `payments`. */
  component: string;
  /** @default the method's name */
  operation?: string;
}

/** Read by `TrackErrorsExplorer`; the public face is `TrackErrors`, which requires options. */
export const trackErrorsMetadata = Reflector.createDecorator<TrackErrorsOptions>();

/**
 * Counts the errors a provider method throws or rejects with in the `ErrorAggregator`,
 * then lets them propagate unchanged. Only metadata: `TrackErrorsExplorer` wraps the
 * method when the application starts.
 */
export function TrackErrors(options: TrackErrorsOptions): MethodDecorator {
  return trackErrorsMetadata(options);
}
