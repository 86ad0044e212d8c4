// The JSON Schema (shared/config/vhost.schema.json: editors, docs) and the resolver
// (shared/config/resolve.ts: what hostd runs with) each state the defaults. This walks every
// `default` in the schema, resolves a vhost that sets nothing optional, and requires the two to
// agree, and each description's "Default ..." to name the same value: a change to one side alone
// fails here.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import {
  formatDuration,
  formatSize,
  parseDuration,
  parseListen,
  parseSize,
  type ResolvedApp,
  type ResolvedStatic,
  type ResolvedVhost,
  resolveVhost,
  vhostSchema,
} from '../shared/config/index.js';

type Node = Record<string, unknown>;

interface Property {
  /** Where it is written in a vhost: ["apps", "pool", "threads"] (arrays stand for their items). */
  path: string[];
  key: string;
  schema: Node;
}

const defs = vhostSchema.$defs as Record<string, Node>;

/** A schema node with its $ref resolved (the node's own keywords win, as in the schema). */
function deref(node: Node): Node {
  const ref = node.$ref;
  if (typeof ref !== 'string') return node;
  const target = defs[ref.replace('#/$defs/', '')];
  if (!target) throw new Error(`unknown $ref ${ref}`);
  return { ...deref(target), ...node, $ref: ref };
}

/** Every property of the vhost schema, nested objects and array items included. */
function properties(node: Node, at: string[] = []): Property[] {
  const out: Property[] = [];
  for (const [key, raw] of Object.entries((node.properties ?? {}) as Record<string, Node>)) {
    const schema = deref(raw);
    out.push({ path: [...at, key], key, schema });
    const items = schema.items ? deref(schema.items as Node) : undefined;
    if (schema.properties) out.push(...properties(schema, [...at, key]));
    else if (items?.properties) out.push(...properties(items, [...at, key]));
  }
  return out;
}

const isDuration = (p: Property) => p.schema.$ref === '#/$defs/duration';
const isSize = (p: Property) => String(p.schema['x-expected'] ?? '').startsWith('a size');

/** The resolver's name for a key: durations gain "Ms", `default` is `isDefault`. */
function resolvedKey(p: Property): string {
  if (isDuration(p)) return `${p.key}Ms`;
  if (p.path.length === 1 && p.key === 'default') return 'isDefault';
  return p.key;
}

/** A schema default as the resolver holds it. */
function interpret(p: Property, value: unknown): unknown {
  if (isDuration(p)) return parseDuration(value);
  if (isSize(p)) return parseSize(value);
  if (p.path.length === 1 && p.key === 'listen') return parseListen(value);
  return value;
}

/** A resolved value as a description writes it ("Default 60s.", "Default 100 MiB."). */
function described(p: Property, value: unknown): string {
  if (isDuration(p)) return formatDuration(value as number);
  if (isSize(p)) return formatSize(value as number);
  if (p.path.length === 1 && p.key === 'listen') return String((value as { port: number }).port);
  if (typeof value === 'string' || typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

describe('config: the schema’s defaults are the resolver’s', () => {
  let dir: string;
  let vhost: ResolvedVhost;
  /** The resolved object a schema path lands in. */
  let objectAt: (path: string[]) => Record<string, unknown>;
  /** The keys the minimal vhost writes itself. */
  const given = new Set(['serverName', 'static', 'apps', 'static.url', 'static.dir', 'apps.url', 'apps.module']);

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hostd-defaults-'));
    writeFileSync(path.join(dir, 'app.mjs'), 'export default { fetch: () => new Response("x") };\n');
    const r = resolveVhost(
      { serverName: 'x.test', static: [{ url: '/', dir: '.' }], apps: [{ url: '/app', module: './app.mjs' }] },
      { file: '<test>', baseDir: dir },
    );
    expect(r.problems).to.deep.equal([]);
    vhost = r.vhost!;
    const st = vhost.mounts.find((m): m is ResolvedStatic => m.kind === 'static')!;
    const app = vhost.mounts.find((m): m is ResolvedApp => m.kind === 'app')!;
    // compression and cache are objects only when written: resolve them written empty (all defaults).
    const full = resolveVhost(
      {
        serverName: 'x.test',
        compression: {},
        static: [{ url: '/', dir: '.', compression: {} }],
        apps: [{ url: '/app', module: './app.mjs', compression: {}, cache: { maxSize: '1mb' } }],
      },
      { file: '<test>', baseDir: dir },
    );
    expect(full.problems).to.deep.equal([]);
    const fst = full.vhost!.mounts.find((m): m is ResolvedStatic => m.kind === 'static')!;
    const fapp = full.vhost!.mounts.find((m): m is ResolvedApp => m.kind === 'app')!;
    // The vhost's compression is inherited by its mounts: read it from one that sets none.
    const inherit = resolveVhost(
      { serverName: 'x.test', compression: {}, static: [{ url: '/', dir: '.' }] },
      { file: '<test>', baseDir: dir },
    );
    const ist = inherit.vhost!.mounts[0] as ResolvedStatic;
    const objects: Record<string, object> = {
      '': vhost,
      static: st,
      apps: app,
      'apps.pool': app.pool,
      compression: ist.compression!,
      'compression.level': ist.compression!.level,
      'static.compression': fst.compression!,
      'static.compression.level': fst.compression!.level,
      'apps.compression': fapp.compression!,
      'apps.compression.level': fapp.compression!.level,
      'apps.cache': fapp.cache!,
      'apps.websocket': app.websocket,
    };
    objectAt = (p) => {
      const o = objects[p.join('.')];
      if (!o) throw new Error(`no resolved object for schema path ${p.join('.')}; teach this test where it goes`);
      return o as Record<string, unknown>;
    };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const all = properties(vhostSchema as Node);

  it('finds the defaults to compare (the walk reaches vhost, mounts and pool)', () => {
    const withDefault = all.filter((p) => 'default' in p.schema).map((p) => p.path.join('.'));
    expect(withDefault).to.include.members([
      'default',
      'listen',
      'static.index',
      'apps.interface',
      'apps.maxBodySize',
      'apps.pool.threads',
      'apps.pool.requestTimeout',
    ]);
  });

  for (const p of all.filter((q) => 'default' in q.schema)) {
    const name = p.path.join('.');
    it(`${name}: schema default ${JSON.stringify(p.schema.default)} = resolved value, and the description says so`, () => {
      const resolved = objectAt(p.path.slice(0, -1))[resolvedKey(p)];
      expect(resolved, `${name} resolved`).to.deep.equal(interpret(p, p.schema.default));
      expect(String(p.schema.description), `${name} description`).to.include(`Default ${described(p, resolved)}`);
    });
  }

  it('every optional key without a schema default is left unset, or its description explains the default', () => {
    const holders = ['', 'static', 'apps', 'apps.pool'];
    for (const p of all) {
      const name = p.path.join('.');
      const parent = p.path.slice(0, -1).join('.');
      // Keys with a default are compared above; nested objects (pool) by their own keys; tls.* is
      // not in the minimal vhost.
      if ('default' in p.schema || given.has(name) || p.schema.properties || !holders.includes(parent)) continue;
      const value = objectAt(p.path.slice(0, -1))[resolvedKey(p)];
      if (value === undefined) continue; // unset: maxAge, memoryLimitMb, tls, redirectHttps, touchFile
      expect(String(p.schema.description), `${name} is filled in (${JSON.stringify(value)}) with no schema default`).to.match(/Default: /);
    }
  });
});
