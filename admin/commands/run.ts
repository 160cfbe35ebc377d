// run APP CMD [ARGS...]: a one-off process in a new container from the app's
// live release, with its config; the words after APP are its argv, as given
// (no shell, on the host or in the container, unless CMD is one). With ssh -t
// it gets a real terminal; its exit status is the command's.
import { actorName, type Command } from '../registry.js';
import { appForRole } from './app-lookup.js';

export const run: Command = {
  name: 'run',
  group: 'run',
  summary: "Run a one-off command in a new container from the app's live release, with its config",
  usage: 'APP CMD [ARGS...]',
  description: `
  Everything after APP is the command, word for word: shipoff run myapp ls -la.
  For a shell line, ask for a shell: shipoff run myapp sh -c 'echo $DYNO'.
  Over SSH, -t gives it a terminal (interactive shells, top):
    ssh -t -p 2222 shipoff@HOST run myapp bash
  The container is removed when the command ends or the connection drops.
  Needs the developer role (or higher) on the app.`,
  arity: [2, 1000],
  needsStore: true,
  needsHost: true,
  ownsTerminal: true,
  rawArgs: true,
  async run(ctx, args) {
    const [appName, ...argv] = args.positionals as [string, ...string[]];
    const app = await appForRole(ctx, ctx.store, appName, 'developer');
    // The command name only: its arguments may hold secrets.
    await ctx.store.audit.record({ actor: actorName(ctx.actor), app: app.name, action: 'run', details: { command: argv[0]!.slice(0, 100), terminal: ctx.terminal !== undefined } });
    return ctx.host.run(app, argv, { stdin: ctx.stdin, stdout: ctx.stdout, stderr: ctx.stderr, ...(ctx.terminal ? { terminal: ctx.terminal } : {}), signal: ctx.signal });
  },
};
