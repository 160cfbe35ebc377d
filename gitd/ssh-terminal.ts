// The pseudo-terminal an SSH client asks for (ssh -t): its size and type from
// the pty request, then its window changes, handed on to whoever runs the
// command (a one-off container's terminal follows them).
import { Writable } from 'node:stream';
import type { SshTerminal } from './types.js';

/** Sizes a client may claim; 0 (some clients send it) means "unknown". */
const MAX_SIZE = 10_000;
const DEFAULT_SIZE = { cols: 80, rows: 24 };

export interface PtyTerminal {
  terminal: SshTerminal;
  /** Called for each window-change request. */
  resize(cols: number, rows: number): void;
}

export function ptyTerminal(info: { term?: string; cols?: number; rows?: number }): PtyTerminal {
  const listeners = new Set<(size: { cols: number; rows: number }) => void>();
  const terminal: SshTerminal = {
    cols: sizeOf(info.cols, DEFAULT_SIZE.cols),
    rows: sizeOf(info.rows, DEFAULT_SIZE.rows),
    term: info.term || 'xterm',
    onResize(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return {
    terminal,
    resize(cols, rows) {
      terminal.cols = sizeOf(cols, terminal.cols);
      terminal.rows = sizeOf(rows, terminal.rows);
      for (const listener of [...listeners]) listener({ cols: terminal.cols, rows: terminal.rows });
    },
  };
}

function sizeOf(n: number | undefined, otherwise: number): number {
  return Number.isInteger(n) && n! > 0 && n! <= MAX_SIZE ? n! : otherwise;
}

/** The client's terminal is raw under ssh -t: our own messages need \r\n to start their lines at the left. */
export function crlfWriter(target: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      // Written on at once (the target buffers), so nothing written later overtakes it.
      target.write(toCrlf(chunk));
      callback();
    },
  });
}

const CR = Buffer.from('\r');

/** Each \n not already after a \r gets one, byte by byte (a UTF-8 character may span chunks). */
function toCrlf(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) {
    if (i > 0 && bytes[i - 1] === 13) continue;
    parts.push(bytes.subarray(start, i), CR);
    start = i;
  }
  parts.push(bytes.subarray(start));
  return Buffer.concat(parts);
}
