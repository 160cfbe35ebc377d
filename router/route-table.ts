// Which backends serve each app right now, and how many requests each has in
// flight. The deployer writes it (through the host); the proxy reads it. The
// in-flight counts let a deploy stop the old release only once its requests
// have finished.

export interface Backend {
  host: string;
  port: number;
}

const keyOf = (b: Backend): string => `${b.host}:${b.port}`;

export class RouteTable {
  private readonly routes = new Map<string, Backend[]>();
  private readonly inFlight = new Map<string, number>();
  private readonly idleWaiters = new Map<string, Array<() => void>>();
  private readonly cursor = new Map<string, number>();

  /** Replaces the app's backends at once: new requests go to these only. */
  set(app: string, backends: Backend[]): void {
    if (backends.length === 0) this.routes.delete(app);
    else this.routes.set(app, backends.map((b) => ({ host: b.host, port: b.port })));
  }

  get(app: string): readonly Backend[] {
    return this.routes.get(app) ?? [];
  }

  apps(): string[] {
    return [...this.routes.keys()];
  }

  /** Round robin over the app's backends. */
  pick(app: string): Backend | undefined {
    const backends = this.routes.get(app);
    if (!backends || backends.length === 0) return undefined;
    const next = ((this.cursor.get(app) ?? -1) + 1) % backends.length;
    this.cursor.set(app, next);
    return backends[next];
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
