// A real pseudo-terminal for tests of full-screen programs: a private tmux
// server (its own socket, no user config) running one command in a window of
// a fixed size; keys are sent and the screen is read back as text.
import { execFileSync } from 'node:child_process';

export interface Tmux {
  /** The visible screen, one line per row, trailing spaces dropped. */
  capture(): string;
  /** Keys as tmux names them: 'q', 'Enter', 'Up', 'Escape', 'C-c'. */
  send(...keys: string[]): void;
  resize(cols: number, rows: number): void;
  /** Polls the screen until RE matches it; returns the match. The error shows the last screen. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  kill(): void;
}

export function startTmux(command: string, options: { cols?: number; rows?: number; env?: NodeJS.ProcessEnv } = {}): Tmux {
  const socket = `shipoff-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8', env: { ...process.env, ...options.env } });
  tmux('new-session', '-d', '-s', 'main', '-x', String(options.cols ?? 120), '-y', String(options.rows ?? 40), command);
  const capture = (): string => {
    try {
      return tmux('capture-pane', '-p', '-t', 'main').replace(/[ \t]+$/gm, '');
    } catch {
      return '';
    }
  };
  return {
    capture,
    send: (...keys) => void tmux('send-keys', '-t', 'main', ...keys),
    resize: (cols, rows) => void tmux('resize-window', '-t', 'main', '-x', String(cols), '-y', String(rows)),
    async waitFor(re, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      let screen = '';
      for (;;) {
        screen = capture();
        const m = re.exec(screen);
        if (m) return m;
        if (Date.now() > until) throw new Error(`timed out waiting for ${re} on the screen:\n${screen}`);
        await new Promise((r) => setTimeout(r, 150));
      }
    },
    kill() {
      try {
        tmux('kill-server');
      } catch {
        // already gone
      }
    },
  };
}
