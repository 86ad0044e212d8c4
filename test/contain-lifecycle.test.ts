// Issue 18, item 13: lifecycle faults found by reading the code. A worker killed while it still
// loads the app (hung import past startTimeout) must end; host.mount() during listen() must not be
// dropped; a stats request a front never answers must not stay behind; a front failure in an
// embedded host is an 'error' for the embedding program, not process.exit(70).
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { createHost, type Host } from '../index.js';
import { FrontSet } from '../native-front/control/fronts.js';
import type { VhostConfig } from '../shared/config/types.js';
import { KITCHEN, quietLog, startHost, waitFor } from './helpers/index.js';
import { fetchFrom } from './fixtures/cache/client.js';

const HANG_PING = fileURLToPath(new URL('./fixtures/contain/hang-at-load-ping.mjs', import.meta.url));

describe('contain: lifecycle (issue 18, item 13)', function () {
  this.timeout(60_000);

  it('a worker killed while loading (hung import past startTimeout) is ended, not left running', async () => {
    const channel = new BroadcastChannel('hostd-test-hang-at-load');
    const pongs: number[] = [];
    channel.onmessage = (e: MessageEvent<{ pong: number }>) => void pongs.push(e.data.pong);
    const h = await startHost([{ serverName: ['*'], apps: [{ url: '/', module: HANG_PING, pool: { threads: 1, startTimeout: '1s' } }] }]);
    try {
      // startHost waited for the load to fail: the mount answers 503 and the worker was killed.
      expect((await fetchFrom(h.url('/'))).status).to.equal(503);
      // Its thread answers pings while it lives; once ended, a ping gets no pong (each poll
      // gives a live thread a whole second to answer).
      await waitFor(
        async () => {
          const before = pongs.length;
          channel.postMessage('ping');
          await new Promise((r) => setTimeout(r, 1000));
          return pongs.length === before;
        },
        { what: 'the killed worker thread to stop answering', timeout: 15_000 },
      );
    } finally {
      channel.close();
      await h.close();
    }
  });

  it('host.mount() while listen() runs is applied once listen() is done, not dropped until a reload', async () => {
    const site: VhostConfig = { serverName: ['*'], listen: 0, apps: [{ url: '/a', module: KITCHEN }] };
    let host!: Host;
    const log = quietLog();
    // Mounted from inside listen(): after it read the configuration, before it serves (the status
    // listener's log line comes in between).
    const info = log.info;
    let mounted = false;
    log.info = (msg, fields) => {
      if (msg === 'status endpoint' && !mounted) {
        mounted = true;
        host.mount(site, { url: '/b', module: KITCHEN });
      }
      info(msg, fields);
    };
    host = await createHost({ sites: [site], errorLog: log, accessLog: false, status: '127.0.0.1:0', fronts: 1 });
    try {
      await host.listen();
      expect(mounted, 'mounted during listen()').to.equal(true);
      const port = host.addresses[0].port;
      await waitFor(async () => (await fetchFrom(`http://127.0.0.1:${port}/b/hello`)).status === 200, {
        what: '/b to be served',
        timeout: 20_000,
      });
      expect((await fetchFrom(`http://127.0.0.1:${port}/a/hello`)).text).to.equal('hello world');
    } finally {
      await host.close();
    }
  });

  it('a stats request a front never answers is given up and forgotten', async () => {
    const handlers = { log() {}, access() {}, retire() {}, kill() {}, drained() {}, fatal() {} };
    const set = await FrontSet.start(2, { accessLog: null, trustProxy: [], fileCache: {}, gracefulMs: 1000 }, handlers);
    expect((await set.stats()).length, 'both fronts answer').to.equal(2);
    await set.stop(); // from now on nothing answers
    expect(await set.stats()).to.deep.equal([]);
    expect(set.awaitedReplies).to.equal(0);
  });

  it("a front failure in an embedded host emits 'error' (or closes the host), never exits the process", async () => {
    const host = await createHost({
      sites: [{ serverName: ['*'], listen: 0, apps: [{ url: '/', module: KITCHEN }] }],
      errorLog: quietLog(),
      accessLog: false,
      fronts: 2,
    });
    await host.listen();
    const failed = new Promise<Error>((resolve) => host.once('error', resolve));
    // A bug in front 1 (a worker thread): a command it cannot take throws there, uncaught. (Ending
    // the thread instead would make uWS abort the process, listen sockets open: see fronts.ts.)
    const fronts = (host as unknown as { fronts: FrontSet }).fronts;
    fronts.post(1, { t: 'poolOpen', open: null } as never);
    const err = (await failed) as Error & { code?: string };
    expect(err.code).to.equal('HOSTD_FRONT_FAILED');
    expect(err.message).to.match(/^front 1 failed: TypeError/);
    await host.close();
  });

  it("with no 'error' listener, a front failure closes the embedded host (the process lives on)", async () => {
    const log = quietLog();
    const host = await createHost({ sites: [{ serverName: ['*'], listen: 0 }], errorLog: log, accessLog: false, fronts: 2 });
    await host.listen();
    (host as unknown as { fronts: FrontSet }).fronts.post(1, { t: 'poolOpen', open: null } as never);
    await waitFor(() => host.draining, { what: 'the host to close itself' });
    await host.close();
    expect(log.lines.join('\n')).to.match(/a front thread failed; the host cannot go on with fewer fronts and closes/);
  });
});
