// Scale to zero. An app whose web instances had no request for a while is put
// to sleep in two tiers: first frozen (paused: memory kept, wakes in tens of
// milliseconds), then, after its idle timeout, parked (the process stopped,
// the container kept, so waking is a start of an existing container rather
// than a create). A request for a sleeping app wakes it: every request that
// arrives meanwhile waits on the same wake, so exactly one set of instances
// starts however many requests come. Never while a request, a streaming
// response or a WebSocket is open (the route table's in-flight counts).
import net from 'node:net';
import type { App } from '../core/index.js';
import type { Instance, Runtime } from '../runtimes/index.js';

/** What the route table tells the reaper, besides where traffic goes. */
export interface ActivityView {
  set(app: string, backends: Array<{ host: string; port: number }>): void;
  get(app: string): ReadonlyArray<{ host: string; port: number }>;
  apps(): string[];
  /** ms timestamp of the last request to the app, or of its routes being set. */
  lastActivity(app: string): number | undefined;
  /** Requests (and upgraded sockets) open to the app right now. */
  inFlightFor(app: string): number;
  inFlightTo(backend: { host: string; port: number }): number;
  /** Is the app a static release, served from its files by the router? It has no instances: nothing sleeps or wakes. */
  isStatic?(app: string): boolean;
}

export interface AutosleepDeps {
  runtime: Runtime;
  traffic: ActivityView;
  /** The app and its live release version, or undefined. */
  liveOf(app: string): Promise<{ app: App; release: number } | undefined>;
  /** Every app (one query per look, for their idle timeouts). */
  allApps(): Promise<App[]>;
  /** Starts the live release's web instances afresh and waits for them (when nothing is parked). */
  startWeb(app: string): Promise<Instance[]>;
  log: (line: string) => void;
  /** Records a wake or a failed wake in the app's log. */
  record?: (app: string, action: string, details: Record<string, unknown>) => void;
  now?: () => number;
}

export interface AutosleepOptions {
  /** Default idle timeout, seconds; 0 = off. Per app: settings.autosleepSeconds. */
  defaultIdleSeconds?: number;
  /** How often the reaper looks. */
  tickMs?: number;
  /** How long a wake may take before waiting requests give up. */
  wakeTimeoutMs?: number;
}

export const DEFAULT_IDLE_SECONDS = 15 * 60;
/** The warm tier starts after this share of the idle timeout (at most a minute). */
const FREEZE_AFTER_SHARE = 0.5;
const FREEZE_AFTER_MAX_MS = 60_000;
const PORT_POLL_MS = 5;

type Sleeping = { tier: 'frozen' | 'parked'; instances: Instance[]; since: number };

export interface WakeResult {
  ok: boolean;
  /** False when there was nothing to wake (no such app, or no live release). */
  attempted: boolean;
  /** How the app came back: from the warm tier, parked containers, or a fresh start. */
  from?: 'frozen' | 'parked' | 'fresh';
  ms: number;
  reason?: string;
}

export function idleSecondsOf(app: App, fallback = DEFAULT_IDLE_SECONDS): number {
  const value = (app.settings as { autosleepSeconds?: unknown }).autosleepSeconds;
  return typeof value === 'number' && value >= 0 ? value : fallback;
}

export class Autosleep {
  private readonly sleeping = new Map<string, Sleeping>();
  private readonly waking = new Map<string, Promise<WakeResult>>();
  private readonly busy = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly deps: AutosleepDeps,
    private readonly options: AutosleepOptions = {},
  ) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    const tick = this.options.tickMs ?? 1_000;
    this.timer = setInterval(() => {
      this.ticking ??= this.tick().finally(() => (this.ticking = undefined));
    }, tick);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
    await Promise.allSettled([...this.waking.values()]);
  }

  /** Is the app asleep (frozen or parked)? */
  tierOf(app: string): 'awake' | 'frozen' | 'parked' | 'waking' {
    if (this.waking.has(app)) return 'waking';
    return this.sleeping.get(app)?.tier ?? 'awake';
  }

  /** Drops what is kept of an app that is gone (destroyed, or renamed away), once a wake of it in flight ended:
   * its sleeping instances would otherwise linger here and be unparked by the next wake of that name. */
  async forget(app: string): Promise<void> {
    await this.waking.get(app)?.catch(() => {});
    while (this.busy.has(app)) await new Promise((r) => setTimeout(r, 5));
    this.sleeping.delete(app);
  }

  /** One look at every routed app: freeze or park the idle ones. */
  async tick(): Promise<void> {
    const now = this.now();
    const routed = this.deps.traffic.apps();
    if (routed.length === 0 && this.sleeping.size === 0) return;
    const byName = new Map((await this.deps.allApps()).map((a) => [a.name, a]));
    for (const app of routed) {
      if (this.busy.has(app) || this.waking.has(app) || this.deps.traffic.inFlightFor(app) > 0 || this.deps.traffic.isStatic?.(app)) continue;
      const last = this.deps.traffic.lastActivity(app);
      const record = byName.get(app);
      if (last === undefined || !record) continue;
      const idleMs = idleSecondsOf(record, this.options.defaultIdleSeconds) * 1000;
      if (idleMs === 0) continue;
      const freezeAfter = Math.min(idleMs * FREEZE_AFTER_SHARE, FREEZE_AFTER_MAX_MS);
      if (now - last < freezeAfter) continue;
      const live = await this.deps.liveOf(app).catch(() => undefined);
      if (live) await this.freeze(app, live.release);
    }
    // Frozen apps idle for the whole timeout are parked.
    for (const [app, s] of this.sleeping) {
      if (s.tier !== 'frozen' || this.busy.has(app) || this.waking.has(app)) continue;
      const live = await this.deps.liveOf(app).catch(() => undefined);
      const last = this.deps.traffic.lastActivity(app) ?? s.since;
      if (!live || live.release !== s.instances[0]?.release) {
        this.sleeping.delete(app); // a deploy replaced what slept
        continue;
      }
      const idleMs = idleSecondsOf(live.app, this.options.defaultIdleSeconds) * 1000;
      if (idleMs > 0 && now - last >= idleMs) await this.park(app, s);
    }
  }

  private async freeze(app: string, release: number): Promise<void> {
    this.busy.add(app);
    try {
      const web = (await this.deps.runtime.list(app)).filter((i) => i.processType === 'web' && i.release === release && i.state === 'running');
      if (web.length === 0) return;
      // Routes go first: a request from now on waits for the wake instead of
      // reaching a frozen process.
      const backends = [...this.deps.traffic.get(app)];
      this.deps.traffic.set(app, []);
      if (backends.some((b) => this.deps.traffic.inFlightTo(b) > 0)) {
        // A request slipped in between the check and the switch: stay awake.
        this.deps.traffic.set(app, backends);
        return;
      }
      await Promise.all(web.map((i) => this.deps.runtime.pause(i.id)));
      this.sleeping.set(app, { tier: 'frozen', instances: web, since: this.now() });
      this.deps.log(`-----> ${app}: idle, frozen (${web.length} web instance${web.length === 1 ? '' : 's'})`);
    } catch (err) {
      this.deps.log(` !     freezing ${app}: ${(err as Error).message}`);
    } finally {
      this.busy.delete(app);
    }
  }

  private async park(app: string, s: Sleeping): Promise<void> {
    this.busy.add(app);
    try {
      await Promise.all(s.instances.map((i) => this.deps.runtime.park(i.id)));
      this.sleeping.set(app, { tier: 'parked', instances: s.instances, since: this.now() });
      this.deps.log(`-----> ${app}: idle, asleep (its web instances are stopped until the next request)`);
    } catch (err) {
      this.deps.log(` !     putting ${app} to sleep: ${(err as Error).message}`);
    } finally {
      this.busy.delete(app);
    }
  }

  /**
   * Brings a sleeping app back, once, whoever asks: every caller during a
   * wake shares its promise. Resolves (never rejects) with how it went.
   */
  wake(app: string): Promise<WakeResult> {
    const current = this.waking.get(app);
    if (current) return current;
    const started = this.now();
    const timeoutMs = this.options.wakeTimeoutMs ?? 30_000;
    const attempt = this.deps
      .liveOf(app)
      .catch(() => undefined)
      .then(async (live): Promise<WakeResult> => {
        // Nothing deployed: nothing to wake, and nothing worth a log line
        // (any host name can be asked for).
        if (!live) return { ok: false, attempted: false, ms: this.now() - started, reason: 'no live release' };
        return this.bringBack(app, live.release, started, timeoutMs).catch(
          (err: unknown): WakeResult => ({ ok: false, attempted: true, ms: this.now() - started, reason: err instanceof Error ? err.message : String(err) }),
        );
      })
      .then((result) => {
        this.waking.delete(app);
        if (!result.attempted) return result;
        if (result.ok) this.deps.log(`-----> ${app}: woke from ${result.from} in ${result.ms} ms`);
        else this.deps.log(` !     ${app}: could not wake: ${result.reason}`);
        this.deps.record?.(app, result.ok ? 'app.wake' : 'app.wake-failed', { from: result.from ?? null, ms: result.ms, reason: result.reason ?? null });
        return result;
      });
    this.waking.set(app, attempt);
    return attempt;
  }

  private async bringBack(app: string, release: number, started: number, timeoutMs: number): Promise<WakeResult> {
    while (this.busy.has(app)) await new Promise((r) => setTimeout(r, 5));
    // Woken meanwhile (a deploy set routes while this waited for the freezer)? A static release is always awake.
    if (this.deps.traffic.get(app).length > 0 || this.deps.traffic.isStatic?.(app)) return { ok: true, attempted: true, from: 'frozen', ms: this.now() - started };
    const s = this.sleeping.get(app);
    const deadline = started + timeoutMs;
    let instances: Instance[];
    let from: WakeResult['from'];
    if (s && s.instances[0]?.release === release) {
      if (s.tier === 'frozen') {
        await Promise.all(s.instances.map((i) => this.deps.runtime.resume(i.id)));
        instances = s.instances;
        from = 'frozen';
      } else {
        try {
          instances = await Promise.all(s.instances.map((i) => this.deps.runtime.unpark(i.id)));
          from = 'parked';
        } catch (err) {
          // Gone meanwhile (removed by hand, the engine restarted): start afresh.
          this.deps.log(` !     ${app}: its parked instances could not start (${(err as Error).message}); starting new ones`);
          instances = (await this.deps.startWeb(app)).filter((i) => i.processType === 'web');
          from = 'fresh';
        }
      }
    } else {
      instances = (await this.deps.startWeb(app)).filter((i) => i.processType === 'web');
      from = 'fresh';
    }
    const addresses = instances.filter((i) => i.address).map((i) => i.address!);
    if (addresses.length === 0) throw new Error('no web instance has an address');
    // Ready as soon as the port takes a connection: the app is listening.
    await Promise.all(addresses.map((a) => waitForPort(a, deadline)));
    this.sleeping.delete(app);
    this.deps.traffic.set(app, addresses);
    return { ok: true, attempted: true, from, ms: this.now() - started };
  }
}

/** Resolves once host:port accepts a TCP connection; rejects at the deadline. */
export async function waitForPort(address: { host: string; port: number }, deadline: number): Promise<void> {
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: address.host, port: address.port });
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
      socket.setTimeout(Math.max(1, deadline - Date.now()), () => done(false));
    });
    if (open) return;
    if (Date.now() >= deadline) throw new Error(`port ${address.port} did not open in time`);
    await new Promise((r) => setTimeout(r, PORT_POLL_MS));
  }
}
