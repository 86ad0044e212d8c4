// The log lines of refused PROXY-protocol connections. A refusal is worth a line (a proxy missing
// from the trust list, or one configured without send-proxy, refuses every client), but a scan or
// a flood of them must not flood the error log: the first at once, then at most one line per
// interval saying how many more there were.
import type { Logger } from '../../shared/log.js';

const INTERVAL_MS = 10_000;

/** The onRefused callback of a gateway for `address`, logging through `log`. */
export function refusalLogger(log: Logger, address: string, intervalMs = INTERVAL_MS): (peer: string, reason: string) => void {
  let last = Number.NEGATIVE_INFINITY;
  let unlogged = 0;
  return (peer, reason) => {
    const now = performance.now();
    if (now - last < intervalMs) {
      unlogged++;
      return;
    }
    log.warn('PROXY-protocol connection refused', { address, peer, reason, ...(unlogged > 0 && { moreRefusedBefore: unlogged }) });
    last = now;
    unlogged = 0;
  };
}
