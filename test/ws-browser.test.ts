// A real browser: Debian's chromium, headless, driven by playwright-core, loads a page that hostd
// serves from a static mount; the page's script opens a WebSocket to an app mount, exchanges
// text and binary messages, publishes to a room a `ws` client in this test subscribes to, and
// closes; the test reads what the page saw.
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { startHost, type TestHost } from './helpers/host.js';
import { connect, startsWith } from './helpers/ws.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('websockets: in headless Chromium', function () {
  this.timeout(60_000);
  let h: TestHost;
  let profile: string;
  let browser: BrowserContext | undefined;

  before(async function () {
    // .ci/run installs chromium; a developer machine without it skips (CI never does: see below).
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
      this.skip();
    }
    h = await startHost([
      {
        serverName: ['*'],
        listen: '127.0.0.1:0',
        static: [{ url: '/', dir: resolve('test/fixtures/ws/page') }],
        apps: [{ url: '/chat', module: resolve('test/fixtures/ws/chat.mjs'), pool: { threads: 2 } }],
      },
    ]);
    profile = await mkdtemp(join(tmpdir(), 'hostd-chromium-'));
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
  });
  after(async () => {
    await browser?.close();
    await h?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('a page’s WebSocket: handshake with a subprotocol, text and binary echo, a publish, the close code', async () => {
    const listener = await connect(`ws://127.0.0.1:${h.port}/chat/room?user=listener`);
    try {
      await listener.next(startsWith('{"hello"'));
      const page = await browser!.newPage();
      await page.goto(`http://127.0.0.1:${h.port}/`);
      await page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, undefined, {
        timeout: 20_000,
      });
      const result = (await page.evaluate(() => (window as unknown as { __result: unknown }).__result)) as {
        hello: { hello: string; address: string };
        echo: string;
        binary: number[];
        protocol: string;
        closed: { code: number; reason: string };
      };
      expect(result.protocol).to.equal('chat.v1');
      expect(result.hello).to.include({ hello: 'browser', address: '127.0.0.1' });
      expect(result.echo).to.equal('ping from the browser');
      expect(result.binary).to.deep.equal([1, 2, 3, 254]);
      expect(result.closed).to.deep.equal({ code: 4000, reason: 'bye' });
      expect(await listener.next(startsWith('browser:'))).to.equal('browser: hello from the browser');
      expect(await page.textContent('#state')).to.equal('done');
    } finally {
      listener.ws.terminate();
    }
  });
});
