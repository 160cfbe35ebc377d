// The Runtime contract answered by a local Docker engine, over its API (never
// a shell). Everything it creates carries com.shipoff.managed=true and the
// instance's identity in labels; it touches nothing without that label, and a
// new process finds what an earlier one started by those labels alone.
import { randomBytes } from 'node:crypto';
import Dockerode from 'dockerode';
import { ShipoffError } from '../../core/errors.js';
import type { Instance, InstanceSpec, Runtime, RuntimeEvent } from '../runtime.js';
import { EngineEvents } from './engine-events.js';
import { containerName, instanceFilter, instanceFromInspect, instanceFromSummary, instanceLabels, isInstance, isManaged, managedFilter } from './labels.js';
import { demuxLines } from './log-lines.js';
import { ensureNetwork } from './network.js';
import type { OneOffIo, OneOffSpec } from '../runtime.js';
import { removeLeftovers as removeLeftoverRuns, runOneOff } from './one-off.js';
import { renameImages, untagImages } from './image-rename.js';

export interface DockerRuntimeOptions {
  /** Default: the engine at DOCKER_HOST or /var/run/docker.sock. */
  docker?: Dockerode;
  /** The bridge network instances join. Default: shipoff. */
  network?: string;
  /** Labels what this host starts and limits it to those, when several hosts share an engine. */
  hostId?: string;
}

export const DEFAULT_MEMORY_BYTES = 512 * 1024 * 1024;
const PIDS_LIMIT = 512;
const DEFAULT_GRACE_MS = 10_000;
const PING_TIMEOUT_MS = 3_000;
const START_WAIT_MS = 5_000;
/** How long a stopped id stays known, so its late `die` event is not a crash. */
const STOP_MEMORY_MS = 60_000;

interface EngineError {
  statusCode?: number;
  code?: string;
  message?: string;
  json?: { message?: string };
}

const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

export class DockerRuntime implements Runtime {
  readonly name = 'docker';
  private readonly docker: Dockerode;
  private readonly network: string;
  private readonly hostId: string | undefined;
  private networkId?: Promise<string>;
  private readonly stopping = new Map<string, NodeJS.Timeout>();
  private readonly events: EngineEvents;
  /** Marks this process's one-off containers, so the next process can tell its leftovers. */
  private readonly session = randomBytes(6).toString('hex');

  constructor(options: DockerRuntimeOptions = {}) {
    this.docker = options.docker ?? new Dockerode();
    this.network = options.network ?? 'shipoff';
    this.hostId = options.hostId;
    this.events = new EngineEvents({
      docker: this.docker,
      labels: instanceFilter(this.hostId),
      network: this.network,
      stopRequested: (id) => this.stopping.has(id),
    });
  }

  async ping(): Promise<{ ok: true } | { ok: false; reason: string }> {
    // dockerode 5 takes an abort signal here; its types lag behind.
    const ping = this.docker.ping as unknown as (options: { abortSignal: AbortSignal }) => Promise<unknown>;
    try {
      await ping.call(this.docker, { abortSignal: AbortSignal.timeout(PING_TIMEOUT_MS) });
      return { ok: true };
    } catch (err) {
      const e = err as EngineError & { name?: string };
      const reason = e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${PING_TIMEOUT_MS} ms` : e.code ?? e.message ?? String(err);
      return { ok: false, reason: `Docker at ${this.where()}: ${reason}` };
    }
  }

  async start(spec: InstanceSpec): Promise<Instance> {
    const label = `${spec.processType}.${spec.index}`;
    const env = { ...spec.env, ...(spec.port !== undefined ? { PORT: String(spec.port) } : {}) };
    const create = async (): Promise<Dockerode.Container> =>
      this.docker.createContainer({
        name: containerName(spec, randomBytes(3).toString('hex')),
        Image: spec.image,
        // Empty: the image's own CMD. The working directory is the image's too.
        ...(spec.command.length > 0 ? { Cmd: spec.command } : {}),
        Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
        Labels: instanceLabels(spec, this.hostId),
        HostConfig: {
          NetworkMode: await this.ensureNetwork(),
          Memory: spec.memoryBytes ?? DEFAULT_MEMORY_BYTES,
          // No swap beyond the memory limit.
          MemorySwap: spec.memoryBytes ?? DEFAULT_MEMORY_BYTES,
          ...(spec.cpus !== undefined ? { NanoCpus: Math.round(spec.cpus * 1e9) } : {}),
          PidsLimit: PIDS_LIMIT,
          // Docker restarts a crash itself, backing off exponentially.
          RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 0 },
          LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
          // An init as PID 1 passes SIGTERM on (an app as PID 1 may ignore it) and reaps zombies.
          Init: true,
          SecurityOpt: ['no-new-privileges:true'],
        },
      });
    let container: Dockerode.Container;
    try {
      container = await create().catch(async (err: EngineError) => {
        // The network was removed under us: make it again, once.
        if (err.statusCode !== 404 || !/network/i.test(messageOf(err))) throw err;
        this.networkId = undefined;
        return create();
      });
    } catch (err) {
      if (err instanceof ShipoffError) throw err;
      const e = err as EngineError;
      if (e.statusCode === 404 && /image/i.test(messageOf(e))) throw new ShipoffError('SHIPOFF_IMAGE_NOT_FOUND', { image: spec.image }, { cause: err });
      throw this.failure(err, () => new ShipoffError('SHIPOFF_INSTANCE_START', { instance: label, reason: messageOf(e) }, { cause: err }));
    }
    try {
      await container.start();
      return await this.whenStarted(container);
    } catch (err) {
      await this.forget(container.id, () => container.remove({ force: true })).catch(() => {});
      throw this.failure(err, () => new ShipoffError('SHIPOFF_INSTANCE_START', { instance: label, reason: messageOf(err as EngineError) }, { cause: err }));
    }
  }

  async stop(instanceId: string, graceMs = DEFAULT_GRACE_MS): Promise<void> {
    const info = await this.inspectManaged(instanceId);
    if (!info) return; // gone already, or not ours to stop
    await this.forget(info.Id, async () => {
      const container = this.docker.getContainer(info.Id);
      // A frozen process cannot take its SIGTERM.
      if (info.State.Paused) await container.unpause().catch(() => {});
      // A graceful stop that fails still ends in the forced removal below.
      await container.stop({ t: Math.max(0, Math.ceil(graceMs / 1000)) }).catch(() => {});
      await container.remove({ force: true }).catch(ignore(404, 409));
    });
  }

  async pause(instanceId: string): Promise<void> {
    const info = await this.mustInspect(instanceId);
    if (!info.State.Paused) await this.call(() => this.docker.getContainer(info.Id).pause());
  }

  async resume(instanceId: string): Promise<void> {
    const info = await this.mustInspect(instanceId);
    if (info.State.Paused) await this.call(() => this.docker.getContainer(info.Id).unpause());
  }

  async park(instanceId: string, graceMs = DEFAULT_GRACE_MS): Promise<void> {
    const info = await this.mustInspect(instanceId);
    await this.forget(info.Id, async () => {
      const container = this.docker.getContainer(info.Id);
      if (info.State.Paused) await container.unpause().catch(() => {});
      await container.stop({ t: Math.max(0, Math.ceil(graceMs / 1000)) }).catch(ignore(304));
    });
  }

  async unpark(instanceId: string): Promise<Instance> {
    const info = await this.mustInspect(instanceId);
    const container = this.docker.getContainer(info.Id);
    // Started by us: its earlier `die` (from park) was not a crash, and this start is no restart.
    clearTimeout(this.stopping.get(info.Id));
    this.stopping.delete(info.Id);
    await this.call(() => container.start()).catch(ignore(304));
    return this.whenStarted(container);
  }

  async list(app?: string): Promise<Instance[]> {
    const found = await this.call(() => this.docker.listContainers({ all: true, filters: { label: instanceFilter(this.hostId, app) } }));
    return found.filter((c) => isInstance(c.Labels, this.hostId)).map((c) => instanceFromSummary(c, this.network));
  }

  async *logs(instanceId: string, options: Parameters<Runtime['logs']>[1]): AsyncIterable<string> {
    const { signal } = options;
    if (signal?.aborted) return;
    const info = await this.mustInspect(instanceId);
    const container = this.docker.getContainer(info.Id);
    const common = {
      stdout: true,
      stderr: true,
      ...(options.tail !== undefined ? { tail: options.tail } : {}),
      // The engine takes seconds with a fraction; whole milliseconds are enough here.
      ...(options.since ? { since: (options.since.getTime() / 1000).toFixed(3) as unknown as number } : {}),
      ...(options.timestamps ? { timestamps: true } : {}),
      ...(signal ? { abortSignal: signal } : {}),
    };
    try {
      if (options.follow) {
        const stream = await container.logs({ ...common, follow: true });
        yield* demuxLines(stream as AsyncIterable<Buffer>);
      } else {
        const buffer = await container.logs({ ...common, follow: false });
        yield* demuxLines(oneChunk(Buffer.isBuffer(buffer) ? buffer : Buffer.from(String(buffer))));
      }
    } catch (err) {
      if (signal?.aborted) return; // the caller stopped reading: the end, not a failure
      throw this.failure(err, () => err);
    }
  }

  async runOneOff(spec: OneOffSpec, io: OneOffIo): Promise<number> {
    const deps = { docker: this.docker, network: () => this.ensureNetwork(), hostId: this.hostId, session: this.session, defaultMemoryBytes: DEFAULT_MEMORY_BYTES, pidsLimit: PIDS_LIMIT };
    return this.call(() => runOneOff(deps, spec, io));
  }

  /** One-off containers an earlier process of this host left (it died mid-run): at start, since no client is attached to them anymore. */
  removeOrphanedRuns(): Promise<number> {
    return this.call(() => removeLeftoverRuns({ docker: this.docker, hostId: this.hostId, session: this.session }));
  }

  /** Build containers of the app (managed, no process type) go too. */
  async removeApp(app: string): Promise<void> {
    const containers = await this.call(() => this.docker.listContainers({ all: true, filters: { label: managedFilter(this.hostId, app) } }));
    await Promise.all(
      containers
        .filter((c) => isManaged(c.Labels, this.hostId))
        .map((c) => this.forget(c.Id, () => this.docker.getContainer(c.Id).remove({ force: true }).catch(ignore(404, 409)))),
    );
    // Images are not per host: managed and of this app is enough.
    const images = await this.call(() => this.docker.listImages({ filters: { label: managedFilter(undefined, app) } }));
    for (const image of images.filter((i) => isManaged(i.Labels ?? undefined))) {
      await this.docker.getImage(image.Id).remove({ force: true }).catch(ignore(404, 409));
    }
  }

  /** See image-rename.ts. */
  async renameImages(images: string[], newApp: string): Promise<Map<string, string>> {
    return this.call(() => renameImages(this.docker, images, newApp));
  }

  async untagImages(images: string[]): Promise<void> {
    await this.call(() => untagImages(this.docker, images));
  }

  onEvent(listener: (event: RuntimeEvent) => void): () => void {
    return this.events.subscribe(listener);
  }

  async close(): Promise<void> {
    await this.events.close();
    for (const timer of this.stopping.values()) clearTimeout(timer);
    this.stopping.clear();
  }

  /** Resolves to the network's id, made once per runtime (again if it vanished). */
  private ensureNetwork(): Promise<string> {
    if (!this.networkId) {
      this.networkId = this.call(() => ensureNetwork(this.docker, this.network));
      this.networkId.catch(() => (this.networkId = undefined));
    }
    return this.networkId;
  }

  /** `start` returns once the process runs; a crash right away is the caller's to see. */
  private async whenStarted(container: Dockerode.Container): Promise<Instance> {
    const deadline = Date.now() + START_WAIT_MS;
    for (;;) {
      const info = await container.inspect();
      if (info.State.Running || info.State.Status !== 'created' || Date.now() > deadline) return instanceFromInspect(info, this.network);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Marks an id as stopped by us while `work` runs, so its `die` is no crash. */
  private async forget(id: string, work: () => Promise<unknown>): Promise<void> {
    clearTimeout(this.stopping.get(id));
    this.stopping.set(id, setTimeout(() => this.stopping.delete(id), STOP_MEMORY_MS).unref());
    await this.call(work);
  }

  private async inspectManaged(instanceId: string): Promise<Dockerode.ContainerInspectInfo | undefined> {
    try {
      const info = await this.call(() => this.docker.getContainer(instanceId).inspect());
      return isInstance(info.Config.Labels ?? undefined, this.hostId) ? info : undefined;
    } catch (err) {
      if ((err as EngineError).statusCode === 404) return undefined;
      throw err;
    }
  }

  private async mustInspect(instanceId: string): Promise<Dockerode.ContainerInspectInfo> {
    const info = await this.inspectManaged(instanceId);
    if (!info) throw new ShipoffError('SHIPOFF_INSTANCE_NOT_FOUND', { instance: instanceId });
    return info;
  }

  /** Runs an engine call; a missing engine becomes the error a user can act on. */
  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw this.failure(err, () => err);
    }
  }

  private failure(err: unknown, otherwise: () => unknown): unknown {
    const code = (err as EngineError).code;
    if (code !== undefined && UNREACHABLE.has(code)) return new ShipoffError('SHIPOFF_RUNTIME_UNAVAILABLE', { reason: `Docker at ${this.where()}: ${code}` }, { cause: err });
    return otherwise();
  }

  private where(): string {
    const modem = (this.docker as unknown as { modem?: { socketPath?: unknown; host?: string; port?: number | string } }).modem;
    if (typeof modem?.socketPath === 'string') return modem.socketPath;
    return modem?.host ? `${modem.host}:${modem.port ?? ''}` : 'DOCKER_HOST';
  }
}

function messageOf(err: EngineError): string {
  return err.json?.message ?? err.message ?? String(err);
}

/** Swallows the engine answers that mean "already so" (gone, already stopped, removal under way). */
function ignore(...statuses: number[]): (err: EngineError) => void {
  return (err) => {
    if (err.statusCode === undefined || !statuses.includes(err.statusCode)) throw err;
  };
}

async function* oneChunk(buffer: Buffer): AsyncGenerator<Buffer> {
  yield buffer;
}
