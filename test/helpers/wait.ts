// Waiting in tests: on an event or on a condition, never on the clock alone. A loaded CI box can
// be many times slower than a laptop, so every wait here has a generous timeout that only a real
// failure reaches, and says what it was waiting for when it gives up.

export interface WaitOptions {
  /** Give up after this many ms (default 10 s). */
  timeout?: number;
  /** Poll every this many ms (default 25). */
  interval?: number;
  /** Named in the timeout error. */
  what?: string;
}

/** What a truthy check result can be. */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

/**
 * Polls `check` until it returns a truthy value, and resolves with that value. A `check` that
 * throws counts as "not yet" (a connection refused while a worker restarts); its last error is
 * in the timeout message.
 */
export async function waitFor<T>(check: () => T | Promise<T>, opts: WaitOptions = {}): Promise<Truthy<T>> {
  const { timeout = 10_000, interval = 25, what = 'condition' } = opts;
  const until = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as Truthy<T>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > until) {
      const cause = lastError ? ` (last error: ${(lastError as Error).message ?? lastError})` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${cause}`);
    }
    await sleep(interval);
  }
}

/** Rejects with a clear message when `p` has not settled within `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Lets time pass. Only for tests where the passing of time is the feature ("nothing happens for
 * N ms", "a producer left alone would run away"); every call site says why. To wait for
 * something to happen, use waitFor or an event.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
