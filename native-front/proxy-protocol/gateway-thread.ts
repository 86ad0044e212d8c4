// The worker-thread entry of a PROXY-protocol gateway (thread.ts starts it; built as
// dist/proxy-gateway.js). The relay moves every byte of the listener through Node streams; on
// its own thread that work stays off the front thread, which then does what it does for a plain
// listener (see docs/deploy.md for the figures). Imports nothing of uWS.
import { parentPort, workerData } from 'node:worker_threads';
import { ProxyProtocolGateway, type GatewayOptions } from './gateway.js';
import type { ToGateway, FromGateway } from './thread.js';

const port = parentPort!;
const send = (m: FromGateway) => port.postMessage(m);
const { closedFlag, ...opts } = workerData as Omit<GatewayOptions, 'onRefused'> & { closedFlag: Int32Array };
const gateway = new ProxyProtocolGateway({ ...opts, onRefused: (peer, reason) => send({ type: 'refused', peer, reason }) });

port.on('message', (m: ToGateway) => {
  if (m.type === 'stats') send({ type: 'stats', id: m.id, stats: { ...gateway.stats }, connections: gateway.connections });
  else if (m.type === 'close') {
    gateway.close(); // the listening socket is closed when this returns
    // The caller waits on this flag (GatewayThread.close is synchronous).
    Atomics.store(closedFlag, 0, 1);
    Atomics.notify(closedFlag, 0);
    // Relayed connections finish; then the thread ends by itself.
    void gateway.drained().then(() => port.close());
  } else if (m.type === 'destroy') {
    gateway.destroyAll();
    port.close();
  }
});

gateway.listen().then(
  (bound) => send({ type: 'listening', port: bound }),
  (err: Error & { code?: string }) => {
    send({ type: 'error', message: err.message });
    port.close();
  },
);
