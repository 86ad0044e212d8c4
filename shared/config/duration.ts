// Durations and sizes as users write them in vhost files and on the command line.

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_RE = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)?$/i;

/**
 * "500ms", "30s", "2m", "1h" (decimals allowed: "1.5s"), a bare number or numeric string =
 * milliseconds. Returns whole milliseconds, or undefined when `v` is not a duration.
 */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined;
  if (typeof v !== 'string') return undefined;
  const m = DURATION_RE.exec(v.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? 'ms').toLowerCase();
  const ms = Math.round(Number(m[1]) * DURATION_UNITS[unit]);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};
const SIZE_RE = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]+)?$/i;

/**
 * "10mb", "512k", "1.5g", "100b", a bare number or numeric string = bytes. k/m/g (with or
 * without "b"/"ib") are powers of 1024. Returns whole bytes, or undefined when not a size.
 */
export function parseSize(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = SIZE_RE.exec(v.trim());
  if (!m) return undefined;
  const mult = SIZE_UNITS[(m[2] ?? 'b').toLowerCase()];
  if (mult === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * mult);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** 60000 -> "60s", 1500 -> "1.5s", 90000 -> "90s", 3600000 -> "1h", 0 -> "0". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms >= 120_000) return `${ms / 60_000}m`;
  if (ms % 100 === 0 && ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** 104857600 -> "100 MiB", 1536 -> "1.5 KiB", 10 -> "10 B". */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1 && v % 1 === 0) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}
