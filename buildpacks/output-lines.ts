// Build output as lines: the container's multiplexed stdout/stderr stream is
// split per stream into lines handed to onLine as they complete, and the last
// few are kept for the error message of a failed build.
import { PassThrough } from 'node:stream';
import type Dockerode from 'dockerode';

export class LineCollector {
  private readonly tail: string[] = [];

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly keep = 15,
  ) {}

  emit(line: string): void {
    this.tail.push(line);
    if (this.tail.length > this.keep) this.tail.shift();
    try {
      this.onLine(line);
    } catch {
      // A broken listener (e.g. the push went away) must not break the build.
    }
  }

  lastLines(): string[] {
    return [...this.tail];
  }
}

/** Splits one byte stream into lines (\n or \r\n), flushing the rest at end. */
function splitInto(stream: NodeJS.ReadableStream, collector: LineCollector): Promise<void> {
  return new Promise((resolve) => {
    let pending = '';
    const decoder = new TextDecoder();
    stream.on('data', (chunk: Buffer) => {
      pending += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        collector.emit(pending.slice(0, nl).replace(/\r$/, ''));
        pending = pending.slice(nl + 1);
      }
    });
    const finish = () => {
      pending += decoder.decode();
      if (pending !== '') collector.emit(pending.replace(/\r$/, ''));
      pending = '';
      resolve();
    };
    stream.once('end', finish);
    stream.once('close', finish);
    stream.once('error', finish);
  });
}

/** Demultiplexes an attach stream (no TTY) into lines; resolves when it ends. */
export function collectOutput(docker: Dockerode, attached: NodeJS.ReadableStream, collector: LineCollector): Promise<void> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  docker.modem.demuxStream(attached, stdout, stderr);
  const ended = new Promise<void>((resolve) => {
    const done = () => resolve();
    attached.once('end', done);
    attached.once('close', done);
    attached.once('error', done);
  }).then(() => {
    stdout.end();
    stderr.end();
  });
  return Promise.all([ended, splitInto(stdout, collector), splitInto(stderr, collector)]).then(() => undefined);
}
