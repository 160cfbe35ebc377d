// The host's side of admin/host-ops.ts: each operation is done by the part
// that owns it (the deployer for releases and instances, the runtime for
// one-off runs and logs, the git daemon's repositories for removal).
import { ShipoffError, type Store } from '../core/index.js';
import type { HostOps } from '../admin/index.js';
import type { Deployer } from '../deployer/index.js';
import type { DockerRuntime } from '../runtimes/index.js';
import type { AccessLog } from './access-log.js';
import { HostDashboardFeed, type DashboardFeedDeps } from './dashboard-feed.js';
import { destroyApp, renameApp } from './app-removal.js';
import { appLogs } from './app-logs.js';
import { oneOffRun } from './one-off-run.js';
import type { PublishedRoutes } from './shared-routes.js';

export interface HostOpsDeps {
  store: Store;
  deployer: Deployer;
  runtime: DockerRuntime;
  /** The routes every router follows: set(app, []) takes an app out of the routers. */
  traffic: PublishedRoutes;
  accessLog: AccessLog;
  dataDir: string;
  log: (line: string) => void;
  /** Scale to zero forgets an app that is gone, once a wake of it in flight ended (deployer/autosleep.ts). */
  forgetSleep?: (app: string) => Promise<void>;
  /** What only the dashboard reads: the Docker client, the router's counters, the reaper's tiers. */
  dashboard?: Pick<DashboardFeedDeps, 'docker' | 'routerMetrics' | 'sleepTier'>;
}

const notYet = (what: string): never => {
  throw new ShipoffError('SHIPOFF_USAGE', { problem: `${what} is not built yet`, usage: 'shipoff help' });
};

export function hostOps(deps: HostOpsDeps): HostOps {
  const { deployer } = deps;
  let feed: HostDashboardFeed | undefined; // one per host, shared by every open dashboard
  return {
    // What the reaper kept of a sleeping app is stale once new instances run (or none do).
    release: (app, change, actor, progress) => deployer.release(app, change, actor, progress).finally(() => deps.forgetSleep?.(app.name)),
    restart: (app, actor, progress) => deployer.restart(app, actor, progress).finally(() => deps.forgetSleep?.(app.name)),
    scale: (app, changes, actor, progress) => deployer.scale(app, changes, actor, progress),
    stop: (app, actor, progress) => deployer.stopApp(app, actor, progress).finally(() => deps.forgetSleep?.(app.name)),
    start: (app, actor, progress) => deployer.startApp(app, actor, progress).finally(() => deps.forgetSleep?.(app.name)),
    instances: (app) => deployer.instances(app),
    logs: (app, options) => appLogs({ runtime: deps.runtime, accessLog: deps.accessLog }, app, options),
    run: oneOffRun({ store: deps.store, runtime: deps.runtime }),
    destroy: (app, actor, progress) => destroyApp(deps, app, actor, progress),
    rename: (app, newName, actor, progress) => renameApp(deps, app, newName, actor, progress),
    dashboardFeed: () => (feed ??= new HostDashboardFeed({ ...deps, ...deps.dashboard })),
  };
}
