// `hostd status [--json]` and `hostd reload NAME [--mount /x]`: the CLI commands that talk to a
// running hostd over its status listener (status-client.ts). Each resolves with an exit code:
// 0 done, 1 hostd refused or is not there (the message says which).
import type { CliArgs } from './args.js';
import type { CheckStreams as CommandStreams } from './check.js';
import { statusRequest } from './status-client.js';
import { type StatusDoc, statusTable } from './status-table.js';

type Target = Pick<CliArgs, 'status' | 'statusTokenFile'>;

/** `body` parsed as a JSON object, or {} when it is not one (a plain-text answer). */
function jsonObject(body: string): Record<string, unknown> {
  try {
    const doc: unknown = JSON.parse(body);
    return typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The server's message from an error answer: its JSON `error`/`message`, else its text. */
function serverMessage(body: string): string {
  const doc = jsonObject(body);
  const text = doc.error ?? doc.message;
  return typeof text === 'string' ? text : body.trim();
}

export async function status(args: Target & { json: boolean }, io: CommandStreams = process): Promise<number> {
  const r = await statusRequest(args, 'GET', '/status');
  if (r.status !== 200) {
    io.stderr.write(`hostd status: the status listener answered ${r.status}: ${serverMessage(r.body)}\n`);
    return 1;
  }
  if (args.json) {
    io.stdout.write(r.body.endsWith('\n') ? r.body : r.body + '\n');
    return 0;
  }
  io.stdout.write(statusTable(JSON.parse(r.body) as StatusDoc));
  return 0;
}

export async function reload(args: Target & { site: string; mount?: string }, io: CommandStreams = process): Promise<number> {
  const query = new URLSearchParams({ site: args.site });
  if (args.mount !== undefined) query.set('mount', args.mount);
  const r = await statusRequest(args, 'POST', `/reload?${query}`);
  const what = args.mount === undefined ? `site ${args.site}` : `site ${args.site} mount ${args.mount}`;
  if (r.status < 200 || r.status > 299) {
    io.stderr.write(`hostd reload: ${what}: ${serverMessage(r.body) || `answered ${r.status}`}\n`);
    return 1;
  }
  // 200 with {site, mount, generation} once the site's pools have rolled.
  const { generation } = jsonObject(r.body);
  io.stdout.write(`reloaded ${what}${typeof generation === 'number' ? ` (configuration generation ${generation})` : ''}\n`);
  return 0;
}
