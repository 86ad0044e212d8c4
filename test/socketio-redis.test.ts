// socket.io across machines, the docs' recipe (docs/deploy.md, "socket.io across threads and
// machines"): two hostd hosts run an app that uses @socket.io/redis-adapter against one
// redis-server (started here, loopback, ephemeral port). A broadcast from a client of either host
// reaches the clients of both, and fetchSockets counts them all: hostd's own adapter links only the
// workers of one pool, so nothing but Redis joins the two hosts.
import { expect } from 'chai';
import { resolve } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { startHost, type TestHost } from './helpers/host.js';
import { ioEvent, ioGreeting, startRedis, type TestRedis, waitFor } from './helpers/index.js';

const APP = resolve('test/fixtures/socketio/redis-chat.mjs');

describe('socket.io across hosts: the Redis adapter recipe', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  const hosts: TestHost[] = [];
  const clients: Socket[] = [];

  before(async () => {
    redis = await startRedis();
    for (const site of ['one', 'two']) {
      hosts.push(
        await startHost([
          { serverName: ['*'], apps: [{ url: '/', module: APP, pool: { threads: 1, env: { REDIS_URL: redis.url, SITE: site } } }] },
        ]),
      );
    }
  });
  after(async () => {
    for (const s of clients) s.close();
    await Promise.all(hosts.map((h) => h.close()));
    await redis?.stop();
  });

  async function connect(h: TestHost): Promise<{ s: Socket; site: string }> {
    const s = io(`http://127.0.0.1:${h.port}`, { reconnection: false });
    clients.push(s);
    const hello = await ioGreeting<{ site: string }>(s);
    return { s, site: hello.site };
  }

  it('a broadcast from a client of either host reaches the clients of both; fetchSockets counts all', async () => {
    const all = [await connect(hosts[0]), await connect(hosts[0]), await connect(hosts[1]), await connect(hosts[1])];
    expect(all.map((c) => c.site)).to.deep.equal(['one', 'one', 'two', 'two']);
    for (const sender of [all[0], all[2]]) {
      const text = `from ${sender.site}`;
      const heard = all.map((c) => ioEvent<{ text: string; from: string }>(c.s, 'shouted', (m) => m.text === text));
      sender.s.emit('shout', text);
      expect((await Promise.all(heard)).map((m) => m.from)).to.deep.equal([sender.site, sender.site, sender.site, sender.site]);
    }
    const ids = all.map((c) => c.s.id!).sort();
    await waitFor(async () => ((await all[3].s.timeout(20_000).emitWithAck('count')) as { ids: string[] }).ids.join() === ids.join(), {
      what: 'fetchSockets on host two to count the clients of both hosts',
    });
  });
});
