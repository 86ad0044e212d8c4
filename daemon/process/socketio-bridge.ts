// Inside a daemon process, its main thread: the pool's socket.io channel (a BroadcastChannel,
// daemon/app/socketio/channel.ts) across the pool's daemon processes. What this process's threads
// post on it goes to hostd (FromProcess `sio`), which relays it to the pool's other daemon
// processes, never back here (daemon/pool/process-group.ts); what they post, and hostd's notices
// that a worker has ended, come back (ToProcess `sio`) and are posted here for this process's
// threads. A BroadcastChannel never hands a message to the one that posted it, so what this
// thread posts is not sent out again: no loop.
import { BroadcastChannel } from 'node:worker_threads';
import type { FromProcess, ToProcess } from '../../shared/protocol/process-ipc.js';
import { poolChannelName } from '../app/socketio/channel.js';

/** Bridges pool `group`'s socket.io channel to hostd's IPC channel (`send`). */
export function bridgeSocketIo(group: string, send: (m: FromProcess) => void): void {
  const bc = new BroadcastChannel(poolChannelName(group));
  bc.unref(); // the process ends with hostd's IPC channel, not with this one
  bc.onmessage = (event) => send({ t: 'sio', m: (event as { data: unknown }).data });
  process.on('message', (m: ToProcess) => {
    if (m.t === 'sio') bc.postMessage(m.m);
  });
}
