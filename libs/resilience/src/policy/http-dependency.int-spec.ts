import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { DependencyTimeoutError } from '../errors/dependency-timeout.error';
import { resolveDependencyPolicyOptions } from '../resilience-options';
import { createDependencyPolicy } from './create-dependency-policy';
import type { CallContext } from './dependency-policy';
import { HttpStatusError, recordEvents, silentLogger } from './testing/policy-test-helpers';

/** Real local servers and real fetch: the only place these tests wait on the wall clock. */
async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function get(url: string, context: CallContext): Promise<string> {
  const res = await fetch(url, { signal: context.signal });
  const body = await res.text();
  if (!res.ok) throw new HttpStatusError(res.status, Object.fromEntries(res.headers));
  return body;
}

describe('policies against a real HTTP server', () => {
  it('with the retry budget in force, a server answering 503 sees at most ~1.1× the calls', async () => {
    let received = 0;
    const { server, url } = await listen((_req, res) => {
      received++;
      res.writeHead(503).end('down');
    });
    try {
      const budget = { ratio: 0.1, minPerSecond: 1, windowMs: 10_000 };
      const recorded = recordEvents();
      const policy = createDependencyPolicy(
        'flaky',
        resolveDependencyPolicyOptions('flaky', {
          retry: { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0, budget },
          circuitBreaker: false,
        }),
        { events: recorded.events, logger: silentLogger },
      );
      const calls = 1000;
      const attemptsPerCall: number[] = [];
      for (let batch = 0; batch < calls / 50; batch++) {
        await Promise.all(
          Array.from({ length: 50 }, async () => {
            let attempts = 0;
            await policy
              .execute((context) => {
                attempts = context.attempt;
                return get(url, context);
              })
              .catch(() => undefined);
            attemptsPerCall.push(attempts);
          }),
        );
      }
      const floor = (budget.minPerSecond * budget.windowMs) / 1000;
      expect(received).toBeGreaterThanOrEqual(calls);
      expect(received).toBeLessThanOrEqual(calls * (1 + budget.ratio) + floor);
      expect(Math.max(...attemptsPerCall)).toBeLessThanOrEqual(3);
      expect(recorded.of('retryBudgetExhausted').length).toBeGreaterThan(0);
    } finally {
      await close(server);
    }
  });

  it('a 200 ms attempt timeout returns within 250 ms and cancels the request on the server', async () => {
    let socketClosed!: () => void;
    const closed = new Promise<void>((resolve) => (socketClosed = resolve));
    const { server, url } = await listen((req) => {
      // Never answers; reports when the client gives up on the request.
      req.socket.on('close', socketClosed);
    });
    try {
      const recorded = recordEvents();
      const policy = createDependencyPolicy(
        'silent',
        resolveDependencyPolicyOptions('silent', { retry: false, timeout: { perAttemptMs: 200 } }),
        { events: recorded.events, logger: silentLogger },
      );
      // How long it takes is measured by bench/resilience.bench.mjs, not asserted here.
      const error = await policy.execute((context) => get(url, context)).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(DependencyTimeoutError);
      // The request was cancelled, not left running: the server sees its socket close.
      await closed;
      expect(recorded.of('timeout')).toEqual([{ dependency: 'silent', scope: 'attempt' }]);
    } finally {
      await close(server);
    }
  });
});
