// Parses a vhost file's text (YAML, or JSON, which is YAML 1.2) keeping the node tree, so every
// problem can name the line of the offending key or value.
import { type Document, LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node } from 'yaml';

/** A path into the config value: object keys and array indexes. */
export type ConfigPath = (string | number)[];

/** Where to point for a path: at its key (unknown key), its value (bad value), or the enclosing node. */
export type LineAt = 'key' | 'value';

/** Maps a config path to a 1-based line; 0 when there is no source. */
export type Locator = (path: ConfigPath, at?: LineAt) => number;

export const noSource: Locator = () => 0;

export type ParsedSource = { ok: true; value: unknown; lineOf: Locator } | { ok: false; line: number; message: string };

/** Parse `text`. `json` picks strict JSON syntax checking and the wording of syntax errors. */
export function parseSource(text: string, json: boolean): ParsedSource {
  const lineCounter = new LineCounter();
  const kind = json ? 'JSON' : 'YAML';
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter, merge: !json, prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    return { ok: false, line: 1, message: `${kind} syntax error: ${firstLine(String((err as Error)?.message ?? err))}` };
  }
  // A problem at the very end (after the last newline) belongs to the last line.
  const lastLine = Math.max(1, text.replace(/\s+$/, '').split('\n').length);
  const lineAt = (offset: number): number => Math.min(lineCounter.linePos(offset).line, lastLine);

  if (json) {
    // YAML accepts things JSON does not (comments, trailing commas, bare words): check strictly.
    const bad = jsonSyntaxError(text);
    if (bad) return { ok: false, line: lineAt(bad.pos), message: `JSON syntax error: ${bad.message}` };
  }
  if (doc.errors.length > 0) {
    // The first error is the cause; later ones are usually its echoes.
    const e = doc.errors[0];
    const line = Math.min(e.linePos?.[0]?.line ?? lineAt(e.pos[0]), lastLine);
    const msg =
      e.code === 'MULTIPLE_DOCS'
        ? 'a second document ("---"): a vhost file holds one vhost; put the next one in its own file'
        : e.code === 'DUPLICATE_KEY'
          ? 'a key appears twice in one mapping'
          : firstLine(e.message).replace(/ at line \d+, column \d+:?$/, '');
    return { ok: false, line, message: `${kind} syntax error: ${msg}` };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    return { ok: false, line: 1, message: `${kind} syntax error: ${firstLine(String((err as Error)?.message ?? err))}` };
  }

  const lineOf: Locator = (path, at = 'value') => {
    // Walk the node tree as far as the path exists; point at the deepest node found.
    let node: unknown = doc.contents;
    let line = node && (node as Node).range ? lineAt((node as Node).range![0]) : 1;
    for (let i = 0; i < path.length; i++) {
      if (isAlias(node)) node = node.resolve(doc);
      const seg = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => keyString(p.key) === String(seg));
        if (!pair) return line;
        const keyNode = pair.key as Node | null;
        const keyLine = keyNode?.range ? lineAt(keyNode.range[0]) : line;
        if (last && at === 'key') return keyLine;
        const v = pair.value as Node | null;
        // `key:` with nothing after it: the key's line is the value's line.
        line = v?.range && !(isScalar(v) && v.value === null) ? lineAt(v.range[0]) : keyLine;
        node = v;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (!item) return line;
        if (item.range) line = lineAt(item.range[0]);
        node = item;
      } else {
        return line;
      }
    }
    return line;
  };
  return { ok: true, value, lineOf };
}

function keyString(k: unknown): string | undefined {
  if (isScalar(k)) return String(k.value);
  return k == null ? undefined : String(k);
}

function firstLine(s: string): string {
  return s.split('\n', 1)[0].trim();
}

/**
 * A small strict JSON scanner: the position and reason of the first syntax error, or null.
 * JSON.parse does not always say where it failed; this does.
 */
export function jsonSyntaxError(text: string): { pos: number; message: string } | null {
  let i = 0;
  const n = text.length;
  class Fail {
    constructor(
      readonly pos: number,
      readonly message: string,
    ) {}
  }
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const what = () => (i >= n ? 'end of file' : `"${text[i]}"`);
  const str = () => {
    i++; // opening quote
    while (i < n) {
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Fail(i, 'bad \\u escape in string');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i += 2;
        } else {
          throw new Fail(i, 'bad escape in string');
        }
        continue;
      }
      if (c < ' ') throw new Fail(i, c === '\n' ? 'unterminated string' : 'control character in string');
      i++;
    }
    throw new Fail(n, 'unterminated string');
  };
  /** The members of an object or array, from its opening bracket through `close`. */
  const sequence = (close: '}' | ']', member: () => void): void => {
    i++;
    ws();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      member();
      ws();
      if (text[i] === ',') {
        i++;
        ws();
        if (text[i] === close) throw new Fail(i, `trailing comma before "${close}"`);
        continue;
      }
      if (text[i] === close) {
        i++;
        return;
      }
      throw new Fail(i, `expected "," or "${close}", found ${what()}`);
    }
  };
  const property = (): void => {
    ws();
    if (text[i] !== '"') throw new Fail(i, `expected a double-quoted key, found ${what()}`);
    str();
    ws();
    if (text[i] !== ':') throw new Fail(i, `expected ":" after a key, found ${what()}`);
    i++;
    value();
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') return sequence('}', property);
    if (c === '[') return sequence(']', value);
    if (c === '"') return str();
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (m) {
      i += m[0].length;
      return;
    }
    throw new Fail(i, `unexpected ${what()}`);
  };
  try {
    if (text.charCodeAt(0) === 0xfeff) i = 1; // BOM
    ws();
    if (i >= n) return null; // empty: reported as "empty file" by the caller
    value();
    ws();
    if (i < n) throw new Fail(i, `unexpected ${what()} after the end of the JSON value`);
    return null;
  } catch (e) {
    if (e instanceof Fail) return { pos: Math.min(e.pos, n), message: e.message };
    return { pos: Math.min(i, n), message: e instanceof RangeError ? 'nesting too deep' : String(e) };
  }
}
