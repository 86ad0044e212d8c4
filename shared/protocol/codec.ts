// Encoders and decoders derived from the message tables (table.ts). Both are generated once per
// table with `new Function`: the result is the same monomorphic code one would write by hand
// (push the tag and the fields; a switch over tags that calls the handler with the fields), but
// it cannot drift from the table, and their TypeScript types come from the same table.
import type { Field, FieldTypes, Table } from './table.js';

/** The argument list of a message, in field order, typed from the table. */
export type ArgsOf<F extends readonly Field[]> = {
  -readonly [I in keyof F]: F[I] extends readonly [string, infer T extends keyof FieldTypes] ? FieldTypes[T] : never;
};

/** One method per message kind: `out.reqHead(id, method, ...)`. */
export type Encoders<T extends Table> = { [K in keyof T]: (...args: ArgsOf<T[K]['fields']>) => void };

/** What a decoder calls: one method per message kind, with that message's fields. */
export type Handlers<T extends Table> = { [K in keyof T]: (...args: ArgsOf<T[K]['fields']>) => void };

/** Decodes one batch, calling `h` per message; returns 0, or the first tag it did not know (then stops). */
export type Decoder<T extends Table> = (batch: readonly unknown[], h: Handlers<T>) => number;

export interface PortLike {
  postMessage(value: unknown, transfer?: readonly ArrayBuffer[]): void;
}

/**
 * Per-port outbox: messages pushed during a tick go out as one postMessage on setImmediate (after
 * the poll phase, so everything uWS parsed in one loop iteration shares a batch): structured clone
 * of one flat array of primitives is far cheaper than one message and one event per request.
 */
export class Outbox {
  /** @internal The pending batch (written by the derived encoders). */
  buf: unknown[] = [];
  /** @internal */
  scheduled = false;
  private transferList: ArrayBuffer[] = [];
  private closed = false;
  /** Runs right before a batch is posted: lets the owner turn buffered state into messages. */
  beforeFlush: (() => void) | null = null;
  private readonly flushBound = () => this.flush();

  constructor(private readonly port: PortLike) {}

  /** @internal Called by the derived encoders after a push. */
  schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushBound);
    }
  }

  /** Marks an ArrayBuffer already pushed as transferred: the sender must not touch it again. */
  transfer(ab: ArrayBuffer): void {
    this.transferList.push(ab);
  }

  /** Schedules a flush without pushing anything (beforeFlush will have something to say). */
  wake(): void {
    this.schedule();
  }

  /** Posts what is pending now (the worker does this when a handler ran long: see serve.ts). */
  flush(): void {
    // `scheduled` stays set while beforeFlush pushes, so its messages join this batch.
    if (this.closed) {
      this.scheduled = false;
      return;
    }
    if (this.beforeFlush !== null) this.beforeFlush();
    this.scheduled = false;
    if (this.buf.length === 0) return;
    const batch = this.buf;
    this.buf = [];
    if (this.transferList.length > 0) {
      const transfer = this.transferList;
      this.transferList = [];
      this.port.postMessage(batch, transfer);
    } else this.port.postMessage(batch);
  }

  close(): void {
    this.closed = true;
    this.buf = [];
    this.transferList = [];
  }
}

function argNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `a${i}`);
}

/** Checks a table once: tags unique and positive, names free on the Outbox. */
function validate(table: Table): void {
  const tags = new Set<number>();
  for (const [name, spec] of Object.entries(table)) {
    if (!Number.isInteger(spec.tag) || spec.tag <= 0 || tags.has(spec.tag))
      throw new Error(`protocol: bad or duplicate tag ${spec.tag} (${name})`);
    tags.add(spec.tag);
    if (name in Outbox.prototype) throw new Error(`protocol: message name "${name}" clashes with an Outbox member`);
  }
}

/** An Outbox class with one encoder method per message of `table`. */
export function outboxFor<T extends Table>(table: T): new (port: PortLike) => Outbox & Encoders<T> {
  validate(table);
  class TableOutbox extends Outbox {}
  for (const [name, spec] of Object.entries(table)) {
    const args = argNames(spec.fields.length);
    const body = `this.buf.push(${[String(spec.tag), ...args].join(', ')}); if (!this.scheduled) this.schedule();`;
    Object.defineProperty(TableOutbox.prototype, name, { value: new Function(...args, body), writable: false, configurable: false });
  }
  return TableOutbox as unknown as new (
    port: PortLike,
  ) => Outbox & Encoders<T>;
}

/** A decoder for batches of `table`'s messages. */
export function decoderFor<T extends Table>(table: T): Decoder<T> {
  validate(table);
  const cases = Object.entries(table).map(([name, spec]) => {
    const n = spec.fields.length;
    const args = Array.from({ length: n }, (_, k) => `b[i + ${k + 1}]`);
    return `case ${spec.tag}: h.${name}(${args.join(', ')}); i += ${n + 1}; break;`;
  });
  const src = `const n = b.length; let i = 0;
while (i < n) { const tag = b[i]; switch (tag) { ${cases.join('\n')}
default: return typeof tag === 'number' && tag > 0 ? tag : -1; } }
return 0;`;
  return new Function('b', 'h', src) as Decoder<T>;
}
