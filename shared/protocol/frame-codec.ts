// The bytes of a batch on a front ↔ daemon process socket (framing.ts), derived from the message
// tables (table.ts) as codec.ts derives the in-process encoders: a tag byte, then each field in
// the table's order and type. No field names and no type tags travel (the table says them).
//
// Strings are the bulk of a request (the method, the URL, a dozen header names and values), and
// each crossing between JavaScript and C++ costs more than the copy itself. So a frame keeps its
// strings apart: the fields hold their lengths in UTF-16 units, and all the strings follow as one
// UTF-8 block, written with one call and read back with one call, then cut with substring. The
// profile story is in docs/performance.md, "Process pools".
//
// Layout: [u32 byte length of the fixed part][fixed part][strings, UTF-8]. Fixed-part encodings
// (little-endian):
//   num         f64 (native byte order: both ends run on one machine)
//   bool        u8
//   str         u32 length (UTF-16 units) of the next string in the block
//   strOrNull   u32 length, or NULL_LEN for null
//   headers     u32 count, then each as `str`
//   buffer      u32 byte length, bytes (read back as an ArrayBuffer of its own)
//   bytes       u32 byte length, bytes (read back as a Uint8Array of its own)
//   body        u8 kind (BODY_NONE, BODY_TEXT, BODY_BYTES), then as `str` or `bytes`
// Cutting by UTF-16 units is exact for any string: the block decodes to the same units that were
// joined (a lone surrogate becomes U+FFFD, one unit for one).
// A transfer list has no meaning across processes: what a MessagePort would move is copied here.
import { HostdError } from '../errors.js';
import type { FieldTypes, Table } from './table.js';

const NULL_LEN = 0xffffffff;
const BODY_NONE = 0;
const BODY_TEXT = 1;
const BODY_BYTES = 2;
/** A string's UTF-8 length is at most three bytes per UTF-16 unit. */
const UTF8_MAX = 3;

type FieldType = keyof FieldTypes;
/** One number's bytes, for reading and writing f64 fields without Buffer's argument checks. */
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);
/** Field types by tag. */
export type TagFields = ReadonlyArray<readonly FieldType[] | undefined>;

const byTable = new WeakMap<Table, TagFields>();

/** Field types by tag, for a writer or reader of `table`'s batches. */
export function fieldsByTag(table: Table): TagFields {
  const known = byTable.get(table);
  if (known !== undefined) return known;
  const out: Array<FieldType[] | undefined> = [];
  for (const spec of Object.values(table)) {
    if (spec.tag > 0xff) throw new Error(`protocol: tag ${spec.tag} does not fit the frame codec's byte`);
    out[spec.tag] = spec.fields.map(([, type]) => type);
  }
  byTable.set(table, out);
  return out;
}

/** Writes one frame at a time into a growing scratch buffer. */
export class BatchWriter {
  private buf: Buffer;
  private at = 0;
  private head = 0;
  private strings: string[] = [];
  private stringUnits = 0;

  constructor(
    private readonly fields: TagFields,
    private readonly initial = 16 * 1024,
  ) {
    this.buf = Buffer.allocUnsafeSlow(initial);
  }

  /** Starts a frame with `head` bytes left in front for the caller's header. */
  begin(head: number): void {
    this.head = head;
    this.at = 0;
    this.room(head + 4);
    this.at = head + 4;
  }

  /**
   * Appends the messages of batch `b` (a flat [tag, fields..., tag, fields...] array of the
   * table) from index `from`, until the frame holds `limit` bytes or more; returns where it
   * stopped (b.length: all of it).
   */
  batch(b: readonly unknown[], from = 0, limit = Number.POSITIVE_INFINITY): number {
    const n = b.length;
    let i = from;
    while (i < n) {
      const tag = b[i] as number;
      const types = this.fields[tag];
      if (types === undefined) throw new Error(`protocol: tag ${String(tag)} is not in the table`);
      this.room(1);
      this.buf[this.at++] = tag;
      for (let k = 0; k < types.length; k++) this.field(types[k], b[i + 1 + k]);
      i += 1 + types.length;
      // (strings count by their UTF-16 units: close enough to their bytes for a split point)
      if (this.at + this.stringUnits >= limit) return i;
    }
    return n;
  }

  /**
   * Ends the frame (its strings go after the fixed part) and returns it, header room included:
   * a view of the scratch buffer, overwritten by the next frame unless detach() is called.
   */
  end(): Buffer {
    this.buf.writeUInt32LE(this.at - this.head - 4, this.head);
    if (this.strings.length > 0) {
      const joined = this.strings.length === 1 ? this.strings[0] : this.strings.join('');
      this.room(this.stringUnits * UTF8_MAX);
      this.at += this.buf.write(joined, this.at, 'utf8');
      this.strings = [];
      this.stringUnits = 0;
    }
    return this.buf.subarray(0, this.at);
  }

  /** The last frame must outlive the next one (a socket queued it): write on a fresh scratch. */
  detach(): void {
    this.buf = Buffer.allocUnsafeSlow(this.initial);
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.byteLength) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buf.byteLength * 2, this.at + n));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }

  private field(type: FieldType, v: unknown): void {
    switch (type) {
      case 'num':
        this.room(8);
        F64[0] = v as number;
        this.buf.set(F64_BYTES, this.at);
        this.at += 8;
        return;
      case 'bool':
        this.room(1);
        this.buf[this.at++] = v ? 1 : 0;
        return;
      case 'str':
        return this.str(v as string);
      case 'strOrNull':
        return v === null ? this.u32(NULL_LEN) : this.str(v as string);
      case 'headers': {
        const list = v as readonly string[];
        this.u32(list.length);
        for (let k = 0; k < list.length; k++) this.str(list[k]);
        return;
      }
      case 'buffer':
        return this.bytes(new Uint8Array(v as ArrayBuffer));
      case 'bytes':
        return this.bytes(v as Uint8Array);
      case 'body':
        this.room(1);
        if (v === null) this.buf[this.at++] = BODY_NONE;
        else if (typeof v === 'string') {
          this.buf[this.at++] = BODY_TEXT;
          this.str(v);
        } else {
          this.buf[this.at++] = BODY_BYTES;
          this.bytes(v as Uint8Array);
        }
        return;
    }
  }

  private u32(n: number): void {
    this.room(4);
    const b = this.buf;
    const at = this.at;
    // (by hand: Buffer's writeUInt32LE checks its arguments, and this runs a dozen times a request)
    b[at] = n;
    b[at + 1] = n >>> 8;
    b[at + 2] = n >>> 16;
    b[at + 3] = n >>> 24;
    this.at = at + 4;
  }

  private str(s: string): void {
    this.u32(s.length);
    this.strings.push(s);
    this.stringUnits += s.length;
  }

  private bytes(b: Uint8Array): void {
    this.u32(b.byteLength);
    this.room(b.byteLength);
    this.buf.set(b, this.at);
    this.at += b.byteLength;
  }
}

/** A frame that does not hold what its lengths say (HOSTD_BAD_FRAME). */
function badFrame(why: string): HostdError {
  return new HostdError('HOSTD_BAD_FRAME', `malformed frame: ${why}`);
}

/**
 * Reads a frame's payload back into the flat batch array the table's decoder takes. Every length
 * is checked against what the frame holds, and a frame that lies throws HOSTD_BAD_FRAME: the
 * other end may be a tenant's process, and its bytes must not be able to take down a front.
 */
export class BatchReader {
  private buf: Buffer = Buffer.alloc(0);
  private at = 0;
  /** Where the fixed part ends. */
  private end = 0;
  private strings = '';
  private cut = 0;

  constructor(private readonly fields: TagFields) {}

  /** The batch in `payload` (its bytes and buffers are copies: they outlive the payload). */
  read(payload: Buffer): unknown[] {
    if (payload.byteLength < 4) throw badFrame('shorter than its fixed-part length');
    const end = 4 + payload.readUInt32LE(0);
    if (end > payload.byteLength) throw badFrame('fixed part longer than the frame');
    this.buf = payload;
    this.at = 4;
    this.end = end;
    this.strings = end < payload.byteLength ? payload.toString('utf8', end, payload.byteLength) : '';
    this.cut = 0;
    const out: unknown[] = [];
    while (this.at < end) {
      const tag = payload[this.at++];
      const types = this.fields[tag];
      // An unknown tag goes to the table's decoder, which reports it (and stops there).
      out.push(tag);
      if (types === undefined) break;
      for (let k = 0; k < types.length; k++) out.push(this.field(types[k]));
    }
    this.buf = EMPTY;
    this.strings = '';
    return out;
  }

  /** Throws unless `n` more bytes of the fixed part are there. */
  private need(n: number): void {
    if (this.at + n > this.end) throw badFrame('a field runs past the fixed part');
  }

  private field(type: FieldType): unknown {
    switch (type) {
      case 'num': {
        this.need(8);
        const b = this.buf;
        const at = this.at;
        for (let k = 0; k < 8; k++) F64_BYTES[k] = b[at + k];
        this.at = at + 8;
        return F64[0];
      }
      case 'bool':
        this.need(1);
        return this.buf[this.at++] === 1;
      case 'str':
        return this.str(this.u32());
      case 'strOrNull': {
        const len = this.u32();
        return len === NULL_LEN ? null : this.str(len);
      }
      case 'headers': {
        const n = this.u32();
        this.need(n * 4); // (each entry has its length: a count cannot promise more than the frame holds)
        const list = new Array<string>(n);
        for (let k = 0; k < n; k++) list[k] = this.str(this.u32());
        return list;
      }
      case 'buffer': {
        const len = this.u32();
        this.need(len);
        const start = this.buf.byteOffset + this.at;
        this.at += len;
        return this.buf.buffer.slice(start, start + len);
      }
      case 'bytes':
        return this.bytes();
      case 'body': {
        this.need(1);
        const kind = this.buf[this.at++];
        if (kind === BODY_NONE) return null;
        return kind === BODY_TEXT ? this.str(this.u32()) : this.bytes();
      }
    }
  }

  private u32(): number {
    this.need(4);
    const b = this.buf;
    const at = this.at;
    this.at = at + 4;
    return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16)) + b[at + 3] * 0x1000000;
  }

  private str(units: number): string {
    if (this.cut + units > this.strings.length) throw badFrame('a string runs past the strings');
    const s = this.strings.substring(this.cut, this.cut + units);
    this.cut += units;
    return s;
  }

  private bytes(): Uint8Array {
    const len = this.u32();
    this.need(len);
    const start = this.buf.byteOffset + this.at;
    this.at += len;
    return new Uint8Array(this.buf.buffer.slice(start, start + len));
  }
}

const EMPTY = Buffer.alloc(0);
