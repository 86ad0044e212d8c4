// bench/socketio.ts's app: a socket.io server whose clients ask for broadcasts. With
// LOCAL_ADAPTER=1 the app sets an in-memory adapter of its own, which hostd leaves alone: the
// baseline without hostd's pool-wide adapter.
import { createServer } from 'node:http';
import { threadId } from 'node:worker_threads';
import { Server } from 'socket.io';
import { Adapter } from 'socket.io-adapter';

class LocalAdapter extends Adapter {}

const httpServer = createServer((_req, res) => res.end('socket.io emit\n'));
const io = new Server(httpServer, process.env.LOCAL_ADAPTER ? { adapter: LocalAdapter } : {});

io.on('connection', (socket) => {
  socket.on('thread', (ack) => ack(`${process.pid}:${threadId}`)); // thread ids are per process
  // `n` broadcasts of a small JSON payload, in one turn of the worker's event loop.
  socket.on('burst', (n) => {
    for (let i = 0; i < n; i++) io.emit('tick', { i, text: 'a chat line of some forty bytes or so' });
  });
});

httpServer.listen(3000);
