// Reading a typed confirmation (Dokku's `To proceed, type "APP"`): the first
// line of stdin, not all of it, so that someone typing at `ssh HOST
// apps:destroy APP` is answered at Enter without closing stdin.
import type { Readable } from 'node:stream';

const MAX_LINE = 1024;

/** The first line of STREAM without its line end; what came before the end when stdin closes, or '' when the client leaves. */
export function readConfirmation(stream: Readable, signal: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const finish = (): void => {
      stream.off('data', onData);
      stream.off('end', finish);
      stream.off('close', finish);
      stream.off('error', finish);
      signal.removeEventListener('abort', onAbort);
      stream.pause();
      resolve(text.split(/\r?\n/)[0]!);
    };
    const onAbort = (): void => {
      text = '';
      finish();
    };
    const onData = (chunk: Buffer | string): void => {
      text += chunk.toString();
      if (text.includes('\n') || text.length > MAX_LINE) finish();
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    stream.on('data', onData);
    stream.once('end', finish);
    stream.once('close', finish);
    stream.once('error', finish);
    // Already ended (an empty stdin read before): nothing more will come.
    if (stream.readableEnded) finish();
  });
}
