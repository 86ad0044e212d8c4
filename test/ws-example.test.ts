// The README's WebSocket example, as `npm start` serves it (examples/sites/example.yaml): two
// clients in the chat room hear each other, whichever of the pool's two workers holds them.
import { expect } from 'chai';
import { resolve } from 'node:path';
import { createHost, type Host } from '../index.js';
import { quietLog } from './helpers/host.js';
import { connect, type Client } from './helpers/ws.js';

describe('websockets: the example chat (examples/app/chat.ts)', function () {
  this.timeout(30_000);
  let host: Host;
  const open: Client[] = [];
  before(async () => {
    host = await createHost({
      sites: [resolve('examples/sites/example.yaml')],
      listen: '127.0.0.1:0',
      accessLog: false,
      errorLog: quietLog(),
    });
    await host.listen();
    await host.ready();
  });
  after(async () => {
    for (const c of open) c.ws.terminate();
    await host?.close();
  });

  it('welcomes, announces, and relays between two clients', async () => {
    const port = host.addresses[0].port;
    const ann = await connect(`ws://127.0.0.1:${port}/chat?name=ann`, { headers: { host: 'localhost' } });
    open.push(ann);
    expect(await ann.next()).to.equal('welcome, ann');
    const bob = await connect(`ws://127.0.0.1:${port}/chat?name=bob`, { headers: { host: 'localhost' } });
    open.push(bob);
    expect(await bob.next()).to.equal('welcome, bob');
    expect(await ann.next((m) => m === 'bob joined')).to.equal('bob joined');
    bob.send('hi ann');
    expect(await ann.next((m) => m === 'bob: hi ann')).to.equal('bob: hi ann');
    bob.close();
    expect(await ann.next((m) => m === 'bob left')).to.equal('bob left');
  });
});
