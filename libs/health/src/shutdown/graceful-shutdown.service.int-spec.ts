import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';

import { Controller, Get, Injectable, Module, Query } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyAdapter } from '@nestjs/platform-fastify';

import { HealthModule } from '../health.module';
import type { ShutdownOptions } from '../interfaces/health-options.interface';
import { StartupOrchestrator } from '../startup';
import type { ShutdownPhase } from './graceful-shutdown.service';
import { GracefulShutdown } from './graceful-shutdown.service';

interface Outcome {
  status?: number;
  headers?: IncomingHttpHeaders;
  body?: string;
  error?: string;
}

/** Tells the test when a slow request is inside the handler, so close() races nothing. */
@Injectable()
class Arrivals {
  private waiters: (() => void)[] = [];

  next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  arrived(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}

@Controller('work')
class WorkController {
  constructor(private readonly arrivals: Arrivals) {}

  @Get('slow')
  async slow(@Query('ms') ms: string): Promise<{ sleptMs: number }> {
    this.arrivals.arrived();
    // Unref'd: a request the shutdown cuts must not keep the test process alive.
    await new Promise((resolve) => setTimeout(resolve, Number(ms)).unref());
    return { sleptMs: Number(ms) };
  }
}

function get(port: number, path: string, agent: Agent | false = false): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on('error', (error: NodeJS.ErrnoException) =>
        resolve({ error: error.code ?? error.message }),
      );
    });
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ error: error.code ?? error.message }),
    );
    req.end();
  });
}

/** Every distinct phase in order, sampled every millisecond and once more on `stop`. */
function recordPhases(shutdown: GracefulShutdown): { phases: ShutdownPhase[]; stop(): void } {
  const phases: ShutdownPhase[] = [shutdown.phase];
  const sample = () => {
    if (phases.at(-1) !== shutdown.phase) phases.push(shutdown.phase);
  };
  const timer = setInterval(sample, 1);
  return {
    phases,
    stop: () => {
      clearInterval(timer);
      sample();
    },
  };
}

/**
 * A real Fastify listener on 127.0.0.1 (port 0): what `app.close()` does to in-flight
 * requests, idle keep-alive connections, new connections and the probes.
 */
describe('GracefulShutdown on a listening Fastify app', () => {
  let app: NestFastifyApplication | undefined;
  let port: number;

  async function boot(shutdown: ShutdownOptions): Promise<NestFastifyApplication> {
    @Module({
      imports: [HealthModule.forRoot({ shutdown })],
      controllers: [WorkController],
      providers: [Arrivals],
    })
    class ShutdownTestModule {}

    app = await NestFactory.create<NestFastifyApplication>(
      ShutdownTestModule,
      new FastifyAdapter(),
      { logger: false },
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.getHttpServer().address() as AddressInfo).port;
    await app.get(StartupOrchestrator).run();
    return app;
  }

  afterEach(async () => {
    // A test that closed its app leaves the phase at `closed`.
    if (app && app.get(GracefulShutdown).phase === 'serving') await app.close();
    app = undefined;
  });

  it('lets the in-flight request finish with Connection: close, then refuses new connections', async () => {
    const nest = await boot({ drainDelayMs: 50, timeoutMs: 5_000 });
    const shutdown = nest.get(GracefulShutdown);

    // An idle keep-alive connection must not hold close() up until its keep-alive timeout.
    const idle = new Agent({ keepAlive: true });
    expect(await get(port, '/health/ready', idle)).toMatchObject({
      status: 200,
      headers: expect.objectContaining({ connection: 'keep-alive' }),
    });
    expect(Object.keys(idle.freeSockets)).toHaveLength(1);

    // Keep-alive too: the `Connection: close` below comes from the server, not the client.
    const busy = new Agent({ keepAlive: true });
    const arrived = nest.get(Arrivals).next();
    const inFlight = get(port, '/work/slow?ms=300', busy);
    await arrived;

    const recorder = recordPhases(shutdown);
    const startedAt = Date.now();
    await nest.close();
    const closeMs = Date.now() - startedAt;
    recorder.stop();

    expect(await inFlight).toMatchObject({
      status: 200,
      headers: expect.objectContaining({ connection: 'close' }),
      body: JSON.stringify({ sleptMs: 300 }),
    });
    expect(recorder.phases).toEqual(['serving', 'draining', 'closing', 'closed']);
    // Bounded by the in-flight request, not by the idle connection's keep-alive.
    expect(closeMs).toBeLessThan(2_000);
    expect(Object.keys(idle.freeSockets)).toHaveLength(0);
    idle.destroy();
    busy.destroy();

    expect(await get(port, '/health/live')).toEqual({ error: 'ECONNREFUSED' });
  });

  it('closes connections that never sent a byte instead of waiting timeoutMs for them', async () => {
    const nest = await boot({ drainDelayMs: 0, timeoutMs: 10_000 });
    const silent = await Promise.all(
      Array.from(
        { length: 3 },
        () =>
          new Promise<Socket>((resolve, reject) => {
            const socket = connect(port, '127.0.0.1', () => resolve(socket));
            socket.on('error', reject);
          }),
      ),
    );
    const closedByServer = silent.map(
      (socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())),
    );
    // The server has accepted them all before close() starts.
    await new Promise((resolve) => setTimeout(resolve, 50));

    const startedAt = Date.now();
    await nest.close();
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    await Promise.all(closedByServer);
  });

  it('serves a request that arrives on a new connection just after the listener closed', async () => {
    // nginx opens a connection and writes its request at once; the bytes may land after the
    // listener closed. That request must be answered, not reset (a reset POST is a 502).
    const nest = await boot({ drainDelayMs: 0, timeoutMs: 10_000 });
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
    });
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 50));

    const closing = nest.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.write('GET /health/live HTTP/1.1\r\nHost: keel\r\n\r\n');
    await closing;
    await ended;
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer.toLowerCase()).toContain('connection: close');
  });

  it('answers readiness 503 and liveness 200, with Connection: close, while draining', async () => {
    const nest = await boot({ drainDelayMs: 300, timeoutMs: 5_000 });
    const closing = nest.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(nest.get(GracefulShutdown).phase).toBe('draining');

    const agent = new Agent({ keepAlive: true });
    const [ready, live] = await Promise.all([
      get(port, '/health/ready', agent),
      get(port, '/health/live', agent),
    ]);
    agent.destroy();
    expect(ready.status).toBe(503);
    expect(ready.headers?.connection).toBe('close');
    expect(JSON.parse(ready.body ?? '')).toMatchObject({
      status: 'error',
      error: { shutdown: { status: 'down', phase: 'draining' } },
      info: { startup: { status: 'up' } },
    });
    expect(live.status).toBe(200);
    expect(live.headers?.connection).toBe('close');

    await closing;
  });

  it('cuts requests still running after timeoutMs', async () => {
    const nest = await boot({ drainDelayMs: 0, timeoutMs: 100 });
    const arrived = nest.get(Arrivals).next();
    const inFlight = get(port, '/work/slow?ms=2000');
    await arrived;

    const startedAt = Date.now();
    await nest.close();
    const closeMs = Date.now() - startedAt;

    const outcome = await inFlight;
    expect(outcome.status).toBeUndefined();
    expect(outcome.error).toEqual(expect.any(String));
    expect(closeMs).toBeGreaterThanOrEqual(90);
    expect(closeMs).toBeLessThan(1_000);
    expect(nest.get(GracefulShutdown).phase).toBe('closed');
  });
});
