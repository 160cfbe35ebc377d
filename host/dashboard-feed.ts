// The host's side of admin/dashboard/feed.ts. One feed per host, shared by
// every open dashboard. It looks again when something happens (a route
// changed: a deploy went live, an app slept or woke; an instance crashed),
// and on a slow clock for what only counters tell (request rates, latency,
// memory, builds). Nobody watching: no clock, no listener, no cost.
import fs from 'node:fs/promises';
import path from 'node:path';
import type Dockerode from 'dockerode';
import type { App, Deploy, Listening, Store } from '../core/index.js';
import { type AppDetail, type AppSnapshot, type AppState, type DashboardFeed, type HostSnapshot, type InstanceDetail, RateSampler, type Snapshot } from '../admin/index.js';
import { DEFAULT_IDLE_SECONDS, desiredCounts, idleSecondsOf, isStaticRelease } from '../deployer/index.js';
import type { RouterMetrics } from '../router/index.js';
import type { DockerRuntime, Instance } from '../runtimes/index.js';
import type { PublishedRoutes } from './shared-routes.js';

export interface DashboardFeedDeps {
  store: Store;
  runtime: DockerRuntime;
  traffic: PublishedRoutes;
  dataDir: string;
  log: (line: string) => void;
  docker?: Dockerode;
  /** The router's counters, when this process runs the router. */
  routerMetrics?: () => RouterMetrics | undefined;
  /** Where the reaper has the app: awake, frozen, parked or waking. */
  sleepTier?: (app: string) => string;
  sampleMs?: number;
}

const LATENCY_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Disk use changes slowly and `docker system df` is not free: measured this often. */
const DISK_EVERY_MS = 30_000;
const EVENT_DEBOUNCE_MS = 100;
const BUILD_OUTPUT_CHARS = 20_000;
const IN_FLIGHT: ReadonlySet<string> = new Set(['QUEUED', 'BUILDING', 'RELEASING']);

export class HostDashboardFeed implements DashboardFeed {
  private readonly watchers = new Set<(s: Snapshot) => void>();
  private readonly sampler: RateSampler;
  private latest?: Snapshot;
  private running?: Promise<Snapshot>;
  private again = false;
  private timer?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private routes?: Promise<Listening | undefined>;
  private unsubscribeRuntime?: () => void;
  private disk: { imagesBytes?: number; cacheBytes?: number; at: number; measuring: boolean } = { at: 0, measuring: false };
  private memory = new Map<string, number>();

  constructor(private readonly deps: DashboardFeedDeps) {
    this.sampler = new RateSampler(LATENCY_BOUNDS, (deps.sampleMs ?? 2_000) / 1000);
  }

  snapshot(): Promise<Snapshot> {
    return this.latest ? Promise.resolve(this.latest) : this.refresh();
  }

  watch(onChange: (s: Snapshot) => void): () => void {
    this.watchers.add(onChange);
    if (this.watchers.size === 1) this.startWatching();
    return () => {
      this.watchers.delete(onChange);
      if (this.watchers.size === 0) this.stopWatching();
    };
  }

  private startWatching(): void {
    const sampleMs = this.deps.sampleMs ?? 2_000;
    // Counters are sampled on the clock itself, so a look merged with an event's never skips a sample.
    this.timer = setInterval(() => {
      this.sampleCounters();
      void this.refresh().catch(() => {});
    }, sampleMs);
    this.timer.unref();
    // The rates' baseline at once: what happens from the dashboard's first second on counts.
    void this.refresh().then(() => this.sampleCounters(), () => {});
    this.unsubscribeRuntime = this.deps.runtime.onEvent(() => this.soon());
    // Routes change when a deploy goes live and when an app sleeps or wakes, whichever process did it.
    this.routes = this.deps.store.routes.listen(() => this.soon(), { log: this.deps.log }).catch((err: Error) => {
      this.deps.log(` !     dashboard: not following route changes (${err.message})`);
      return undefined;
    });
  }

  private stopWatching(): void {
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    this.unsubscribeRuntime?.();
    const routes = this.routes;
    this.routes = undefined;
    void routes?.then((l) => l?.close()).catch(() => {});
  }

  /** Something happened: look again shortly (many events in a burst make one look). */
  private soon(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.refresh().catch(() => {}), EVENT_DEBOUNCE_MS);
    this.debounce.unref();
  }

  /** One reading of every known app's counters, and of its instances' memory. */
  private sampleCounters(): void {
    const names = (this.latest?.apps ?? []).map((a) => a.name);
    const metrics = this.deps.routerMetrics?.();
    if (metrics) for (const name of names) this.sampler.sample(name, readingOf(metrics, name));
    this.sampler.retain(new Set(names));
    void this.measureMemory(this.instances);
  }

  private instances: Instance[] = [];

  /** One look; looks asked for meanwhile are merged into one more. */
  private refresh(): Promise<Snapshot> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.measure().then(
      (s) => {
        this.latest = s;
        this.running = undefined;
        for (const w of this.watchers) w(s);
        if (this.again) {
          this.again = false;
          void this.refresh().catch(() => {});
        }
        return s;
      },
      (err: unknown) => {
        this.running = undefined;
        throw err;
      },
    );
    return this.running;
  }

  private async measure(): Promise<Snapshot> {
    const { store, runtime } = this.deps;
    const apps = await store.apps.list();
    let engine: HostSnapshot['engine'] = { ok: true };
    let instances: Instance[] = [];
    try {
      instances = await runtime.list();
    } catch (err) {
      engine = { ok: false, reason: (err as Error).message };
    }
    if (engine.ok) this.instances = instances;
    this.measureDisk();
    const unfinished = await store.deploys.unfinished();
    const rows: AppSnapshot[] = [];
    for (const app of apps) rows.push(await this.appRow(app, instances.filter((i) => i.app === app.name)));
    return {
      at: new Date(),
      sampleSeconds: this.sampler.sampleSeconds,
      host: {
        engine,
        buildsRunning: unfinished.filter((d) => d.state !== 'QUEUED').length,
        buildsQueued: unfinished.filter((d) => d.state === 'QUEUED').length,
        ...(this.disk.imagesBytes !== undefined ? { imagesBytes: this.disk.imagesBytes } : {}),
        ...(this.disk.cacheBytes !== undefined ? { cacheBytes: this.disk.cacheBytes } : {}),
      },
      apps: rows,
    };
  }

  private async appRow(app: App, instances: Instance[]): Promise<AppSnapshot> {
    const { store, traffic } = this.deps;
    const live = await store.deploys.liveRelease(app.id);
    const [last] = await store.deploys.listForApp(app.id, 1);
    const formation = await store.apps.formation(app.id);
    const current = live ? instances.filter((i) => i.release === live.version) : [];
    const processes = live
      ? desiredCounts(live.processTypes, formation).map(([type, desired]) => ({
          type,
          desired,
          running: current.filter((i) => i.processType === type && i.state === 'running').length,
        }))
      : [];
    const isStatic = live !== undefined && isStaticRelease(live);
    const state = stateOf({
      last,
      hasLive: live !== undefined,
      routed: traffic.get(app.name).length > 0 || isStatic,
      tier: this.deps.sleepTier?.(app.name) ?? 'awake',
      hasWeb: processes.some((p) => p.type === 'web' && p.desired > 0),
      allZero: processes.length > 0 && processes.every((p) => p.desired === 0),
      crashed: current.some((i) => i.state === 'crashed') && !current.some((i) => i.state === 'running'),
      stopped: app.settings.stopped === true,
    });
    const rates = this.sampler.rates(app.name);
    const memory = current.reduce((sum, i) => sum + (this.memory.get(i.id) ?? 0), 0);
    return {
      name: app.name,
      state,
      processes,
      ...(live ? { release: live.version } : {}),
      ...(last ? { lastDeploy: { id: last.id, state: last.state, at: last.finishedAt ?? last.updatedAt, ...(last.reason ? { reason: last.reason } : {}) } } : {}),
      rps: rates.rps,
      ...(rates.p95Ms !== undefined ? { p95Ms: rates.p95Ms } : {}),
      ...(memory > 0 ? { memoryBytes: memory } : {}),
      rpsHistory: rates.rpsHistory,
      wakeHistory: rates.wakeHistory,
      autosleepSeconds: idleSecondsOf(app, DEFAULT_IDLE_SECONDS),
    };
  }

  /** Memory of each running instance: one-shot stats (no second sample, so no wait). */
  private measuringMemory = false;
  private async measureMemory(instances: Instance[]): Promise<void> {
    const docker = this.deps.docker;
    if (!docker || this.measuringMemory) return;
    this.measuringMemory = true;
    try {
      const next = new Map<string, number>();
      await Promise.all(
        instances
          .filter((i) => i.state === 'running')
          .map(async (i) => {
            const stats = await containerStats(docker, i.id, true).catch(() => undefined);
            if (stats) next.set(i.id, memoryOf(stats));
          }),
      );
      this.memory = next;
    } finally {
      this.measuringMemory = false;
    }
  }

  private measureDisk(): void {
    const docker = this.deps.docker;
    if (this.disk.measuring || Date.now() - this.disk.at < DISK_EVERY_MS) return;
    this.disk.measuring = true;
    void (async () => {
      try {
        if (docker) {
          const df = (await docker.df()) as { Images?: Array<{ Size?: number; Labels?: Record<string, string> | null; RepoTags?: string[] | null }> };
          this.disk.imagesBytes = (df.Images ?? []).filter((i) => i.Labels?.['shipoff.app'] || i.RepoTags?.some((t) => t.startsWith('shipoff/'))).reduce((sum, i) => sum + (i.Size ?? 0), 0);
        }
        this.disk.cacheBytes = await directorySize(path.join(this.deps.dataDir, 'cache'));
      } catch (err) {
        this.deps.log(` !     dashboard: measuring disk use: ${(err as Error).message}`);
      } finally {
        this.disk.at = Date.now();
        this.disk.measuring = false;
      }
    })();
  }

  async detail(appName: string): Promise<AppDetail> {
    const { store, runtime, docker } = this.deps;
    const app = await store.apps.get(appName);
    const formation = await store.apps.formation(app.id);
    const live = await store.deploys.liveRelease(app.id);
    const releases = await store.deploys.releases(app.id, 10);
    const deploys = await store.deploys.listForApp(app.id, 5);
    const build = deploys.find((d) => IN_FLIGHT.has(d.state)) ?? deploys[0];
    const instances: InstanceDetail[] = await Promise.all(
      (await runtime.list(appName).catch(() => [])).map(async (i) => {
        // Full stats (two samples a second apart) give CPU: only for the app whose detail is open.
        const stats = i.state === 'running' && docker ? await containerStats(docker, i.id, false).catch(() => undefined) : undefined;
        return {
          name: `${i.processType}.${i.index}`,
          state: i.state,
          release: i.release,
          ...(stats ? { cpuPercent: cpuOf(stats), memoryBytes: memoryOf(stats) } : {}),
        };
      }),
    );
    instances.sort((a, b) => a.name.localeCompare(b.name) || b.release - a.release);
    const output = build ? (await store.deploys.log(build.id)).slice(-BUILD_OUTPUT_CHARS) : '';
    return {
      name: app.name,
      formation: live ? Object.fromEntries(desiredCounts(live.processTypes, formation)) : formation,
      instances,
      releases: releases.map((r) => ({ version: r.version, description: r.description, createdAt: r.createdAt, live: r.version === live?.version })),
      ...(build ? { build: { id: build.id, state: build.state, output } } : {}),
    };
  }
}

/** What decides the state column. */
export interface StateInputs {
  last: Deploy | undefined;
  hasLive: boolean;
  routed: boolean;
  tier: string;
  hasWeb: boolean;
  allZero: boolean;
  crashed: boolean;
  stopped: boolean;
}

export function stateOf(s: StateInputs): AppState {
  if (s.last && IN_FLIGHT.has(s.last.state)) return 'BUILDING';
  if (!s.hasLive) return s.last && (s.last.state === 'FAILED' || s.last.state === 'CANCELLED') ? 'FAILED' : 'STOPPED';
  if (s.stopped || s.allZero) return 'STOPPED';
  if (s.tier === 'waking') return 'WAKING';
  // A parked instance is an exited container: asleep, not crashed.
  if (s.tier === 'frozen' || s.tier === 'parked') return 'SLEEPING';
  if (s.crashed) return 'FAILED';
  if (s.hasWeb && !s.routed) return 'SLEEPING';
  return 'LIVE';
}

function readingOf(metrics: RouterMetrics, app: string): { requests: number; wakeups: number; latencyCounts: number[]; latencyCount: number } {
  const requests = ['1xx', '2xx', '3xx', '4xx', '5xx'].reduce((sum, c) => sum + metrics.requests.labels(app, c).value, 0);
  const wakeups = metrics.wakeups.labels(app, 'ok').value + metrics.wakeups.labels(app, 'failed').value;
  const h = metrics.duration.labels(app);
  return { requests, wakeups, latencyCounts: [...h.counts], latencyCount: h.count };
}

type Stats = {
  memory_stats?: { usage?: number; stats?: Record<string, number> };
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
};

async function containerStats(docker: Dockerode, id: string, oneShot: boolean): Promise<Stats> {
  const options = { stream: false, ...(oneShot ? { 'one-shot': true } : {}) } as { stream: false };
  return (await docker.getContainer(id).stats(options)) as Stats;
}

/** Memory as `docker stats` shows it: usage less the page cache that can be dropped. */
function memoryOf(s: Stats): number {
  const usage = s.memory_stats?.usage ?? 0;
  const cache = s.memory_stats?.stats?.inactive_file ?? s.memory_stats?.stats?.total_inactive_file ?? 0;
  return Math.max(0, usage - cache);
}

function cpuOf(s: Stats): number {
  const cpu = (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const system = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  return cpu > 0 && system > 0 ? (cpu / system) * (s.cpu_stats?.online_cpus ?? 1) * 100 : 0;
}

async function directorySize(dir: string): Promise<number> {
  let total = 0;
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) total += await directorySize(full);
    else if (e.isFile()) total += (await fs.stat(full).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
