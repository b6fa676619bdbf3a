// Baseline for the benchmarks: a bare Fastify server that only answers 200.
import Fastify from 'fastify';

const app = Fastify();
app.get('/', async () => ({ ok: true }));
app.post('/', async () => 'ok');
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
