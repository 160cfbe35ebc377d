// What a key does to an app is what the same SSH command does: the command
// line goes through the registry with the dashboard's own actor, so the role
// checks, the audit log and the errors are those of `ps:restart` and the rest.
import { Readable, Writable } from 'node:stream';
import { runCommand } from '../run-command.js';
import type { CommandContext, CommandRegistry } from '../registry.js';

export interface ActionResult {
  ok: boolean;
  /** The command's last line of output (or of its error), for the message line. */
  message: string;
}

export type RunAction = (argv: string[]) => Promise<ActionResult>;

export function actionRunner(ctx: CommandContext, registry: () => CommandRegistry): RunAction {
  return async (argv) => {
    let text = '';
    const capture = (): Writable => new Writable({ write: (chunk, _enc, cb) => ((text += String(chunk)), cb()) });
    const code = await runCommand(
      registry(),
      argv,
      { stdin: Readable.from([]), stdout: capture(), stderr: capture(), signal: ctx.signal },
      { settings: ctx.settings, actor: ctx.actor, store: async () => ({ store: ctx.store, release: async () => {} }), host: ctx.host },
    );
    const lines = text
      .split('\n')
      .map((l) => l.replace(/^\s*(-----> |=====> | !\s+)/, '').trim())
      .filter(Boolean);
    return { ok: code === 0, message: `${argv.join(' ')}: ${code === 0 ? 'done' : 'failed'}${lines.length ? ` (${lines.at(-1)})` : ''}` };
  };
}
