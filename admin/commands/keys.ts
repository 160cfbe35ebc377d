// keys:add, keys:list, keys:remove: the SSH keys that let users push and run commands.
import { ShipoffError } from '../../core/index.js';
import { actorName, type Command, type CommandContext, isHostAdmin, readStdin } from '../registry.js';

function requireHostAdmin(ctx: CommandContext, command: string): void {
  if (!isHostAdmin(ctx.actor)) {
    throw new ShipoffError('SHIPOFF_ADMIN_REQUIRED', { what: command });
  }
}

const write = (ctx: CommandContext, text: string): void => void ctx.stdout.write(text.endsWith('\n') ? text : text + '\n');

export const keysAdd: Command = {
  name: 'keys:add',
  group: 'keys',
  summary: 'Add an SSH public key (read from stdin) for a user, creating the user',
  usage: 'USER [--admin] < key.pub',
  description: `The first user ever added becomes a host administrator; --admin makes another one.
Example: shipoff keys:add alice < ~/.ssh/id_ed25519.pub`,
  options: { admin: { type: 'boolean' }, json: { type: 'boolean' } },
  arity: [1, 1],
  needsStore: true,
  async run(ctx, args) {
    requireHostAdmin(ctx, 'keys:add');
    const userName = args.positionals[0]!;
    const text = await readStdin(ctx, 'The public key', `shipoff keys:add ${userName} < ~/.ssh/id_ed25519.pub`, 16 * 1024);
    const { user, key, userCreated } = await ctx.store.transaction(async (tx) => {
      const added = await tx.users.addKey(userName, text, { isAdmin: args.values.admin === true });
      await tx.audit.record({ actor: actorName(ctx.actor), action: 'keys:add', details: { user: userName, fingerprint: added.key.fingerprint } });
      return added;
    });
    if (args.values.json) {
      write(ctx, JSON.stringify({ user: user.name, admin: user.isAdmin, created: userCreated, fingerprint: key.fingerprint, type: key.keyType }));
      return;
    }
    write(ctx, `-----> Added ${key.keyType} key ${key.fingerprint} for ${user.name}`);
    if (userCreated) write(ctx, `       New user ${user.name}${user.isAdmin ? ', a host administrator' : ''}`);
  },
};

export const keysList: Command = {
  name: 'keys:list',
  group: 'keys',
  summary: 'List SSH keys and the users they belong to',
  usage: '[USER] [--json]',
  options: { json: { type: 'boolean' } },
  arity: [0, 1],
  needsStore: true,
  async run(ctx, args) {
    requireHostAdmin(ctx, 'keys:list');
    const keys = await ctx.store.users.listKeys(args.positionals[0]);
    if (args.values.json) {
      write(ctx, JSON.stringify(keys.map((k) => ({ user: k.userName, type: k.keyType, fingerprint: k.fingerprint, comment: k.comment, added: k.createdAt }))));
      return;
    }
    if (keys.length === 0) return write(ctx, 'No keys yet. Add one: shipoff keys:add USER < ~/.ssh/id_ed25519.pub');
    for (const k of keys) write(ctx, `${k.userName.padEnd(16)} ${k.fingerprint}  ${k.keyType}  ${k.comment}`);
  },
};

export const keysRemove: Command = {
  name: 'keys:remove',
  group: 'keys',
  summary: "Remove a user's SSH key (one by fingerprint, or all of them)",
  usage: 'USER [FINGERPRINT]',
  arity: [1, 2],
  needsStore: true,
  async run(ctx, args) {
    requireHostAdmin(ctx, 'keys:remove');
    const [userName, fingerprint] = args.positionals as [string, string | undefined];
    const removed = await ctx.store.transaction(async (tx) => {
      const n = await tx.users.removeKeys(userName, fingerprint);
      await tx.audit.record({ actor: actorName(ctx.actor), action: 'keys:remove', details: { user: userName, fingerprint: fingerprint ?? 'all' } });
      return n;
    });
    write(ctx, `-----> Removed ${removed} key${removed === 1 ? '' : 's'} of ${userName}`);
  },
};

export const keyCommands: Command[] = [keysAdd, keysList, keysRemove];
