// socket.io clients in tests: waiting for an event (with a timeout that says which client missed
// what) and for the handshake's first message.
import type { Socket } from 'socket.io-client';
import { withTimeout } from './wait.js';

const WAIT_MS = 20_000;

/** The next `event` on `s` whose payload passes `match`. */
export function ioEvent<T>(s: Socket, event: string, match: (v: T) => boolean = () => true): Promise<T> {
  const got = new Promise<T>((res) => {
    const on = (v: T) => {
      if (!match(v)) return;
      s.off(event, on);
      res(v);
    };
    s.on(event, on);
  });
  return withTimeout(got, WAIT_MS, `client ${s.id ?? '(connecting)'} to receive '${event}'`);
}

/** The first `event` the server sends on connection; rejects with the connection error. */
export function ioGreeting<T>(s: Socket, event = 'hello'): Promise<T> {
  const got = new Promise<T>((res, rej) => {
    s.once(event, res);
    s.once('connect_error', rej);
  });
  return withTimeout(got, WAIT_MS, `the socket.io handshake and its '${event}'`);
}
