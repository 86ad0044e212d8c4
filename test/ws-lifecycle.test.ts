// What happens to open WebSockets when their worker goes: a crash closes its sockets with 1011
// and leaves other workers' sockets alone; a recycle (maxRequests) or a replacement after a
// request timeout closes them with 1012. SIGHUP lets them stay on their old worker until they
// close or --graceful-timeout ends (then 1001) while new upgrades reach the new workers; SIGTERM
// refuses new upgrades, closes open sockets with 1001 and exits 0.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as tcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { spawnHostd, startHost, type HostdProcess, type TestHost } from './helpers/host.js';
import { type Client, OpenClients, startsWith } from './helpers/ws.js';
import { waitFor } from './helpers/index.js';

const CHAT = resolve('test/fixtures/ws/chat.mjs');

async function hello(c: Client): Promise<number> {
  return (JSON.parse((await c.next(startsWith('{"hello"'))) as string) as { thread: number }).thread;
}

async function echoes(c: Client, text: string): Promise<void> {
  c.send(`echo ${text}`);
  expect(await c.next((m) => m === text)).to.equal(text);
}

describe('websockets: lifecycle', function () {
  this.timeout(40_000);

  describe('when a worker goes', () => {
    let h: TestHost;
    const open = new OpenClients();
    const client = (path: string) => open.connect(`ws://127.0.0.1:${h.port}${path}`);
    before(async () => {
      h = await startHost([
        {
          serverName: ['*'],
          apps: [
            { url: '/two', module: CHAT, pool: { threads: 2 } },
            { url: '/recycled', module: CHAT, pool: { threads: 1, maxRequests: 3 } },
            { url: '/stuck', module: CHAT, pool: { threads: 1, requestTimeout: '500ms' } },
          ],
        },
      ]);
    });
    afterEach(() => {
      open.terminateAll();
    });
    after(() => h?.close());

    it('a crash closes that worker’s sockets with 1011; the other worker’s sockets carry on', async () => {
      const a = await client('/two/a');
      const b = await client('/two/b');
      const [ta, tb] = [await hello(a), await hello(b)];
      expect(ta).to.not.equal(tb);
      a.send('crash');
      expect(await a.closed).to.deep.equal({ code: 1011, reason: 'Internal Error' });
      await echoes(b, 'unaffected');
      // The pool replaces the worker: new sockets are accepted again.
      const c = await client('/two/c');
      expect(await hello(c)).to.be.a('number');
      await echoes(c, 'new');
    });

    it('a worker recycled for maxRequests closes its sockets with 1012; messages do not count as requests', async () => {
      const s = await client('/recycled/x'); // request 1 of 3
      await hello(s);
      for (let i = 0; i < 20; i++) await echoes(s, `message ${i}`);
      expect((await request(`http://127.0.0.1:${h.port}/recycled/thread`)).statusCode).to.equal(200); // 2
      expect((await request(`http://127.0.0.1:${h.port}/recycled/thread`)).statusCode).to.equal(200); // 3: recycle
      expect(await s.closed).to.deep.equal({ code: 1012, reason: 'Service Restart' });
      const next = await client('/recycled/y');
      await hello(next);
      await echoes(next, 'fresh worker');
    });

    it('a worker replaced after a request timeout closes its sockets with 1012', async () => {
      const s = await client('/stuck/x');
      await hello(s);
      const spin = await request(`http://127.0.0.1:${h.port}/stuck/spin?ms=5000`);
      expect(spin.statusCode).to.equal(504);
      await spin.body.dump();
      expect(await s.closed).to.deep.equal({ code: 1012, reason: 'Service Restart' });
    });
  });

  describe('signals, with a real hostd', () => {
    let dir: string;
    let hostd: HostdProcess | undefined;
    const open = new OpenClients();
    const client = (path: string) => open.connect(`ws://127.0.0.1:${hostd!.port}${path}`);

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'hostd-ws-sig-'));
      await writeFile(
        join(dir, 'site.yaml'),
        `serverName: ["*"]\nlisten: "127.0.0.1:0"\napps:\n  - url: /chat\n    module: ${CHAT}\n    pool: { threads: 1 }\n`,
      );
    });
    afterEach(async () => {
      open.terminateAll();
      if (hostd) await hostd.stop('SIGKILL');
      hostd = undefined;
      await rm(dir, { recursive: true, force: true });
    });

    it('SIGHUP: open sockets stay on their old worker until --graceful-timeout (then 1001); new ones reach the new worker', async () => {
      hostd = await spawnHostd(['--sites', dir, '--access-log', 'off', '--graceful-timeout', '3s', '--no-supervisor']);
      const old = await client('/chat/old');
      const oldThread = await hello(old);
      hostd.proc.kill('SIGHUP');
      await hostd.waitFor(/reloaded generation=2/, 15_000);
      const fresh = await client('/chat/new');
      expect(await hello(fresh)).to.not.equal(oldThread);
      await echoes(old, 'still open');
      old.send('thread');
      expect(await old.next(startsWith('thread '))).to.equal(`thread ${oldThread}`);
      const closed = await old.closed;
      expect(closed).to.deep.equal({ code: 1001, reason: 'Going Away' });
      await echoes(fresh, 'the new worker serves');
    });

    it('SIGTERM: new upgrades get 503, open sockets close with 1001, hostd exits 0', async () => {
      hostd = await spawnHostd(['--sites', dir, '--access-log', 'off', '--graceful-timeout', '5s', '--no-supervisor']);
      const a = await client('/chat/a');
      const b = await client('/chat/b');
      await hello(a);
      await hello(b);
      // A keep-alive connection opened before the signal, to send an upgrade on after it.
      const conn: Socket = tcp(hostd.port, '127.0.0.1');
      let got = '';
      conn.on('data', (d) => (got += d.toString('latin1')));
      await new Promise((r) => conn.once('connect', r));
      conn.write('GET /chat/thread HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitFor(() => got.includes('\r\n\r\n'), { timeout: 5000, what: 'the first answer' });
      got = '';
      const exit = hostd.stop('SIGTERM');
      await hostd.waitFor(/draining/);
      conn.write(
        'GET /chat/late HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      await waitFor(() => got.includes('\r\n\r\n'), { timeout: 5000, what: 'an answer to the late upgrade' });
      expect(got).to.match(/^HTTP\/1\.1 503 /);
      conn.destroy();
      expect(await a.closed).to.deep.equal({ code: 1001, reason: 'Going Away' });
      expect(await b.closed).to.deep.equal({ code: 1001, reason: 'Going Away' });
      expect(await exit).to.equal(0);
      hostd = undefined;
    });
  });
});
