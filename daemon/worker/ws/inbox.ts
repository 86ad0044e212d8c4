// The client messages a worker has read from its fronts and not yet handed to the app, over all
// its sockets, in arrival order. Messages are handed over as they are read while the app is quick;
// once the app's handlers have taken TURN_MS in one event-loop turn, the rest wait here and go a
// turn's worth at a time, the ports being read in between. That is what lets a worker drop the
// messages of a socket that was cut meanwhile: a wsClosed the front sent after a flood (a client
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
  /** Time the app's handlers took this turn (reset on the next check phase). */
  private spent = 0;
  private resetting = false;
  private readonly runBound = () => this.run();
  private readonly resetBound = () => {
    this.spent = 0;
    this.resetting = false;
  };

  message(conn: WsConnection, data: Uint8Array, opcode: number): void {
    // Nothing waiting and the turn's budget not spent: straight to the app (the common case).
    if (this.next === this.entries.length && this.spent < TURN_MS) return this.deliver(conn, data, opcode);
    conn.queued++;
    this.add({ conn, data, opcode, close: null });
  }

  /** Runs `close` once the socket's queued messages are handed over (at once when there are none). */
  closeAfter(conn: WsConnection, close: () => void): void {
    if (conn.queued === 0) return close();
    conn.queued++;
    this.add({ conn, data: null, opcode: 0, close });
  }

  private deliver(conn: WsConnection, data: Uint8Array, opcode: number): void {
    const t0 = performance.now();
    conn.received(data, opcode);
    this.spent += performance.now() - t0;
    if (!this.resetting) {
      this.resetting = true;
      setImmediate(this.resetBound);
    }
  }

  private add(e: Entry): void {
    this.entries.push(e);
    if (!this.scheduled) {
      this.scheduled = true;
      // After the poll phase: what the ports hold meanwhile is read before the next message runs.
      setImmediate(this.runBound);
    }
  }

  private run(): void {
    this.scheduled = false;
    this.spent = 0;
    while (this.next < this.entries.length && this.spent < TURN_MS) {
      const e = this.entries[this.next];
      this.entries[this.next++] = DONE; // not kept alive by the queue once handed over
      e.conn.queued--;
      if (e.close !== null) e.close();
      else if (e.conn.readyState !== CLOSED) this.deliver(e.conn, e.data!, e.opcode);
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
