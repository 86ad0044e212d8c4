// Per-mount request counters and a latency histogram, updated on every response and read by
// /metrics and /status. Plain numbers in arrays: a response costs a few increments, no allocation.

export const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class MountStats {
  /** Responses by status class: index 1..5 for 1xx..5xx, 0 for aborted (499). */
  readonly byClass = [0, 0, 0, 0, 0, 0];
  /** Cumulative-on-read latency histogram: counts per bucket, last slot is +Inf. */
  readonly buckets = new Array<number>(LATENCY_BUCKETS_S.length + 1).fill(0);
  latencySum = 0;
  count = 0;
  bytes = 0;

  constructor(
    readonly vhost: string,
    readonly mount: string,
    readonly kind: 'static' | 'app',
  ) {}

  record(status: number, bytes: number, durationMs: number): void {
    const cls = status === 499 ? 0 : (status / 100) | 0;
    this.byClass[cls >= 1 && cls <= 5 ? cls : 5]++;
    this.count++;
    this.bytes += bytes;
    const s = durationMs / 1000;
    this.latencySum += s;
    let i = 0;
    while (i < LATENCY_BUCKETS_S.length && s > LATENCY_BUCKETS_S[i]) i++;
    this.buckets[i]++;
  }
}
