// The client messages a worker has read from its fronts and not yet handed to the app, over all
// its sockets, in arrival order. Handing them over from here instead of straight from the port's
// batch is what lets a worker drop the messages of a socket that was cut meanwhile: between two
// runs the event loop reads the ports again, so a wsClosed the front sent after a flood (a client
// over websocket.maxPendingBytes: 1013, or one that vanished: 1006) arrives before the app is
// handed the rest of the flood, and they are dropped. A slow handler thus stops within about one
// message of the close instead of working through everything that was in flight (up to
// maxPendingBytes of tiny messages). A client that closes properly (a close frame with its own
// code) gets what it sent before handled first: its close waits here behind its messages.
import { performance } from 'node:perf_hooks';
import { CLOSED, type WsConnection } from './connection.js';

/** Hand messages over for this long per event-loop turn, then let the loop read the ports again. */
const TURN_MS = 2;

interface Entry {
  conn: WsConnection;
  /** A message, or null for a close that waits behind the socket's messages. */
  data: Uint8Array | null;
  opcode: number;
  close: (() => void) | null;
}

export class Inbox {
  private entries: Entry[] = [];
  private next = 0;
  private scheduled = false;
  private readonly runBound = () => this.run();

  message(conn: WsConnection, data: Uint8Array, opcode: number): void {
    conn.queued++;
    this.add({ conn, data, opcode, close: null });
  }

  /** Runs `close` once the socket's queued messages are handed over (at once when there are none). */
  closeAfter(conn: WsConnection, close: () => void): void {
    if (conn.queued === 0) return close();
    conn.queued++;
    this.add({ conn, data: null, opcode: 0, close });
  }

  private add(e: Entry): void {
    this.entries.push(e);
    if (!this.scheduled) {
      this.scheduled = true;
      // After the poll phase: the rest of what the ports hold is read before the first message runs.
      setImmediate(this.runBound);
    }
  }

  private run(): void {
    this.scheduled = false;
    const until = performance.now() + TURN_MS;
    while (this.next < this.entries.length) {
      const e = this.entries[this.next];
      this.entries[this.next++] = DONE; // not kept alive by the queue once handed over
      e.conn.queued--;
      if (e.close !== null) e.close();
      else if (e.conn.readyState !== CLOSED) e.conn.received(e.data!, e.opcode);
      if (performance.now() >= until) break;
    }
    if (this.next < this.entries.length) {
      this.scheduled = true;
      setImmediate(this.runBound);
      return;
    }
    this.entries = [];
    this.next = 0;
  }
}

const DONE: Entry = { conn: null as unknown as WsConnection, data: null, opcode: 0, close: null };
