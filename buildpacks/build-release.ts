// buildRelease: one ephemeral container from the stack image per build. The
// pushed tree goes into /app, the driver (driver/build) runs the buildpacks
// as an unprivileged user, and on success the container is committed as the
// release image shipoff/<app>:v<version>. When no buildpack claims the app
// and it has a Dockerfile, the Docker engine builds that instead. The
// container and the host temp directory are removed whatever happens.
import { mkdir } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import type Dockerode from 'dockerode';
import { ShipoffError } from '../core/errors.js';
import { buildOnlyEnv, CONTAINER_CA_PATH, createBuildInputs, defaultProxyEnv, resolveCaBundle, type BuildInputs } from './build-inputs.js';
import { IMAGE_DEFAULT_COMMAND, launchArgv } from './launch.js';
import { collectOutput, LineCollector } from './output-lines.js';
import { mergeProcessTypes, parseProcfile, parseReleaseYaml } from './process-types.js';
import { chosenBuildpacks, describeRef, type ChosenBuildpacks } from './buildpack-refs.js';
import { buildFromDockerfile } from './dockerfile-build.js';
import { builtinDirs, placeBuildpacks, type PlacedBuildpacks } from './fetch-buildpacks.js';
import { BUILDPACKS, buildpacksHostDir, describeDetection } from './registry.js';
import { stackImageRef } from './stack-image.js';

export interface BuildOptions {
  docker: Dockerode;
  /** An already validated DNS-label app name. */
  app: string;
  /** Release number: the image is tagged shipoff/<app>:v<version>. */
  version: number;
  /** A tar of the pushed tree (`git archive --format=tar <sha>`). A function
   * that makes a fresh one each call lets a Dockerfile build read it again. */
  source: NodeJS.ReadableStream | (() => NodeJS.ReadableStream);
  /** One regular file of the pushed tree (null when missing or not a regular
   * file), read before the build: `.buildpacks`. */
  readSourceFile?: (path: string) => Promise<string | null>;
  /** Host directory that local buildpack paths must lie in. */
  localBuildpacksDir?: string;
  /** Host directory for this app's build cache (created if missing), mounted as CACHE_DIR. */
  cacheDir: string;
  /** The app's config vars, given to the buildpacks as ENV_DIR (one file per key). */
  env: Record<string, string>;
  stackImage?: string;
  memoryBytes?: number;
  cpus?: number;
  pidsLimit?: number;
  timeoutMs?: number;
  /** Host CA bundle to trust; default the host's bundle if it exists; null = none. */
  caBundle?: string | null;
  /** Default: the HTTP(S)_PROXY / NO_PROXY variables of this process. */
  proxyEnv?: Record<string, string>;
  /** Abort = cancel: the container is killed and removed. */
  signal?: AbortSignal;
  /** Every line of build output (stdout and stderr) as it happens. */
  onLine: (line: string) => void;
  /** Extra labels for the image. */
  labels?: Record<string, string>;
  /** Which host runs the build (label shipoff.host): leftovers are cleaned up only by their own host. */
  hostId?: string;
}

export interface BuildResult {
  image: string;
  imageId: string;
  processTypes: Record<string, string>;
  buildpack: string;
  /** How the release runs: buildpack images through launchArgv, Dockerfile images as built. */
  builder: 'buildpack' | 'dockerfile';
  durationMs: number;
}

const GIB = 1024 ** 3;
const DEFAULT_TIMEOUT_MS = 10 * 60_000;
/** The uid the buildpack steps run as, and the release image's user. */
export const BUILD_UID = 1000;
const IN_CONTAINER = {
  buildpacks: '/shipoff/buildpacks',
  input: '/shipoff/input',
  out: '/shipoff/out',
  cache: '/shipoff/cache',
  run: '/shipoff/run',
} as const;

export async function buildRelease(options: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  // Taken before any await (see holdSource).
  const source = typeof options.source === 'function' ? options.source() : options.source;
  const tar = holdSource(source);
  try {
    return await build(options, tar, started);
  } finally {
    tar.destroy();
    // Whatever was not read is drained, so a producer such as `git archive`
    // is never left blocked on a full pipe.
    source.resume();
  }
}

/** Reads the source from the start: a child process's stdout that nobody
 * reads when the child exits is discarded by Node, and the container is only
 * ready for the tar after a few awaits. */
function holdSource(source: NodeJS.ReadableStream): PassThrough {
  const tar = new PassThrough({ highWaterMark: 1024 * 1024 });
  source.once('error', (err: Error) => tar.destroy(err));
  source.pipe(tar);
  return tar;
}

async function build(options: BuildOptions, tar: PassThrough, started: number): Promise<BuildResult> {
  const { docker, app, version, signal } = options;
  throwIfCancelled(signal);
  const stackImage = options.stackImage ?? stackImageRef();
  const caBundle = resolveCaBundle(options.caBundle);
  await mkdir(options.cacheDir, { recursive: true, mode: 0o700 });
  const proxyEnv = options.proxyEnv ?? defaultProxyEnv();
  const inputs = await createBuildInputs(options.env, buildOnlyEnv(caBundle, proxyEnv));
  const output = new LineCollector(options.onLine);
  let container: Dockerode.Container | undefined;
  try {
    const chosen = await chosenBy(options);
    const placed: PlacedBuildpacks = chosen
      ? await placeBuildpacks(chosen, inputs.dir, (line) => output.emit(line), signal)
      : { dirs: builtinDirs(BUILDPACKS.map((bp) => bp.dir)), mounts: [] };
    container = await createBuildContainer(options, stackImage, inputs, caBundle, chosen ? 'pinned' : 'detect', placed);
    throwIfCancelled(signal);
    await container.putArchive(tar, { path: '/app', ...(signal ? { abortSignal: signal } : {}) });
    throwIfCancelled(signal);
    // Attached before start, so not a line of output is missed.
    const attached = await container.attach({ stream: true, stdout: true, stderr: true });
    const drained = collectOutput(docker, attached, output);
    const status = await runToExit(container, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, signal, options.app);
    // The exit can be reported before the last output arrives.
    await Promise.race([drained, delay(2_000)]);
    if (status !== 0) throw await failureOf(container, status, inputs, output, options, chosen, placed);

    const buildpack = (await inputs.readOut('buildpack'))?.trim() || 'unknown';
    const image = `shipoff/${app}:v${version}`;
    if ((await inputs.readOut('dockerfile')) !== null) {
      await container.remove({ force: true, v: true }).catch(() => undefined);
      container = undefined;
      const processTypes = await discoverProcessTypes(inputs, output, { web: IMAGE_DEFAULT_COMMAND });
      const imageId = await buildDockerfileRelease(options, image, processTypes, proxyEnv, output);
      return { image, imageId, processTypes, buildpack, builder: 'dockerfile', durationMs: Date.now() - started };
    }
    const processTypes = await discoverProcessTypes(inputs, output);
    throwIfCancelled(signal);
    const imageId = await commitRelease(container, options, processTypes, buildpack);
    return { image, imageId, processTypes, buildpack, builder: 'buildpack', durationMs: Date.now() - started };
  } catch (err) {
    throw translateDockerError(err, stackImage);
  } finally {
    if (container) await container.remove({ force: true, v: true }).catch(() => undefined);
    await inputs.remove();
  }
}

/** The app's own choice of buildpacks (BUILDPACK_URL, `.buildpacks`), if any. */
async function chosenBy(options: BuildOptions): Promise<ChosenBuildpacks | undefined> {
  const file = options.env.BUILDPACK_URL ? null : ((await options.readSourceFile?.('.buildpacks')) ?? null);
  return chosenBuildpacks(options.env, file, options.localBuildpacksDir);
}

async function buildDockerfileRelease(
  options: BuildOptions,
  image: string,
  processTypes: Record<string, string>,
  proxyEnv: Record<string, string>,
  output: LineCollector,
): Promise<string> {
  if (typeof options.source !== 'function') throw new Error('a Dockerfile build needs options.source as a function, to read the tree again');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  output.emit('-----> Building the Dockerfile with the Docker engine');
  const context = options.source();
  try {
    return await buildFromDockerfile(
      {
        docker: options.docker,
        context,
        image,
        labels: releaseLabels(options, processTypes, 'Dockerfile'),
        memoryBytes: options.memoryBytes ?? GIB,
        cpus: options.cpus,
        timeoutMs,
        signal: options.signal,
        proxyEnv,
        output,
      },
      () => new ShipoffError('SHIPOFF_BUILD_TIMEOUT', { limit: formatDuration(timeoutMs), app: options.app }),
    );
  } finally {
    context.resume();
  }
}

async function createBuildContainer(
  options: BuildOptions,
  stackImage: string,
  inputs: BuildInputs,
  caBundle: string | null,
  mode: 'detect' | 'pinned',
  placed: PlacedBuildpacks,
): Promise<Dockerode.Container> {
  const memory = options.memoryBytes ?? GIB;
  const mounts: Dockerode.MountSettings[] = [
    { Type: 'bind', Source: buildpacksHostDir(), Target: IN_CONTAINER.buildpacks, ReadOnly: true },
    { Type: 'bind', Source: inputs.inputDir, Target: IN_CONTAINER.input, ReadOnly: true },
    { Type: 'bind', Source: inputs.outDir, Target: IN_CONTAINER.out, ReadOnly: false },
    { Type: 'bind', Source: options.cacheDir, Target: IN_CONTAINER.cache, ReadOnly: false },
  ];
  if (caBundle) mounts.push({ Type: 'bind', Source: caBundle, Target: CONTAINER_CA_PATH, ReadOnly: true });
  mounts.push(...placed.mounts);
  return options.docker.createContainer({
    Image: stackImage,
    Cmd: [`${IN_CONTAINER.buildpacks}/driver/build`, mode, ...placed.dirs],
    WorkingDir: '/app',
    Labels: {
      'com.shipoff.managed': 'true',
      'shipoff.app': options.app,
      'shipoff.role': 'build',
      'shipoff.release': String(options.version),
      ...(options.hostId ? { 'shipoff.host': options.hostId } : {}),
    },
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    OpenStdin: false,
    HostConfig: {
      Mounts: mounts,
      // Not part of any commit: ENV_DIR's copy and HOME live here.
      Tmpfs: { [IN_CONTAINER.run]: 'rw,exec,nosuid,nodev,size=64m,mode=0755' },
      Memory: memory,
      MemorySwap: memory, // no swap on top: the limit is the limit
      ...(options.cpus ? { NanoCpus: Math.round(options.cpus * 1e9) } : {}),
      PidsLimit: options.pidsLimit ?? 1024,
      RestartPolicy: { Name: 'no' },
      AutoRemove: false, // removed by us, after the commit
      // Root in the container needs only what the driver does before it
      // drops to the build user: chown, setpriv, killing leftovers.
      CapDrop: ['ALL'],
      CapAdd: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID', 'SETPCAP', 'KILL'],
      SecurityOpt: ['no-new-privileges'],
    },
  });
}

/** Starts the container and waits for its exit status; a timeout or an abort
 * kills it first and turns into SHIPOFF_BUILD_TIMEOUT / _CANCELLED. */
async function runToExit(container: Dockerode.Container, timeoutMs: number, signal: AbortSignal | undefined, app: string): Promise<number> {
  let reason: 'timeout' | 'cancel' | undefined;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<null>((resolve) => {
    timer = setTimeout(() => {
      reason ??= 'timeout';
      resolve(null);
    }, timeoutMs);
    onAbort = () => {
      reason ??= 'cancel';
      resolve(null);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
  });
  try {
    await container.start();
    const exited = container.wait({ condition: 'not-running' }).then((r: { StatusCode?: number }) => r.StatusCode ?? -1);
    const status = await Promise.race([exited, stopped]);
    if (status !== null) return status;
    exited.catch(() => undefined);
    await container.kill().catch(() => undefined);
    if (reason === 'timeout') throw new ShipoffError('SHIPOFF_BUILD_TIMEOUT', { limit: formatDuration(timeoutMs), app });
    throw new ShipoffError('SHIPOFF_BUILD_CANCELLED');
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

async function failureOf(
  container: Dockerode.Container,
  status: number,
  inputs: BuildInputs,
  output: LineCollector,
  options: BuildOptions,
  chosen: ChosenBuildpacks | undefined,
  placed: PlacedBuildpacks,
): Promise<ShipoffError> {
  const failure = (await inputs.readOut('failure'))?.trim();
  if (failure) {
    const [code, detail = ''] = failure.split('\t');
    if (code === 'SHIPOFF_UNSAFE_FILE') return new ShipoffError('SHIPOFF_UNSAFE_FILE', { file: detail });
    if (code === 'SHIPOFF_NO_BUILDPACK') {
      return new ShipoffError('SHIPOFF_NO_BUILDPACK', { lookedFor: describeDetection(), found: detail.trim().split(/\s+/).filter(Boolean).join(', '), app: options.app });
    }
    if (code === 'SHIPOFF_BUILDPACK_NOT_DETECTED' && chosen) {
      const index = placed.dirs.findIndex((dir) => dir.endsWith(`/${detail}`));
      const ref = chosen.refs[index];
      return new ShipoffError('SHIPOFF_BUILDPACK_NOT_DETECTED', { buildpack: ref ? describeRef(ref) : detail, source: chosen.source });
    }
  }
  let reason = `exit status ${status}`;
  const state = (await container.inspect().catch(() => null))?.State;
  if (state?.OOMKilled) reason = `it ran out of memory (limit ${formatBytes(options.memoryBytes ?? GIB)})`;
  const lastLines = output
    .lastLines()
    .slice(-10)
    .join('\n');
  return new ShipoffError('SHIPOFF_BUILD_FAILED', { reason, lastLines, status: String(status) });
}

async function discoverProcessTypes(inputs: BuildInputs, output: LineCollector, fallback: Record<string, string> = {}): Promise<Record<string, string>> {
  const defaults = { ...fallback, ...parseReleaseYaml((await inputs.readOut('release.yml')) ?? '') };
  const procfileText = await inputs.readOut('Procfile');
  const procfile = procfileText === null ? null : parseProcfile(procfileText);
  output.emit('-----> Discovering process types');
  if (procfile) output.emit(`       Procfile declares types -> ${Object.keys(procfile).join(', ') || '(none)'}`);
  const extra = Object.keys(defaults).filter((name) => !procfile || !(name in procfile));
  if (extra.length > 0) output.emit(`       Default types for buildpack -> ${extra.join(', ')}`);
  return mergeProcessTypes(defaults, procfile);
}

function releaseLabels(options: BuildOptions, processTypes: Record<string, string>, buildpack: string): Record<string, string> {
  return {
    ...(options.labels ?? {}),
    'com.shipoff.managed': 'true',
    'shipoff.app': options.app,
    'shipoff.role': 'release',
    'shipoff.release': String(options.version),
    'shipoff.process-types': JSON.stringify(processTypes),
    'shipoff.buildpack': buildpack,
  };
}

/** `docker commit` with the release's config. Docker merges the container's
 * Env and Labels into what is given here, which is why build-only variables
 * are never set on the container itself (see driver/build). */
async function commitRelease(
  container: Dockerode.Container,
  options: BuildOptions,
  processTypes: Record<string, string>,
  buildpack: string,
): Promise<string> {
  const labels = releaseLabels(options, processTypes, buildpack);
  const web = processTypes.web;
  const result = (await container.commit({
    _query: { container: container.id, repo: `shipoff/${options.app}`, tag: `v${options.version}`, pause: false, comment: `shipoff ${options.app} v${options.version}` },
    _body: {
      Labels: labels,
      WorkingDir: '/app',
      // The app owns /app (the build chowned it) and runs without root.
      User: `${BUILD_UID}:${BUILD_UID}`,
      Env: ['HOME=/app'],
      Cmd: web ? launchArgv(web) : ['/bin/bash'],
    },
  })) as { Id?: string };
  if (!result.Id) throw new Error(`docker commit of ${options.app} v${options.version} returned no image id`);
  return result.Id;
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ShipoffError('SHIPOFF_BUILD_CANCELLED');
}

function translateDockerError(err: unknown, stackImage: string): unknown {
  if (err instanceof ShipoffError) return err;
  const e = err as { statusCode?: number; message?: string; name?: string } | null;
  if (e?.name === 'AbortError') return new ShipoffError('SHIPOFF_BUILD_CANCELLED', {}, { cause: err });
  // Docker refuses to unpack a tar whose links lead out of the target directory.
  const symlink = /invalid symlink "?\/app\/([^"\s]+)"? -> "?([^"\s]+)"?/.exec(e?.message ?? '');
  if (symlink || /invalid symlink/i.test(e?.message ?? '')) {
    return new ShipoffError('SHIPOFF_UNSAFE_SYMLINK', { detail: symlink ? `${symlink[1]} -> ${symlink[2]}` : 'see the repository' }, { cause: err });
  }
  if (e?.statusCode === 404 && /no such image/i.test(e.message ?? '')) {
    return new ShipoffError('SHIPOFF_STACK_IMAGE_MISSING', { image: stackImage }, { cause: err });
  }
  return err;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function formatDuration(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
}

function formatBytes(bytes: number): string {
  return bytes % GIB === 0 ? `${bytes / GIB} GiB` : `${Math.round(bytes / 1024 ** 2)} MiB`;
}

/**
 * Removes build containers a previous host process left behind (it was killed
 * mid-build, so its own cleanup never ran). Returns how many were removed.
 */
export async function removeLeftoverBuilds(docker: Dockerode, hostId?: string): Promise<number> {
  // Only this host's: another host on the same engine may be building right now.
  const leftovers = await docker.listContainers({
    all: true,
    filters: { label: ['com.shipoff.managed=true', 'shipoff.role=build', ...(hostId ? [`shipoff.host=${hostId}`] : [])] },
  });
  await Promise.all(leftovers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => {})));
  return leftovers.length;
}
