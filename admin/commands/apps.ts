// Apps, Dokku/Heroku style:
//   apps:create NAME           a new, empty app; its creator becomes its owner
//   apps:list   [--json]       the apps you may see, with your role on each
//   apps:info   APP [--json]   status, URL, domains, release, web instances, last deploy
//   apps:destroy APP [--force] everything of the app goes; asks to type its name first
//   apps:rename OLD NEW        the app, its repository and its instances move to NEW
// Creating follows the rule a first `git push` follows (gitd/access.ts): host
// administrators create apps; everyone else asks one.
import { type App, APP_NAME_RULE, assertAppName, type Deploy, type Repos, type Role, ShipoffError } from '../../core/index.js';
import { isStaticRelease } from '../../deployer/index.js';
import { actorName, type Command, type CommandContext, isHostAdmin, progressLines } from '../registry.js';
import { appForRead, appForRole } from './app-lookup.js';
import { readConfirmation } from './confirmation.js';

export function appUrl(ctx: CommandContext, app: string): string {
  return `http://${app}.${ctx.settings.domain}:${ctx.settings.httpPort}/`;
}

async function roleOfActor(ctx: CommandContext, store: Repos, app: App): Promise<Role | undefined> {
  return ctx.actor.kind === 'user' ? store.apps.roleOf(app.id, ctx.actor.user.id) : undefined;
}

export const appsCreate: Command = {
  name: 'apps:create',
  group: 'apps',
  summary: 'Create an app (you become its owner); push to it afterwards to deploy',
  usage: 'NAME [--owner USER]',
  description: `  NAME          ${APP_NAME_RULE}; a few names the host uses for itself are reserved.\n  --owner USER  who owns it (default: you; on the host's own CLI, nobody until given).\n\nFor host administrators, as is creating an app with a first git push.`,
  options: { owner: { type: 'string' } },
  arity: [1, 1],
  needsStore: true,
  async run(ctx, args) {
    const [name] = args.positionals as [string];
    if (!isHostAdmin(ctx.actor)) throw new ShipoffError('SHIPOFF_ADMIN_REQUIRED', { what: 'creating apps' });
    assertAppName(name);
    const ownerName = typeof args.values.owner === 'string' ? args.values.owner : ctx.actor.kind === 'user' ? ctx.actor.user.name : undefined;
    await ctx.store.transaction(async (tx) => {
      const owner = ownerName === undefined ? undefined : await tx.users.findByName(ownerName);
      if (ownerName !== undefined && !owner) throw new ShipoffError('SHIPOFF_USER_NOT_FOUND', { user: ownerName.slice(0, 64) });
      await tx.apps.create(name, owner?.id);
      await tx.audit.record({ actor: actorName(ctx.actor), app: name, action: 'apps:create', details: { via: 'apps:create', owner: ownerName ?? null } });
    });
    ctx.stdout.write(`-----> Created ${name}${ownerName !== undefined ? `, owned by ${ownerName}` : ' (no owner yet: shipoff access:grant, or apps:create --owner USER)'}\n`);
    ctx.stdout.write(`       git remote add shipoff ssh://shipoff@${ctx.settings.domain}:${ctx.settings.sshPort}/${name}.git\n`);
  },
};

export const appsList: Command = {
  name: 'apps:list',
  group: 'apps',
  summary: 'List the apps you may see: your role on each, its live release and URL',
  usage: '[--json]',
  description: 'Host administrators see every app; everyone else the apps they hold a role on.',
  options: { json: { type: 'boolean' } },
  arity: [0, 0],
  needsStore: true,
  async run(ctx, args) {
    const rows = await ctx.store.transaction(async (tx) => {
      const apps = ctx.actor.kind === 'host' ? await tx.apps.list() : await tx.apps.listVisibleTo(ctx.actor.user.id);
      const out: Array<{ name: string; role: Role | null; release: number | null; url: string }> = [];
      for (const app of apps) {
        const live = await tx.deploys.liveRelease(app.id);
        out.push({ name: app.name, role: (await roleOfActor(ctx, tx, app)) ?? null, release: live?.version ?? null, url: appUrl(ctx, app.name) });
      }
      return out;
    });
    if (args.values.json) {
      ctx.stdout.write(JSON.stringify({ apps: rows }, null, 2) + '\n');
      return;
    }
    if (rows.length === 0) {
      ctx.stdout.write(isHostAdmin(ctx.actor) ? 'No apps yet; create one with: shipoff apps:create NAME\n' : 'You have no apps yet; ask an administrator or an app owner for a role on one.\n');
      return;
    }
    const table = [['NAME', 'ROLE', 'RELEASE', 'URL'], ...rows.map((r) => [r.name, r.role ?? '-', r.release === null ? '-' : `v${r.release}`, r.url])];
    const widths = [0, 1, 2].map((i) => Math.max(...table.map((row) => row[i]!.length)) + 2);
    for (const row of table) ctx.stdout.write(row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join('') + '\n');
  },
};

type Status = 'live' | 'sleeping' | 'never deployed' | 'failed last deploy' | 'deploying';

function statusOf(last: Deploy | undefined, liveRelease: boolean, serving: boolean): Status {
  if (last && (last.state === 'FAILED' || last.state === 'CANCELLED')) return 'failed last deploy';
  if (last && (last.state === 'QUEUED' || last.state === 'BUILDING' || last.state === 'RELEASING')) return 'deploying';
  if (!liveRelease) return 'never deployed';
  return serving ? 'live' : 'sleeping';
}

export const appsInfo: Command = {
  name: 'apps:info',
  group: 'apps',
  summary: "Show an app's status, URL, domains, release, web instances and last deploy",
  usage: 'APP [--json]',
  description:
    'Status is one of: live, sleeping (no web instance takes requests; the next one wakes it), never deployed,\n' +
    'failed last deploy (the previous release, if any, keeps serving), deploying.\nAny role on the app will do.',
  options: { json: { type: 'boolean' } },
  arity: [1, 1],
  needsStore: true,
  async run(ctx, args) {
    const [appName] = args.positionals as [string];
    const info = await ctx.store.transaction(async (tx) => {
      const app = await appForRead(ctx, tx, appName);
      const release = await tx.deploys.liveRelease(app.id);
      const [last] = await tx.deploys.listForApp(app.id, 1);
      const backends = await tx.routes.get(app.name);
      const domains = (await tx.domains.list(app.id)).map((d) => d.domain);
      const users = new Map((await tx.users.list()).map((u) => [u.id, u.name]));
      const isStatic = release !== undefined && isStaticRelease(release);
      return { app, release, last, backends, domains, isStatic, pushedBy: last?.pushedBy !== undefined ? users.get(last.pushedBy) : undefined, role: await roleOfActor(ctx, tx, app) };
    });
    const { app, release, last, backends, domains, isStatic } = info;
    const status = statusOf(last, release !== undefined, backends.length > 0 || isStatic);
    const out = {
      name: app.name,
      status,
      url: appUrl(ctx, app.name),
      domains,
      yourRole: info.role ?? null,
      release: release ? { version: release.version, commit: release.sourceCommit ?? null, createdAt: release.createdAt.toISOString(), static: isStatic } : null,
      web: backends.map((b) => `${b.host}:${b.port}`),
      lastDeploy: last
        ? { id: last.id, state: last.state, at: (last.finishedAt ?? last.updatedAt).toISOString(), by: info.pushedBy ?? null, commit: last.commitSha ?? null, reason: last.reason ?? null }
        : null,
      createdAt: app.createdAt.toISOString(),
    };
    if (args.values.json) {
      ctx.stdout.write(JSON.stringify(out, null, 2) + '\n');
      return;
    }
    const lines: Array<[string, string]> = [
      ['Status', status],
      ['URL', out.url],
      ['Domains', domains.length > 0 ? domains.join(', ') : '(none)'],
      ['Release', release ? `v${release.version}${release.sourceCommit ? ` (${release.sourceCommit.slice(0, 7)})` : ''}` : '-'],
      ['Web', isStatic ? 'served by the router (static)' : out.web.length > 0 ? out.web.join(', ') : '(none running)'],
      [
        'Last deploy',
        last
          ? `#${last.id} ${last.state.toLowerCase()} at ${out.lastDeploy!.at}${out.lastDeploy!.by ? ` by ${out.lastDeploy!.by}` : ''}${last.commitSha ? `, commit ${last.commitSha.slice(0, 7)}` : ''}${last.reason ? ` (${last.reason.split('\n')[0]!.slice(0, 120)})` : ''}`
          : '-',
      ],
      ['Your role', out.yourRole ?? (isHostAdmin(ctx.actor) ? '(host administrator)' : '-')],
    ];
    ctx.stdout.write(`=====> ${app.name}\n` + lines.map(([k, v]) => `${(k + ':').padEnd(13)}${v}`).join('\n') + '\n');
  },
};

export const appsDestroy: Command = {
  name: 'apps:destroy',
  group: 'apps',
  summary: 'Destroy an app: its instances, images, repository, build cache, routes, releases, config and domains',
  usage: 'APP [--force]',
  description:
    'Asks you to type the app\'s name on standard input first (a line); --force skips that, for scripts.\n' +
    'Nothing of any other app is touched. For the app\'s owner (and host administrators).',
  options: { force: { type: 'boolean' } },
  arity: [1, 1],
  needsStore: true,
  needsHost: true,
  async run(ctx, args) {
    const [name] = args.positionals as [string];
    const app = await appForRole(ctx, ctx.store, name, 'owner');
    if (!args.values.force) {
      ctx.stderr.write(` !     WARNING: Potentially Destructive Action\n !     This command will destroy ${app.name}.\n !     To proceed, type "${app.name}"\n\n> `);
      const typed = await readConfirmation(ctx.stdin, ctx.signal);
      if (typed !== app.name) throw new ShipoffError('SHIPOFF_CONFIRMATION_MISMATCH', { app: app.name });
    }
    await ctx.host.destroy(app, actorName(ctx.actor), progressLines(ctx));
  },
};

export const appsRename: Command = {
  name: 'apps:rename',
  group: 'apps',
  summary: 'Rename an app: its repository, config, releases, domains and instances follow; the old name goes',
  usage: 'OLD NEW',
  description:
    `  NEW   ${APP_NAME_RULE}; no app may have it yet.\n\n` +
    'The live release starts again under the new name (http://NEW.DOMAIN/); if it does not, the rename is undone.\n' +
    'Push to ssh://shipoff@HOST:PORT/NEW.git afterwards. For the app\'s owner (and host administrators).',
  arity: [2, 2],
  needsStore: true,
  needsHost: true,
  async run(ctx, args) {
    const [oldName, newName] = args.positionals as [string, string];
    const app = await appForRole(ctx, ctx.store, oldName, 'owner');
    assertAppName(newName);
    if (await ctx.store.apps.find(newName)) throw new ShipoffError('SHIPOFF_APP_EXISTS', { app: newName });
    const renamed = await ctx.host.rename(app, newName, actorName(ctx.actor), progressLines(ctx));
    ctx.stdout.write(`       ${appUrl(ctx, renamed.name)}\n       git remote set-url shipoff ssh://shipoff@${ctx.settings.domain}:${ctx.settings.sshPort}/${renamed.name}.git\n`);
  },
};

export const appCommands: Command[] = [appsCreate, appsList, appsInfo, appsDestroy, appsRename];
