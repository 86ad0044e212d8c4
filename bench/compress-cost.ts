// What compression costs on this machine: CPU time and ratio of gzip and brotli at several
// levels on 100 KB of text (the bench's generated HTML, and this repository's TypeScript
// sources), the figures behind the defaults (gzip 6, brotli 5; see native-front/compress).
//
//   node --import tsx bench/compress-cost.ts
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { compressBody } from '../shared/compress/index.js';
import { benchText } from './text.js';

const repo = dirname(dirname(fileURLToPath(import.meta.url)));
const SIZE = 100 * 1024;

function sources(): Buffer {
  let text = '';
  for (const d of ['native-front/static', 'native-front/cache', 'shared/config', 'native-front']) {
    for (const f of readdirSync(join(repo, d)).sort()) if (f.endsWith('.ts')) text += readFileSync(join(repo, d, f), 'utf8');
  }
  return Buffer.from(text).subarray(0, SIZE);
}

function msPer(fn: () => void, minMs = 300): number {
  fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    fn();
    n++;
  }
  return (performance.now() - t0) / n;
}

const B = zlib.constants;
for (const [name, body] of [
  ['generated HTML (bench/text.ts)', benchText(SIZE)],
  ['TypeScript sources', sources()],
] as const) {
  console.log(`\n${name}, ${body.length} bytes: sync CPU time per body, output size, ratio`);
  for (const level of [1, 4, 6, 9]) {
    let out = Buffer.alloc(0);
    const ms = msPer(() => (out = zlib.gzipSync(body, { level })));
    console.log(
      `  gzip ${String(level).padEnd(2)}  ${ms.toFixed(2).padStart(7)} ms  ${String(out.length).padStart(6)} B  ${(body.length / out.length).toFixed(2)}x`,
    );
  }
  for (const q of [1, 4, 5, 6, 9, 11]) {
    let out = Buffer.alloc(0);
    const ms = msPer(
      () =>
        (out = zlib.brotliCompressSync(body, {
          params: { [B.BROTLI_PARAM_QUALITY]: q, [B.BROTLI_PARAM_SIZE_HINT]: body.length, [B.BROTLI_PARAM_MODE]: B.BROTLI_MODE_TEXT },
        })),
      q >= 10 ? 1000 : 300,
    );
    console.log(
      `  br   ${String(q).padEnd(2)}  ${ms.toFixed(2).padStart(7)} ms  ${String(out.length).padStart(6)} B  ${(body.length / out.length).toFixed(2)}x`,
    );
  }
  // The path hostd takes: the async API on libuv's threadpool (wall time, one job at a time).
  for (const coding of ['gzip', 'br'] as const) {
    await compressBody(body, coding, { gzip: 6, br: 5 });
    const n = 20;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await compressBody(body, coding, { gzip: 6, br: 5 });
    console.log(`  compressBody ${coding} (default level, threadpool): ${((performance.now() - t0) / n).toFixed(2)} ms wall per body`);
  }
}
