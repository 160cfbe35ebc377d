// What happened to an app, Heroku style:
//   releases       APP [--json]            the numbered releases, newest first
//   builds         APP [--json]            the deploys (builds) and how they ended
//   builds:output  APP [DEPLOY]            a deploy's stored output (default: the latest)
//   events         [APP] [--json] [-n N]   the audit log: who did what, when
// Anyone with a role on the app may read these; the host-wide events list is
// for host administrators.
import { ShipoffError, type User } from '../../core/index.js';
import { type Command, type CommandContext, isHostAdmin } from '../registry.js';
import { appForRead } from './app-lookup.js';

const JSON_OPTION = { json: { type: 'boolean' } } as const;

function write(ctx: CommandContext, text: string): void {
  ctx.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

/** Rows as aligned columns, the first row being the header. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

const when = (d: Date | undefined): string => (d ? d.toISOString().replace(/\.\d+Z$/, 'Z') : '-');

async function userNames(ctx: CommandContext): Promise<Map<number, string>> {
  const users: User[] = await ctx.store.users.list();
  return new Map(users.map((u) => [u.id, u.name]));
}

export const releases: Command = {
  name: 'releases',
  group: 'releases',
  summary: 'List an app\'s releases, newest first',
  usage: 'APP [--json]',
  options: JSON_OPTION,
  arity: [1, 1],
  needsStore: true,
  async run(ctx, args) {
    const app = await appForRead(ctx, ctx.store, args.positionals[0]!);
    const list = await ctx.store.deploys.releases(app.id);
    const live = await ctx.store.deploys.liveRelease(app.id);
    const names = await userNames(ctx);
    if (args.values.json) {
      const out = list.map((r) => ({
        version: r.version,
        live: r.version === live?.version,
        description: r.description,
        image: r.image,
        builder: r.builder,
        processTypes: r.processTypes,
        commit: r.sourceCommit ?? null,
        by: r.createdBy !== undefined ? (names.get(r.createdBy) ?? null) : null,
        at: r.createdAt.toISOString(),
      }));
      return write(ctx, JSON.stringify(out, null, 2));
    }
    if (list.length === 0) return write(ctx, `=====> ${app.name} has no releases yet; push to deploy it`);
    write(ctx, `=====> ${app.name} releases`);
    const rows = [['VERSION', 'WHEN', 'BY', 'DESCRIPTION']];
    for (const r of list) {
      rows.push([`v${r.version}${r.version === live?.version ? ' (live)' : ''}`, when(r.createdAt), r.createdBy !== undefined ? (names.get(r.createdBy) ?? '?') : '-', r.description]);
    }
    write(ctx, table(rows));
  },
};

export const builds: Command = {
  name: 'builds',
  group: 'builds',
  summary: 'List an app\'s deploys (builds) and how each ended, newest first',
  usage: 'APP [--json]',
  options: JSON_OPTION,
  arity: [1, 1],
  needsStore: true,
  async run(ctx, args) {
    const app = await appForRead(ctx, ctx.store, args.positionals[0]!);
    const deploys = await ctx.store.deploys.listForApp(app.id);
    const names = await userNames(ctx);
    const by = (id: number | undefined): string | null => (id !== undefined ? (names.get(id) ?? null) : null);
    if (args.values.json) {
      const out = deploys.map((d) => ({
        id: d.id,
        state: d.state,
        reason: d.reason ?? null,
        commit: d.commitSha ?? null,
        branch: d.branch ?? null,
        by: by(d.pushedBy),
        createdAt: d.createdAt.toISOString(),
        finishedAt: d.finishedAt?.toISOString() ?? null,
      }));
      return write(ctx, JSON.stringify(out, null, 2));
    }
    if (deploys.length === 0) return write(ctx, `=====> ${app.name} has no builds yet; push to deploy it`);
    write(ctx, `=====> ${app.name} builds`);
    const rows = [['DEPLOY', 'STATE', 'WHEN', 'BY', 'COMMIT', 'REASON']];
    for (const d of deploys) {
      rows.push([`#${d.id}`, d.state, when(d.createdAt), by(d.pushedBy) ?? '-', d.commitSha?.slice(0, 7) ?? '-', (d.reason ?? '').split('\n')[0]!.slice(0, 100)]);
    }
    write(ctx, table(rows));
  },
};

export const buildsOutput: Command = {
  name: 'builds:output',
  group: 'builds',
  summary: 'Show the output of a deploy (default: the latest one)',
  usage: 'APP [DEPLOY]',
  arity: [1, 2],
  needsStore: true,
  async run(ctx, args) {
    const [appName, deployText] = args.positionals as [string, string | undefined];
    const app = await appForRead(ctx, ctx.store, appName);
    let id: number | undefined;
    if (deployText !== undefined) {
      const match = /^#?(\d{1,12})$/.exec(deployText);
      if (!match) throw new ShipoffError('SHIPOFF_USAGE', { problem: `"${deployText.slice(0, 40)}" is not a deploy number (see shipoff builds ${app.name})`, usage: 'shipoff builds:output APP [DEPLOY]' });
      id = Number(match[1]);
    } else {
      id = (await ctx.store.deploys.listForApp(app.id, 1))[0]?.id;
      if (id === undefined) return write(ctx, `=====> ${app.name} has no builds yet; push to deploy it`);
    }
    const deploy = await ctx.store.deploys.find(id);
    // Another app's deploy does not exist as far as this app is concerned.
    if (!deploy || deploy.appId !== app.id) throw new ShipoffError('SHIPOFF_DEPLOY_NOT_FOUND', { deploy: String(id) });
    write(ctx, (await ctx.store.deploys.log(deploy.id)) || `(deploy #${deploy.id} has no output)`);
  },
};

export const events: Command = {
  name: 'events',
  group: 'events',
  summary: 'Show the audit log: who did what, when (one app, or the whole host for administrators)',
  usage: '[APP] [--json] [-n N]',
  options: { ...JSON_OPTION, num: { type: 'string', short: 'n' } },
  arity: [0, 1],
  needsStore: true,
  async run(ctx, args) {
    const appName = args.positionals[0];
    const raw = typeof args.values.num === 'string' ? args.values.num : '50';
    if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1) {
      throw new ShipoffError('SHIPOFF_USAGE', { problem: `-n takes a number from 1 to 9999, not "${raw.slice(0, 20)}"`, usage: 'shipoff events [APP] [--json] [-n N]' });
    }
    if (appName !== undefined) await appForRead(ctx, ctx.store, appName);
    else if (!isHostAdmin(ctx.actor)) throw new ShipoffError('SHIPOFF_ADMIN_REQUIRED', { what: 'The events of the whole host' });
    const list = await ctx.store.audit.list({ ...(appName !== undefined ? { app: appName } : {}), limit: Number(raw) });
    if (args.values.json) {
      return write(ctx, JSON.stringify(list.map((e) => ({ id: e.id, at: e.at.toISOString(), actor: e.actor, app: e.appName ?? null, action: e.action, details: e.details })), null, 2));
    }
    if (list.length === 0) return write(ctx, '=====> no events yet');
    const rows = [['WHEN', 'WHO', 'APP', 'WHAT', 'DETAILS']];
    for (const e of list) rows.push([when(e.at), e.actor, e.appName ?? '-', e.action, JSON.stringify(e.details)]);
    write(ctx, table(rows));
  },
};

export const historyCommands: Command[] = [releases, builds, buildsOutput, events];
