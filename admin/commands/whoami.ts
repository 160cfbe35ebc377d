// whoami: who the host takes you for: your user name, whether you are a host
// administrator, and how many SSH keys you have.
import { actorName, type Command, isHostAdmin } from '../registry.js';

export const whoami: Command = {
  name: 'whoami',
  group: 'account',
  summary: 'Show who you are here: user name, host administrator or not, number of SSH keys',
  usage: '[--json]',
  options: { json: { type: 'boolean' } },
  arity: [0, 0],
  needsStore: true,
  async run(ctx, args) {
    const keys = ctx.actor.kind === 'user' ? (await ctx.store.users.listKeys(ctx.actor.user.name)).length : null;
    const out = {
      user: ctx.actor.kind === 'user' ? ctx.actor.user.name : null,
      hostOperator: ctx.actor.kind === 'host',
      admin: isHostAdmin(ctx.actor),
      keys,
    };
    if (args.values.json) {
      ctx.stdout.write(JSON.stringify(out, null, 2) + '\n');
      return;
    }
    ctx.stdout.write(`${actorName(ctx.actor)}\nadmin: ${out.admin ? 'yes' : 'no'}\n${keys === null ? 'keys: - (the host operator needs none)' : `keys: ${keys}`}\n`);
  },
};
