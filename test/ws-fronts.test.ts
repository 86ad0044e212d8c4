// Pub/sub across fronts: with --fronts 2 the kernel spreads connections over two front threads,
// each holding some of a topic's subscribers; a publish (from a socket, or from an HTTP request
// of the app) reaches every subscriber whichever front holds it: the worker sends it to each.
import { expect } from 'chai';
import { resolve } from 'node:path';
import { request } from 'undici';
import { startHost, type TestHost } from './helpers/host.js';
import { OpenClients, startsWith } from './helpers/ws.js';

const CHAT = resolve('test/fixtures/ws/chat.mjs');

describe('websockets: two fronts', function () {
  this.timeout(30_000);
  let h: TestHost;
  const open = new OpenClients();

  before(async () => {
    h = await startHost([{ serverName: ['*'], listen: '127.0.0.1:0', apps: [{ url: '/chat', module: CHAT, pool: { threads: 2 } }] }], {
      fronts: 2,
    });
  });
  after(async () => {
    open.terminateAll();
    await h?.close();
  });

  it('a publish reaches subscribers on both fronts and both workers', async () => {
    // Open sockets until both fronts hold some (the kernel picks the front per connection).
    let perFront: number[] = [];
    for (let i = 0; i < 40 && !(perFront.length === 2 && perFront.every((n) => n > 0)); i++) {
      const c = await open.connect(`ws://127.0.0.1:${h.port}/chat/room?user=c${i}`);
      await c.next(startsWith('{"hello"'));
      perFront = (await h.host.status()).fronts.map((f) => (f as { websockets: number }).websockets);
    }
    expect(perFront, 'sockets on both fronts').to.have.length(2);
    expect(perFront.every((n) => n > 0)).to.equal(true);
    const threads = new Set(open.list.map((c) => (JSON.parse(c.messages[0] as string) as { thread: number }).thread));
    expect(threads.size, 'and on both workers').to.equal(2);
    open.list[0].send('pub across fronts');
    for (const c of open.list.slice(1)) expect(await c.next(startsWith('c0:'))).to.equal('c0: across fronts');
    const res = await request(`http://127.0.0.1:${h.port}/chat/broadcast?topic=room&text=to-everyone`);
    await res.body.text();
    for (const c of open.list) expect(await c.next((m) => m === 'to-everyone')).to.equal('to-everyone');
  });
});
