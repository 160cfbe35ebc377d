// The pseudo-terminal an SSH client asks for (ssh -t): its size and type from
// the pty request, then its window changes, handed on to whoever runs the
// command (a one-off container's terminal follows them).
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
