// wss:// on a TLS listener shared by two vhosts: SNI picks each vhost's certificate for the
// WebSocket handshake as for any request, and the upgrade reaches that vhost's app.
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { startHost, type TestHost } from './helpers/host.js';
import { connect, startsWith } from './helpers/ws.js';
import { selfSigned } from './helpers/index.js';

const CHAT = resolve('test/fixtures/ws/chat.mjs');
const WS_SERVER = resolve('test/fixtures/ws/ws-server.mjs');

describe('websockets: wss:// through SNI', function () {
  this.timeout(30_000);
  let dir: string;
  let h: TestHost;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostd-wss-'));
    const a = await selfSigned(dir, 'a.test');
    const b = await selfSigned(dir, 'b.test');
    h = await startHost([
      { serverName: 'a.test', listen: '127.0.0.1:0', tls: a, apps: [{ url: '/', module: CHAT, pool: { threads: 1 } }] },
      { serverName: 'b.test', listen: '127.0.0.1:0', tls: b, apps: [{ url: '/', module: WS_SERVER, pool: { threads: 1 } }] },
    ]);
  });
  after(async () => {
    await h?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const name of ['a.test', 'b.test']) {
    it(`${name}: its own certificate, its own app`, async () => {
      const c = await connect(`wss://127.0.0.1:${h.port}/ws`, { servername: name, headers: { host: name }, rejectUnauthorized: false });
      try {
        const cert = (c.ws as unknown as { _socket: TLSSocket })._socket.getPeerCertificate();
        expect(cert.subject.CN).to.equal(name);
        if (name === 'a.test') {
          expect(JSON.parse((await c.next(startsWith('{"hello"'))) as string)).to.include({ hello: 'ann' });
          c.send('echo over tls');
          expect(await c.next((m) => m === 'over tls')).to.equal('over tls');
        } else {
          expect(await c.next(startsWith('welcome'))).to.match(/^welcome 127\.0\.0\.1 \/ws/);
          c.send('secure');
          expect(await c.next()).to.equal('echo secure');
        }
      } finally {
        c.ws.terminate();
      }
    });
  }
});
