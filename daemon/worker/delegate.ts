// The light Request and Response share one trick: every member of undici's prototype that the
// light class does not implement itself is forwarded to the real object, built on first use.

/**
 * Defines on `light` a forwarder for every getter and method of `real` that `light` lacks;
 * `materialize(self)` returns (building it once) the real object behind a light one.
 */
export function forwardToReal<T extends object>(light: T, real: object, materialize: (self: T) => object): void {
  const own = new Set(Object.getOwnPropertyNames(light));
  const proto = real as Record<string | symbol, unknown>;
  for (const key of Reflect.ownKeys(proto)) {
    if (key === 'constructor' || key === Symbol.toStringTag || (typeof key === 'string' && own.has(key))) continue;
    const d = Object.getOwnPropertyDescriptor(proto, key)!;
    if (typeof d.get === 'function') {
      const get = d.get;
      Object.defineProperty(light, key, {
        configurable: true,
        enumerable: d.enumerable,
        get(this: T) {
          return get.call(materialize(this));
        },
      });
    } else if (typeof d.value === 'function') {
      const fn = d.value as (...a: unknown[]) => unknown;
      Object.defineProperty(light, key, {
        configurable: true,
        enumerable: d.enumerable,
        writable: true,
        value: function (this: T, ...args: unknown[]) {
          return fn.apply(materialize(this), args);
        },
      });
    }
  }
}
