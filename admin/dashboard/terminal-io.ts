// blessed expects a TTY: an output with columns, rows, isTTY and 'resize'
// events, and an input it can read keys from. The dashboard's terminal is
// an SSH channel (or the local CLI's, forwarded): these two streams stand in
// for the TTY, so blessed never touches the channel itself and the channel
// is left as it was when the dashboard ends.
import { PassThrough, type Readable, Writable } from 'node:stream';
import type { Terminal } from '../host-ops.js';

export interface TerminalStreams {
  input: PassThrough;
  output: Writable & { columns: number; rows: number; isTTY: true };
  /** Detaches from the client's streams (the channel stays open). */
  close(): void;
}

export function terminalStreams(stdin: Readable, stdout: Writable, terminal: Terminal, onEnd: () => void): TerminalStreams {
  // Written through at once: what blessed writes last (leaving the alternate screen) is in the channel before the command returns.
  const output = Object.assign(
    new Writable({
      write(chunk, _encoding, callback) {
        if (!stdout.writableEnded && !stdout.destroyed) stdout.write(chunk);
        callback();
      },
    }),
    { columns: terminal.cols, rows: terminal.rows, isTTY: true as const },
  );
  const input = new PassThrough();
  const onData = (chunk: Buffer | string): void => void input.write(chunk);
  stdin.on('data', onData);
  stdin.once('end', onEnd);
  stdin.once('close', onEnd);
  stdin.resume();
  const unsubscribe = terminal.onResize(({ cols, rows }) => {
    output.columns = cols;
    output.rows = rows;
    output.emit('resize');
  });
  return {
    input,
    output,
    close() {
      unsubscribe();
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('close', onEnd);
    },
  };
}

/** A terminal type blessed reads well: some terminfo entries (screen-256color) it cannot compile. */
export function blessedTerm(term: string): string {
  return /^(xterm|tmux|rxvt|linux|vt\d+|screen$)/.test(term) ? term : 'xterm-256color';
}
