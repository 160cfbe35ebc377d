// rollback APP vN: a new release that runs vN's image with vN's config
// snapshot (Heroku's rollback), rolled out with zero downtime. The app's
// config becomes that snapshot too, so the next deploy builds with it.
import { ShipoffError } from '../../core/index.js';
import { actorName, type Command, progressLines } from '../registry.js';
import { appForRole } from './app-lookup.js';

export const rollback: Command = {
  name: 'rollback',
  group: 'releases',
  summary: "Run an earlier release again (its image and config) as a new release",
  usage: 'APP vN',
  description: '  See the versions with: shipoff releases APP',
  arity: [2, 2],
  needsStore: true,
  needsHost: true,
  async run(ctx, args) {
    const [appName, versionText] = args.positionals as [string, string];
    const m = /^v?(\d{1,9})$/.exec(versionText);
    if (!m) throw new ShipoffError('SHIPOFF_USAGE', { problem: `"${versionText.slice(0, 40)}" is not a release version like v3`, usage: `shipoff rollback ${this.usage}` });
    const version = Number(m[1]);
    const app = await appForRole(ctx, ctx.store, appName, 'developer');
    const live = await ctx.store.deploys.liveRelease(app.id);
    if (!(await ctx.store.deploys.findRelease(app.id, version))) throw new ShipoffError('SHIPOFF_RELEASE_NOT_FOUND', { app: app.name, release: `v${version}` });
    if (live?.version === version) {
      ctx.stdout.write(`-----> v${version} is the live release of ${app.name} already; nothing changed\n`);
      return;
    }
    await ctx.host.release(app, { fromVersion: version, description: `Rollback to v${version}` }, actorName(ctx.actor), progressLines(ctx));
  },
};
