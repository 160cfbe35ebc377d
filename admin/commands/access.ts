// Who may use an app, Heroku style:
//   access:grant  APP USER ROLE    ROLE: admin, developer or viewer
//   access:revoke APP USER
//   access:list   APP [--json]
// Changing access needs the admin or owner role on the app (or a host
// administrator); listing it, any role. The owner's role never changes here.
import { assertUserName, ROLES, type Role, ShipoffError } from '../../core/index.js';
import { actorName, type Command } from '../registry.js';
import { appForChange, appForRead } from './app-lookup.js';

const GRANTABLE: readonly Role[] = ROLES.filter((r) => r !== 'owner');

const ROLE_HELP = `  ROLE   viewer: sees the app (apps:info, access:list, git fetch)
         developer: also pushes (deploys)
         admin: also changes its settings and who has access
         The owner (who created the app) has every right, and cannot be changed or revoked.`;

export const accessGrant: Command = {
  name: 'access:grant',
  group: 'access',
  summary: 'Give USER a role on an app (or change the role they have)',
  usage: `APP USER ${GRANTABLE.join('|')}`,
  description: ROLE_HELP + '\n\nNeeds the admin or owner role on the app.',
  arity: [3, 3],
  needsStore: true,
  async run(ctx, args) {
    const [appName, userName, roleText] = args.positionals as [string, string, string];
    if (roleText === 'owner') throw new ShipoffError('SHIPOFF_OWNER_NOT_GRANTABLE');
    if (!GRANTABLE.includes(roleText as Role)) throw new ShipoffError('SHIPOFF_INVALID_ROLE', { role: roleText.slice(0, 40), roles: GRANTABLE.join(', ') });
    const role = roleText as Role;
    const before = await ctx.store.transaction(async (tx) => {
      const app = await appForChange(ctx, tx, appName);
      assertUserName(userName);
      const user = await tx.users.getByName(userName);
      const had = await tx.apps.roleOf(app.id, user.id);
      if (had === 'owner') throw new ShipoffError('SHIPOFF_OWNER_ROLE_FIXED', { user: user.name, app: app.name, change: 'changed' });
      if (had === role) return had;
      await tx.apps.grant(app.id, user.id, role);
      await tx.audit.record({ actor: actorName(ctx.actor), app: app.name, action: 'access:grant', details: { user: user.name, role, previous: had ?? null } });
      return had;
    });
    if (before === role) ctx.stdout.write(`-----> ${userName} already has the ${role} role on ${appName}; nothing changed\n`);
    else ctx.stdout.write(`-----> ${userName} now has the ${role} role on ${appName}${before ? ` (was ${before})` : ''}\n`);
  },
};

export const accessRevoke: Command = {
  name: 'access:revoke',
  group: 'access',
  summary: "Take USER's role on an app away",
  usage: 'APP USER',
  description: "Needs the admin or owner role on the app. The owner's role cannot be revoked.",
  arity: [2, 2],
  needsStore: true,
  async run(ctx, args) {
    const [appName, userName] = args.positionals as [string, string];
    const had = await ctx.store.transaction(async (tx) => {
      const app = await appForChange(ctx, tx, appName);
      assertUserName(userName);
      const user = await tx.users.getByName(userName);
      const role = await tx.apps.roleOf(app.id, user.id);
      if (role === undefined) throw new ShipoffError('SHIPOFF_ACCESS_NOT_FOUND', { user: user.name, app: app.name });
      if (role === 'owner') throw new ShipoffError('SHIPOFF_OWNER_ROLE_FIXED', { user: user.name, app: app.name, change: 'revoked' });
      await tx.apps.revoke(app.id, user.id);
      await tx.audit.record({ actor: actorName(ctx.actor), app: app.name, action: 'access:revoke', details: { user: user.name, role } });
      return role;
    });
    ctx.stdout.write(`-----> ${userName} no longer has a role on ${appName} (was ${had})\n`);
  },
};

export const accessList: Command = {
  name: 'access:list',
  group: 'access',
  summary: 'List who has which role on an app',
  usage: 'APP [--json]',
  description: 'Any role on the app will do. Host administrators may do everything on every app, listed or not.',
  options: { json: { type: 'boolean' } },
  arity: [1, 1],
  needsStore: true,
  async run(ctx, args) {
    const [appName] = args.positionals as [string];
    const { app, grants } = await ctx.store.transaction(async (tx) => {
      const app = await appForRead(ctx, tx, appName);
      return { app, grants: await tx.apps.accessList(app.id) };
    });
    const rows = grants.map((g) => ({ user: g.userName, role: g.role, grantedAt: g.grantedAt.toISOString() }));
    if (args.values.json) {
      ctx.stdout.write(JSON.stringify({ app: app.name, access: rows }, null, 2) + '\n');
      return;
    }
    ctx.stdout.write(`=====> ${app.name} access\n`);
    const width = Math.max(4, ...rows.map((r) => r.user.length)) + 2;
    for (const r of rows) ctx.stdout.write(`${r.user.padEnd(width)}${r.role}\n`);
    if (rows.length === 0) ctx.stdout.write(`(no one holds a role; host administrators manage it: shipoff access:grant ${app.name} USER ROLE)\n`);
  },
};

export const accessCommands: Command[] = [accessGrant, accessRevoke, accessList];
