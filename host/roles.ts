// A host runs roles (deployer, git daemon, router) over one store. `shipoff
// up` runs them all in one process; `shipoff router` runs one. This is the
// composition root: the only place that wires parts to each other.
import { createHash } from 'node:crypto';
import path from 'node:path';
import Dockerode from 'dockerode';
import { type Listening, ShipoffError, type Settings, type Store } from '../core/index.js';
import type http from 'node:http';
import { buildRelease, launchArgv, removeLeftoverBuilds, staticSiteHandler, type StaticSite } from '../buildpacks/index.js';
import { Autosleep, Deployer, StaticReleases, type WakeResult } from '../deployer/index.js';
import { adminCommands, type HostOps, runCommand } from '../admin/index.js';
import { createGitd, type Gitd, type SshCommandHandler } from '../gitd/index.js';
import { createRouter, DomainTable, RouteTable, type AccessRecord, type RouterMetrics } from '../router/index.js';
import { DockerRuntime } from '../runtimes/index.js';
import { AccessLog } from './access-log.js';
import { type ControlServer, listenControl } from './control-socket.js';
import { hostOps } from './host-ops.js';
import { pushHandler } from './push-to-deploy.js';
import { FollowedRoutes, type FollowedWake, PublishedRoutes } from './shared-routes.js';

export interface Endpoint {
  label: string;
  value: string;
}

export interface Role {
  name: string;
  /** Starts serving; returns what to show the user. */
  start(): Promise<Endpoint[]>;
  /** Stops accepting, finishes or cancels work in flight. */
  stop(): Promise<void>;
}

export interface RoleDeps {
  settings: Settings;
  store: Store;
  log: (line: string) => void;
  shared: SharedParts;
}

function portInUse(err: unknown, port: number, variable: string): unknown {
  if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    return new ShipoffError('SHIPOFF_PORT_IN_USE', { port: String(port), variable }, { cause: err });
  }
  return err;
}

/** The parts roles share in one process, made on first use. */
export class SharedParts {
  readonly routes = new RouteTable();
  /** Set when this process runs the deployer: it publishes the routes; a router without it follows them. */
  runsDeployer = false;
  private publishedInstance?: PublishedRoutes;
  private followedInstance?: FollowedRoutes;
  /** The router's access lines, kept per app for its logs view. */
  readonly accessLog = new AccessLog();
  private docker?: Dockerode;
  private runtimeInstance?: DockerRuntime;
  private deployerInstance?: Deployer;
  private autosleepInstance?: Autosleep;
  private gitdInstance?: Gitd;
  /** The router's counters, when this process runs the router (the dashboard reads them). */
  routerMetrics?: RouterMetrics;
  /** The HTTP port the router really listens on (SHIPOFF_HTTP_PORT may be 0). */
  httpPort: number;

  constructor(private readonly deps: Omit<RoleDeps, 'shared'>) {
    this.httpPort = deps.settings.httpPort;
    this.hostId = createHash('sha256').update(deps.settings.dataDir).digest('hex').slice(0, 12);
  }

  /** The route table the deployer and the reaper write: the router's, shared through the store. */
  get traffic(): PublishedRoutes {
    return (this.publishedInstance ??= new PublishedRoutes(this.routes, this.deps.store, this.deps.log));
  }

  /** The router's table following the store, in a process without the deployer. */
  get followed(): FollowedRoutes {
    return (this.followedInstance ??= new FollowedRoutes(this.routes, this.deps.store, this.deps.log, { wakeTimeoutMs: 30_000 }));
  }

  appUrl = (app: string): string => `http://${app}.${this.deps.settings.domain}:${this.httpPort}/`;

  get dockerClient(): Dockerode {
    return (this.docker ??= new Dockerode());
  }

  /** Names what this host made in a Docker engine that other hosts (a second
   * data dir, a test run) may share: derived from the data directory. */
  readonly hostId: string;

  get runtime(): DockerRuntime {
    return (this.runtimeInstance ??= new DockerRuntime({ docker: this.dockerClient, hostId: this.hostId }));
  }

  get deployer(): Deployer {
    const { settings, store, log } = this.deps;
    const runtime = this.runtime;
    const docker = this.dockerClient;
    return (this.deployerInstance ??= new Deployer({
      store,
      runtime,
      traffic: this.traffic,
      build: (job) =>
        buildRelease({
          docker,
          memoryBytes: settings.buildMemoryBytes,
          cpus: settings.buildCpus,
          caBundle: settings.buildCaBundle,
          localBuildpacksDir: path.join(settings.dataDir, 'buildpacks'),
          hostId: this.hostId,
          ...job,
          timeoutMs: job.timeoutMs ?? settings.buildTimeoutSeconds * 1000,
        }),
      launchArgv,
      dataDir: settings.dataDir,
      log,
      appUrl: this.appUrl,
      maxConcurrentBuilds: settings.buildConcurrency,
      staticReleases: new StaticReleases({
        docker,
        dataDir: settings.dataDir,
        check: async (dir) => void (await this.staticSite(dir)),
        onRemoved: (dir) => this.staticSites.delete(dir),
        log,
        labels: { 'shipoff.host': this.hostId },
      }),
    }));
  }

  /** Static sites loaded by directory (each release's static.json read once). */
  private readonly staticSites = new Map<string, Promise<StaticSite>>();

  private staticSite(dir: string): Promise<StaticSite> {
    let site = this.staticSites.get(dir);
    if (!site) {
      site = staticSiteHandler(dir);
      this.staticSites.set(dir, site);
      // A failed load is tried again by the next request.
      site.catch(() => this.staticSites.get(dir) === site && this.staticSites.delete(dir));
    }
    return site;
  }

  /** What the router calls for a static release: this repository's static server, over the release's files. */
  serveStatic = async (dir: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    let site: StaticSite;
    try {
      site = await this.staticSite(dir);
    } catch (err) {
      this.deps.log(` !     serving ${dir}: ${(err as Error).message}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end('500: this static release cannot be served here\n');
      return;
    }
    await site.handle(req, res);
  };

  get gitd(): Gitd {
    const { settings, store, log } = this.deps;
    // Admin commands over SSH run as the key's user, against the host's own store.
    const registry = adminCommands();
    const onCommand: SshCommandHandler = (cmd) =>
      runCommand(registry, cmd.argv, { stdin: cmd.stdin, stdout: cmd.stdout, stderr: cmd.stderr, terminal: cmd.terminal, signal: cmd.signal }, {
        settings,
        actor: { kind: 'user', user: cmd.user },
        store: async () => ({ store, release: async () => {} }),
        host: this.hostOps,
      });
    return (this.gitdInstance ??= createGitd({ store, dataDir: settings.dataDir, sshPort: settings.sshPort, onPush: pushHandler(this.deployer), onCommand, log }));
  }

  private hostOpsInstance?: HostOps;

  /** What admin commands ask of this host (restart, scale, logs, run, ...). */
  get hostOps(): HostOps {
    const { settings, store, log } = this.deps;
    return (this.hostOpsInstance ??= hostOps({ store, deployer: this.deployer, runtime: this.runtime, traffic: this.traffic, accessLog: this.accessLog, dataDir: settings.dataDir, log, forgetSleep: async (app) => this.autosleepInstance?.forget(app), dashboard: { docker: this.dockerClient, routerMetrics: () => this.routerMetrics, sleepTier: (app) => this.autosleepInstance?.tierOf(app) ?? 'awake' } }));
  }

  get hasGitd(): boolean {
    return this.gitdInstance !== undefined;
  }

  /** Scale to zero: puts idle apps to sleep and wakes them for the router. */
  get autosleep(): Autosleep {
    const { store, log } = this.deps;
    return (this.autosleepInstance ??= new Autosleep({
      runtime: this.runtime,
      traffic: this.traffic,
      allApps: () => store.apps.list(),
      liveOf: async (name) => {
        const app = await store.apps.find(name);
        const live = app && (await store.deploys.liveRelease(app.id));
        return app && live ? { app, release: live.version } : undefined;
      },
      startWeb: (app) => this.deployer.startWeb(app),
      log,
      record: (app, action, details) => void store.audit.record({ actor: 'shipoff', app, action, details }).catch(() => {}),
    }));
  }

  /** What the router calls for an app with no backend: a wake when this process runs the deployer,
   * else a wake asked of the process that does (through the store). */
  wake = async (app: string): Promise<WakeResult | FollowedWake | { ok: false; attempted: false }> =>
    this.autosleepInstance ? this.autosleepInstance.wake(app) : this.followedInstance ? this.followedInstance.wake(app) : { ok: false, attempted: false };
}

function deployerRole({ settings, store, log, shared }: RoleDeps): Role {
  // Known before any role starts: the router role of this process then reads the table, not the store.
  shared.runsDeployer = true;
  let requests: Listening | undefined;
  let control: ControlServer | undefined;
  return {
    name: 'deployer',
    async start() {
      const health = await shared.runtime.ping();
      if (!health.ok) throw new ShipoffError('SHIPOFF_RUNTIME_UNAVAILABLE', { reason: health.reason });
      const leftovers = await removeLeftoverBuilds(shared.dockerClient, shared.hostId);
      if (leftovers > 0) log(`-----> Removed ${leftovers} build container(s) left by a host that was stopped mid-build`);
      const runs = await shared.runtime.removeOrphanedRuns();
      if (runs > 0) log(`-----> Removed ${runs} one-off container(s) (shipoff run) left by a host that was stopped mid-run`);
      await shared.deployer.recover();
      await shared.traffic.reconcile();
      shared.autosleep.start();
      // `shipoff COMMAND` on this machine runs here, like over SSH (host/control-socket.ts).
      const registry = adminCommands();
      control = await listenControl(settings.dataDir, (cmd) =>
        runCommand(registry, cmd.argv, { stdin: cmd.stdin, stdout: cmd.stdout, stderr: cmd.stderr, signal: cmd.signal, ...(cmd.terminal ? { terminal: cmd.terminal } : {}) }, {
          settings,
          actor: { kind: 'host', name: cmd.user },
          store: async () => ({ store, release: async () => {} }),
          host: shared.hostOps,
        }), log);
      // Routers elsewhere on this store (`shipoff router`) ask for wakes and report requests.
      requests = await store.routes.listenRequests(
        {
          wake: (app) =>
            void shared.autosleep.wake(app).then((r) => {
              // Awake already (nothing changed, so nothing was sent): send its routes again for the router that asked.
              if (r.ok) shared.traffic.publish(app);
            }),
          active: (apps) => apps.filter((app) => shared.routes.get(app).length > 0).forEach((app) => shared.routes.touch(app)),
        },
        { log },
      );
      return [{ label: 'Builds', value: `${settings.buildConcurrency} at a time, Docker (${shared.runtime.name})` }];
    },
    async stop() {
      await control?.close();
      await requests?.close();
      await shared.autosleep.close();
      await shared.deployer.close();
      await shared.traffic.close();
      await shared.runtime.close();
    },
  };
}

function gitdRole({ settings, shared }: RoleDeps): Role {
  return {
    name: 'gitd',
    async start() {
      let port: number;
      try {
        ({ port } = await shared.gitd.listen());
      } catch (err) {
        throw portInUse(err, settings.sshPort, 'SHIPOFF_SSH_PORT');
      }
      return [
        { label: 'Git (SSH)', value: `git remote add shipoff ssh://shipoff@HOST:${port}/APP.git` },
        { label: 'Git (HTTP)', value: `http://git.${settings.domain}:${shared.httpPort}/APP.git (password: shipoff tokens:create NAME)` },
      ];
    },
    stop: () => shared.gitd.close(),
  };
}

function routerRole({ settings, store, log, shared }: RoleDeps): Role {
  // Custom domains and certificates, followed through the store (LISTEN shipoff_domains).
  const domains = new DomainTable(
    { load: () => store.domains.routingSnapshot((app, err) => log(` !     ${app}: ${err.message}`)), connect: () => store.connectListener() },
    { log },
  );
  const router = createRouter({
    store,
    settings,
    log,
    domains,
    httpsPort: settings.httpsPort,
    routes: shared.routes,
    upstreamTimeoutMs: settings.upstreamTimeoutSeconds * 1000,
    onAccess: (record) => shared.accessLog.add(record),
    wake: shared.wake,
    serveStatic: shared.serveStatic,
    // Looked up per request: the gitd role may run in this process or not.
    hostHandlers: {
      git: (req, res) => {
        if (shared.hasGitd) return shared.gitd.handleHttp(req, res);
        res.writeHead(404, { 'content-type': 'text/plain' }).end('git over HTTP is served by `shipoff up`, not by this router alone\n');
      },
    },
  });
  shared.routerMetrics = router.metrics;
  return {
    name: 'router',
    async start() {
      // Without the deployer here, the routes come from the store (loaded before the first request).
      if (!shared.runsDeployer) await shared.followed.start();
      await domains.start();
      let port: number;
      try {
        port = (await router.listen()).port;
        shared.httpPort = port;
      } catch (err) {
        await domains.close();
        throw portInUse(err, settings.httpPort, 'SHIPOFF_HTTP_PORT');
      }
      let httpsPort: number;
      try {
        httpsPort = (await router.listenHttps()).port;
      } catch (err) {
        await router.close(0);
        await domains.close();
        throw portInUse(err, settings.httpsPort, 'SHIPOFF_HTTPS_PORT');
      }
      return [
        { label: 'Apps', value: `http://APP.${settings.domain}:${port}/` },
        { label: 'HTTPS', value: `port ${httpsPort}, for custom domains with a certificate (domains:add, certs:add)` },
        { label: 'Health', value: `http://localhost:${port}/healthz` },
      ];
    },
    async stop() {
      await router.close();
      await domains.close();
      if (!shared.runsDeployer) await shared.followed.close();
    },
  };
}

/** Every role there is, in start order (stopped in reverse). */
export const ROLE_FACTORIES: Readonly<Record<string, (deps: RoleDeps) => Role>> = {
  deployer: deployerRole,
  router: routerRole,
  gitd: gitdRole,
};
