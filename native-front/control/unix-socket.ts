// A Unix socket path before binding: is another process serving there (a live hostd), or is it
// a file a previous run left behind (a crash, SIGKILL)? Binding over a live one would steal the
// path from the running hostd (`hostd status` would then reach the wrong one).
import { connect } from 'node:net';

/** Resolves true when something accepts connections on `path`; false when nothing does (absent or stale). */
export function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false)); // ENOENT, ECONNREFUSED (stale), ENOTSOCK
  });
}
