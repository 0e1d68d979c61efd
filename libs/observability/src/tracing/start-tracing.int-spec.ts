import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { trace } from '@opentelemetry/api';

import { startOtlpSink } from '../testing/otlp-sink';
import type { ExportedSpan, OtlpSink } from '../testing/otlp-sink';
import { startTracing } from './start-tracing';
import type { TracingOptions } from './tracing-options';

const options: TracingOptions = {
  serviceName: 'keel-test',
  serviceVersion: '1.2.3',
  environment: 'test',
  sampler: { type: 'parentbased_always_on', ratio: 1 },
};

const SERVER = 2;
const CLIENT = 3;

/**
 * The exporting half runs in a child Node process, as the app's preload does: Jest's module
 * registry bypasses the require hooks that patch http, and its VM cannot run the dynamic
 * `import('http')` the OTLP exporter sends with. The child compiles our TypeScript on load,
 * starts tracing, serves and fetches a few paths, makes one span by hand and shuts down.
 */
const CHILD = `
const fs = require('node:fs');
const ts = require('typescript');
require.extensions['.ts'] = (module, fileName) => {
  const source = fs.readFileSync(fileName, 'utf8');
  const compilerOptions = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 };
  module._compile(ts.transpileModule(source, { compilerOptions, fileName }).outputText, fileName);
};
const { startTracing } = require(process.argv[1]);
const tracing = startTracing(JSON.parse(process.argv[2]));
const http = require('node:http');
const { trace } = require('@opentelemetry/api');
(async () => {
  const received = [];
  const server = http.createServer((request, response) => {
    received.push(request.headers.traceparent);
    response.end('ok');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = 'http://127.0.0.1:' + server.address().port;
  for (const path of ['/health/live', '/metrics', '/work?q=1']) await (await fetch(base + path)).text();
  trace.getTracer('child').startSpan('manual').end();
  server.close();
  await tracing.shutdown();
  process.stdout.write(JSON.stringify(received));
})();
`;

/** Runs the child; resolves with the `traceparent` headers its server received. */
function runTracedChild(otlpEndpoint: string): Promise<string[]> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      CHILD,
      join(__dirname, 'start-tracing.ts'),
      JSON.stringify({ ...options, otlpEndpoint }),
    ],
    // No inherited OTEL_* variables: the options alone configure tracing.
    { cwd: join(__dirname, '../../../..'), env: {}, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(stdout) as string[])
        : reject(new Error(`child exited ${code}: ${stderr}`)),
    ),
  );
}

describe('startTracing', () => {
  it('starts nothing without an endpoint', () => {
    expect(startTracing(options)).toBeUndefined();
    expect(trace.getTracer('spec').startSpan('noop').isRecording()).toBe(false);
  });

  it('shuts down once and leaves the OpenTelemetry API no-op again', async () => {
    const tracing = startTracing({ ...options, otlpEndpoint: 'http://127.0.0.1:9/' })!;
    // Never ended, so nothing is exported: the exporter cannot run under Jest (see CHILD).
    expect(trace.getTracer('spec').startSpan('probe').isRecording()).toBe(true);

    const first = tracing.shutdown();
    expect(tracing.shutdown()).toBe(first);
    await first;
    expect(trace.getTracer('spec').startSpan('after').isRecording()).toBe(false);
  });

  describe('in a process started with an OTLP endpoint', () => {
    let sink: OtlpSink;
    let spans: ExportedSpan[];
    let traceparents: string[];

    beforeAll(async () => {
      sink = await startOtlpSink();
      traceparents = await runTracedChild(sink.url);
      await sink.waitForSpans((span) => span.name === 'manual');
      spans = sink.spans;
    }, 30_000);

    afterAll(() => sink.close());

    it('exports spans over OTLP/HTTP JSON with the service resource', () => {
      const manual = spans.find((span) => span.name === 'manual')!;
      expect(manual.parentSpanId).toBeUndefined();
      expect(manual.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(manual.resource).toMatchObject({
        'service.name': 'keel-test',
        'service.version': '1.2.3',
        'deployment.environment.name': 'test',
      });
    });

    it('leaves server spans to ObservabilityModule (incoming HTTP is not instrumented)', () => {
      expect(spans.filter((span) => span.kind === SERVER)).toEqual([]);
    });

    it('traces fetch calls and propagates the W3C trace context to the server', () => {
      const clients = spans.filter((span) => span.kind === CLIENT);
      expect(clients).toHaveLength(3);
      expect(traceparents).toEqual(
        clients.map((client) => `00-${client.traceId}-${client.spanId}-01`),
      );
    });
  });
});
