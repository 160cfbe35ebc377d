// The deployer: takes a pushed commit through QUEUED → BUILDING → RELEASING →
// LIVE, streaming every step to the pusher. Any failure leaves the previous
// release serving. It depends only on core/ and on what the host hands it
// (a build function, a runtime, a route table), so each piece can be swapped.
import path from 'node:path';
import {
  type App,
  type Builder,
  type Deploy,
  type Formation,
  formatForTerminal,
  isShipoffError,
  type Release,
  ShipoffError,
  type Store,
  type User,
} from '../core/index.js';
import type { Instance, InstanceSpec, Runtime } from '../runtimes/index.js';

/** A new release made from the live one (or an older one), rolled out with zero downtime. */
export interface ReleaseChange {
  /** Config vars to set and to remove (written to the store with the release, put back if it fails). */
  configChanges?: ConfigChanges;
  /** Rollback: run this version's image with its config snapshot. */
  fromVersion?: number;
  /** One line for `releases`: "Set FOO, BAR", "Rollback to v3". */
  description: string;
}

export interface InstanceReport {
  id: string;
  processType: string;
  index: number;
  release: number;
  state: Instance['state'];
  address?: string;
  startedAt?: Date;
}
import { BuildSlots } from './build-slots.js';
import { applyChanges, type ConfigChanges, formatFormation, replaceConfig, sameConfig } from './config-changes.js';
import { DeployOutput } from './deploy-output.js';
import { DEFAULT_HEALTH_CHECK, type HealthCheck, waitUntilHealthy } from './health-check.js';
import { isStaticRelease, type StaticReleases } from './static-release.js';

export interface Backend {
  host: string;
  port: number;
}

/** What the deployer needs of the router's route table. */
export interface Traffic {
  set(app: string, backends: Backend[]): void;
  get(app: string): readonly Backend[];
  drained(backends: Backend[], timeoutMs: number): Promise<boolean>;
  /** Static releases (with deps.staticReleases): the router serves the app from DIR; set() undoes it. */
  setStatic?(app: string, dir: string): void;
  /** Resolves once no request is served from DIR, or after timeoutMs. */
  staticDrained?(dir: string, timeoutMs: number): Promise<boolean>;
}

export interface BuildJob {
  app: string;
  version: number;
  /** Makes a tar of the pushed tree; called again for a Dockerfile build. */
  source: () => NodeJS.ReadableStream;
  /** One regular file of the pushed tree, or null. */
  readSourceFile: (path: string) => Promise<string | null>;
  cacheDir: string;
  env: Record<string, string>;
  signal: AbortSignal;
  onLine: (line: string) => void;
  timeoutMs?: number;
}

export interface BuiltImage {
  image: string;
  processTypes: Record<string, string>;
  buildpack: string;
  builder: Builder;
}

export interface DeployerDeps {
  store: Store;
  runtime: Runtime;
  traffic: Traffic;
  build: (job: BuildJob) => Promise<BuiltImage>;
  /** argv that runs a Procfile command in a release image. */
  launchArgv: (command: string, builder: Builder) => string[];
  dataDir: string;
  log: (line: string) => void;
  appUrl: (app: string) => string;
  maxConcurrentBuilds?: number;
  /** Grace for in-flight requests before the old release is stopped. */
  drainMs?: number;
  /** Releases whose web process is the static server are served by the router from their files (deployer/static-release.ts). */
  staticReleases?: StaticReleases;
}

export interface DeployRequest {
  app: App;
  user: User;
  commitSha: string;
  branch: string;
  /** A tar of the commit's tree, opened when the build starts. */
  source: () => NodeJS.ReadableStream;
  /** One regular file of the commit's tree (null when missing or not a regular file). */
  readSourceFile: (path: string) => Promise<string | null>;
  output: (line: string) => void;
  signal: AbortSignal;
  /** Checked once this deploy has the app's turn, before building: throws when
   * the push is stale (another push to the branch landed while it waited). */
  stillCurrent?: () => Promise<void>;
  /** The app's next deploy waits for this too (git moves the branch only after
   * the hook answered); capped at APP_TURN_HOLD_MS so nothing waits forever. */
  holdTurnUntil?: Promise<void>;
}

const APP_TURN_HOLD_MS = 30_000;

export const WEB_PORT = 5000;
const DEFAULT_MEMORY = 512 * 1024 * 1024;

const instanceName = (i: { processType: string; index: number }): string => `${i.processType}.${i.index}`;
/** A static release's process types but web (the router serves web from its files). */
const nonWebTypes = (release: Release): string[] => Object.keys(release.processTypes).filter((t) => t !== 'web');
/** How long an old static release's files stay after the switch, at least (then until its requests finished). */
const STATIC_GRACE_MS = 1_000;
const isUp = (i: Instance): boolean => i.state === 'running' || i.state === 'starting' || i.state === 'paused';

/** How many of each process type run: the formation, else 1 of each. */
export function desiredCounts(processTypes: Record<string, string>, formation: Record<string, number>): Array<[string, number]> {
  return Object.keys(processTypes)
    .sort((a, b) => (a === 'web' ? -1 : b === 'web' ? 1 : a.localeCompare(b)))
    .map((type) => [type, formation[type] ?? 1]);
}

function healthCheckOf(app: App): HealthCheck {
  const s = app.settings as { healthcheckPath?: unknown; healthcheckTimeoutSeconds?: unknown };
  return {
    path: typeof s.healthcheckPath === 'string' && s.healthcheckPath.startsWith('/') ? s.healthcheckPath : DEFAULT_HEALTH_CHECK.path,
    timeoutMs: typeof s.healthcheckTimeoutSeconds === 'number' && s.healthcheckTimeoutSeconds > 0 ? s.healthcheckTimeoutSeconds * 1000 : DEFAULT_HEALTH_CHECK.timeoutMs,
  };
}

/** limits:set APP memory=512m cpu=1, kept in the app's settings. */
export function limitsOf(app: App): { memoryBytes?: number; cpus?: number } {
  const l = (app.settings as { limits?: { memoryBytes?: unknown; cpus?: unknown } }).limits ?? {};
  return {
    ...(typeof l.memoryBytes === 'number' && l.memoryBytes > 0 ? { memoryBytes: l.memoryBytes } : {}),
    ...(typeof l.cpus === 'number' && l.cpus > 0 ? { cpus: l.cpus } : {}),
  };
}

/** ps:stop keeps an app stopped (no wake, no start at host start) until ps:start or a deploy. */
export const isStopped = (app: App): boolean => (app.settings as { stopped?: unknown }).stopped === true;

function buildTimeoutOf(app: App): number | undefined {
  const s = app.settings as { buildTimeoutSeconds?: unknown };
  return typeof s.buildTimeoutSeconds === 'number' && s.buildTimeoutSeconds > 0 ? s.buildTimeoutSeconds * 1000 : undefined;
}

export class Deployer {
  private readonly slots: BuildSlots;
  private readonly background = new Set<Promise<unknown>>();
  private readonly inFlight = new Set<AbortController>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: DeployerDeps) {
    this.slots = new BuildSlots(deps.maxConcurrentBuilds ?? 2);
  }

  /** Runs one deploy to its end; true when the new release is live. */
  async deploy(req: DeployRequest): Promise<boolean> {
    const { store } = this.deps;
    const out = new DeployOutput(req.output, store, this.deps.log);
    const abort = new AbortController();
    const onPushGone = (): void => abort.abort(new ShipoffError('SHIPOFF_DEPLOY_CANCELLED'));
    if (req.signal.aborted) onPushGone();
    req.signal.addEventListener('abort', onPushGone, { once: true });
    this.inFlight.add(abort);
    const signal = abort.signal;

    let deploy: Deploy = await store.deploys.create({ appId: req.app.id, commitSha: req.commitSha, branch: req.branch, pushedBy: req.user.id });
    out.attach(deploy.id);
    const leaveApp: Array<() => void> = [];
    try {
      leaveApp.push(await this.slots.appTurn(req.app.name, signal, {
        waitingForApp: () => out.line(`-----> Waiting for the deploy before this one of ${req.app.name} to finish`),
      }));
      // Renamed or destroyed while this push waited its turn: say so, build nothing.
      const current = await store.apps.find(req.app.name);
      if (!current || current.id !== req.app.id) throw new ShipoffError('SHIPOFF_APP_GONE', { app: req.app.name });
      await req.stillCurrent?.();
      const freeSlot = await this.slots.buildSlot(signal, {
        waitingForSlot: (n) => out.line(`-----> Waiting for a build slot (${n} builds running)`),
      });
      let built: BuiltImage;
      let version: number;
      try {
        deploy = await store.deploys.transition(deploy.id, 'BUILDING');
        version = await store.deploys.nextReleaseVersion(req.app.id);
        out.line(`-----> Building ${req.app.name} from ${req.commitSha.slice(0, 7)} (deploy #${deploy.id}, release v${version})`);
        const config = await store.config.all(req.app.id);
        out.hide(Object.values(config));
        built = await this.deps.build({
          app: req.app.name,
          version,
          source: req.source,
          readSourceFile: req.readSourceFile,
          cacheDir: path.join(this.deps.dataDir, 'cache', req.app.name),
          env: config,
          signal,
          onLine: (line) => out.line(line),
          timeoutMs: buildTimeoutOf(req.app),
        });
      } finally {
        freeSlot();
      }
      if (Object.keys(built.processTypes).length === 0) throw new ShipoffError('SHIPOFF_NO_PROCESS_TYPES');

      deploy = await store.deploys.transition(deploy.id, 'RELEASING');
      const release = await store.deploys.createRelease({
        appId: req.app.id,
        image: built.image,
        processTypes: built.processTypes,
        builder: built.builder,
        config: await store.config.all(req.app.id),
        sourceCommit: req.commitSha,
        description: `Deploy ${req.commitSha.slice(0, 7)} (${built.buildpack})`,
        createdBy: req.user.id,
      });
      if (release.version !== version) out.line(`       (numbered v${release.version}: another release was made meanwhile)`);
      out.line(`-----> Releasing v${release.version}: ${Object.entries(built.processTypes).map(([t, c]) => `${t}: ${c}`).join('; ')}`);

      await this.rollOut(req.app, release, out, signal, async () => {
        deploy = await store.deploys.transition(deploy.id, 'LIVE', { releaseId: release.id });
      });
      if (isStopped(req.app)) await this.setStopped(req.app.name, false);
      await store.audit.record({ actor: req.user.name, app: req.app.name, action: 'deploy.live', details: { deploy: deploy.id, release: release.version, commit: req.commitSha } });
      out.line(`=====> ${req.app.name} v${release.version} is live at ${this.deps.appUrl(req.app.name)}`);
      return true;
    } catch (err) {
      const cancelled = signal.aborted || isShipoffError(err, 'SHIPOFF_DEPLOY_CANCELLED');
      const reason = err instanceof Error ? err.message : String(err);
      try {
        const current = await store.deploys.get(deploy.id);
        if (current.state === 'QUEUED' || current.state === 'BUILDING' || current.state === 'RELEASING') {
          await store.deploys.transition(deploy.id, cancelled ? 'CANCELLED' : 'FAILED', cancelled ? {} : { reason });
        }
      } catch (recordErr) {
        this.deps.log(` !     recording the end of deploy #${deploy.id}: ${(recordErr as Error).message}`);
      }
      if (cancelled) {
        this.deps.log(`-----> deploy #${deploy.id} of ${req.app.name} cancelled`);
        out.line(formatForTerminal(new ShipoffError('SHIPOFF_DEPLOY_CANCELLED')));
      } else {
        out.line(formatForTerminal(err));
        out.line(` !     Deploy #${deploy.id} failed; the push is rejected and the previous release keeps serving.`);
      }
      return false;
    } finally {
      const leave = (): void => leaveApp.splice(0).forEach((fn) => fn());
      if (req.holdTurnUntil) {
        const cap = setTimeout(leave, APP_TURN_HOLD_MS);
        void req.holdTurnUntil.finally(() => {
          clearTimeout(cap);
          leave();
        });
      } else {
        leave();
      }
      req.signal.removeEventListener('abort', onPushGone);
      this.inFlight.delete(abort);
      await out.flush();
    }
  }

  /** The live release's web instances, started afresh for an app that slept
   * with nothing left to wake (scale to zero); checked like a deploy's. */
  async startWeb(appName: string): Promise<Instance[]> {
    const app = await this.deps.store.apps.find(appName);
    const live = app && (await this.deps.store.deploys.liveRelease(app.id));
    if (!app || !live) throw new ShipoffError('SHIPOFF_APP_NOT_RUNNING', { app: appName });
    if (isStopped(app)) throw new ShipoffError('SHIPOFF_APP_STOPPED', { app: appName });
    if ((await this.deps.store.apps.formation(app.id)).web === 0) throw new ShipoffError('SHIPOFF_NO_WEB', { app: appName });
    // Instances of the live release that are down (parked, exited) are replaced.
    const down = (await this.deps.runtime.list(appName)).filter((i) => i.processType === 'web' && !isUp(i));
    await Promise.all(down.map((i) => this.deps.runtime.stop(i.id, 1_000).catch(() => {})));
    const quiet = new DeployOutput(() => {}, undefined, this.deps.log);
    return this.startRelease(app, live, quiet, new AbortController().signal, ['web']);
  }

  /** Starts every instance of a release (or of the given process types) and
   * waits until the web ones answer. On failure, stops what it started. */
  private async startRelease(app: App, release: Release, out: DeployOutput, signal: AbortSignal, only?: string[]): Promise<Instance[]> {
    const formation = await this.deps.store.apps.formation(app.id);
    const slots: Array<[string, number]> = [];
    for (const [type, count] of desiredCounts(release.processTypes, formation)) {
      if (only && !only.includes(type)) continue;
      for (let index = 1; index <= count; index++) slots.push([type, index]);
    }
    return this.startInstances(app, release, slots, out, signal);
  }

  /** Starts the given (process type, index) instances of a release and waits
   * until the web ones answer. On failure, stops what it started. */
  private async startInstances(app: App, release: Release, slots: Array<[string, number]>, out: DeployOutput, signal: AbortSignal): Promise<Instance[]> {
    const { runtime } = this.deps;
    const check = healthCheckOf(app);
    const started: Instance[] = [];
    try {
      for (const [type, index] of slots) {
        if (signal.aborted) throw signal.reason;
        const spec = this.specFor(app, release, type, index);
        let instance: Instance;
        try {
          instance = await runtime.start(spec);
        } catch (err) {
          throw new ShipoffError('SHIPOFF_RELEASE_START', { instance: `${type}.${index}`, release: String(release.version), reason: (err as Error).message }, { cause: err });
        }
        started.push(instance);
        out.line(`-----> Started ${instanceName(spec)}${spec.port ? ` on port ${spec.port}` : ''}`);
      }
      for (const instance of started.filter((i) => i.processType === 'web')) {
        if (!instance.address) throw new ShipoffError('SHIPOFF_RELEASE_START', { instance: instanceName(instance), release: String(release.version), reason: 'the runtime gave it no address' });
        out.line(`-----> Checking ${instanceName(instance)} answers HTTP at ${check.path}`);
        const health = await waitUntilHealthy(instance.address, check, async () => {
          const now = (await runtime.list(app.name)).find((i) => i.id === instance.id);
          return now !== undefined && isUp(now);
        }, signal);
        if (!health.ok) {
          if (signal.aborted) throw signal.reason;
          out.line(`-----> Last lines of ${instanceName(instance)}:`);
          for (const line of await this.lastLines(instance.id)) out.line(`       ${line}`);
          throw new ShipoffError('SHIPOFF_RELEASE_UNHEALTHY', { instance: instanceName(instance), release: String(release.version), reason: health.reason });
        }
        out.line(`       answered HTTP ${health.status} after ${health.ms} ms`);
      }
      return started;
    } catch (err) {
      await Promise.all(started.map((i) => runtime.stop(i.id, 1_000).catch(() => {})));
      started.length = 0;
      throw err;
    }
  }

  private specFor(app: App, release: Release, processType: string, index: number): InstanceSpec {
    const limits = limitsOf(app);
    return {
      app: app.name,
      release: release.version,
      processType,
      index,
      image: release.image,
      command: this.deps.launchArgv(release.processTypes[processType]!, release.builder),
      env: { ...release.config, SHIPOFF_APP: app.name, SHIPOFF_RELEASE: `v${release.version}`, DYNO: `${processType}.${index}` },
      port: processType === 'web' ? WEB_PORT : undefined,
      memoryBytes: limits.memoryBytes ?? DEFAULT_MEMORY,
      ...(limits.cpus !== undefined ? { cpus: limits.cpus } : {}),
    };
  }

  private async lastLines(instanceId: string, tail = 20): Promise<string[]> {
    const lines: string[] = [];
    try {
      for await (const line of this.deps.runtime.logs(instanceId, { follow: false, tail })) lines.push(line);
    } catch {
      // the instance may be gone already; the reason line says enough
    }
    return lines.slice(-tail);
  }

  /**
   * Starts a release's instances (a static release's web is its files) and,
   * after BEFORE_SWITCH (marking the deploy LIVE), moves traffic to them;
   * what ran before stops once drained. Anything failing before traffic
   * moved stops what this started, so the previous release keeps serving.
   */
  private async rollOut(app: App, release: Release, out: DeployOutput, signal: AbortSignal, beforeSwitch?: () => Promise<void>): Promise<Instance[]> {
    const staticDir = await this.staticDirFor(app.name, release, (line) => out.line(line));
    const started = await this.startRelease(app, release, out, signal, staticDir ? nonWebTypes(release) : undefined);
    try {
      if (signal.aborted) throw signal.reason;
      const old = await this.othersThan(app.name, started);
      await beforeSwitch?.();
      this.switchTraffic(app.name, release.version, started, old, staticDir);
      return started;
    } catch (err) {
      await Promise.all(started.map((i) => this.deps.runtime.stop(i.id, 1_000).catch(() => {})));
      throw err;
    }
  }

  /** New requests go to the new instances now; every instance that ran
   * before (OLD, listed before the switch) stops once its requests finish. */
  private switchTraffic(app: string, version: number, started: Instance[], old: Instance[], staticDir?: string): void {
    const previous = [...this.deps.traffic.get(app)];
    if (staticDir) this.deps.traffic.setStatic!(app, staticDir);
    else this.deps.traffic.set(app, started.filter((i) => i.processType === 'web' && i.address).map((i) => i.address!));
    this.retireStaticFiles(app, staticDir ? version : undefined);
    this.retire(app, previous, old);
  }

  /** Stops instances once the requests to BACKENDS finished (bounded by drainMs), in the background. */
  private retire(app: string, backends: Backend[], instances: Instance[]): void {
    if (instances.length === 0) return;
    this.track((async () => {
      await this.deps.traffic.drained(backends, this.deps.drainMs ?? 30_000);
      await Promise.all(instances.map((i) => this.deps.runtime.stop(i.id, 10_000).catch((err: Error) => this.deps.log(` !     stopping ${app} ${instanceName(i)} v${i.release}: ${err.message}`))));
    })());
  }

  /** Instances of the app running now, except those just STARTED: what a switch retires. */
  private async othersThan(app: string, started: Instance[]): Promise<Instance[]> {
    const ids = new Set(started.map((i) => i.id));
    return (await this.deps.runtime.list(app)).filter((i) => !ids.has(i.id));
  }

  /** The directory the router serves a static release from (extracted and checked), else undefined. */
  private async staticDirFor(app: string, release: Release, out: (line: string) => void): Promise<string | undefined> {
    const { staticReleases, traffic } = this.deps;
    if (!staticReleases || !traffic.setStatic || !isStaticRelease(release)) return undefined;
    return staticReleases.prepare(app, release.version, release.image, out);
  }

  /** The app's static files of other versions than KEEP go once their requests finished (a short grace first). */
  private retireStaticFiles(app: string, keep: number | undefined): void {
    const { staticReleases, traffic } = this.deps;
    if (!staticReleases) return;
    this.track(staticReleases.retire(app, keep, async (dir) => {
      await new Promise((r) => setTimeout(r, STATIC_GRACE_MS));
      await traffic.staticDrained?.(dir, this.deps.drainMs ?? 30_000);
    }));
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err: Error) => this.deps.log(` !     ${err.message}`)).finally(() => this.background.delete(tracked));
    this.background.add(tracked);
  }

  /**
   * After a host (re)start: deploys left unfinished are FAILED with the reason,
   * instances of live releases are adopted (not duplicated), strays stopped,
   * and live releases with nothing running are started again.
   */
  async recover(): Promise<void> {
    const { store, runtime } = this.deps;
    const leftovers = await this.deps.staticReleases?.removeLeftovers().catch((err: Error) => {
      this.deps.log(` !     removing what a stopped extraction left: ${err.message}`);
      return 0;
    });
    if (leftovers) this.deps.log(`-----> Removed ${leftovers} container(s) and directories left by a static extraction cut short`);
    for (const d of await store.deploys.unfinished()) {
      await store.deploys.transition(d.id, 'FAILED', { reason: `the host stopped while the deploy was ${d.state}; push again` }).catch((err: Error) => this.deps.log(` !     deploy #${d.id}: ${err.message}`));
    }
    const instances = await runtime.list();
    const apps = await store.apps.list();
    const known = new Set(apps.map((a) => a.name));
    for (const stray of instances.filter((i) => !known.has(i.app))) await runtime.stop(stray.id, 1_000).catch(() => {});
    for (const app of apps) {
      const live = await store.deploys.liveRelease(app.id);
      const mine = instances.filter((i) => i.app === app.name);
      // A stopped app (ps:stop) stays stopped across host restarts.
      const stale = mine.filter((i) => !live || isStopped(app) || i.release !== live.version || !isUp(i));
      await Promise.all(stale.map((i) => runtime.stop(i.id, 1_000).catch(() => {})));
      if (!live || isStopped(app)) continue;
      // A static release: its files again (extracted anew when gone), and no web container.
      const staticDir = await this.staticDirFor(app.name, live, () => {}).catch((err: Error) => {
        this.deps.log(` !     ${app.name} v${live.version}: ${err.message}`);
        return undefined;
      });
      let current = mine.filter((i) => !stale.includes(i));
      if (current.length === 0) {
        try {
          const quiet = new DeployOutput(() => {}, undefined, this.deps.log);
          current = await this.startRelease(app, live, quiet, new AbortController().signal, staticDir ? nonWebTypes(live) : undefined);
          this.deps.log(`-----> ${app.name} v${live.version}: started again (${current.length} instances)`);
        } catch (err) {
          this.deps.log(formatForTerminal(err));
          continue;
        }
      } else {
        this.deps.log(`-----> ${app.name} v${live.version}: adopted ${current.length} running instances`);
      }
      if (staticDir) {
        this.deps.traffic.setStatic!(app.name, staticDir);
        this.deps.log(`-----> ${app.name} v${live.version}: served from its files by the router`);
        this.retireStaticFiles(app.name, live.version);
        continue;
      }
      this.deps.traffic.set(app.name, current.filter((i) => i.processType === 'web' && i.address).map((i) => i.address!));
    }
    this.watchCrashes();
  }

  private watchCrashes(): void {
    this.unsubscribe?.();
    this.unsubscribe = this.deps.runtime.onEvent((event) => {
      const i = event.instance;
      if (event.type === 'crash') {
        this.deps.log(` !     ${i.app} ${instanceName(i)} (v${i.release}) exited with status ${event.exitCode}${event.restarting ? '; restarting it' : ''}`);
        this.track(this.deps.store.audit.record({ actor: 'shipoff', app: i.app, action: 'instance.crash', details: { process: instanceName(i), release: i.release, exitCode: event.exitCode, restarting: event.restarting } }));
      } else {
        // A restarted container may come back on another address.
        this.track(this.refreshRoutes(i.app));
      }
    });
  }

  private async refreshRoutes(app: string): Promise<void> {
    const found = await this.deps.store.apps.find(app);
    const live = found && (await this.deps.store.deploys.liveRelease(found.id));
    if (!live) return;
    const web = (await this.deps.runtime.list(app)).filter((i) => i.release === live.version && i.processType === 'web' && i.address && i.state === 'running');
    if (web.length > 0) this.deps.traffic.set(app, web.map((i) => i.address!));
  }

  /** Runs FN while holding the app's turn: no deploy, release or scale of it runs meanwhile. */
  async exclusive<T>(appName: string, fn: () => Promise<T>, progress?: (line: string) => void): Promise<T> {
    const leave = await this.slots.appTurn(appName, new AbortController().signal, {
      waitingForApp: () => progress?.(`-----> Waiting for the deploy of ${appName} in progress to finish`),
    });
    try {
      return await fn();
    } finally {
      leave();
    }
  }

  /**
   * A release made without a build: the live release's image (or an older
   * one's, for a rollback) with the given config, rolled out like a deploy.
   * On failure the previous config is put back and the previous release keeps
   * serving. Undefined when the app has no release yet (the config is kept
   * for its first deploy).
   */
  async release(app: App, change: ReleaseChange, actor: string, progress: (line: string) => void): Promise<Release | undefined> {
    const { store } = this.deps;
    return this.exclusive(app.name, async () => {
      const live = await store.deploys.liveRelease(app.id);
      const base = change.fromVersion !== undefined ? await store.deploys.findRelease(app.id, change.fromVersion) : live;
      if (change.fromVersion !== undefined && !base) throw new ShipoffError('SHIPOFF_RELEASE_NOT_FOUND', { app: app.name, release: `v${change.fromVersion}` });
      const before = await store.config.all(app.id);
      const config = change.fromVersion !== undefined ? base!.config : applyChanges(before, change.configChanges);
      if (change.fromVersion === undefined && sameConfig(config, before) && change.configChanges) return undefined; // nothing to change
      await replaceConfig(store, app.id, before, config);
      if (!base) return undefined;
      const user = await store.users.findByName(actor).catch(() => undefined);
      const out = new DeployOutput(progress, store, this.deps.log);
      out.hide([...Object.values(config), ...Object.values(before)]);
      let deploy = await store.deploys.create({ appId: app.id, ...(user ? { pushedBy: user.id } : {}) });
      out.attach(deploy.id);
      const abort = new AbortController();
      this.inFlight.add(abort);
      try {
        deploy = await store.deploys.transition(deploy.id, 'RELEASING');
        const release = await store.deploys.createRelease({
          appId: app.id,
          image: base.image,
          processTypes: base.processTypes,
          builder: base.builder,
          config,
          sourceCommit: base.sourceCommit,
          description: change.description,
          createdBy: user?.id,
        });
        out.line(`-----> Releasing v${release.version} (${change.description})`);
        const current = (await store.apps.find(app.name)) ?? app;
        if (isStopped(current)) {
          // Kept for ps:start: a stopped app does not start because its config changed.
          deploy = await store.deploys.transition(deploy.id, 'LIVE', { releaseId: release.id });
          out.line(`=====> v${release.version} is the current release; ${app.name} stays stopped until: shipoff ps:start ${app.name}`);
          return release;
        }
        await this.rollOut(current, release, out, abort.signal, async () => {
          deploy = await store.deploys.transition(deploy.id, 'LIVE', { releaseId: release.id });
        });
        await store.audit.record({ actor, app: app.name, action: 'release', details: { release: release.version, description: change.description } });
        out.line(`=====> ${app.name} v${release.version} is live at ${this.deps.appUrl(app.name)}`);
        return release;
      } catch (err) {
        await store.deploys.transition(deploy.id, 'FAILED', { reason: (err as Error).message }).catch(() => {});
        await replaceConfig(store, app.id, config, before).catch((e: Error) => this.deps.log(` !     restoring the config of ${app.name}: ${e.message}`));
        out.line(` !     The previous release keeps serving, with its config.`);
        throw err;
      } finally {
        this.inFlight.delete(abort);
        await out.flush();
      }
    }, progress);
  }

  /** Fresh instances of the live release replace the running ones (new
   * requests move to them at once; the old ones stop once drained). A config
   * changed with --no-restart since the release makes a new release instead. */
  async restart(app: App, actor: string, progress: (line: string) => void): Promise<void> {
    const { store } = this.deps;
    const live = await store.deploys.liveRelease(app.id);
    if (!live) throw new ShipoffError('SHIPOFF_NO_RELEASE', { app: app.name });
    const config = await store.config.all(app.id);
    if (!sameConfig(config, live.config)) {
      progress(`-----> The config changed since v${live.version}: making a new release with it`);
      await this.release(app, { description: 'Restart with the changed config' }, actor, progress);
      return;
    }
    await this.exclusive(app.name, async () => {
      const current = (await store.apps.find(app.name)) ?? app;
      if (isStopped(current)) throw new ShipoffError('SHIPOFF_APP_STOPPED', { app: app.name });
      const out = new DeployOutput(progress, undefined, this.deps.log);
      const started = await this.rollOut(current, live, out, new AbortController().signal);
      await store.audit.record({ actor, app: app.name, action: 'ps:restart', details: { release: live.version, instances: started.length } });
      out.line(`=====> ${app.name} restarted: ${started.length} new instance${started.length === 1 ? '' : 's'} of v${live.version}; the old ones stop once their requests finish`);
    }, progress);
  }

  /**
   * Sets the formation and makes the running instances match it: new ones
   * start and join the routes once healthy; surplus ones leave the routes
   * first and stop once drained. A sleeping or stopped app only records it.
   */
  async scale(app: App, changes: Formation, actor: string, progress: (line: string) => void): Promise<Formation> {
    const { store, runtime, traffic } = this.deps;
    return this.exclusive(app.name, async () => {
      const live = await store.deploys.liveRelease(app.id);
      const unknown = live ? Object.keys(changes).filter((t) => !(t in live.processTypes)) : [];
      if (live && unknown.length > 0) {
        throw new ShipoffError('SHIPOFF_INVALID_FORMATION', { reason: `${app.name} has no process type ${unknown.join(', ')}; its release v${live.version} has ${Object.keys(live.processTypes).join(', ')} (from its Procfile)` });
      }
      const before = await store.apps.formation(app.id);
      const formation = await store.apps.scale(app.id, changes);
      await store.audit.record({ actor, app: app.name, action: 'ps:scale', details: { changes } });
      const current = (await store.apps.find(app.name)) ?? app;
      if (!live || isStopped(current)) {
        progress(`-----> ${app.name}: ${formatFormation(formation)} (${!live ? 'starts with its first deploy' : 'stopped; takes effect at ps:start'})`);
        return formation;
      }
      const out = new DeployOutput(progress, undefined, this.deps.log);
      const staticWeb = isStaticRelease(live) && this.deps.traffic.setStatic !== undefined;
      const running = (await runtime.list(app.name)).filter((i) => i.release === live.version && isUp(i));
      for (const [type, want] of Object.entries(changes)) {
        if (type === 'web' && staticWeb) {
          out.line('-----> web is served by the router from the release\'s files: nothing to scale');
          continue;
        }
        const mine = running.filter((i) => i.processType === type).sort((a, b) => a.index - b.index);
        // No routes: asleep (the wake starts the new count), unless it ran no web at all (web=0).
        if (type === 'web' && traffic.get(app.name).length === 0 && before.web !== 0) {
          out.line(`-----> ${app.name} is asleep: the next request starts ${want} web instance${want === 1 ? '' : 's'}`);
          continue;
        }
        if (want > mine.length) {
          const used = new Set(mine.map((i) => i.index));
          const slots: Array<[string, number]> = [];
          for (let index = 1; slots.length < want - mine.length; index++) if (!used.has(index)) slots.push([type, index]);
          const started = await this.startInstances(current, live, slots, out, new AbortController().signal);
          if (type === 'web') traffic.set(app.name, [...traffic.get(app.name), ...started.filter((i) => i.address).map((i) => i.address!)]);
        } else if (want < mine.length) {
          const surplus = mine.slice(want);
          const addresses = surplus.filter((i) => i.address).map((i) => i.address!);
          if (type === 'web') {
            const key = (b: Backend): string => `${b.host}:${b.port}`;
            const leaving = new Set(addresses.map(key));
            traffic.set(app.name, traffic.get(app.name).filter((b) => !leaving.has(key(b))));
          }
          out.line(`-----> Stopping ${surplus.map(instanceName).join(', ')} once their requests finish`);
          this.retire(app.name, addresses, surplus);
        }
      }
      out.line(`=====> ${app.name}: ${formatFormation(formation)}`);
      return formation;
    }, progress);
  }

  /** ps:stop: out of the routes, every instance stopped, and kept stopped. */
  async stopApp(app: App, actor: string, progress: (line: string) => void): Promise<void> {
    await this.exclusive(app.name, async () => {
      await this.setStopped(app.name, true);
      const backends = [...this.deps.traffic.get(app.name)];
      this.deps.traffic.set(app.name, []);
      const instances = await this.deps.runtime.list(app.name);
      await this.deps.traffic.drained(backends, Math.min(this.deps.drainMs ?? 30_000, 10_000));
      await Promise.all(instances.map((i) => this.deps.runtime.stop(i.id, 10_000)));
      await this.deps.store.audit.record({ actor, app: app.name, action: 'ps:stop', details: { instances: instances.length } });
      progress(`=====> ${app.name} stopped (${instances.length} instance${instances.length === 1 ? '' : 's'}); it stays stopped until: shipoff ps:start ${app.name}`);
    }, progress);
  }

  /** ps:start: the live release's instances again, and back in the routes. */
  async startApp(app: App, actor: string, progress: (line: string) => void): Promise<void> {
    const { store } = this.deps;
    const live = await store.deploys.liveRelease(app.id);
    if (!live) throw new ShipoffError('SHIPOFF_NO_RELEASE', { app: app.name });
    await this.exclusive(app.name, async () => {
      const current = { ...((await store.apps.find(app.name)) ?? app) };
      const up = (await this.deps.runtime.list(app.name)).filter((i) => i.release === live.version && isUp(i));
      if (!isStopped(current) && up.length > 0) {
        progress(`=====> ${app.name} is running already (${up.length} instance${up.length === 1 ? '' : 's'}); to replace them: shipoff ps:restart ${app.name}`);
        return;
      }
      const out = new DeployOutput(progress, undefined, this.deps.log);
      await this.rollOut(current, live, out, new AbortController().signal);
      await this.setStopped(app.name, false);
      await store.audit.record({ actor, app: app.name, action: 'ps:start', details: { release: live.version } });
      out.line(`=====> ${app.name} v${live.version} started at ${this.deps.appUrl(app.name)}`);
    }, progress);
  }

  /** The app's instances as the runtime reports them, for ps:report. */
  async instances(app: string): Promise<InstanceReport[]> {
    const list = await this.deps.runtime.list(app);
    return list
      .map((i) => ({
        id: i.id,
        processType: i.processType,
        index: i.index,
        release: i.release,
        state: i.state,
        ...(i.address ? { address: `${i.address.host}:${i.address.port}` } : {}),
        ...(i.startedAt ? { startedAt: i.startedAt } : {}),
      }))
      .sort((a, b) => a.processType.localeCompare(b.processType) || a.index - b.index);
  }

  private async setStopped(appName: string, stopped: boolean): Promise<void> {
    const app = await this.deps.store.apps.get(appName);
    const settings = { ...app.settings };
    if (stopped) settings.stopped = true;
    else delete settings.stopped;
    await this.deps.store.apps.update(appName, { settings });
  }

  /** Cancels deploys in flight and waits for background work (stopping old releases). */
  async close(): Promise<void> {
    this.unsubscribe?.();
    for (const abort of this.inFlight) abort.abort(new ShipoffError('SHIPOFF_DEPLOY_CANCELLED'));
    while (this.inFlight.size > 0 || this.background.size > 0) {
      await Promise.race([Promise.allSettled([...this.background]), new Promise((r) => setTimeout(r, 100))]);
    }
  }
}
