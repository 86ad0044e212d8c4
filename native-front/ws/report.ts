// WebSockets in /status and /metrics: every front's per-mount counters (stats.ts), summed.
import type { FrontStats } from '../front/messages.js';
import type { WsCounters } from './stats.js';

export type WsStatus = Omit<WsCounters, 'key'>;

/** A mount's WebSocket counters over every front. */
export function wsStatus(fronts: readonly FrontStats[], key: string): WsStatus {
  const out: WsStatus = { open: 0, upgrades: 0, overLimit: 0, messagesIn: 0, bytesIn: 0, messagesOut: 0, bytesOut: 0, closes: {} };
  for (const f of fronts) {
    for (const c of f.websockets ?? []) {
      if (c.key !== key) continue;
      out.open += c.open;
      out.upgrades += c.upgrades;
      out.overLimit += c.overLimit;
      out.messagesIn += c.messagesIn;
      out.bytesIn += c.bytesIn;
      out.messagesOut += c.messagesOut;
      out.bytesOut += c.bytesOut;
      for (const [code, n] of Object.entries(c.closes)) out.closes[code] = (out.closes[code] ?? 0) + n;
    }
  }
  return out;
}

/** The WebSocket metric families, for mounts whose status has `websocket` (labels as renderMetrics writes them). */
export function renderWsMetrics(
  mounts: ReadonlyArray<{ labels: string; ws: WsStatus }>,
  family: (name: string, type: string, help: string) => void,
  out: string[],
): void {
  family('hostd_websockets_open', 'gauge', 'WebSockets open now, by mount.');
  for (const { labels, ws } of mounts) out.push(`hostd_websockets_open{${labels}} ${ws.open}`);
  family('hostd_websocket_upgrades_total', 'counter', 'WebSocket upgrades accepted.');
  for (const { labels, ws } of mounts) out.push(`hostd_websocket_upgrades_total{${labels}} ${ws.upgrades}`);
  family('hostd_websocket_refused_total', 'counter', 'WebSocket upgrades refused with 503 because maxConnections was reached.');
  for (const { labels, ws } of mounts) out.push(`hostd_websocket_refused_total{${labels}} ${ws.overLimit}`);
  family(
    'hostd_websocket_messages_total',
    'counter',
    'WebSocket messages: in = from clients, out = to clients (each subscriber a publish reached counts).',
  );
  for (const { labels, ws } of mounts) {
    out.push(`hostd_websocket_messages_total{${labels},direction="in"} ${ws.messagesIn}`);
    out.push(`hostd_websocket_messages_total{${labels},direction="out"} ${ws.messagesOut}`);
  }
  family('hostd_websocket_bytes_total', 'counter', 'WebSocket message payload bytes (uncompressed), by direction.');
  for (const { labels, ws } of mounts) {
    out.push(`hostd_websocket_bytes_total{${labels},direction="in"} ${ws.bytesIn}`);
    out.push(`hostd_websocket_bytes_total{${labels},direction="out"} ${ws.bytesOut}`);
  }
  family('hostd_websocket_closes_total', 'counter', 'WebSockets closed, by close code (1006: no close frame).');
  for (const { labels, ws } of mounts)
    for (const [code, n] of Object.entries(ws.closes)) out.push(`hostd_websocket_closes_total{${labels},code="${code}"} ${n}`);
}
