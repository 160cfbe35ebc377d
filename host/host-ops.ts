// The host's side of admin/host-ops.ts: each operation is done by the part
// that owns it (the deployer for releases and instances, the runtime for
// one-off runs and logs, the git daemon's repositories for removal).
import { ShipoffError, type Store } from '../core/index.js';
import type { HostOps } from '../admin/index.js';
import type { Deployer } from '../deployer/index.js';
import type { DockerRuntime } from '../runtimes/index.js';
import type { AccessLog } from './access-log.js';
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
}

const notYet = (what: string): never => {
  throw new ShipoffError('SHIPOFF_USAGE', { problem: `${what} is not built yet`, usage: 'shipoff help' });
};

export function hostOps(deps: HostOpsDeps): HostOps {
  const { deployer } = deps;
  return {
    release: (app, change, actor, progress) => deployer.release(app, change, actor, progress),
    restart: (app, actor, progress) => deployer.restart(app, actor, progress),
    scale: (app, changes, actor, progress) => deployer.scale(app, changes, actor, progress),
    stop: (app, actor, progress) => deployer.stopApp(app, actor, progress),
    start: (app, actor, progress) => deployer.startApp(app, actor, progress),
    instances: (app) => deployer.instances(app),
    logs: () => notYet('logs'), // helper: host/app-logs.ts
    run: () => notYet('run'), // helper: host/one-off-run.ts
    destroy: () => notYet('apps:destroy'), // helper: host/app-removal.ts
    rename: () => notYet('apps:rename'), // helper: host/app-removal.ts
  };
}
