// Loads uWebSockets.js and refuses its pure-JS fallback. The npm wrapper we depend on
// (@trufflesuite/uws-js-unofficial) swallows a failed native load with a console.warn and
// returns a slow JavaScript server instead; hostd must never serve traffic on that.
import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';
import { HostdError } from '../../shared/errors.js';

export type Uws = typeof UWS;

let loaded: Uws | undefined;

export function loadUws(): Uws {
  if (loaded) return loaded;
  const why = (detail: string) =>
    new HostdError(
      'HOSTD_UWS_NOT_NATIVE',
      `uWebSockets.js did not load its native binary (${process.platform}-${process.arch}, ` +
        `Node ABI ${process.versions.modules}, Node ${process.version}): ${detail}. ` +
        'hostd refuses to start on the slow pure-JavaScript fallback. Use Node 20 on glibc >= 2.18 ' +
        'and reinstall with `npm ci`.',
    );
  const flag = process.env.UWS_USE_FALLBACK;
  if (flag && /^(1|true)$/i.test(flag)) throw why('UWS_USE_FALLBACK is set');

  const require = createRequire(import.meta.url);
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(' ').trim());
  let mod: Uws;
  try {
    mod = require('uWebSockets.js') as Uws;
  } catch (err) {
    throw why((err as Error).message);
  } finally {
    console.warn = warn;
  }
  // The native App is a C++ function; the fallback's is JavaScript and lacks getParts.
  const native = typeof mod.getParts === 'function' && /\[native code\]/.test(String(mod.App));
  if (!native) throw why(warnings.join(' ').replace(/\s+/g, ' ') || 'the module is the JavaScript fallback');
  loaded = mod;
  return mod;
}
