// limits:set APP memory=512m cpu=1: what each instance of the app may use
// (Docker's memory and CPU limits). The app restarts with them, with zero
// downtime, unless --no-restart.
import { ShipoffError } from '../../core/index.js';
import { limitsOf } from '../../deployer/index.js';
import { actorName, type Command, progressLines } from '../registry.js';
import { appForChange } from './app-lookup.js';

const MEMORY = /^(\d{1,6})([kmg]?)b?$/i;
const UNIT: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
const MIN_MEMORY = 32 * 1024 ** 2;
const MAX_MEMORY = 64 * 1024 ** 3;
const USAGE = 'shipoff limits:set APP memory=512m cpu=1 [--no-restart]';

export function parseMemory(text: string): number {
  const m = MEMORY.exec(text);
  const bytes = m ? Number(m[1]) * UNIT[m[2]!.toLowerCase()]! : NaN;
  if (!(bytes >= MIN_MEMORY && bytes <= MAX_MEMORY)) throw new ShipoffError('SHIPOFF_USAGE', { problem: `memory=${text.slice(0, 20)}: give a size from 32m to 64g, like 256m or 1g`, usage: USAGE });
  return bytes;
}

export function parseCpus(text: string): number {
  const cpus = /^\d{1,2}(\.\d{1,2})?$/.test(text) ? Number(text) : NaN;
  if (!(cpus >= 0.05 && cpus <= 64)) throw new ShipoffError('SHIPOFF_USAGE', { problem: `cpu=${text.slice(0, 20)}: give a number of CPUs from 0.05 to 64, like 0.5 or 2`, usage: USAGE });
  return cpus;
}

/** memory=256m cpu=0.5, with the defaults named. */
export function formatLimits(l: { memoryBytes?: number; cpus?: number }): string {
  return `memory=${l.memoryBytes ? `${Math.round(l.memoryBytes / 1024 ** 2)}m` : '512m (default)'} cpu=${l.cpus ?? 'no limit'}`;
}

export const limitsSet: Command = {
  name: 'limits:set',
  group: 'limits',
  summary: 'Memory and CPU each instance may use; the app restarts with them',
  usage: 'APP memory=SIZE|default cpu=N|default [--no-restart]',
  description: '  memory: 32m to 64g (default 512m); cpu: CPUs, like 0.5 or 2 (default: no limit).',
  options: { 'no-restart': { type: 'boolean' } },
  arity: [2, 3],
  needsStore: true,
  async run(ctx, args) {
    const [appName, ...words] = args.positionals as [string, ...string[]];
    const changes: { memoryBytes?: number | null; cpus?: number | null } = {};
    for (const word of words) {
      const [key, value = ''] = word.split('=', 2) as [string, string?];
      if (key === 'memory') changes.memoryBytes = value === 'default' ? null : parseMemory(value);
      else if (key === 'cpu') changes.cpus = value === 'default' ? null : parseCpus(value);
      else throw new ShipoffError('SHIPOFF_USAGE', { problem: `"${word.slice(0, 40)}" is not memory=SIZE or cpu=N`, usage: USAGE });
    }
    const noRestart = args.values['no-restart'] === true;
    if (!noRestart && !ctx.host) throw new ShipoffError('SHIPOFF_HOST_NOT_RUNNING', { command: 'limits:set (or add --no-restart)' });
    const app = await ctx.store.transaction(async (tx) => {
      const found = await appForChange(ctx, tx, appName);
      const limits: Record<string, number> = { ...((found.settings as { limits?: Record<string, number> }).limits ?? {}) };
      for (const [k, v] of Object.entries(changes)) {
        if (v === null) delete limits[k];
        else limits[k] = v!;
      }
      const updated = await tx.apps.update(found.name, { settings: { ...found.settings, limits } });
      await tx.audit.record({ actor: actorName(ctx.actor), app: found.name, action: 'limits:set', details: { limits } });
      return updated;
    });
    ctx.stdout.write(`-----> Limits of ${app.name}: ${formatLimits(limitsOf(app))}\n`);
    if (noRestart) {
      ctx.stdout.write(`       not restarted; they apply at the next deploy or: shipoff ps:restart ${app.name}\n`);
      return;
    }
    if (await ctx.store.deploys.liveRelease(app.id)) await ctx.host.restart(app, actorName(ctx.actor), progressLines(ctx));
  },
};
