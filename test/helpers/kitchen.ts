// The kitchen app (test/fixtures/apps/kitchen.mjs): one route per daemon behaviour.
import { resolve } from 'node:path';

export const KITCHEN = resolve('test/fixtures/apps/kitchen.mjs');

/**
 * Lets kitchen requests waiting on /held?key=KEY answer (in this process's workers): a request
 * that keeps its worker busy for exactly as long as the test needs.
 */
export function releaseHeld(key: string): void {
  const channel = new BroadcastChannel('kitchen-release');
  channel.postMessage(key);
  channel.close();
}
