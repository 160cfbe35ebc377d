// logs APP [-t] [-n N] [--process TYPE] [--json]: the app's output from every
// instance and the router's access lines, oldest first, like `heroku logs`.
// Developers and up may read them (the output may hold what the app leaks).
import { ShipoffError } from '../../core/index.js';
import type { LogLine } from '../host-ops.js';
import type { Command, CommandContext } from '../registry.js';
import { appForRole } from './app-lookup.js';

const USAGE = 'shipoff logs APP [-t|--tail] [-n N] [--process TYPE] [--json]';
const DEFAULT_LINES = 100;
const MAX_LINES = 10_000;
const PROCESS_TYPE = /^[a-z][a-z0-9_-]{0,29}$/;

export function parseLineCount(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LINES;
  const n = /^\d{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_LINES)) {
    throw new ShipoffError('SHIPOFF_USAGE', { problem: `-n takes a number of lines from 1 to ${MAX_LINES}, got "${text.slice(0, 40)}"`, usage: USAGE });
  }
  return n;
}

/** `app[web.1]` for an instance's output, `shipoff[router]` for the router (Heroku's `heroku[router]`). */
export function formatLogLine(line: LogLine): string {
  const source = line.source === 'router' ? 'shipoff[router]' : line.source === 'shipoff' ? 'shipoff[logs]' : `app[${line.source}]`;
  return `${line.at.toISOString()} ${source}: ${line.text}\n`;
}

/** Writes, waiting while the client is behind (or until it went away). */
async function write(ctx: CommandContext, text: string): Promise<void> {
  if (ctx.signal.aborted) return;
  if (ctx.stdout.write(text)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      ctx.stdout.off('drain', done);
      ctx.signal.removeEventListener('abort', done);
      resolve();
    };
    ctx.stdout.once('drain', done);
    ctx.signal.addEventListener('abort', done, { once: true });
  });
}

export const logs: Command = {
  name: 'logs',
  group: 'logs',
  summary: 'Show an app\'s output from every instance and the router\'s access lines; -t follows',
  usage: 'APP [-t|--tail] [-n N] [--process TYPE] [--json]',
  description: `
Each line is TIME SOURCE: TEXT, oldest first, TIME in UTC:
  2026-11-25T08:00:00.123Z app[web.1]: listening on 5000
  2026-11-25T08:00:01.456Z shipoff[router]: at=info method=GET path="/" status=200 bytes=2 service=3ms ...
app[TYPE.N] is what instance N of a process type wrote to stdout or stderr (of every instance
the host still has, running or stopped); shipoff[router] is the router's line for each request.
Needs the developer role (or higher) on the app.

  -t, --tail        keep printing new lines (also from instances that start later) until you disconnect
  -n, --num N       how many recent lines to print first: 1 to ${MAX_LINES} (default ${DEFAULT_LINES})
  --process TYPE    only that process type's instances (web, worker, ...); router lines are left out
  --json            one JSON object per line: {"at", "source", "text"}; source is web.1, worker.1, router
                    (or shipoff, for the host's own note that a slow client missed lines)`,
  options: {
    tail: { type: 'boolean', short: 't' },
    num: { type: 'string', short: 'n' },
    process: { type: 'string' },
    json: { type: 'boolean' },
  },
  arity: [1, 1],
  needsStore: true,
  needsHost: true,
  async run(ctx, args) {
    const lines = parseLineCount(args.values.num as string | undefined);
    const processType = args.values.process as string | undefined;
    if (processType !== undefined && !PROCESS_TYPE.test(processType)) {
      throw new ShipoffError('SHIPOFF_USAGE', { problem: `"${processType.slice(0, 40)}" is not a process type name like web or worker`, usage: USAGE });
    }
    const app = await appForRole(ctx, ctx.store, args.positionals[0]!, 'developer');
    const follow = args.values.tail === true;
    const json = args.values.json === true;
    // Over SSH a channel closes (and ctx.signal aborts) only once its input was read to the end:
    // drain it, since following ends only when the client goes.
    if (follow) ctx.stdin.resume();
    let printed = 0;
    const stream = ctx.host.logs(app, { follow, lines, ...(processType !== undefined ? { processType } : {}), signal: ctx.signal });
    try {
      for await (const line of stream) {
        if (ctx.signal.aborted) break;
        await write(ctx, json ? JSON.stringify({ at: line.at.toISOString(), source: line.source, text: line.text }) + '\n' : formatLogLine(line));
        printed++;
      }
    } finally {
      if (follow) ctx.stdin.pause();
    }
    if (printed === 0 && !follow) {
      const what = processType !== undefined ? `no ${processType} instances with output` : 'no instances with output and no requests yet';
      ctx.stderr.write(` !     ${app.name} has ${what}\n`);
    }
  },
};
