// ps:report|scale|restart|stop|start: an app's processes, Dokku and Heroku
// style. Each acts through the running host (admin/host-ops.ts), which keeps
// traffic flowing: new instances join once healthy, old ones leave drained.
import { ShipoffError, type Formation } from '../../core/index.js';
import { formatFormation, isStopped, limitsOf } from '../../deployer/index.js';
import { actorName, type Command, type CommandContext, progressLines } from '../registry.js';
import { appForRead, appForRole } from './app-lookup.js';
import { formatLimits } from './limits.js';
import { formatIdleDuration } from './ps-autosleep.js';

const SCALE_WORD = /^([a-z][a-z0-9_-]{0,29})=(\d{1,3})$/;

export const psReport: Command = {
  name: 'ps:report',
  group: 'ps',
  summary: "An app's formation, instances and their state",
  usage: 'APP [--json]',
  options: { json: { type: 'boolean' } },
  arity: [1, 1],
  needsStore: true,
  needsHost: true,
  async run(ctx, args) {
    const app = await appForRead(ctx, ctx.store, args.positionals[0]!);
    const formation = await ctx.store.apps.formation(app.id);
    const live = await ctx.store.deploys.liveRelease(app.id);
    const instances = await ctx.host.instances(app.name);
    const stopped = isStopped(app);
    const limits = limitsOf(app);
    const autosleep = (app.settings as { autosleepSeconds?: number }).autosleepSeconds;
    if (args.values.json) {
      ctx.stdout.write(JSON.stringify({ app: app.name, release: live ? live.version : null, stopped, formation, limits, instances }) + '\n');
      return;
    }
    const lines = [
      `=====> ${app.name} processes`,
      `Release:     ${live ? `v${live.version}` : 'none yet (push to deploy)'}`,
      `Status:      ${stopped ? 'stopped (shipoff ps:start)' : instances.some((i) => i.state === 'running') ? 'running' : live ? 'asleep or starting' : 'not deployed'}`,
      `Formation:   ${formatFormation(formation)}`,
      `Limits:      ${formatLimits(limits)}`,
      `Autosleep:   ${autosleep === undefined ? '15m (default)' : formatIdleDuration(autosleep)}`,
    ];
    for (const i of instances) {
      lines.push(`  ${`${i.processType}.${i.index}`.padEnd(12)} v${String(i.release).padEnd(4)} ${i.state.padEnd(9)} ${i.address ?? ''}${i.startedAt ? `  since ${i.startedAt.toISOString()}` : ''}`);
    }
    ctx.stdout.write(lines.join('\n') + '\n');
  },
};

export const psScale: Command = {
  name: 'ps:scale',
  group: 'ps',
  summary: 'How many instances of each process type run: web=2 worker=1',
  usage: 'APP TYPE=N [TYPE=N ...]',
  description: '  N from 0 to 100. Scaling down drains: an instance stops once its requests finished.',
  arity: [2, 50],
  needsStore: true,
  needsHost: true,
  async run(ctx, args) {
    const [appName, ...words] = args.positionals as [string, ...string[]];
    const changes: Formation = {};
    for (const word of words) {
      const m = SCALE_WORD.exec(word);
      if (!m) throw new ShipoffError('SHIPOFF_USAGE', { problem: `"${word.slice(0, 40)}" is not TYPE=N (like web=2)`, usage: `shipoff ps:scale ${this.usage}` });
      changes[m[1]!] = Number(m[2]);
    }
    const app = await appForRole(ctx, ctx.store, appName, 'developer');
    await ctx.host.scale(app, changes, actorName(ctx.actor), progressLines(ctx));
  },
};

function lifecycle(name: string, summary: string, act: (ctx: CommandContext, app: Parameters<CommandContext['host']['restart']>[0]) => Promise<void>): Command {
  return {
    name,
    group: 'ps',
    summary,
    usage: 'APP',
    arity: [1, 1],
    needsStore: true,
    needsHost: true,
    async run(ctx, args) {
      const app = await appForRole(ctx, ctx.store, args.positionals[0]!, 'developer');
      await act(ctx, app);
    },
  };
}

export const psRestart = lifecycle('ps:restart', 'Replace every instance with a fresh one, with zero downtime', (ctx, app) => ctx.host.restart(app, actorName(ctx.actor), progressLines(ctx)));
export const psStop = lifecycle('ps:stop', 'Stop every instance; the app stays stopped (no wake) until ps:start', (ctx, app) => ctx.host.stop(app, actorName(ctx.actor), progressLines(ctx)));
export const psStart = lifecycle('ps:start', 'Start a stopped app again', (ctx, app) => ctx.host.start(app, actorName(ctx.actor), progressLines(ctx)));

export const psCommands: Command[] = [psReport, psScale, psRestart, psStop, psStart];
