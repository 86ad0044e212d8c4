// Per-mount WebSocket counters on one front, summed over fronts for /status and /metrics
// (native-front/ws/report.ts). Plain numbers: a message costs two increments.

export interface WsCounters {
  /** The mount key (vhost address and names, mount URL). */
  key: string;
  /** Sockets open now. */
  open: number;
  /** Upgrades accepted (refused ones are HTTP responses, counted with the requests). */
  upgrades: number;
  /** Upgrades refused because maxConnections was reached. */
  overLimit: number;
  messagesIn: number;
  bytesIn: number;
  /** Sent and published to clients (one per subscriber reached). */
  messagesOut: number;
  bytesOut: number;
  /** Closes by code, as uWS reported them (1006: no close frame). */
  closes: Record<string, number>;
}

export class WsStats implements WsCounters {
  open = 0;
  upgrades = 0;
  overLimit = 0;
  messagesIn = 0;
  bytesIn = 0;
  messagesOut = 0;
  bytesOut = 0;
  closes: Record<string, number> = {};

  constructor(readonly key: string) {}

  closed(code: number): void {
    this.open--;
    this.closes[code] = (this.closes[code] ?? 0) + 1;
  }

  snapshot(): WsCounters {
    return {
      key: this.key,
      open: this.open,
      upgrades: this.upgrades,
      overLimit: this.overLimit,
      messagesIn: this.messagesIn,
      bytesIn: this.bytesIn,
      messagesOut: this.messagesOut,
      bytesOut: this.bytesOut,
      closes: { ...this.closes },
    };
  }
}
