import type { DestinationStream, Logger, LoggerOptions } from 'pino';
import pino from 'pino';
import pinoPretty from 'pino-pretty';

import type { RequestContextService } from '../context/request-context';
import type { ResolvedObservabilityOptions } from '../interfaces/observability-options.interface';
import { createRedactor } from './redact';

export interface PinoSetup {
  logger: Logger;
  /** Writes out buffered lines (waiting for the file to open, at most 1 s); called on shutdown. */
  flush(): Promise<void>;
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
        runId: context.runId,
        runStep: context.runStep,
        toolCallId: context.toolCallId,
      };
    },
  };
  const destination: DestinationStream & {
    fd?: number;
    flushSync?: () => void;
    once?: (event: 'ready', listener: () => void) => void;
  } =
    logging.format === 'pretty'
      ? pinoPretty({
          colorize: !logging.file,
          destination: logging.file ?? 1,
          sync: false,
          mkdir: true,
        })
      : // Lines gather in 4 KiB writes instead of one write per line (a thread-pool job
        // each); the timer below bounds how long a line can wait on a quiet server.
        pino.destination({ dest: logging.file ?? 1, sync: false, mkdir: true, minLength: 4096 });
  const flushTimer = setInterval(() => {
    try {
      (destination as { flush?: () => void }).flush?.();
    } catch {
      // Not open yet: the next tick will do.
    }
  }, 1_000);
  flushTimer.unref();
  const flush = () =>
    new Promise<void>((resolve) => {
      clearInterval(flushTimer);
      const writeOut = () => {
        try {
          destination.flushSync?.();
        } catch {
          // Destroyed or never opened: nothing more can be written.
        }
        resolve();
      };
      if (destination.fd !== undefined && destination.fd < 0 && destination.once) {
        // A file opens asynchronously; lines written before that wait in the buffer.
        destination.once('ready', writeOut);
        setTimeout(resolve, 1_000).unref();
      } else {
        writeOut();
      }
    });
  return { logger: pino(pinoOptions, destination), flush };
}
