// socket.io across machines: every hostd that runs this app, on any machine, shares io.emit,
// rooms and fetchSockets through one Redis (socket.io's Redis adapter, as its docs set it up).
// Within one hostd a pool's threads are linked already (hostd's own adapter); an adapter the app
// sets, as here, takes its place. npm install socket.io @socket.io/redis-adapter redis; the
// vhost gives the address: pool: { env: { REDIS_URL: redis://10.0.0.5:6379 } }.
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { Server } from 'socket.io';

const pubClient = createClient({ url: process.env.REDIS_URL });
const subClient = pubClient.duplicate();
await Promise.all([pubClient.connect(), subClient.connect()]);

const httpServer = createServer((_req, res) => res.end('chat\n'));
const io = new Server(httpServer);
io.adapter(createAdapter(pubClient, subClient));

io.on('connection', (socket) => {
  socket.on('chat', (text) => io.emit('chat', text)); // every client, whichever hostd holds it
  socket.on('online', async (ack) => ack((await io.fetchSockets()).length));
});

httpServer.listen(3000); // under hostd: served on the mount, no port opened
