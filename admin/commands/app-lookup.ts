// Finding the app a command names, with the actor's right to it checked. Host
// administrators may do anything; anyone else needs a role on the app, and
// someone with no role at all learns no more than that it does not exist.
import { type App, assertAppName, type Repos, type Role, roleAtLeast, ShipoffError } from '../../core/index.js';
import { type CommandContext, isHostAdmin } from '../registry.js';

async function appWithRole(ctx: CommandContext, store: Repos, name: string, needed: Role | undefined): Promise<App> {
  assertAppName(name);
  const app = await store.apps.find(name);
  if (!app) throw new ShipoffError('SHIPOFF_APP_NOT_FOUND', { app: name });
  if (isHostAdmin(ctx.actor)) return app;
  const role = ctx.actor.kind === 'user' ? await store.apps.roleOf(app.id, ctx.actor.user.id) : undefined;
  if (role === undefined) throw new ShipoffError('SHIPOFF_APP_NOT_FOUND', { app: name });
  if (needed && !roleAtLeast(role, needed)) throw new ShipoffError('SHIPOFF_ROLE_REQUIRED', { app: name, role: needed });
  return app;
}

/** For a command that reads: any role on the app will do. */
export const appForRead = (ctx: CommandContext, store: Repos, name: string): Promise<App> => appWithRole(ctx, store, name, undefined);

/** For a command that changes the app's settings: the admin role (or owner). */
export const appForChange = (ctx: CommandContext, store: Repos, name: string): Promise<App> => appWithRole(ctx, store, name, 'admin');

/** For a command that needs at least ROLE on the app (host administrators may always). */
export const appForRole = (ctx: CommandContext, store: Repos, name: string, role: Role): Promise<App> => appWithRole(ctx, store, name, role);
