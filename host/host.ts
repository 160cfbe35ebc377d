// Runs a set of roles until SIGTERM or SIGINT, then shuts down in order:
// stop accepting, finish or cancel work, close the store.
import type { Writable } from 'node:stream';
import { embeddedServerPid, openStore, type Settings } from '../core/index.js';
import { type Endpoint, type Role, ROLE_FACTORIES, SharedParts } from './roles.js';

export interface HostIo {
  stdout: Writable;
  stderr: Writable;
}

function banner(settings: Settings, backend: string, endpoints: Endpoint[]): string {
  const width = Math.max(...endpoints.map((e) => e.label.length), 'Database'.length) + 2;
  const line = (label: string, value: string): string => `       ${(label + ':').padEnd(width)}${value}`;
  return [
    '=====> Shipoff is up',
    ...endpoints.map((e) => line(e.label, e.value)),
    line('Database', backend === 'embedded' ? `embedded PostgreSQL under ${settings.dataDir}/postgres` : 'external PostgreSQL (DATABASE_URL)'),
    line('Data', settings.dataDir),
    '',
    '       Add your first key (it becomes a host administrator):',
    '         shipoff keys:add YOUR_NAME < ~/.ssh/id_ed25519.pub',
    '       Then, in your app: git remote add shipoff <Git (SSH) above> && git push shipoff main',
    '       Stop with Ctrl-C (SIGINT) or SIGTERM.',
    '',
  ].join('\n');
}

export async function runHost(settings: Settings, roleNames: string[], io: HostIo): Promise<number> {
  const log = (line: string): void => void io.stderr.write(line + '\n');
  const store = await openStore(settings);
  const shared = new SharedParts({ settings, store, log });
  const roles: Role[] = roleNames.map((name) => ROLE_FACTORIES[name]!({ settings, store, log, shared }));
  const started: Role[] = [];
  const endpoints: Endpoint[] = [];
  try {
    for (const role of roles) {
      endpoints.push(...(await role.start()));
      started.push(role);
    }
  } catch (err) {
    for (const role of started.reverse()) await role.stop().catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
  io.stdout.write(banner(settings, store.backend, endpoints));

  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  io.stdout.write(`-----> Shutting down (${signal}); press Ctrl-C again to force\n`);
  const force = (): void => process.exit(1);
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  for (const role of started.reverse()) {
    await role.stop().catch((err: Error) => log(` !     stopping ${role.name}: ${err.message}`));
  }
  await store.close();
  const stillUp = store.backend === 'embedded' ? embeddedServerPid(settings.dataDir) : undefined;
  io.stdout.write(stillUp ? `-----> Stopped (the embedded database stays up for other shipoff processes)\n` : '-----> Stopped\n');
  return 0;
}
