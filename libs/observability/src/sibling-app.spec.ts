import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Controller, Get, Injectable, Logger, Module, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { Logger as PinoNestLogger } from 'nestjs-pino';

import { ObservabilityModule, Traced } from './index';

@Injectable()
class GreetingService {
  private readonly logger = new Logger('GreetingService');

  @Traced('greeting.compose', { attributes: { 'greeting.lang': 'en' } })
  async compose(name: string): Promise<string> {
    await Promise.resolve();
    this.logger.log(`composing for ${name}`);
    return `hello ${name}`;
  }
}

@Controller('hello')
class HelloController {
  constructor(private readonly greetings: GreetingService) {}

  @Get(':name')
  hello(): Promise<string> {
    return this.greetings.compose('world');
  }

  @Get('slow/:ms')
  async slow(@Param('ms') ms: string): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, Number(ms)));
    return 'late';
  }
}

/**
 * A sibling app that imports nothing of Keel but ObservabilityModule: it gets request
 * logs with context, metrics with route templates, and spans, without other code.
 */
describe('a sibling app with only ObservabilityModule', () => {
  const logFile = join(mkdtempSync(join(tmpdir(), 'keel-sibling-')), 'app.log');
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let app: NestFastifyApplication;

  beforeAll(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);

    @Module({
      imports: [
        ObservabilityModule.forRoot({
          serviceName: 'sibling',
          logging: { file: logFile, slowRequestMs: 40 },
        }),
      ],
      controllers: [HelloController],
      providers: [GreetingService],
    })
    class SiblingModule {}

    app = await NestFactory.create<NestFastifyApplication>(SiblingModule, new FastifyAdapter(), {
      bufferLogs: true,
    });
    app.useLogger(app.get(PinoNestLogger));
    app.flushLogs();
    await app.init();
  });
  afterAll(() => {
    trace.disable();
    context.disable();
  });

  it('logs, measures and traces a request', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/hello/alice',
      headers: { traceparent: '00-11112222333344445555666677778888-1111222233334444-01' },
    });
    expect(res.statusCode).toBe(200);
    const requestId = res.headers['x-request-id'];

    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(
      /http_server_request_duration_seconds_count\{method="GET",route="\/hello\/:name",status_code="200"\} 1/,
    );

    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('greeting.compose');
    expect(span?.attributes).toEqual({ 'greeting.lang': 'en' });

    const slow = await app.inject({ method: 'GET', url: '/hello/slow/60' });
    const quick = await app.inject({ method: 'GET', url: '/hello/slow/0' });

    await app.close(); // flushes the asynchronous log destination
    const lines = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const inRequest = lines.filter((l) => l.requestId === requestId);
    expect(inRequest.map((l) => l.msg)).toEqual(['composing for world', 'request completed']);
    for (const line of inRequest) {
      expect(line).toMatchObject({
        service: 'sibling',
        traceId: '11112222333344445555666677778888',
      });
    }
    expect(inRequest[1]).toMatchObject({ route: '/hello/:name', status: 200, method: 'GET' });
    const completion = (id: unknown) => lines.find((l) => l.requestId === id && l.route);
    expect(completion(slow.headers['x-request-id'])).toMatchObject({ level: 'warn', slow: true });
    expect(completion(quick.headers['x-request-id'])).toMatchObject({ level: 'info' });
    expect(completion(quick.headers['x-request-id'])).not.toHaveProperty('slow');
  });
});
