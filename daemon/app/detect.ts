// Decides which interface a module's export speaks and returns it as a FetchHandler.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { nodeListenerToFetch, type NodeListener } from './node-adapter.js';
import type { AppInterface, FetchHandler, LoadedApp, WebSocketHandlers } from './types.js';
import type { EventEmitter } from 'node:events';

type Fn = (...args: unknown[]) => unknown;

const isFn = (v: unknown): v is Fn => typeof v === 'function';
const hasFn = (v: unknown, key: string): boolean =>
  (typeof v === 'object' || typeof v === 'function') && v !== null && isFn((v as Record<string, unknown>)[key]);

/** Express (and connect): a function with .handle and .use. */
const isExpress = (v: unknown): boolean => isFn(v) && hasFn(v, 'handle') && hasFn(v, 'use');
/** Koa: an object (or function) with .callback() returning the (req, res) listener. */
const isKoa = (v: unknown): boolean => hasFn(v, 'callback') && hasFn(v, 'use');
/** An http.Server (or anything emitting 'request'): its request listeners are the app. */
const isServer = (v: unknown): boolean =>
  hasFn(v, 'listeners') && hasFn(v, 'listen') && (v as { listeners(e: string): unknown[] }).listeners('request').length > 0;

export class DetectError extends Error {}

function asNodeListener(v: unknown): NodeListener | null {
  if (isExpress(v)) return v as NodeListener;
  if (isKoa(v)) return (v as { callback(): NodeListener }).callback();
  if (isServer(v)) {
    const server = v as { listeners(e: string): Fn[] };
    return (req: IncomingMessage, res: ServerResponse) => {
      for (const l of server.listeners('request')) l.call(server, req, res);
    };
  }
  return null;
}

function fromFetchObject(obj: { fetch: FetchHandler }): FetchHandler {
  // Called as a method: Hono and friends use `this`.
  return (request, env, ctx) => obj.fetch(request, env, ctx);
}

/** A fetch app: its handler, and its `websocket` handlers when it exports them beside fetch (Bun's shape). */
function fetchApp(obj: { fetch: FetchHandler; websocket?: unknown }): LoadedApp {
  const app: LoadedApp = { fetch: fromFetchObject(obj), interface: 'fetch' };
  const ws = obj.websocket;
  if (typeof ws === 'object' && ws !== null) app.websocket = ws as WebSocketHandlers;
  return app;
}

/** A node app; an http.Server's 'upgrade' listeners take its WebSockets (ws-bridge.ts). */
function nodeApp(listener: NodeListener, exp: unknown): LoadedApp {
  const app: LoadedApp = { fetch: nodeListenerToFetch(listener), interface: 'node', node: listener };
  if (isServer(exp)) app.server = exp as EventEmitter;
  return app;
}

/**
 * Pick the handler out of a module namespace. Looks at the default export, then (for modules
 * without one) a named `fetch` export.
 */
export function detect(ns: Record<string, unknown>, iface: AppInterface): LoadedApp {
  let exp = ns.default;
  // CommonJS compiled with __esModule interop can land as { default: { default: app } }.
  if (exp && typeof exp === 'object' && !hasFn(exp, 'fetch') && 'default' in exp && !asNodeListener(exp)) {
    const inner = (exp as { default: unknown }).default;
    if (inner !== undefined) exp = inner;
  }
  if (exp === undefined && isFn(ns.fetch)) exp = { fetch: ns.fetch };

  if (iface === 'fetch') {
    if (hasFn(exp, 'fetch')) return fetchApp(exp as { fetch: FetchHandler });
    if (isFn(exp)) return { fetch: exp as FetchHandler, interface: 'fetch' };
    throw new DetectError(`interface: fetch needs a default export that is a function or has a fetch() method; got ${describe(exp)}`);
  }

  if (iface === 'node') {
    const listener = asNodeListener(exp) ?? (isFn(exp) ? (exp as NodeListener) : null);
    if (listener) return nodeApp(listener, exp);
    throw new DetectError(
      `interface: node needs a default export that is a (req, res) listener, an Express app, a Koa app or an http.Server; got ${describe(exp)}`,
    );
  }

  // auto: only where it is unambiguous.
  if (hasFn(exp, 'fetch')) return fetchApp(exp as { fetch: FetchHandler });
  const listener = asNodeListener(exp);
  if (listener) return nodeApp(listener, exp);
  if (isFn(exp)) {
    if (exp.length === 2) return nodeApp(exp as NodeListener, exp);
    if (exp.length <= 1) return { fetch: exp as FetchHandler, interface: 'fetch' };
    throw new DetectError(
      `cannot tell whether its default export (a function of ${exp.length} parameters) is a fetch handler ` +
        `(request, env, ctx) or a node listener; set \`interface: fetch\` or \`interface: node\` on the mount`,
    );
  }
  throw new DetectError(
    `no usable export: expected \`export default { fetch }\`, a default-exported function, an Express/Koa app ` +
      `or \`module.exports = app\`; got ${describe(exp)}`,
  );
}

function describe(v: unknown): string {
  if (v === undefined) return 'no default export';
  if (v === null) return 'null';
  if (typeof v === 'function') return `a function of ${v.length} parameters`;
  if (typeof v === 'object') {
    const keys = Object.keys(v).slice(0, 5);
    return keys.length ? `an object with keys ${keys.join(', ')}` : 'an empty object';
  }
  return `a ${typeof v}`;
}
