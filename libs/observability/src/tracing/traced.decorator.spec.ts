import { Controller, Get, Injectable } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';

import { Traced } from './traced.decorator';
import { TracingService } from './tracing.service';

@Injectable()
class Greeter {
  constructor(private readonly greeting = 'Hello') {}

  @Traced()
  greet(name: string): string {
    return `${this.greeting}, ${name}`;
  }

  @Traced('greeter.fetch', { attributes: { 'greeter.source': 'test' }, kind: SpanKind.CLIENT })
  async fetchGreeting(name: string): Promise<string> {
    await Promise.resolve();
    return this.greet(name);
  }

  @Traced()
  fail(): never {
    throw new Error('sync boom');
  }

  @Traced()
  async failLater(): Promise<never> {
    await Promise.resolve();
    throw new Error('async boom');
  }

  @Traced()
  static create(): Greeter {
    return new Greeter();
  }
}

@Controller('greetings')
class GreetingsController {
  @Traced()
  @Get(':name')
  greet(): string {
    return 'hi';
  }
}

describe('@Traced and TracingService', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const finished = () => exporter.getFinishedSpans();

  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
  });

  afterEach(() => exporter.reset());

  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });

  it('names the span Class.method and keeps this, arguments and the return value', () => {
    expect(new Greeter('Hi').greet('Ada')).toBe('Hi, Ada');

    expect(finished().map((span) => span.name)).toEqual(['Greeter.greet']);
    expect(finished()[0].kind).toBe(SpanKind.INTERNAL);
  });

  it('takes a custom name, attributes and kind, and ends async spans when they settle', async () => {
    const greeting = new Greeter().fetchGreeting('Grace');
    expect(finished()).toHaveLength(0);

    await expect(greeting).resolves.toBe('Hello, Grace');
    const span = finished().find((s) => s.name === 'greeter.fetch')!;
    expect(span.attributes).toEqual({ 'greeter.source': 'test' });
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('nests the spans of nested calls', async () => {
    await new Greeter().fetchGreeting('Linus');

    const [inner, outer] = finished();
    expect(outer.name).toBe('greeter.fetch');
    expect(inner.name).toBe('Greeter.greet');
    expect(inner.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    expect(inner.spanContext().traceId).toBe(outer.spanContext().traceId);
  });

  it('records a synchronous throw, sets status ERROR and rethrows', () => {
    expect(() => new Greeter().fail()).toThrow('sync boom');

    const [span] = finished();
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'sync boom' });
    expect(span.events.map((event) => event.name)).toEqual(['exception']);
    expect(span.events[0].attributes).toMatchObject({ 'exception.message': 'sync boom' });
  });

  it('records a rejection, sets status ERROR and rejects with the same error', async () => {
    await expect(new Greeter().failLater()).rejects.toThrow('async boom');

    const [span] = finished();
    expect(span.name).toBe('Greeter.failLater');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'async boom' });
    expect(span.ended).toBe(true);
  });

  it('names static methods after the class', () => {
    expect(Greeter.create()).toBeInstanceOf(Greeter);
    expect(finished().map((span) => span.name)).toEqual(['Greeter.create']);
  });

  it('keeps the metadata of Nest decorators applied before it', () => {
    const handler = Object.getOwnPropertyDescriptor(GreetingsController.prototype, 'greet')!
      .value as () => string;

    expect(Reflect.getMetadata(PATH_METADATA, handler)).toBe(':name');
    expect(Reflect.getMetadata(METHOD_METADATA, handler)).toBeDefined();
    expect(handler.name).toBe('greet');
    expect(new GreetingsController().greet()).toBe('hi');
    expect(finished().map((span) => span.name)).toEqual(['GreetingsController.greet']);
  });

  describe('TracingService', () => {
    const tracing = new TracingService();

    it('runs a function in a span that reports its ids while active', async () => {
      const ids = await tracing.withSpan(
        'work',
        async (span) => {
          await Promise.resolve();
          return { traceId: tracing.currentTraceId(), spanId: tracing.currentSpanId(), span };
        },
        { 'work.kind': 'test' },
      );

      const [span] = finished();
      expect(span.name).toBe('work');
      expect(span.attributes).toEqual({ 'work.kind': 'test' });
      expect(ids.traceId).toBe(span.spanContext().traceId);
      expect(ids.spanId).toBe(span.spanContext().spanId);
      expect(ids.span.spanContext().spanId).toBe(ids.spanId);
    });

    it('records errors like the decorator', () => {
      expect(() =>
        tracing.withSpan('work', () => {
          throw new Error('nope');
        }),
      ).toThrow('nope');
      expect(finished()[0].status).toEqual({ code: SpanStatusCode.ERROR, message: 'nope' });
    });

    it('reports no ids outside a span', () => {
      expect(tracing.currentTraceId()).toBeUndefined();
      expect(tracing.currentSpanId()).toBeUndefined();
    });
  });
});
