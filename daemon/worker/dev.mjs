// Worker bootstrap when hostd runs from its TypeScript sources (tests under tsx): worker threads
// do not inherit the parent's tsx loader, so register it here, then load the real entry.
// The built package uses dist/worker.js instead and never loads this file.
import { register } from 'tsx/esm/api';

register();
const mod = await import('./entry.ts');
export default mod.default;
