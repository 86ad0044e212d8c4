// Inside a daemon process, its main thread: the pool's socket.io channel (a BroadcastChannel,
// daemon/app/socketio/channel.ts) across the pool's daemon processes. What this process's threads
// post on it goes to hostd (FromProcess `sio`), which relays it to the pool's other daemon
// processes, never back here (daemon/pool/process-group.ts); what they post, and hostd's notices
// that a worker has ended, come back (ToProcess `sio`) and are posted here for this process's
// threads. A BroadcastChannel never hands a message to the one that posted it, so what this
// thread posts is not sent out again: no loop. A process alone in its pool (processes: 1 between
// reloads) sends nothing: hostd says when it has peers (ToProcess `sioPeers`), before any thread
// of a new process can post.
//
// The messages of one turn of the event loop cross as one IPC message: an io.emit loop posts one
// message per emit, and each IPC message costs a serialization, a write and an event on both
// sides, in this process and in hostd. They cross as the bytes of v8.serialize, which hostd
// passes on unopened (as the relay does the fronts' batches): its control thread copies bytes
// instead of decoding and encoding every message.
import { deserialize, serialize } from 'node:v8';
import { BroadcastChannel } from 'node:worker_threads';
import type { FromProcess, ToProcess } from '../../shared/protocol/process-ipc.js';
import { poolChannelName } from '../app/socketio/channel.js';

const serializes = (m: unknown): boolean => {
  try {
    serialize(m);
    return true;
  } catch {
    return false;
  }
};

/** Bridges pool `group`'s socket.io channel to hostd's IPC channel (`send`). */
export function bridgeSocketIo(group: string, send: (m: FromProcess) => void): void {
  const bc = new BroadcastChannel(poolChannelName(group));
  bc.unref(); // the process ends with hostd's IPC channel, not with this one
  let peers = false;
  let warned = false;
  let batch: unknown[] = [];
  /**
   * A BroadcastChannel copies what v8.serialize cannot (a SharedArrayBuffer): such a message
   * reached this process's threads and stays here; hostd is told once (it logs a warning).
   */
  const encode = (messages: unknown[]): Uint8Array => {
    try {
      return serialize(messages);
    } catch (err) {
      if (!warned) {
        warned = true;
        send({ t: 'sioDropped', error: (err as Error).message });
      }
      return serialize(messages.filter(serializes));
    }
  };
  const flush = () => {
    send({ t: 'sio', batch: encode(batch) });
    batch = [];
  };
  bc.onmessage = (event) => {
    if (peers && batch.push((event as { data: unknown }).data) === 1) setImmediate(flush);
  };
  process.on('message', (m: ToProcess) => {
    if (m.t === 'sio') for (const one of deserialize(m.batch) as unknown[]) bc.postMessage(one);
    else if (m.t === 'sioPeers') peers = m.peers;
  });
}
