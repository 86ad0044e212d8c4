// The graceful drain (SIGTERM, host.close()): every front stops accepting and answers what still
// arrives on open connections with Connection: close; once nothing is in flight (or the graceful
// timeout passes, when what is left is cut) the pools stop and the front threads end.
import type { Logger } from '../../shared/log.js';
import { clientSockets } from './descriptors.js';
import type { Live } from './apply.js';
import type { FrontSet } from './fronts.js';

const POLL_MS = 50;
/**
 * After the last in-flight request: how long idle keep-alive connections get to send one more
 * request (answered, with Connection: close) before the pools stop. uWS v20.30 cannot close an
 * idle connection from JavaScript; it closes them itself after about 10 s idle.
 */
const IDLE_GRACE_MS = 1000;
/** A front thread may end only with no connection left (uWS v20.30 aborts the process otherwise). */
const THREAD_EXIT_WAIT_MS = 15_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function inFlight(fronts: FrontSet): Promise<number> {
  let n = 0;
  for (const s of await fronts.stats()) n += s.inFlight;
  return n;
}

export async function drain(fronts: FrontSet, live: Live, log: Logger, gracefulMs: number, retiring: Set<Promise<void>>): Promise<void> {
  const start = performance.now();
  const deadline = start + gracefulMs;
  const ports = new Set([...live.listeners.values()].map((l) => l.port));
  fronts.broadcast({ t: 'drain' });
  log.info('draining', { timeoutMs: gracefulMs });
  let idleSince = 0;
  for (;;) {
    const now = performance.now();
    if (now >= deadline) break;
    if ((await inFlight(fronts)) > 0) idleSince = 0;
    else {
      idleSince ||= now;
      if (now - idleSince >= IDLE_GRACE_MS || (await clientSockets(ports)) === 0) break;
    }
    await sleep(POLL_MS);
  }
  if (performance.now() >= deadline) {
    log.warn('graceful timeout reached: cutting what is still in flight', { inFlight: await inFlight(fronts) });
    fronts.broadcast({ t: 'cut' });
  }
  // WebSockets never finish on their own: once the requests are done, they close with 1001 (Going
  // Away) so clients reconnect elsewhere; their apps hear it before the pools stop (native-front/ws).
  await fronts.requestAll({ t: 'wsClose' });
  const left = Math.max(0, deadline - performance.now());
  await Promise.allSettled([...live.pools.values()].map((lp) => lp.pool.close(left)));
  for (const lp of live.pools.values()) lp.unwatch?.();
  await Promise.allSettled([...retiring]);
  if (fronts.count > 1) {
    const until = performance.now() + THREAD_EXIT_WAIT_MS;
    let open = await clientSockets(ports);
    while (open > 0 && performance.now() < until) {
      await sleep(200);
      open = await clientSockets(ports);
    }
    if (open > 0) {
      log.error('front threads still hold client connections; leaving them running (uWS v20.30 cannot close them)', { connections: open });
      return;
    }
  }
  await fronts.stop();
}
