// Routes shared through the store, so that every router process on one
// database serves the same apps.
//
// - PublishedRoutes: in the process that runs the deployer, the route table
//   the deployer and the reaper write; every change goes to the router's
//   in-memory table at once and to the store behind it (in order per app),
//   so they never learn of PostgreSQL.
// - FollowedRoutes: in a router without the deployer (`shipoff router`), the
//   in-memory table follows the store (all routes at start, then every
//   NOTIFY). For an app asleep it asks the deployer's process to wake it and
//   waits for its routes; and it reports which apps had requests, so that the
//   deployer's idle clock counts them.
import type { Listening, RouteBackend, Store } from '../core/index.js';
import type { ActivityView, Traffic } from '../deployer/index.js';
import type { RouteTable } from '../router/index.js';

type Log = (line: string) => void;

/**
 * A static release is published as one pseudo-backend naming its directory
 * (port 0, never dialled): a following router serves it from that directory,
 * which exists only where it shares the data directory (the same machine);
 * elsewhere its load fails and the request gets a 500.
 */
const STATIC_PREFIX = 'static:';
const staticRoute = (dir: string): RouteBackend => ({ host: `${STATIC_PREFIX}${dir}`, port: 0 });
const staticDirIn = (backends: readonly RouteBackend[]): string | undefined =>
  backends.length === 1 && backends[0]!.port === 0 && backends[0]!.host.startsWith(STATIC_PREFIX) ? backends[0]!.host.slice(STATIC_PREFIX.length) : undefined;

const sameBackends = (a: readonly RouteBackend[], b: readonly RouteBackend[]): boolean =>
  a.length === b.length && a.every((x, i) => x.host === b[i]!.host && x.port === b[i]!.port);

/** The deployer's side: writes through to the router's table and to the store. */
export class PublishedRoutes implements Traffic, ActivityView {
  /** The last write queued per app, so writes for one app land in order. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly table: RouteTable,
    private readonly store: Pick<Store, 'routes'>,
    private readonly log: Log,
    private readonly retryMs = 1_000,
  ) {}

  set(app: string, backends: RouteBackend[]): void {
    this.table.set(app, backends);
    this.publish(app);
  }

  setStatic(app: string, dir: string): void {
    this.table.setStatic(app, dir);
    this.publish(app);
  }

  staticDrained(dir: string, timeoutMs: number): Promise<boolean> {
    return this.table.staticDrained(dir, timeoutMs);
  }

  isStatic(app: string): boolean {
    return this.table.staticDirOf(app) !== undefined;
  }

  get(app: string): readonly RouteBackend[] {
    return this.table.get(app);
  }

  apps(): string[] {
    return this.table.apps();
  }

  drained(backends: RouteBackend[], timeoutMs: number): Promise<boolean> {
    return this.table.drained(backends, timeoutMs);
  }

  lastActivity(app: string): number | undefined {
    return this.table.lastActivity(app);
  }

  inFlightFor(app: string): number {
    return this.table.inFlightFor(app);
  }

  inFlightTo(backend: RouteBackend): number {
    return this.table.inFlightTo(backend);
  }

  /** Writes the app's routes as they are now again (a router asked for them). */
  publish(app: string): void {
    if (this.closed) return;
    clearTimeout(this.retries.get(app));
    this.retries.delete(app);
    const previous = this.chains.get(app) ?? Promise.resolve();
    const next = previous.then(async () => {
      // What the table holds when the write runs: a later set wins even if
      // an earlier write failed.
      const dir = this.table.staticDirOf(app);
      const now = dir !== undefined ? [staticRoute(dir)] : this.table.get(app).map((b) => ({ host: b.host, port: b.port }));
      try {
        await this.store.routes.set(app, now);
      } catch (err) {
        this.log(` !     sharing the routes of ${app}: ${(err as Error).message}; trying again`);
        if (this.closed || this.retries.has(app)) return;
        const timer = setTimeout(() => {
          this.retries.delete(app);
          this.publish(app);
        }, this.retryMs);
        timer.unref();
        this.retries.set(app, timer);
      }
    });
    this.chains.set(app, next);
    void next.then(() => {
      if (this.chains.get(app) === next) this.chains.delete(app);
    });
  }

  /** Routes in the store that this process does not have (left by an earlier run) are removed. */
  async reconcile(): Promise<void> {
    for (const app of (await this.store.routes.all()).keys()) {
      if (this.table.get(app).length === 0 && this.table.staticDirOf(app) === undefined) this.publish(app);
    }
    await this.flush();
  }

  /** Resolves once every write queued so far has landed (or failed). */
  async flush(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
  }
}

export interface FollowOptions {
  /** How long a request may wait for a wake it asked the deployer for. Default 30 s. */
  wakeTimeoutMs?: number;
  /** How often the apps that had requests are reported to the deployer. Default 1 s. */
  activityMs?: number;
}

export type FollowedWake = { ok: boolean; attempted: boolean; reason?: string };

/** A router without the deployer: its table follows the store. */
export class FollowedRoutes {
  private listening: Listening | undefined;
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly waking = new Map<string, Promise<FollowedWake>>();
  /** Each app's activity mark right after its routes were set here (not a request). */
  private readonly setAt = new Map<string, number>();
  private reportedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private reporting: Promise<void> | undefined;

  constructor(
    private readonly table: RouteTable,
    private readonly store: Pick<Store, 'routes' | 'apps' | 'deploys'>,
    private readonly log: Log,
    private readonly options: FollowOptions = {},
  ) {}

  /** Loads every route, then follows changes until close(). */
  async start(): Promise<void> {
    this.listening = await this.store.routes.listen(
      (update) => {
        if (update.kind === 'all') {
          for (const app of [...this.table.apps(), ...this.table.staticApps()]) if (!update.routes.has(app)) this.apply(app, []);
          for (const [app, backends] of update.routes) this.apply(app, backends);
        } else {
          this.apply(update.app, update.backends);
        }
      },
      { log: this.log },
    );
    const every = this.options.activityMs ?? 1_000;
    this.timer = setInterval(() => {
      this.reporting ??= this.reportActivity().finally(() => (this.reporting = undefined));
    }, every);
    this.timer.unref();
  }

  /** The server process of the listening connection (for tests). */
  get listenerPid(): number | undefined {
    return this.listening?.pid;
  }

  get reconnects(): number {
    return this.listening?.reconnects ?? 0;
  }

  private apply(app: string, backends: RouteBackend[]): void {
    const dir = staticDirIn(backends);
    if (dir !== undefined) {
      if (this.table.staticDirOf(app) !== dir) this.table.setStatic(app, dir);
      this.setAt.set(app, this.table.lastActivity(app) ?? Date.now());
    } else if (!sameBackends(this.table.get(app), backends) || this.table.staticDirOf(app) !== undefined) {
      this.table.set(app, backends);
      if (backends.length === 0) this.setAt.delete(app);
      else this.setAt.set(app, this.table.lastActivity(app) ?? Date.now());
    }
    if (backends.length === 0) return;
    const waiting = this.waiters.get(app);
    this.waiters.delete(app);
    for (const resolve of waiting ?? []) resolve();
  }

  /**
   * What the router calls for an app it has no routes for: when the app has
   * a live release and a deployer's process listens, ask it to wake the app
   * and wait for the routes to arrive. Every request meanwhile shares one wake.
   */
  wake(app: string): Promise<FollowedWake> {
    const current = this.waking.get(app);
    if (current) return current;
    const attempt = this.wakeOnce(app)
      .catch((err: Error): FollowedWake => ({ ok: false, attempted: true, reason: err.message }))
      .finally(() => this.waking.delete(app));
    this.waking.set(app, attempt);
    return attempt;
  }

  private async wakeOnce(app: string): Promise<FollowedWake> {
    if (this.table.get(app).length > 0) return { ok: true, attempted: true };
    const found = await this.store.apps.find(app);
    const live = found && (await this.store.deploys.liveRelease(found.id));
    // Nothing deployed: nothing to wake (any host name can be asked for).
    if (!live) return { ok: false, attempted: false, reason: 'no live release' };
    if (!(await this.store.routes.wakeListenerPresent())) {
      return { ok: false, attempted: true, reason: 'no host with the deployer role runs on this store to wake it' };
    }
    const arrived = this.routesFor(app, this.options.wakeTimeoutMs ?? 30_000);
    await this.store.routes.requestWake(app);
    return (await arrived) ? { ok: true, attempted: true } : { ok: false, attempted: true, reason: 'the host did not wake it in time' };
  }

  /** Resolves true once the app has routes here, false after timeoutMs. */
  private routesFor(app: string, timeoutMs: number): Promise<boolean> {
    if (this.table.get(app).length > 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const set = this.waiters.get(app) ?? new Set();
      this.waiters.set(app, set);
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        set.delete(done);
        if (set.size === 0 && this.waiters.get(app) === set) this.waiters.delete(app);
        resolve(false);
      }, timeoutMs);
      set.add(done);
    });
  }

  /** Tells the deployer's process which apps had requests (or have some open) since the last report. */
  private async reportActivity(): Promise<void> {
    const since = this.reportedAt;
    this.reportedAt = Date.now();
    const active = this.table.apps().filter((app) => {
      if (this.table.inFlightFor(app) > 0) return true;
      const last = this.table.lastActivity(app);
      return last !== undefined && last >= since && last > (this.setAt.get(app) ?? 0);
    });
    if (active.length === 0) return;
    await this.store.routes.reportActivity(active).catch((err: Error) => this.log(` !     reporting requests to the host: ${err.message}`));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.reporting;
    await this.listening?.close();
    this.listening = undefined;
  }
}
