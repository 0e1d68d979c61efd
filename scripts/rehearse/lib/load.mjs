// Steady load for the rehearsals, through nginx as clients reach Keel: a fixed rate of mixed
// requests (reads, gateway calls, run creation) on keep-alive connections. Every request
// must get its expected answer; anything else (a 5xx, a 429, a reset, a timeout) is a
// failure and is kept with what happened.
//
// Like any HTTP/1.1 client (RFC 9112 section 9.3.1; Node's own docs on `reusedSocket`; the
// OpenAI and Anthropic SDKs retry every connection error), a request whose reused keep-alive
// connection was closed before any byte of an answer came back is sent again once, on
// a new connection: nginx closes idle client connections when it reloads, and a request
// already on its way on one is reset without being read. Run creation carries an
// Idempotency-Key, so such a retry can never make a second run. The rehearsals report how
// many requests were retried; a retry that fails again is a failure.
import { Agent, request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One HTTP exchange with a JSON body; resolves `{ status, json, retried }` or rejects on a
 * network error. A reset of a reused connection before any answer is retried once.
 */
export async function call(agent, baseUrl, method, path, headers, body, timeoutMs = 30_000) {
  try {
    return {
      ...(await exchange(agent, baseUrl, method, path, headers, body, timeoutMs)),
      retried: false,
    };
  } catch (error) {
    if (!error.staleConnection) throw error;
    // On a new connection: the agent's other idle ones may be closing too.
    const answer = await exchange(FRESH, baseUrl, method, path, headers, body, timeoutMs).catch(
      (again) => {
        throw new Error(`${again.message} (on a new connection, after "${error.message}")`);
      },
    );
    return { ...answer, retried: true };
  }
}

/** No keep-alive: every request on a connection of its own. */
const FRESH = new Agent({ keepAlive: false });

function exchange(agent, baseUrl, method, path, headers, body, timeoutMs) {
  const url = new URL(path, baseUrl);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method,
        agent,
        headers: {
          ...headers,
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = text;
          }
          resolve({ status: res.statusCode, json });
        });
        res.on('error', reject);
      },
    );
    let answered = false;
    req.on('response', () => (answered = true));
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', (error) => {
      if (req.reusedSocket && !answered && error.code === 'ECONNRESET')
        error.staleConnection = true;
      error.message += ` [code ${error.code}, reused ${req.reusedSocket}, answered ${answered}]`;
      reject(error);
    });
    req.end(payload);
  });
}

/** The operations of the mix, with their share of the traffic and the answer each expects. */
function operations({ agentId, runIds }) {
  let n = 0;
  return [
    { name: 'list-agents', weight: 35, expect: 200, make: () => ['GET', '/v1/agents?limit=20'] },
    {
      name: 'read-run',
      weight: 15,
      expect: 200,
      make: () =>
        runIds.length === 0
          ? ['GET', `/v1/agents/${agentId}`]
          : ['GET', `/v1/runs/${runIds[Math.floor(Math.random() * runIds.length)]}`],
    },
    {
      name: 'chat-completion',
      weight: 30,
      expect: 200,
      make: () => [
        'POST',
        '/v1/chat/completions',
        { model: 'default', messages: [{ role: 'user', content: `load ${n++}` }] },
      ],
    },
    {
      name: 'create-run',
      weight: 20,
      expect: 202,
      make: () => [
        'POST',
        `/v1/agents/${agentId}/runs`,
        { messages: [{ role: 'user', content: `run ${n}` }] },
        { 'idempotency-key': `rehearsal-${process.pid}-${n++}` },
      ],
    },
  ];
}

/**
 * Starts sending `rate` requests a second to `baseUrl` as `headers` (a signed-in member),
 * spread over the mix. `stop()` stops sending, waits for every answer, and gives the counts.
 */
export function startLoad({ baseUrl, headers, agentId, rate }) {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const runIds = [];
  const ops = operations({ agentId, runIds });
  const total = ops.reduce((sum, op) => sum + op.weight, 0);
  const pick = () => {
    let r = Math.random() * total;
    for (const op of ops) if ((r -= op.weight) < 0) return op;
    return ops[ops.length - 1];
  };
  const stats = { sent: 0, ok: 0, failed: 0, retried: 0, byOperation: {}, failures: [] };
  for (const op of ops) stats.byOperation[op.name] = { sent: 0, ok: 0, failed: 0, retried: 0 };
  const inFlight = new Set();
  const started = Date.now();
  let stopping = false;

  const fail = (op, what) => {
    stats.failed++;
    stats.byOperation[op.name].failed++;
    if (stats.failures.length < 50) {
      stats.failures.push({ at_ms: Date.now() - started, operation: op.name, ...what });
    }
  };
  const send = () => {
    const op = pick();
    const [method, path, body, extraHeaders] = op.make();
    stats.sent++;
    stats.byOperation[op.name].sent++;
    const p = call(agent, baseUrl, method, path, { ...headers, ...extraHeaders }, body)
      .then(({ status, json, retried }) => {
        if (retried) {
          stats.retried++;
          stats.byOperation[op.name].retried++;
        }
        if (status !== op.expect)
          return fail(op, { status, body: JSON.stringify(json)?.slice(0, 300) });
        stats.ok++;
        stats.byOperation[op.name].ok++;
        if (op.name === 'create-run') runIds.push(json.id);
      })
      .catch((error) => fail(op, { error: String(error?.message ?? error) }))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  // A tick every 10 ms sends what the rate owes by then: the rate holds even when a tick is late.
  const loop = (async () => {
    while (!stopping) {
      const owed = Math.floor(((Date.now() - started) / 1000) * rate) - stats.sent;
      for (let i = 0; i < owed; i++) send();
      await sleep(10);
    }
  })();

  return {
    stats,
    runIds,
    async stop() {
      stopping = true;
      await loop;
      const sendingMs = Date.now() - started;
      await Promise.all([...inFlight]);
      agent.destroy();
      return {
        ...stats,
        durationMs: sendingMs,
        ratePerSec: Math.round((stats.sent / sendingMs) * 1000),
      };
    },
  };
}

/**
 * Follows every created run to its end through the API: `lost` lists runs that are gone,
 * ended other than `succeeded`, or not ended within `timeoutMs`.
 */
export async function verifyRuns({ baseUrl, headers, runIds, timeoutMs }) {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const terminal = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);
  const status = new Map();
  const deadline = Date.now() + timeoutMs;
  let pending = [...runIds];
  while (pending.length > 0 && Date.now() < deadline) {
    const next = [];
    for (let i = 0; i < pending.length; i += 16) {
      await Promise.all(
        pending.slice(i, i + 16).map(async (id) => {
          const res = await call(agent, baseUrl, 'GET', `/v1/runs/${id}`, headers).catch((e) => ({
            status: 0,
            json: { error: String(e) },
          }));
          const value = res.status === 200 ? res.json.status : `http ${res.status}`;
          status.set(id, value);
          if (res.status === 200 && !terminal.has(value)) next.push(id);
          if (res.status !== 200 && res.status !== 404) next.push(id);
        }),
      );
    }
    pending = next;
    if (pending.length > 0) await sleep(500);
  }
  agent.destroy();
  const byStatus = {};
  for (const value of status.values()) byStatus[value] = (byStatus[value] ?? 0) + 1;
  const lost = runIds.filter((id) => status.get(id) !== 'succeeded');
  return { created: runIds.length, byStatus, lost: lost.length, lostIds: lost.slice(0, 20) };
}
