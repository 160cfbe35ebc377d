// Who may do what to which app over git: pushing needs developer or better,
// fetching any role; host admins may do both everywhere, and a push of theirs
// to an app that does not exist creates it.
import { type App, roleAtLeast, ShipoffError, type Store, type User, isShipoffError } from '../core/index.js';
import type { GitService } from './command-line.js';

export interface Access {
  app: App;
  created: boolean;
}

export async function authorize(store: Store, user: User, service: GitService, appName: string, options: { mayCreate: boolean }): Promise<Access> {
  const push = service === 'git-receive-pack';
  const app = await store.apps.find(appName);
  if (!app) {
    if (!push || !options.mayCreate) throw new ShipoffError('SHIPOFF_APP_NOT_FOUND', { app: appName });
    if (!user.isAdmin) throw new ShipoffError('SHIPOFF_APP_CREATE_DENIED', { app: appName });
    return createApp(store, user, appName);
  }
  if (user.isAdmin) return { app, created: false };
  const role = await store.apps.roleOf(app.id, user.id);
  if (push && !roleAtLeast(role, 'developer')) {
    // Someone with no role at all learns no more than that they have none.
    if (role === undefined) throw new ShipoffError('SHIPOFF_FETCH_DENIED', { user: user.name, app: appName });
    throw new ShipoffError('SHIPOFF_PUSH_DENIED', { user: user.name, app: appName });
  }
  if (!push && role === undefined) throw new ShipoffError('SHIPOFF_FETCH_DENIED', { user: user.name, app: appName });
  return { app, created: false };
}

async function createApp(store: Store, user: User, appName: string): Promise<Access> {
  try {
    const app = await store.transaction(async (tx) => {
      const made = await tx.apps.create(appName, user.id);
      await tx.audit.record({ actor: user.name, app: appName, action: 'apps:create', details: { via: 'git push' } });
      return made;
    });
    return { app, created: true };
  } catch (err) {
    // Two first pushes at once: the other one made it, which is just as good.
    if (isShipoffError(err, 'SHIPOFF_APP_EXISTS')) {
      const app = await store.apps.find(appName);
      if (app) return { app, created: false };
    }
    throw err;
  }
}
