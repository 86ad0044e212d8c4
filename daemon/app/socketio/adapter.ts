// The socket.io adapter hostd gives a pool's workers: socket.io's own ClusterAdapterWithHeartbeat
// (what its Redis, Postgres and cluster adapters are built on) carried over a transport
// (channel.ts) instead of a database. It is built on the app's copy of socket.io-adapter, the one
// its socket.io uses, so that hostd depends on no version of socket.io.
//
// What it gives: `io.emit`, `io.to(room).emit`, `fetchSockets`, `socketsJoin/Leave`,
// `disconnectSockets` and `serverSideEmit` reach the clients and servers of every worker. Each
// namespace's adapter is a cluster member; members find each other with the heartbeats of
// ClusterAdapterWithHeartbeat, and forget an ended worker as soon as the pool says it has ended.
import type * as SocketIoAdapter from 'socket.io-adapter';
import type { ClusterMessage, ClusterResponse } from 'socket.io-adapter';
import type { AdapterChannel, AdapterTransport } from './channel.js';

/** What the adapter reads of socket.io's Namespace. */
interface Nsp {
  name: string;
  server: { path(): string };
}

/** What travels on the channel: a message for all, or a response for the member that asked. */
interface Wire {
  to?: string;
  m: ClusterMessage | ClusterResponse;
}

export type SocketIoAdapterModule = typeof SocketIoAdapter;

const NO_OFFSET = Promise.resolve('');

/** Told, once per worker, of a message the structured clone cannot copy (a function in the data). */
export type AdapterWarn = (text: string) => void;

/** The adapter class for one socket.io-adapter module, its members the pool's workers (`transport`). */
export function hostdAdapterClass(lib: SocketIoAdapterModule, transport: AdapterTransport, warn: AdapterWarn) {
  const { ClusterAdapterWithHeartbeat, MessageType } = lib;
  let warned = false;

  return class HostdAdapter extends ClusterAdapterWithHeartbeat {
    private readonly channel: AdapterChannel;
    private readonly stopGone: () => void;
    /** The uid of every other member heard on this namespace, by the worker it lives in. */
    private readonly peers = new Map<string, string>();

    constructor(nsp: Nsp) {
      super(nsp, {});
      // One adapter channel per (socket.io path, namespace) in the pool's: heartbeats count the
      // members of one namespace, so namespaces must not share one.
      this.channel = transport.open(`${nsp.server.path()}:${nsp.name}`, (body, from) => {
        const wire = body as Wire;
        if (wire.to !== undefined && wire.to !== this.uid) return;
        if (wire.m.type === MessageType.ADAPTER_CLOSE) this.peers.delete(wire.m.uid);
        else if (wire.m.uid !== undefined) this.peers.set(wire.m.uid, from);
        // Responses go through onMessage too: it hands them to onResponse.
        this.onMessage(wire.m as ClusterMessage);
      });
      this.stopGone = transport.onGone((member) => {
        for (const [uid, where] of this.peers) {
          if (where !== member) continue;
          this.peers.delete(uid);
          // What that member would have said had it closed: the heartbeat class forgets it and
          // settles the fetchSockets / serverSideEmit requests that were waiting for it.
          this.onMessage({ type: MessageType.ADAPTER_CLOSE, uid, nsp: this.nsp.name } as ClusterMessage);
        }
      });
    }

    protected override doPublish(message: ClusterMessage): Promise<string> {
      // Alone (threads: 1 between reloads), a broadcast has no one to copy it to: the structured
      // clone would cost ~40% of io.emit's throughput for nothing. Only the first heartbeat goes
      // out, so that members who come later hear of this one (and answer, which makes it a peer).
      if (this.peers.size === 0 && message.type !== MessageType.INITIAL_HEARTBEAT) return NO_OFFSET;
      return this.send({ m: message }).then(() => ''); // no offsets: connection state recovery stays per worker
    }

    protected override doPublishResponse(requesterUid: string, response: ClusterResponse): Promise<void> {
      return this.send({ to: requesterUid, m: response });
    }

    private send(wire: Wire): Promise<void> {
      try {
        this.channel.publish(wire);
        return Promise.resolve();
      } catch (err) {
        // The local clients still get it (the cluster adapter broadcasts locally after publishing).
        if (!warned) {
          warned = true;
          warn(
            `socket.io: a message could not be copied to the pool's other workers (${(err as Error).message}); ` +
              `only this worker's clients got it (further ones are not logged)`,
          );
        }
        return Promise.reject(err);
      }
    }

    override close(): void {
      super.close(); // tells the others this member is gone
      this.stopGone();
      this.channel.close();
    }
  };
}
