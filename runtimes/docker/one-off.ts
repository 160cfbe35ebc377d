// One-off processes (`shipoff run`) in Docker: a container from the release's
// image with an instance's limits and network, attached to the caller's stdio
// (through a terminal when one was asked for), waited for, and removed in
// every outcome. It is labelled managed and of its app (removeApp takes it
// too) but carries no process type, so it is no instance: list(), the event
// watcher and recovery never see it.
import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';
import { ShipoffError } from '../../core/errors.js';
import type { OneOffIo, OneOffSpec } from '../runtime.js';
import { containerName, LABEL, managedFilter, MANAGED } from './labels.js';

/** `shipoff.role=run` marks one-off containers (builds are `build`). */
export const ROLE_LABEL = 'shipoff.role';
/** The runtime that started it: a later process removes what an earlier one left. */
const SESSION_LABEL = 'shipoff.run-session';
/** The engine closes the attach stream after the last output; this long at most after exit. */
const OUTPUT_GRACE_MS = 2_000;
const HEADER = 8;
const RESIZE_ATTEMPTS = 5;

export interface OneOffDeps {
  docker: Dockerode;
  /** The network instances join (made when missing). */
  network: () => Promise<string>;
  hostId: string | undefined;
  session: string;
  defaultMemoryBytes: number;
  pidsLimit: number;
}

export async function runOneOff(deps: OneOffDeps, spec: OneOffSpec, io: OneOffIo): Promise<number> {
  await removeLeftovers(deps).catch(() => {}); // best effort: never in the way of this run
  const container = await create(deps, spec);
  try {
    return await attachAndRun(container, spec, io);
  } finally {
    await container.remove({ force: true }).catch(() => {}); // 404/409: gone or going already
  }
}

async function create(deps: OneOffDeps, spec: OneOffSpec): Promise<Dockerode.Container> {
  const memory = spec.memoryBytes ?? deps.defaultMemoryBytes;
  const labels: Record<string, string> = {
    [MANAGED]: 'true',
    [LABEL.app]: spec.app,
    [LABEL.release]: String(spec.release),
    [ROLE_LABEL]: 'run',
    [SESSION_LABEL]: deps.session,
    ...(deps.hostId !== undefined ? { [LABEL.host]: deps.hostId } : {}),
  };
  try {
    return await deps.docker.createContainer({
      name: containerName({ ...spec }, randomBytes(3).toString('hex')),
      Image: spec.image,
      ...(spec.command.length > 0 ? { Cmd: spec.command } : {}),
      Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      Labels: labels,
      Tty: spec.tty !== undefined,
      OpenStdin: true,
      // The process's stdin closes when the caller's input ends (and stays closed).
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {
        NetworkMode: await deps.network(),
        Memory: memory,
        MemorySwap: memory,
        ...(spec.cpus !== undefined ? { NanoCpus: Math.round(spec.cpus * 1e9) } : {}),
        PidsLimit: deps.pidsLimit,
        // The terminal has the client's size from its first byte on.
        ...(spec.tty ? { ConsoleSize: [spec.tty.rows, spec.tty.cols] } : {}),
        Init: true,
        SecurityOpt: ['no-new-privileges:true'],
      },
    });
  } catch (err) {
    if (statusOf(err) === undefined) throw err; // no answer from the engine: the runtime says so
    const message = messageOf(err);
    if (statusOf(err) === 404 && /image/i.test(message)) throw new ShipoffError('SHIPOFF_IMAGE_NOT_FOUND', { image: spec.image }, { cause: err });
    throw new ShipoffError('SHIPOFF_RUN_START', { app: spec.app, reason: message }, { cause: err });
  }
}

async function attachAndRun(container: Dockerode.Container, spec: OneOffSpec, io: OneOffIo): Promise<number> {
  const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as NodeJS.ReadWriteStream & { destroy(): void };
  stream.on('error', () => {}); // the engine drops it when the container goes; the exit status tells the rest
  // With a terminal, stdout and stderr are one stream already; without, the engine frames them.
  const output = spec.tty ? copyRaw(stream, io.stdout, io.signal) : demux(stream, io.stdout, io.stderr, io.signal);
  output.catch(() => {});
  // A terminal never ends its input (Ctrl-D is a byte); a pipe's EOF closes the process's stdin.
  io.stdin.pipe(stream, { end: spec.tty === undefined });
  const kill = (): void => void container.kill().catch(() => {});
  io.signal.addEventListener('abort', kill, { once: true });
  let stopResizing: (() => void) | undefined;
  try {
    if (io.signal.aborted) return 1;
    try {
      await container.start();
    } catch (err) {
      throw new ShipoffError('SHIPOFF_RUN_START', { app: spec.app, reason: messageOf(err) }, { cause: err });
    }
    if (io.signal.aborted) kill(); // gone while starting: the listener's kill came too early
    if (spec.tty) {
      stopResizing = io.onResize?.(({ cols, rows }) => void container.resize({ h: rows, w: cols }).catch(() => {}));
      void initialSize(container, spec.tty);
    }
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    await Promise.race([output, delay(OUTPUT_GRACE_MS)]);
    return StatusCode;
  } finally {
    io.signal.removeEventListener('abort', kill);
    stopResizing?.();
    io.stdin.unpipe(stream);
    stream.destroy();
  }
}

/** Engines before API 1.42 ignore ConsoleSize: the size is set just after start (a process
 * that reads it at once may see 0x0, then gets SIGWINCH). The engine may not take it at once. */
async function initialSize(container: Dockerode.Container, size: { cols: number; rows: number }): Promise<void> {
  for (let attempt = 0; attempt < RESIZE_ATTEMPTS; attempt++) {
    try {
      await container.resize({ h: size.rows, w: size.cols });
      return;
    } catch {
      await delay(50 * (attempt + 1));
    }
  }
}

/** One-off containers of an earlier process of this host (it died before
 * removing them): running or not, no client can be attached to them anymore. */
export async function removeLeftovers(deps: Pick<OneOffDeps, 'docker' | 'hostId' | 'session'>): Promise<number> {
  const found = await deps.docker.listContainers({ all: true, filters: { label: [...managedFilter(deps.hostId), `${ROLE_LABEL}=run`] } });
  const stale = found.filter((c) => c.Labels[ROLE_LABEL] === 'run' && c.Labels[SESSION_LABEL] !== deps.session);
  await Promise.all(stale.map((c) => deps.docker.getContainer(c.Id).remove({ force: true }).catch(() => {})));
  return stale.length;
}

async function copyRaw(source: AsyncIterable<Buffer | string>, target: NodeJS.WritableStream, signal: AbortSignal): Promise<void> {
  for await (const chunk of source) await write(target, typeof chunk === 'string' ? Buffer.from(chunk) : chunk, signal);
}

/** Docker's frames without a terminal: [stream, 0, 0, 0, size uint32 BE] then size bytes; 2 is stderr. */
async function demux(source: AsyncIterable<Buffer | string>, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream, signal: AbortSignal): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    pending = Buffer.concat([pending, typeof chunk === 'string' ? Buffer.from(chunk) : chunk]);
    while (pending.length >= HEADER) {
      const size = pending.readUInt32BE(4);
      if (pending.length < HEADER + size) break;
      await write(pending[0] === 2 ? stderr : stdout, pending.subarray(HEADER, HEADER + size), signal);
      pending = pending.subarray(HEADER + size);
    }
  }
}

/** Writes and waits for room when the reader is slow, so a chatty process cannot fill our memory. */
async function write(target: NodeJS.WritableStream, bytes: Buffer, signal: AbortSignal): Promise<void> {
  if (signal.aborted || target.write(bytes)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      target.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    target.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

function messageOf(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return e.json?.message ?? e.message ?? String(err);
}
