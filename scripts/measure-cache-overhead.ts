// Measures the fixed memory costs the response cache counts against maxSize
// (native-front/cache/memory.ts): builds N of each structure through the cache's own code and
// divides the heap growth by N, minus the variable part memory.ts counts for them (their strings,
// bodies). What it prints is what each constant must at least be.
// Run: node --expose-gc --import tsx scripts/measure-cache-overhead.ts
import { CachedEntry } from '../native-front/cache/entry.js';
import { requestKey } from '../native-front/cache/keys.js';
import { ENTRY_BYTES, HOST_BYTES, MARK_BYTES, SLOT_BYTES } from '../native-front/cache/memory.js';
import { CacheStorage } from '../native-front/cache/storage.js';
import { DEFAULT_COMPRESSION } from '../shared/compress/index.js';

const N = 20_000;
/** Everything measured stays reachable from here: V8 may otherwise collect what a function no
 *  longer reads before the measurement's own gc() runs. */
const kept: unknown[] = [];
(globalThis as { measured?: unknown[] }).measured = kept;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function used(): number {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** A flat (sequential, one-byte) string, as uWS hands header values and URLs over. */
const flat = (s: string) => Buffer.from(s, 'latin1').toString('latin1');

/**
 * Heap growth per item of `build`, minus the part of `storage.total` that is not the constant
 * `fixed` (so: what the constant must be for the count to match the memory).
 */
function fixedCost(storage: CacheStorage, fixed: number, build: (i: number) => void, inputs: (i: number) => string[]): number {
  kept.push(
    storage,
    Array.from({ length: N }, (_, i) => inputs(i)),
  ); // the inputs exist before (as a request's strings do)
  const before = used();
  const counted0 = storage.total;
  for (let i = 0; i < N; i++) build(i);
  const grew = used() - before;
  const variable = storage.total - counted0 - N * fixed;
  return Math.ceil((grew - variable) / N);
}

const owner = { compression: DEFAULT_COMPRESSION, grew() {} };
const paths = (i: number) => [flat(`/path/number/${i}`)];
const hostNames = (i: number) => [flat(`h${i}.example.test`)];

// Strings the cache makes itself (a key's id) are in the entry's figure; inputs are not, as
// they are counted by length: the string header is measured on its own.
const strings: string[] = [];
kept.push(strings);
const s0 = used();
for (let i = 0; i < N; i++) strings.push(flat(`${'x'.repeat(90)}${String(i).padStart(10, '0')}`));
const STRING = Math.ceil((used() - s0) / N - 100 - 8);

const a = new CacheStorage(1 << 30);
const slotInputs: string[][] = [];
const SLOT = fixedCost(
  a,
  SLOT_BYTES,
  (i) => a.slotFor('a.test', slotInputs[i][0]),
  (i) => (slotInputs[i] = paths(i)),
);

const b = new CacheStorage(1 << 30);
const hostInputs: string[][] = [];
const HOST =
  fixedCost(
    b,
    HOST_BYTES + SLOT_BYTES,
    (i) => b.slotFor(hostInputs[i][0], '/'),
    (i) => (hostInputs[i] = hostNames(i)),
  ) - SLOT;

const c = new CacheStorage(1 << 30);
const entryInputs: string[][] = [];
const ENTRY =
  fixedCost(
    c,
    ENTRY_BYTES + SLOT_BYTES,
    (i) => {
      const key = requestKey(false, 'a.test', entryInputs[i][0]);
      c.add(new CachedEntry(owner, key, ['user-agent'], [entryInputs[i][1]], 200, [], Buffer.allocUnsafeSlow(1), false, false));
    },
    (i) => (entryInputs[i] = [...paths(i), flat(`agent ${i}`)]),
  ) - SLOT;

const d = new CacheStorage(1 << 30);
const markInputs: string[][] = [];
const MARK = fixedCost(
  d,
  MARK_BYTES,
  (i) => d.marks.set('a.test', markInputs[i][0], Date.now() + 60_000),
  (i) => (markInputs[i] = paths(i)),
);

console.log(
  JSON.stringify({
    node: process.version,
    arch: process.arch,
    N,
    STRING_BYTES: STRING,
    SLOT_BYTES: SLOT,
    HOST_BYTES: HOST,
    ENTRY_BYTES: ENTRY,
    MARK_BYTES: MARK,
  }),
);
