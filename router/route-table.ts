// Which backends serve each app right now, and how many requests each has in
// flight. The deployer writes it (through the host); the proxy reads it. The
// in-flight counts let a deploy stop the old release only once its requests
// have finished, and let the proxy send each request to the least busy backend.

export interface Backend {
  host: string;
  port: number;
}

export const keyOf = (b: Backend): string => `${b.host}:${b.port}`;

/** The in-flight counter of a static directory (never a real backend: port 0). */
const staticKey = (dir: string): Backend => ({ host: `static:${dir}`, port: 0 });

export class RouteTable {
  private readonly routes = new Map<string, Backend[]>();
  private readonly inFlight = new Map<string, number>();
  private readonly idleWaiters = new Map<string, Array<() => void>>();
  private readonly cursor = new Map<string, number>();
  /** How many apps list each backend (by host:port), so a backend's last removal is known. */
  private readonly refs = new Map<string, number>();
  private readonly goneListeners = new Set<(backend: Backend) => void>();
  /** ms timestamp of each app's last request, or of its routes being set (the idle clock). */
  private readonly activity = new Map<string, number>();
  /** Apps served from a directory of files by the router itself (static releases), instead of backends. */
  private readonly staticDirs = new Map<string, string>();

  /** Replaces the app's backends at once: new requests go to these only (any static directory is dropped). */
  set(app: string, backends: Backend[]): void {
    this.staticDirs.delete(app);
    this.replace(app, backends);
  }

  /** The app is served from DIR from now on (a static release): its backends are dropped. */
  setStatic(app: string, dir: string): void {
    this.replace(app, []);
    this.staticDirs.set(app, dir);
    this.activity.set(app, Date.now());
  }

  /** The directory the app is served from, when it is a static release. */
  staticDirOf(app: string): string | undefined {
    return this.staticDirs.get(app);
  }

  /** Apps served from files. Not in apps(): they have no backends (nothing sleeps). */
  staticApps(): string[] {
    return [...this.staticDirs.keys()];
  }

  /** Counts a request served from DIR; call the returned function once it is done. */
  beginStatic(dir: string): () => void {
    return this.begin(staticKey(dir));
  }

  /** Resolves once no request is served from DIR any more, or after timeoutMs. */
  staticDrained(dir: string, timeoutMs: number): Promise<boolean> {
    return this.drained([staticKey(dir)], timeoutMs);
  }

  private replace(app: string, backends: Backend[]): void {
    const before = this.routes.get(app) ?? [];
    const after = backends.map((b) => ({ host: b.host, port: b.port }));
    if (after.length === 0) this.routes.delete(app);
    else this.routes.set(app, after);
    if (after.length > 0) this.activity.set(app, Date.now());
    if (after.length === 0) this.cursor.delete(app);
    for (const b of after) this.refs.set(keyOf(b), (this.refs.get(keyOf(b)) ?? 0) + 1);
    for (const b of before) {
      const key = keyOf(b);
      const left = (this.refs.get(key) ?? 1) - 1;
      if (left > 0) {
        this.refs.set(key, left);
        continue;
      }
      this.refs.delete(key);
      for (const listener of this.goneListeners) listener(b);
    }
  }

  get(app: string): readonly Backend[] {
    return this.routes.get(app) ?? [];
  }

  apps(): string[] {
    return [...this.routes.keys()];
  }

  /**
   * Least connections over the app's backends: the one with the fewest
   * requests in flight; ties go round robin (the scan starts after the last pick).
   */
  pick(app: string): Backend | undefined {
    const backends = this.routes.get(app);
    if (!backends || backends.length === 0) return undefined;
    const n = backends.length;
    const start = ((this.cursor.get(app) ?? -1) + 1) % n;
    if (n === 1) {
      this.cursor.set(app, 0);
      return backends[0];
    }
    let best = start;
    let bestLoad = Infinity;
    for (let i = 0; i < n; i++) {
      const index = (start + i) % n;
      const load = this.inFlight.get(keyOf(backends[index]!)) ?? 0;
      if (load < bestLoad) {
        best = index;
        bestLoad = load;
        if (load === 0) break;
      }
    }
    this.cursor.set(app, best);
    return backends[best];
  }

  /** Counts a request to a backend; call the returned function once it is done. */
  begin(backend: Backend): () => void {
    const key = keyOf(backend);
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left > 0) {
        this.inFlight.set(key, left);
        return;
      }
      this.inFlight.delete(key);
      for (const wake of this.idleWaiters.get(key) ?? []) wake();
      this.idleWaiters.delete(key);
    };
  }

  inFlightTo(backend: Backend): number {
    return this.inFlight.get(keyOf(backend)) ?? 0;
  }

  /** Notes a request for the app: the idle clock of scale to zero restarts. */
  touch(app: string): void {
    this.activity.set(app, Date.now());
  }

  lastActivity(app: string): number | undefined {
    return this.activity.get(app);
  }

  /** Requests and upgraded sockets open to the app's backends right now. */
  inFlightFor(app: string): number {
    let sum = 0;
    for (const b of this.routes.get(app) ?? []) sum += this.inFlightTo(b);
    return sum;
  }

  /**
   * Calls LISTENER whenever a backend stops being listed by any app (the
   * router then closes its connection pool once its requests finish).
   * Returns the function that unsubscribes.
   */
  onBackendGone(listener: (backend: Backend) => void): () => void {
    this.goneListeners.add(listener);
    return () => this.goneListeners.delete(listener);
  }

  /** Resolves once no request is in flight to any of these backends, or after timeoutMs. */
  async drained(backends: Backend[], timeoutMs: number): Promise<boolean> {
    const busy = backends.filter((b) => this.inFlightTo(b) > 0);
    if (busy.length === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const allIdle = Promise.all(
      busy.map((b) => new Promise<void>((resolve) => {
        const key = keyOf(b);
        this.idleWaiters.set(key, [...(this.idleWaiters.get(key) ?? []), resolve]);
      })),
    ).then(() => true);
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([allIdle, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
