// socket.io across machines, the recipe of docs/deploy.md (examples/deploy/socketio-redis/chat.mjs,
// quoted there verbatim): two hostd hosts run it against one redis-server (started here: loopback,
// an ephemeral port). A message from a client of either host reaches the clients of both, and
// fetchSockets counts them all. hostd's own adapter links only the workers of one pool: nothing
// but Redis joins the two hosts.
import { expect } from 'chai';
import { resolve } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { startHost, type TestHost } from './helpers/host.js';
import { ioEvent, ioGreeting, startRedis, type TestRedis, waitFor } from './helpers/index.js';

const APP = resolve('examples/deploy/socketio-redis/chat.mjs');

describe('socket.io across hosts: the Redis adapter recipe', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  const hosts: TestHost[] = [];
  const clients: Socket[] = [];

  before(async () => {
    redis = await startRedis();
    for (let i = 0; i < 2; i++) {
      hosts.push(
        await startHost([{ serverName: ['*'], apps: [{ url: '/', module: APP, pool: { threads: 1, env: { REDIS_URL: redis.url } } }] }]),
      );
    }
  });
  after(async () => {
    for (const s of clients) s.close();
    await Promise.all(hosts.map((h) => h.close()));
    await redis?.stop();
  });

  async function connect(h: TestHost): Promise<Socket> {
    const s = io(`http://127.0.0.1:${h.port}`, { reconnection: false });
    clients.push(s);
    await ioGreeting(s, 'connect');
    return s;
  }

  it('a message from a client of either host reaches the clients of both; fetchSockets counts all', async () => {
    const all = [await connect(hosts[0]), await connect(hosts[0]), await connect(hosts[1]), await connect(hosts[1])];
    for (const sender of [all[0], all[2]]) {
      const text = `from ${sender.id}`;
      const heard = Promise.all(all.map((c) => ioEvent<string>(c, 'chat', (m) => m === text)));
      sender.emit('chat', text);
      expect(await heard).to.deep.equal([text, text, text, text]);
    }
    for (const asker of [all[1], all[3]])
      await waitFor(async () => (await asker.timeout(20_000).emitWithAck('online')) === 4, {
        what: 'fetchSockets to count the clients of both hosts',
      });
  });
});
