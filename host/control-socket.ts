// The local CLI's way into a running host: `shipoff COMMAND` on the host
// connects to a unix socket in the data dir and the command runs inside the
// host process, exactly as it does over SSH (same registry, same host
// operations), as the host's operator. The socket is the operator's alone
// (mode 0600 in the data dir); only argv, the terminal's size and the
// standard streams cross it, never anything a shell would read.
//
// Frames both ways: one type byte, a 32-bit big-endian length, the payload.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { Terminal } from '../admin/index.js';

export const controlSocketPath = (dataDir: string): string => path.join(dataDir, 'control.sock');

const FRAME = {
  hello: 0x48, // H: JSON { argv, user, stdinIsTTY, terminal? }
  stdin: 0x49, // I
  stdinEnd: 0x45, // E
  resize: 0x52, // R: JSON { cols, rows }
  stdout: 0x4f, // O
  stderr: 0x65, // e
  exit: 0x58, // X: JSON { code }
} as const;
const MAX_FRAME = 16 * 1024 * 1024;

interface Hello {
  argv: string[];
  user: string;
  stdinIsTTY: boolean;
  terminal?: { cols: number; rows: number; term: string };
}

function frame(type: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Calls back with each whole frame; a malformed stream destroys the socket. */
function readFrames(socket: net.Socket, onFrame: (type: number, payload: Buffer) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 5) {
      const length = pending.readUInt32BE(1);
      if (length > MAX_FRAME) return void socket.destroy(new Error('control frame too large'));
      if (pending.length < 5 + length) break;
      const type = pending[0]!;
      const payload = pending.subarray(5, 5 + length);
      pending = pending.subarray(5 + length);
      onFrame(type, payload);
    }
  });
}

const writerOf = (socket: net.Socket, type: number): Writable =>
  new Writable({
    write(chunk: Buffer, _enc, done) {
      if (socket.destroyed) return done();
      // The socket keeps order; waiting for 'drain' only when it is full keeps a slow client from growing memory.
      if (socket.write(frame(type, chunk))) done();
      else socket.once('drain', () => done());
    },
  });

/** Resolves once everything written to W reached the socket. */
const finished = (w: Writable): Promise<void> => new Promise((resolve) => w.end(() => resolve()));

export type ControlHandler = (command: {
  argv: string[];
  user: string;
  stdin: PassThrough & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable;
  terminal?: Terminal;
  signal: AbortSignal;
}) => Promise<number>;

export interface ControlServer {
  close(): Promise<void>;
}

/** Listens on the data dir's socket; each connection runs one command through HANDLER. */
export async function listenControl(dataDir: string, handler: ControlHandler, log: (line: string) => void): Promise<ControlServer> {
  const file = controlSocketPath(dataDir);
  // A socket file left by a host that died: nobody answers on it, so it goes.
  if (fs.existsSync(file) && !(await answers(file))) fs.rmSync(file, { force: true });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    serve(socket, handler, log);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Made with no permissions for anyone else, then listening.
    const mask = process.umask(0o177);
    server.listen(file, () => {
      process.umask(mask);
      server.off('error', reject);
      resolve();
    });
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function serve(socket: net.Socket, handler: ControlHandler, log: (line: string) => void): void {
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean };
  const abort = new AbortController();
  const resizeListeners = new Set<(size: { cols: number; rows: number }) => void>();
  let terminal: Terminal | undefined;
  let started = false;
  socket.on('close', () => {
    abort.abort();
    stdin.end();
  });
  readFrames(socket, (type, payload) => {
    if (type === FRAME.hello && !started) {
      started = true;
      let hello: Hello;
      try {
        hello = JSON.parse(payload.toString()) as Hello;
        if (!Array.isArray(hello.argv) || !hello.argv.every((a) => typeof a === 'string')) throw new Error('argv');
      } catch {
        return void socket.destroy();
      }
      stdin.isTTY = hello.stdinIsTTY === true;
      if (hello.terminal) {
        const t = hello.terminal;
        terminal = {
          cols: t.cols,
          rows: t.rows,
          term: t.term,
          onResize: (listener) => {
            resizeListeners.add(listener);
            return () => resizeListeners.delete(listener);
          },
        };
      }
      const stdout = writerOf(socket, FRAME.stdout);
      const stderr = writerOf(socket, FRAME.stderr);
      const run = handler({ argv: hello.argv, user: String(hello.user).slice(0, 64), stdin, stdout, stderr, ...(terminal ? { terminal } : {}), signal: abort.signal });
      void run
        .catch((err: Error) => {
          log(` !     control command ${hello.argv[0] ?? ''}: ${err.message}`);
          return 70;
        })
        .then(async (code) => {
          // The output first, then the exit status: nothing may follow it.
          await Promise.all([finished(stdout), finished(stderr)]);
          if (!socket.destroyed) socket.end(frame(FRAME.exit, JSON.stringify({ code })));
        });
    } else if (type === FRAME.stdin) {
      stdin.write(payload);
    } else if (type === FRAME.stdinEnd) {
      stdin.end();
    } else if (type === FRAME.resize && terminal) {
      try {
        const size = JSON.parse(payload.toString()) as { cols: number; rows: number };
        terminal.cols = size.cols;
        terminal.rows = size.rows;
        for (const l of resizeListeners) l(size);
      } catch {
        // a malformed resize changes nothing
      }
    }
  });
}

/** Does a host answer on this socket? */
function answers(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(file);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

export interface ControlClientIo {
  stdin: NodeJS.ReadStream | NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/**
 * Runs ARGV in the host that listens on DATA_DIR's socket. Resolves to its
 * exit status, or to undefined when no host answers (the caller runs the
 * command itself).
 */
export async function runThroughHost(dataDir: string, argv: string[], user: string, io: ControlClientIo): Promise<number | undefined> {
  const file = controlSocketPath(dataDir);
  if (!fs.existsSync(file)) return undefined;
  const socket = await new Promise<net.Socket | undefined>((resolve) => {
    const s = net.connect(file);
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(undefined));
  });
  if (!socket) return undefined;
  const stdin = io.stdin as NodeJS.ReadStream;
  const stdout = io.stdout as NodeJS.WriteStream;
  const tty = stdin.isTTY === true && stdout.isTTY === true;
  const hello: Hello = { argv, user, stdinIsTTY: stdin.isTTY === true, ...(tty ? { terminal: { cols: stdout.columns, rows: stdout.rows, term: process.env.TERM ?? 'xterm-256color' } } : {}) };
  socket.write(frame(FRAME.hello, JSON.stringify(hello)));
  // With a terminal, keys go through as typed (the host's command sees them raw).
  if (tty) stdin.setRawMode(true);
  const onResize = (): void => void socket.write(frame(FRAME.resize, JSON.stringify({ cols: stdout.columns, rows: stdout.rows })));
  if (tty) stdout.on('resize', onResize);
  const onData = (chunk: Buffer): void => void socket.write(frame(FRAME.stdin, chunk));
  const onEnd = (): void => void socket.write(frame(FRAME.stdinEnd, ''));
  stdin.on('data', onData);
  stdin.once('end', onEnd);
  try {
    return await new Promise<number>((resolve) => {
      let code = 70;
      readFrames(socket, (type, payload) => {
        if (type === FRAME.stdout) io.stdout.write(payload);
        else if (type === FRAME.stderr) io.stderr.write(payload);
        else if (type === FRAME.exit) code = (JSON.parse(payload.toString()) as { code: number }).code;
      });
      socket.once('close', () => resolve(code));
      socket.once('error', () => {});
    });
  } finally {
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    if (tty) {
      stdout.off('resize', onResize);
      stdin.setRawMode(false);
    }
    stdin.pause();
  }
}
