// ps:autosleep APP DURATION|off: how long an app may go without a request
// before its web instances sleep (scale to zero); the next request wakes it.
import { ShipoffError } from '../../core/index.js';
import { actorName, type Command } from '../registry.js';
import { appForChange } from './app-lookup.js';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const MAX_SECONDS = 7 * 86400;
const USAGE = 'shipoff ps:autosleep APP DURATION|off|default';

/** "30s", "15m", "1h", "2d" or plain seconds, to seconds; "off" is 0. */
export function parseIdleDuration(text: string): number {
  if (text === 'off') return 0;
  const match = /^(\d{1,7})([smhd]?)$/.exec(text);
  const seconds = match ? Number(match[1]) * UNITS[match[2] || 's']! : NaN;
  if (!(seconds >= 1 && seconds <= MAX_SECONDS)) {
    throw new ShipoffError('SHIPOFF_USAGE', { problem: `"${text.slice(0, 40)}" is not a duration like 30s, 15m or 1h (at most 7d), or off`, usage: USAGE });
  }
  return seconds;
}

export function formatIdleDuration(seconds: number): string {
  if (seconds === 0) return 'off';
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) if (seconds % size === 0) return `${seconds / size}${unit}`;
  return `${seconds}s`;
}

export const psAutosleep: Command = {
  name: 'ps:autosleep',
  group: 'ps',
  summary: 'Put an app to sleep after it had no request for DURATION (off: never); the next request wakes it',
  usage: 'APP DURATION|off|default',
  description: '  DURATION   like 30s, 15m, 1h; default 15m. Only web processes sleep; workers keep running.',
  arity: [2, 2],
  needsStore: true,
  async run(ctx, args) {
    const [appName, text] = args.positionals as [string, string];
    const seconds = text === 'default' ? undefined : parseIdleDuration(text);
    await ctx.store.transaction(async (tx) => {
      const app = await appForChange(ctx, tx, appName);
      const settings = { ...app.settings };
      if (seconds === undefined) delete settings.autosleepSeconds;
      else settings.autosleepSeconds = seconds;
      await tx.apps.update(app.name, { settings });
      await tx.audit.record({ actor: actorName(ctx.actor), app: app.name, action: 'ps:autosleep', details: { seconds: seconds ?? null } });
    });
    const what = seconds === undefined ? 'back to the default (15m)' : seconds === 0 ? 'off: it never sleeps' : `after ${formatIdleDuration(seconds)} without a request`;
    ctx.stdout.write(`-----> Autosleep of ${appName}: ${what}\n`);
  },
};
