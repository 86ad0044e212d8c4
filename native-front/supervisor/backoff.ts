// How long the supervisor waits before starting the serving process again.
//
// 100 ms doubling to 10 s, back to 100 ms once a run has served for a minute:
// - the first restart is all but immediate: a one-off death (an app that got hold of a kill, an
//   OOM kill) should cost the restart itself (~0.5-1 s of Node and app start-up), not a wait;
// - a process that dies again and again (an app that kills hostd on every request, a disk that
//   went read-only) is retried at most every 10 s rather than burning a core in a start loop, yet
//   comes back within 10 s of the cause going away;
// - a minute of serving means the last death was not part of a loop: forget the streak.
export interface BackoffPolicy {
  minMs: number;
  maxMs: number;
  /** A run that served at least this long resets the delay to minMs. */
  healthyMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { minMs: 100, maxMs: 10_000, healthyMs: 60_000 };

export class Backoff {
  private nextMs: number;
  constructor(private readonly policy: BackoffPolicy = DEFAULT_BACKOFF) {
    this.nextMs = policy.minMs;
  }

  /** The delay before the next start, given how long the run that just ended served (0: never). */
  next(servedMs: number): number {
    if (servedMs >= this.policy.healthyMs) this.nextMs = this.policy.minMs;
    const delay = this.nextMs;
    this.nextMs = Math.min(this.policy.maxMs, this.nextMs * 2);
    return delay;
  }
}
