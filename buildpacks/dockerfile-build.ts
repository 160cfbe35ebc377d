// An app with a Dockerfile and no buildpack match is built by the Docker
// engine itself (`docker build` through the API), with the same limits,
// timeout, cancellation and streamed output as a buildpack build. The image
// is the release: shipoff/<app>:v<N>, labelled like every release.
import type Dockerode from 'dockerode';
import { ShipoffError } from '../core/errors.js';
import type { LineCollector } from './output-lines.js';

export interface DockerfileBuild {
  docker: Dockerode;
  /** A tar of the pushed tree: the build context. */
  context: NodeJS.ReadableStream;
  image: string;
  labels: Record<string, string>;
  memoryBytes: number;
  cpus: number | undefined;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  /** Proxies, passed as the predefined build args Docker knows. */
  proxyEnv: Record<string, string>;
  output: LineCollector;
}

interface BuildMessage {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

const CPU_PERIOD = 100_000;

/** Runs the build and returns the image id; throws SHIPOFF_DOCKERFILE_BUILD,
 * SHIPOFF_BUILD_TIMEOUT or SHIPOFF_BUILD_CANCELLED. */
export async function buildFromDockerfile(b: DockerfileBuild, timeoutError: () => ShipoffError): Promise<string> {
  const stop = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stop.abort();
  }, b.timeoutMs);
  const onCancel = () => stop.abort();
  b.signal?.addEventListener('abort', onCancel, { once: true });
  if (b.signal?.aborted) stop.abort();
  try {
    const stream = await b.docker.buildImage(b.context as NodeJS.ReadableStream, {
      t: b.image,
      labels: b.labels,
      rm: true,
      forcerm: true, // intermediate containers go even when a step fails
      pull: false, // no registry is assumed: FROM must be in the engine already
      memory: b.memoryBytes,
      memswap: b.memoryBytes,
      ...(b.cpus ? { cpuperiod: CPU_PERIOD, cpuquota: Math.round(b.cpus * CPU_PERIOD) } : {}),
      buildargs: b.proxyEnv,
      abortSignal: stop.signal,
    } as Dockerode.ImageBuildOptions);
    const { imageId, error } = await follow(stream, b.output, stop.signal);
    if (error !== undefined) {
      throw new ShipoffError('SHIPOFF_DOCKERFILE_BUILD', { reason: error, lastLines: b.output.lastLines().slice(-8).join('\n') });
    }
    if (stop.signal.aborted) throw timedOut ? timeoutError() : new ShipoffError('SHIPOFF_BUILD_CANCELLED');
    return imageId ?? (await b.docker.getImage(b.image).inspect()).Id;
  } catch (err) {
    if (err instanceof ShipoffError) throw err;
    if (stop.signal.aborted) throw timedOut ? timeoutError() : new ShipoffError('SHIPOFF_BUILD_CANCELLED');
    throw new ShipoffError('SHIPOFF_DOCKERFILE_BUILD', { reason: (err as Error).message, lastLines: '' }, { cause: err });
  } finally {
    clearTimeout(timer);
    b.signal?.removeEventListener('abort', onCancel);
  }
}

/** Reads the engine's JSON message stream, emitting build output as lines. */
function follow(stream: NodeJS.ReadableStream, output: LineCollector, signal: AbortSignal): Promise<{ imageId?: string; error?: string }> {
  return new Promise((resolve) => {
    let pending = '';
    let text = '';
    const result: { imageId?: string; error?: string } = {};
    const handle = (json: string) => {
      if (json.trim() === '') return;
      let message: BuildMessage;
      try {
        message = JSON.parse(json) as BuildMessage;
      } catch {
        return;
      }
      if (message.aux?.ID) result.imageId = message.aux.ID;
      if (message.error !== undefined) result.error = (message.errorDetail?.message ?? message.error).trim();
      const chunk = message.stream ?? (message.status ? `${message.status}\n` : '');
      text += chunk;
      let nl: number;
      while ((nl = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, nl).replace(/\r$/, '');
        text = text.slice(nl + 1);
        // "Step 2/5 : RUN ..." as a heading, like buildpack steps.
        output.emit(/^Step \d+\/\d+ : /.test(line) ? `-----> ${line}` : `       ${line}`);
      }
    };
    const done = () => {
      handle(pending);
      if (text !== '') output.emit(`       ${text}`);
      pending = text = '';
      resolve(result);
    };
    stream.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        handle(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', () => {
      if (!signal.aborted) result.error ??= 'the connection to the Docker engine broke during the build';
      done();
    });
  });
}
