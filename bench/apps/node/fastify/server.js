// Fastify 5 as https://fastify.dev/docs/latest/Guides/Getting-Started/ writes it, with the
// bench's two routes. One change from the guide: `logger: false`, as Fastify's own benchmarks
// run it; with the guide's `logger: true` every request writes a log line and the bench would
// measure pino and the log pipe (to the terminal on its own, to hostd's error log in hostd).
import Fastify from 'fastify';
import users from '../users.cjs';

const fastify = Fastify({
  logger: false,
});

fastify.get('/users/:id', async function handler(request, _reply) {
  return users.userFields(request.params.id, request.query.fields);
});

fastify.post('/users', async function handler(request, _reply) {
  return users.created(request.body);
});

// Run the server!
try {
  await fastify.listen({ port: Number(process.env.PORT ?? 3000) });
} catch (err) {
  fastify.log.error(err);
  process.exit(1);
}
