// The wire protocol's derived encoders and decoders (shared/protocol): every message kind of
// every table survives an encode and a decode with its fields in order; batches are posted once
// per tick; unknown tags are reported. Plus the small shared-memory pieces: a worker's board,
// the address query, and the dispatcher's wait queue.
import { expect } from 'chai';
import { MessageChannel } from 'node:worker_threads';
import { WaitQueue } from '../daemon/dispatch/queue.js';
import { ADDRESS_BUFFER_BYTES, answerAddress } from '../shared/protocol/address-query.js';
import { Board, boardBytes, WORKER_READY } from '../shared/protocol/board.js';
import { decoderFor, outboxFor, type PortLike } from '../shared/protocol/codec.js';
import { TO_CONTROL, TO_FRONT, TO_WORKER, TO_WORKER_CONTROL, type FieldTypes, type Table } from '../shared/protocol/table.js';

/** A value of each field type, different per position so that a swapped pair would show. */
function sample(type: keyof FieldTypes, i: number): unknown {
  switch (type) {
    case 'num':
      return 1000 + i;
    case 'bool':
      return i % 2 === 0;
    case 'str':
      return `s${i}`;
    case 'strOrNull':
      return i % 2 === 0 ? null : `n${i}`;
    case 'headers':
      return [`h${i}`, `v${i}`];
    case 'buffer':
      return new Uint8Array([i]).buffer;
    case 'bytes':
      return new Uint8Array([i, i + 1]);
    case 'body':
      return `body${i}`;
  }
}

/** A port that keeps what is posted. */
function capture(): PortLike & { posted: unknown[][] } {
  const posted: unknown[][] = [];
  return { posted, postMessage: (v: unknown) => void posted.push(v as unknown[]) };
}

const nextTick = () => new Promise((r) => setImmediate(r));

describe('wire protocol', () => {
  for (const [tableName, table] of Object.entries({ TO_WORKER, TO_FRONT, TO_WORKER_CONTROL, TO_CONTROL }) as [string, Table][]) {
    it(`${tableName}: every message round-trips, fields in table order, in one batch`, async () => {
      const port = capture();
      const Out = outboxFor(table);
      const out = new Out(port) as unknown as Record<string, (...a: unknown[]) => void>;
      const sent: [string, unknown[]][] = [];
      for (const [name, spec] of Object.entries(table)) {
        const args = spec.fields.map(([, type], i) => sample(type, i));
        out[name](...args);
        sent.push([name, args]);
      }
      expect(port.posted).to.have.length(0); // nothing until the tick ends
      await nextTick();
      expect(port.posted).to.have.length(1);
      const got: [string, unknown[]][] = [];
      const handlers = Object.fromEntries(Object.keys(table).map((name) => [name, (...a: unknown[]) => void got.push([name, a])]));
      expect(decoderFor(table)(port.posted[0], handlers as never)).to.equal(0);
      expect(got).to.deep.equal(sent);
    });
  }

  it('tags are unique across the tables of one port', () => {
    for (const pair of [
      [TO_WORKER, TO_FRONT],
      [TO_WORKER_CONTROL, TO_CONTROL],
    ] as Table[][]) {
      const tags = pair.flatMap((t) => Object.values(t).map((m) => m.tag));
      expect(new Set(tags).size).to.equal(tags.length);
    }
  });

  it('a decoder stops at a tag it does not know and says which', () => {
    const seen: number[] = [];
    const decode = decoderFor(TO_WORKER);
    const handlers = { reqEnd: (id: number) => void seen.push(id) } as never;
    expect(decode([TO_WORKER.reqEnd.tag, 7, 99, 1, 2], handlers)).to.equal(99);
    expect(seen).to.deep.equal([7]);
    expect(decode(['x'], handlers)).to.equal(-1);
  });

  it('an outbox runs beforeFlush into the same batch, hands transfers over, and posts nothing after close()', async () => {
    const { port1, port2 } = new MessageChannel();
    const received: unknown[][] = [];
    port2.on('message', (m: unknown[]) => received.push(m));
    const Out = outboxFor(TO_WORKER);
    const out = new Out(port1);
    out.beforeFlush = () => out.reqEnd(2);
    const ab = new ArrayBuffer(16);
    out.reqBody(1, ab);
    out.transfer(ab);
    await nextTick();
    expect(ab.byteLength).to.equal(0); // transferred, not copied
    while (received.length === 0) await nextTick();
    expect(received[0]).to.have.length(5);
    expect(received[0][0]).to.equal(TO_WORKER.reqBody.tag);
    expect((received[0][2] as ArrayBuffer).byteLength).to.equal(16);
    expect(received[0].slice(3)).to.deep.equal([TO_WORKER.reqEnd.tag, 2]);
    out.close();
    out.reqEnd(3);
    await nextTick();
    await nextTick();
    expect(received).to.have.length(1);
    port1.close();
  });
});

describe('worker board', () => {
  it('claims slots up to a limit, counts served requests, keeps state, memory and per-front watermarks apart', () => {
    const b = new Board(new SharedArrayBuffer(boardBytes(3)));
    expect([b.claim(2), b.claim(2), b.claim(2)]).to.deep.equal([true, true, false]);
    expect(b.inflight).to.equal(2);
    b.release();
    expect(b.claim(2)).to.equal(true);
    expect(b.served()).to.equal(1);
    expect(b.served()).to.equal(2);
    b.state = WORKER_READY;
    b.memory = 123_456_789;
    b.setStarted(0, 5);
    b.setStarted(2, 9);
    expect([b.state, b.servedCount, b.memory, b.started(0), b.started(1), b.started(2), b.inflight]).to.deep.equal([
      WORKER_READY,
      2,
      123_456_789,
      5,
      0,
      9,
      2,
    ]);
  });
});

describe('address query', () => {
  /** AddressQuery's own code in a worker (it blocks its thread while it waits), bundled from source. */
  async function askerWorker(): Promise<string> {
    const { build } = await import('esbuild');
    const here = new URL('../shared/protocol/address-query.ts', import.meta.url).pathname;
    const r = await build({
      stdin: {
        contents: `import { AddressQuery } from ${JSON.stringify(here)};
          import { workerData, parentPort } from 'node:worker_threads';
          const q = new AddressQuery(workerData.buf, workerData.port);
          parentPort.postMessage([q.ask(7), q.ask(42), q.ask(5)]);`,
        resolveDir: process.cwd(),
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      write: false,
      logLevel: 'silent',
    });
    return r.outputFiles[0].text;
  }

  it('a worker asks, the front answers through shared memory; a stale answer is not taken; no answer gives ""', async () => {
    const { port1, port2 } = new MessageChannel();
    const buf = new SharedArrayBuffer(ADDRESS_BUFFER_BYTES);
    port1.on('message', ([tag, id, seq]: number[]) => {
      expect(tag).to.equal(TO_FRONT.addrQuery.tag);
      if (id === 42) answerAddress(buf, seq - 1, '198.51.100.1'); // late answer to the previous question: ignored
      if (id !== 5) answerAddress(buf, seq, `192.0.2.${id}`);
      // id 5: never answered; the worker gives up after its timeout
    });
    const { Worker } = await import('node:worker_threads');
    const w = new Worker(await askerWorker(), { eval: true, workerData: { port: port2, buf }, transferList: [port2] });
    const answers = await new Promise((resolve) => w.once('message', resolve));
    expect(answers).to.deep.equal(['192.0.2.7', '192.0.2.42', '']);
    await w.terminate();
    port1.close();
  });
});

describe('wait queue', () => {
  const item = (arrival: number) => ({ arrival, finished: false });

  it('is first in, first out; puts re-queued items back in front; skips finished ones lazily', () => {
    const q = new WaitQueue<ReturnType<typeof item>>();
    const [a, b, c] = [item(1), item(2), item(3)];
    q.push(a);
    q.push(b);
    q.push(c);
    expect(q.take()).to.equal(a);
    q.unshift(a);
    b.finished = true;
    expect(q.countWaiting()).to.equal(2);
    expect(q.length).to.equal(3);
    expect(q.take()).to.equal(a);
    q.purge(10, 0, () => expect.fail('nothing expires without a limit'));
    expect(q.take()).to.equal(c);
    expect(q.isEmpty()).to.equal(true);
  });

  it('expires items that waited longer than the limit, in order, up to the first still worth serving', () => {
    const q = new WaitQueue<ReturnType<typeof item>>();
    const items = [item(0), item(5), item(50)];
    for (const i of items) q.push(i);
    const expired: number[] = [];
    q.purge(60, 20, (i) => void expired.push(i.arrival));
    expect(expired).to.deep.equal([0, 5]);
    expect(q.take()).to.equal(items[2]);
    expect(q.drain()).to.deep.equal([]);
  });
});
