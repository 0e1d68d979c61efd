import type { DestinationStream, Logger, LoggerOptions } from 'pino';
import pino from 'pino';
import pinoPretty from 'pino-pretty';

import type { RequestContextService } from '../context/request-context';
import type { ResolvedObservabilityOptions } from '../interfaces/observability-options.interface';
import { createRedactor } from './redact';

export interface PinoSetup {
  logger: Logger;
  /** Flushes buffered lines; called on shutdown. */
  flush(): void;
}

/**
 * The process's pino logger: JSON lines (or pretty ones in development) written
 * asynchronously, every line carrying the current request's ids, credentials redacted
 * at any depth.
 */
export function createPinoLogger(
  options: ResolvedObservabilityOptions,
  contexts: RequestContextService,
): PinoSetup {
  const { logging } = options;
  const redact = createRedactor(logging.redactKeys);
  const pinoOptions: LoggerOptions = {
    level: logging.level,
    base: { service: options.serviceName, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => redact(object),
    },
    mixin: () => {
      const context = contexts.get();
      if (!context) return {};
      return {
        requestId: context.requestId,
        traceId: context.traceId,
        spanId: context.spanId,
        userId: context.userId,
        apiKeyId: context.apiKeyId,
        tenantId: context.tenantId,
      };
    },
  };
  const destination: DestinationStream & { flushSync?: () => void } =
    logging.format === 'pretty'
      ? pinoPretty({
          colorize: !logging.file,
          destination: logging.file ?? 1,
          sync: false,
          mkdir: true,
        })
      : pino.destination({ dest: logging.file ?? 1, sync: false, mkdir: true });
  return {
    logger: pino(pinoOptions, destination),
    flush: () => {
      try {
        destination.flushSync?.();
      } catch {
        // Nothing buffered yet (sonic-boom throws before its first write is ready).
      }
    },
  };
}
