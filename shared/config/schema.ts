// Shape validation against vhost.schema.json (the source of truth for keys and types), with
// ajv's errors turned into problems that name the key path in the user's words.
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import schema from './vhost.schema.json' with { type: 'json' };
import type { ConfigPath, LineAt } from './source.js';
import { closestKey } from './suggest.js';

export { schema as vhostSchema };

/** Which part of the schema a value is checked against. */
export type SchemaPart = 'vhost' | 'staticMount' | 'appMount';

let validators: Record<SchemaPart, ValidateFunction> | undefined;

function getValidators(): Record<SchemaPart, ValidateFunction> {
  if (validators) return validators;
  // allErrors: report every problem at once. verbose: errors carry the schema and the data,
  // which the messages below use ("x-expected", the offending value).
  const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true, strictTypes: false });
  ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });
  ajv.addSchema(schema, 'vhost');
  const get = (ref: string): ValidateFunction => {
    const v = ajv.getSchema(ref);
    if (!v) throw new Error(`hostd: schema ${ref} missing`);
    return v;
  };
  validators = {
    vhost: get('vhost'),
    staticMount: get('vhost#/$defs/staticMount'),
    appMount: get('vhost#/$defs/appMount'),
  };
  return validators;
}

/** A shape problem before it is given a file and line. */
export interface ShapeProblem {
  path: ConfigPath; // where the line points
  at: LineAt;
  message: string; // already prefixed with the key path
}

/** Validate `value` against a part of the schema; `base` is the path of `value` in the vhost. */
export function checkShape(value: unknown, part: SchemaPart, base: ConfigPath = []): ShapeProblem[] {
  const validate = getValidators()[part];
  if (validate(value)) return [];
  const out: ShapeProblem[] = [];
  const seenValuePaths = new Set<string>();
  for (const err of validate.errors ?? []) {
    const path = [...base, ...pointerToPath(value, err.instancePath)];
    if (err.keyword === 'additionalProperties') {
      const key = String((err.params as { additionalProperty: string }).additionalProperty);
      const known = Object.keys((err.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      out.push({ path: [...path, key], at: 'key', message: prefix(path) + `unknown key "${key}"${hint(key, known)}` });
      continue;
    }
    if (err.keyword === 'required') {
      const key = String((err.params as { missingProperty: string }).missingProperty);
      out.push({ path, at: 'value', message: prefix(path) + `missing required key "${key}"` });
      continue;
    }
    // One message per offending value: a union type fails once, but keep the guard cheap.
    const id = JSON.stringify(path);
    if (seenValuePaths.has(id)) continue;
    seenValuePaths.add(id);
    out.push({ path, at: 'value', message: prefix(path) + valueMessage(err) });
  }
  return out;
}

function valueMessage(err: ErrorObject): string {
  const ps = (err.parentSchema ?? {}) as Record<string, unknown>;
  const expected = typeof ps['x-expected'] === 'string' ? ps['x-expected'] : undefined;
  const got = describeValue(err.data);
  switch (err.keyword) {
    case 'type':
      return `expected ${expected ?? typeWords(err.schema)}, got ${got}`;
    case 'enum':
      return `expected ${expected ?? (err.schema as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${got}`;
    case 'minimum':
      return `must be at least ${String(err.schema)}, got ${got}`;
    case 'maximum':
      return `must be at most ${String(err.schema)}, got ${got}`;
    case 'minLength':
      return 'must not be empty';
    case 'pattern': // the regular expression means nothing to a reader: say what is expected
      return expected ? `expected ${expected}, got ${got}` : `${got} is not valid here`;
    default:
      return `${err.message ?? 'is invalid'}${expected ? ` (expected ${expected})` : ''}`;
  }
}

function typeWords(t: unknown): string {
  const words: Record<string, string> = {
    integer: 'a whole number',
    number: 'a number',
    string: 'a string',
    boolean: 'true or false',
    array: 'a list',
    object: 'a mapping',
    null: 'nothing',
  };
  const list = Array.isArray(t) ? t : [t];
  return list.map((x) => words[String(x)] ?? String(x)).join(' or ');
}

/** Strings up to this many characters are shown whole in messages. */
const SHOWN_WHOLE = 60;

/**
 * A long value shortened in the middle, keeping both ends ("aaaa…zzzz", SHOWN_WHOLE characters):
 * the start says what it is, the end is where values that share a start differ.
 */
export function shortenMiddle(text: string, max = SHOWN_WHOLE): string {
  if (text.length <= max) return text;
  const head = Math.ceil((max - 1) / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (max - 1 - head))}`;
}

/**
 * Whether a value may be a file path (module, dir, cert, touchFile, or a path given where a
 * number was expected): those are never shortened, since the part cut is the file name a
 * user needs. Anything with a slash counts.
 */
function mayBePath(text: string): boolean {
  return text.includes('/') || text.includes('\\');
}

/**
 * A short description of a value for messages: "30 sec" quoted, lists and mappings by kind.
 * Long strings are shortened in the middle, paths never (`kind: 'path'`, or anything with a slash).
 */
export function describeValue(v: unknown, kind: 'value' | 'path' = 'value'): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(kind === 'path' || mayBePath(v) ? v : shortenMiddle(v));
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

/** "apps[0].pool.requestTimeout: " for a path; "" for the root. */
export function prefix(path: ConfigPath): string {
  const text = pathText(path);
  return text ? `${text}: ` : '';
}

export function pathText(path: ConfigPath): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) s += s ? `.${seg}` : seg;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
}

/** JSON pointer -> path; segments that index arrays become numbers. */
function pointerToPath(root: unknown, pointer: string): ConfigPath {
  if (!pointer) return [];
  const out: ConfigPath = [];
  let cur: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      const idx = Number(seg);
      out.push(idx);
      cur = cur[idx];
    } else {
      out.push(seg);
      cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

// Words people bring from Apache, nginx and other hosts, and where they go in hostd.
const SYNONYMS: Record<string, string> = {
  servername: 'serverName',
  servernames: 'serverName',
  serveralias: 'serverName',
  hostname: 'serverName',
  hostnames: 'serverName',
  host: 'serverName',
  hosts: 'serverName',
  domain: 'serverName',
  domains: 'serverName',
  names: 'serverName',
  port: 'listen',
  bind: 'listen',
  ssl: 'tls',
  https: 'tls',
  certificate: 'cert',
  documentroot: 'static',
  docroot: 'static',
  root: 'dir',
  directory: 'dir',
  path: 'url',
  prefix: 'url',
  mount: 'url',
  app: 'apps',
  application: 'apps',
  applications: 'apps',
  script: 'module',
  entry: 'module',
  main: 'module',
  file: 'module',
  workers: 'threads',
  timeout: 'requestTimeout',
  environment: 'env',
  maxage: 'maxAge',
  cachecontrol: 'maxAge',
  maxbody: 'maxBodySize',
  bodylimit: 'maxBodySize',
  home: 'cwd',
  workdir: 'cwd',
  workingdirectory: 'cwd',
  chdir: 'cwd',
  dotenv: 'envFile',
  sitename: 'name',
};

const POOL_KEYS = [
  'threads',
  'minThreads',
  'concurrency',
  'maxRequests',
  'maxRequestsJitter',
  'requestTimeout',
  'queueSize',
  'queueTimeout',
  'memoryLimitMb',
  'idleTimeout',
  'env',
  'envFile',
  'cwd',
  'passEnv',
  'isolation',
  'processes',
  'user',
  'group',
];

function hint(key: string, known: string[]): string {
  const close = closestKey(key, known);
  if (close) return ` (did you mean "${close}"?)`;
  const syn = SYNONYMS[key.toLowerCase().replace(/[-_ ]/g, '')];
  if (syn && known.includes(syn)) return ` (did you mean "${syn}"?)`;
  // A pool setting written directly on the app mount.
  if (known.includes('pool')) {
    const poolKey = closestKey(key, POOL_KEYS) ?? (POOL_KEYS.includes(syn ?? '') ? syn : undefined);
    if (poolKey) return ` (did you mean "pool.${poolKey}"?)`;
  }
  // A mount setting written directly on the vhost.
  if (known.includes('apps') && ['url', 'dir', 'module'].includes(closestKey(key, ['url', 'dir', 'module']) ?? syn ?? '')) {
    return ' (mounts go in a list under "static:" or "apps:")';
  }
  return known.length ? ` (known keys: ${known.join(', ')})` : '';
}
