// What every resolver shares: the problem list of one file, and the checks of single values
// (sizes, durations, urls, paths that must exist). A value the schema has already found wrong
// is left to the schema's message: these return the default and say nothing.
import { statSync } from 'node:fs';
import path from 'node:path';
import { parseDuration, parseSize } from '../duration.js';
import { normalizeMountUrl } from '../names.js';
import { checkShape, describeValue, prefix } from '../schema.js';
import type { SchemaPart } from '../schema.js';
import type { ConfigPath, LineAt, Locator } from '../source.js';
import type { ConfigProblem, ResolvedCompression } from '../types.js';

export const LISTEN_EXPECTED = 'expected a port number or "host:port"';
const DURATION_HINT = '(use 500ms, 30s, 2m, 1h)';
const SIZE_HINT = '(use 512k, 10mb, 1gb or bytes)';

/** Collects problems for one file (or object), giving each its line. */
export class Problems {
  readonly list: ConfigProblem[] = [];
  constructor(
    readonly file: string,
    readonly lineOf: Locator,
  ) {}
  /** `message` gets the key path as its prefix. */
  add(p: ConfigPath, message: string, at: LineAt = 'value'): void {
    this.list.push({ file: this.file, line: this.lineOf(p, at), message: prefix(p) + message });
  }
  shape(value: unknown, part: SchemaPart, base: ConfigPath): void {
    for (const sp of checkShape(value, part, base)) {
      this.list.push({ file: this.file, line: this.lineOf(sp.path, sp.at), message: sp.message });
    }
  }
}

export interface Ctx {
  baseDir: string;
  problems: Problems;
  /** The vhost's `compression` (already checked), the base its mounts' own settings override. */
  compression?: ResolvedCompression;
}

/** A size (bytes or "10mb"); problems reported, `def` returned when absent or wrong. */
export function size(v: unknown, p: ConfigPath, def: number, ctx: Ctx): number {
  if (typeof v !== 'string' && typeof v !== 'number') return def; // absent, or the schema said why
  const n = parseSize(v);
  if (n === undefined) {
    ctx.problems.add(p, `${describeValue(v)} is not a size ${SIZE_HINT}`);
    return def;
  }
  return n;
}

export function duration(v: unknown, p: ConfigPath, def: number, ctx: Ctx, zeroOk: boolean): number {
  if (typeof v !== 'string' && typeof v !== 'number') return def; // absent, or the schema said why
  const ms = parseDuration(v);
  if (ms === undefined) {
    if (typeof v === 'string') ctx.problems.add(p, `${describeValue(v)} is not a duration ${DURATION_HINT}`);
    return def;
  }
  if (ms === 0 && !zeroOk) {
    ctx.problems.add(p, 'must be above 0');
    return def;
  }
  return ms;
}

export function mountUrl(v: unknown, p: ConfigPath, ctx: Ctx): string | undefined {
  if (typeof v !== 'string') return undefined;
  const r = normalizeMountUrl(v);
  if ('error' in r) {
    ctx.problems.add([...p, 'url'], r.error);
    return undefined;
  }
  return r.url;
}

/** Resolve a path that must name an existing file; report and return undefined if not. */
export function existingFile(rel: string, p: ConfigPath, ctx: Ctx): string | undefined {
  if (rel === '') return undefined; // the schema said why
  const abs = path.resolve(ctx.baseDir, rel);
  const st = statOrUndefined(abs);
  if (!st) ctx.problems.add(p, `file not found: ${abs}`);
  else if (!st.isFile()) ctx.problems.add(p, `not a file: ${abs}`);
  else return abs;
  return undefined;
}

export function statOrUndefined(p: string) {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

export function bool(v: unknown, def: boolean): boolean {
  return typeof v === 'boolean' ? v : def;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
