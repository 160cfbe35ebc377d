// tokens:create: API tokens, the password for git over HTTP (HTTP Basic).
import { assertUserName, ShipoffError } from '../../core/index.js';
import { actorName, type Command, isHostAdmin } from '../registry.js';

export const tokensCreate: Command = {
  name: 'tokens:create',
  group: 'tokens',
  summary: 'Make an API token for a user: the password for git push over HTTP',
  usage: 'USER [--description TEXT]',
  description: `Prints the token once; it is stored only as a hash, so keep it.
Example: git push http://alice:TOKEN@git.localhost:8080/myapp.git main`,
  options: { description: { type: 'string' } },
  arity: [1, 1],
  needsStore: true,
  async run(ctx, args) {
    const userName = assertUserName(args.positionals[0]!);
    const self = ctx.actor.kind === 'user' && ctx.actor.user.name === userName;
    if (!self && !isHostAdmin(ctx.actor)) {
      throw new ShipoffError('SHIPOFF_ADMIN_REQUIRED', { what: 'Making tokens for another user' });
    }
    const description = typeof args.values.description === 'string' ? args.values.description.slice(0, 200) : '';
    const token = await ctx.store.transaction(async (tx) => {
      const user = await tx.users.getByName(userName);
      const made = await tx.users.createToken(user.id, description);
      await tx.audit.record({ actor: actorName(ctx.actor), action: 'tokens:create', details: { user: userName } });
      return made;
    });
    ctx.stdout.write(token + '\n');
  },
};

export const tokenCommands: Command[] = [tokensCreate];
