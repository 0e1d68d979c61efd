// The baseline: the same Fastify major Keel runs on, with nothing on top. The gap between
// this and Keel is what Nest, validation, the database and our hooks cost per request.
import Fastify from 'fastify';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('bare-fastify: set PORT to a free port\n');
  process.exit(1);
}

const app = Fastify({ logger: false });
app.get('/hello', async () => ({ hello: 'world' }));

// The bench harness kills us with SIGTERM; close cleanly so the port is released at once.
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));

await app.listen({ host: '127.0.0.1', port });
process.stdout.write(`bare-fastify ready on http://127.0.0.1:${port}\n`);
