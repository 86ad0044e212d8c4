// socket.io clients in tests: waiting for an event (with a timeout that says which client missed
// what) and for the handshake's first message.
import { expect } from 'chai';
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

/**
 * `a` and `b` join `room` (the chat fixture's 'join' and 'say'), one of `others` says something to
 * it: both members hear it, and no other client does. Non-members record what they get until a
 * later io.emit from the same worker ('shout'), which follows the room message on every path:
 * anything said to them would have arrived first.
 */
export async function expectRoomReachesOnly(a: Socket, b: Socket, others: Socket[], room = 'red'): Promise<void> {
  await a.emitWithAck('join', room);
  await b.emitWithAck('join', room);
  const members = Promise.all([a, b].map((c) => ioEvent<{ room: string; text: string }>(c, 'said', (m) => m.room === room)));
  const strays: unknown[] = [];
  for (const c of others) c.on('said', (m) => strays.push(m));
  const fence = Promise.all(others.map((c) => ioEvent<{ text: string }>(c, 'shouted', (m) => m.text === 'fence')));
  others[0].emit('say', room, `for ${room} only`);
  others[0].emit('shout', 'fence');
  expect((await members).map((m) => m.text)).to.deep.equal([`for ${room} only`, `for ${room} only`]);
  await fence;
  expect(strays).to.deep.equal([]);
}
