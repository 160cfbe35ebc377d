// The store's contract: the same tests run against the embedded PostgreSQL
// server and against an external one (store-embedded.test.ts,
// store-external.test.ts). Nothing here is mocked.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  canTransition,
  DEPLOY_STATES,
  type DeployState,
  DEPLOY_TRANSITIONS,
  isShipoffError,
  MIGRATIONS,
  normalizeCustomDomain,
  openStore,
  type Store,
} from '../core/index.js';

export interface StoreEnvironment {
  settings: { dataDir: string; databaseUrl: string | undefined };
  cleanup(): Promise<void>;
}

const KEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINhFhzMVY9utfqrWoWTtXVg0F6AiBFV7IMMyMcmoEzn7 alice@laptop';
const KEY_B = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBFk6tDJyLYgmrl1JfJZtyUQ34v78qXqWcfjFD2i6BDV bob@desk';
const KEY_C = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK+8fT5cQmpFSCbwBLzrM6a6LKKw5q44nOTc8yjm9tVR carol@home';

const COMMIT = 'a'.repeat(40);

/** Rejects with a ShipoffError of this code. */
async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isShipoffError(err), `expected a ShipoffError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

/** The path of legal transitions from QUEUED to a state. */
function pathTo(state: DeployState): DeployState[] {
  const paths: Record<DeployState, DeployState[]> = {
    QUEUED: [],
    BUILDING: ['BUILDING'],
    RELEASING: ['BUILDING', 'RELEASING'],
    LIVE: ['BUILDING', 'RELEASING', 'LIVE'],
    SUPERSEDED: ['BUILDING', 'RELEASING', 'LIVE', 'SUPERSEDED'],
    FAILED: ['FAILED'],
    CANCELLED: ['CANCELLED'],
  };
  return paths[state];
}

export function storeContract(label: string, newEnvironment: () => Promise<StoreEnvironment>): void {
  describe(`store contract: ${label}`, () => {
    let env: StoreEnvironment;
    let store: Store;
    let n = 0;
    const unique = (prefix: string): string => `${prefix}-${++n}`;

    before(async () => {
      env = await newEnvironment();
      store = await openStore(env.settings);
    });
    after(async () => {
      await store?.close();
      await env?.cleanup();
    });

    describe('migrations', () => {
      it('are recorded and re-opening applies nothing twice', async () => {
        const versions = await store.db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
        assert.deepEqual(versions.rows.map((r) => r.version), MIGRATIONS.map((m) => m.version));
        const again = await openStore(env.settings);
        await again.close();
        const after = await store.db.query('SELECT count(*)::int AS n FROM schema_migrations');
        assert.equal(after.rows[0]!.n, MIGRATIONS.length);
      });

      it('two processes migrating a fresh database at once agree', async () => {
        const fresh = await newEnvironment();
        try {
          const [a, b] = await Promise.all([openStore(fresh.settings), openStore(fresh.settings)]);
          const r = await a.db.query('SELECT count(*)::int AS n FROM schema_migrations');
          assert.equal(r.rows[0]!.n, MIGRATIONS.length);
          await Promise.all([a.close(), b.close()]);
        } finally {
          await fresh.cleanup();
        }
      });

      it('refuses a schema newer than it knows', async () => {
        const fresh = await newEnvironment();
        try {
          const s = await openStore(fresh.settings);
          await s.db.query("INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')");
          await rejectsWith(openStore(fresh.settings), 'SHIPOFF_SCHEMA_TOO_NEW');
          await s.close();
        } finally {
          await fresh.cleanup();
        }
      });
    });

    describe('users and keys', () => {
      it('the first user becomes a host administrator, later ones do not', async () => {
        const a = await store.users.addKey('alice', KEY_A);
        assert.equal(a.userCreated, true);
        assert.equal(a.user.isAdmin, true);
        assert.equal(a.key.fingerprint, 'SHA256:' + a.key.fingerprint.slice(7));
        const b = await store.users.addKey('bob', KEY_B);
        assert.equal(b.user.isAdmin, false);
        const found = await store.users.findKeyByFingerprint(b.key.fingerprint);
        assert.equal(found?.user.name, 'bob');
      });

      it('a fingerprint belongs to one user only, and a refused add changes nothing', async () => {
        await rejectsWith(store.users.addKey('mallory', KEY_A), 'SHIPOFF_KEY_EXISTS');
        assert.equal(await store.users.findByName('mallory'), undefined);
        await rejectsWith(store.users.addKey('Bad Name', KEY_C), 'SHIPOFF_INVALID_USER_NAME');
        await rejectsWith(store.users.addKey('carol', 'ssh-ed25519 not-base64!'), 'SHIPOFF_INVALID_PUBLIC_KEY');
        assert.equal(await store.users.findByName('carol'), undefined);
      });

      it('concurrent adds of one key: exactly one wins', async () => {
        const results = await Promise.allSettled([store.users.addKey('carol', KEY_C), store.users.addKey('dave', KEY_C)]);
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        assert.ok(isShipoffError(loser.reason, 'SHIPOFF_KEY_EXISTS'));
      });

      it('keys are listed and removed', async () => {
        const keys = await store.users.listKeys('bob');
        assert.equal(keys.length, 1);
        assert.equal(await store.users.removeKeys('bob', keys[0]!.fingerprint), 1);
        assert.equal(await store.users.findKeyByFingerprint(keys[0]!.fingerprint), undefined);
        await rejectsWith(store.users.removeKeys('bob'), 'SHIPOFF_KEY_NOT_FOUND');
      });

      it('API tokens verify, and only a hash is stored', async () => {
        const bob = await store.users.getByName('bob');
        const token = await store.users.createToken(bob.id, 'laptop');
        assert.equal((await store.users.userForToken(token))?.name, 'bob');
        assert.equal(await store.users.userForToken(token + 'x'), undefined);
        const raw = await store.db.query("SELECT count(*)::int AS n FROM api_tokens WHERE encode(token_sha256, 'escape') LIKE '%' || $1 || '%'", [token.slice(8, 30)]);
        assert.equal(raw.rows[0]!.n, 0);
      });
    });

    describe('apps, access, domains, formation', () => {
      it('creating an app makes its creator owner and scales web to 1', async () => {
        const alice = await store.users.getByName('alice');
        const app = await store.apps.create(unique('shop'), alice.id);
        assert.equal(await store.apps.roleOf(app.id, alice.id), 'owner');
        assert.deepEqual(await store.apps.formation(app.id), { web: 1 });
        assert.equal(app.deployBranch, 'main');
        assert.equal(app.sleepAfterSeconds, 900);
      });

      it('bad and duplicate names are refused before anything is written', async () => {
        const before = (await store.apps.list()).length;
        for (const bad of ['../x', 'a b', 'A', 'a;id', '', 'git', '-x', 'x-', 'a'.repeat(64)]) {
          await rejectsWith(store.apps.create(bad), 'SHIPOFF_INVALID_APP_NAME');
        }
        const name = unique('dup');
        await store.apps.create(name);
        await rejectsWith(store.apps.create(name), 'SHIPOFF_APP_EXISTS');
        assert.equal((await store.apps.list()).length, before + 1);
      });

      it('the database itself refuses an invalid app name', async () => {
        await assert.rejects(store.db.query("INSERT INTO apps (name) VALUES ('a;id')"), /check constraint/);
      });

      it('users see only the apps they hold a role on; administrators see all', async () => {
        const alice = await store.users.getByName('alice');
        const bob = await store.users.getByName('bob');
        const mine = await store.apps.create(unique('bobs'), bob.id);
        const other = await store.apps.create(unique('others'));
        const seen = (await store.apps.listVisibleTo(bob.id)).map((a) => a.name);
        assert.ok(seen.includes(mine.name));
        assert.ok(!seen.includes(other.name));
        assert.ok((await store.apps.listVisibleTo(alice.id)).some((a) => a.name === other.name));
        await store.apps.grant(other.id, bob.id, 'viewer');
        assert.equal(await store.apps.roleOf(other.id, bob.id), 'viewer');
        await rejectsWith(store.apps.grant(other.id, bob.id, 'root' as never), 'SHIPOFF_INVALID_ROLE');
        assert.equal(await store.apps.revoke(other.id, bob.id), true);
        assert.equal(await store.apps.roleOf(other.id, bob.id), undefined);
      });

      it('settings update, rename and destroy', async () => {
        const name = unique('moving');
        const app = await store.apps.create(name);
        const updated = await store.apps.update(name, { sleepAfterSeconds: null, deployBranch: 'master' });
        assert.equal(updated.sleepAfterSeconds, undefined);
        assert.equal(updated.deployBranch, 'master');
        const renamed = await store.apps.rename(name, `${name}-new`);
        assert.equal(renamed.id, app.id);
        await rejectsWith(store.apps.get(name), 'SHIPOFF_APP_NOT_FOUND');
        await store.config.set(app.id, { KEPT: 'yes' });
        assert.equal(await store.config.get(app.id, 'KEPT'), 'yes', 'sealed values survive a rename');
        await store.apps.destroy(`${name}-new`);
        const left = await store.db.query('SELECT count(*)::int AS n FROM config_vars WHERE app_id = $1', [app.id]);
        assert.equal(left.rows[0]!.n, 0);
      });

      it('a domain belongs to one app', async () => {
        const a = await store.apps.create(unique('dom'));
        const b = await store.apps.create(unique('dom'));
        assert.equal(await store.domains.add(a.id, normalizeCustomDomain('WWW.Example.COM', 'localhost')), true);
        assert.equal(await store.domains.add(a.id, 'www.example.com'), false, 'adding it again changes nothing');
        assert.equal(await store.domains.ownerOf('www.example.com'), a.name);
        await rejectsWith(store.domains.add(b.id, 'www.example.com'), 'SHIPOFF_DOMAIN_TAKEN');
        assert.throws(() => normalizeCustomDomain('not a domain', 'localhost'), (err: unknown) => isShipoffError(err, 'SHIPOFF_INVALID_DOMAIN'));
        await assert.rejects(store.db.query("INSERT INTO domains (app_id, hostname) VALUES ($1, 'not a domain')", [b.id]), 'the database refuses it too');
        assert.equal(await store.domains.remove(a.id, 'www.example.com'), true);
        assert.deepEqual(await store.domains.list(a.id), []);
      });

      it('scaling is all or nothing', async () => {
        const app = await store.apps.create(unique('scale'));
        assert.deepEqual(await store.apps.scale(app.id, { web: 3, worker: 2 }), { web: 3, worker: 2 });
        await rejectsWith(store.apps.scale(app.id, { web: 1, worker: -1 }), 'SHIPOFF_INVALID_FORMATION');
        await rejectsWith(store.apps.scale(app.id, { 'Bad Type': 1 }), 'SHIPOFF_INVALID_FORMATION');
        assert.deepEqual(await store.apps.formation(app.id), { web: 3, worker: 2 });
      });
    });

    describe('config vars', () => {
      const tricky = {
        SPACES: 'a b  c',
        EQUALS: 'x=y==z',
        QUOTES: `"double" and 'single' and \\backslash`,
        NEWLINES: 'line1\nline2\r\nline3\n',
        UNICODE: 'héllo wörld ☃ 🚀 日本',
        EMPTY: '',
        _UNDERSCORE1: 'ok',
      };

      it('round-trip exactly, and the stored bytes are not the plaintext', async () => {
        const app = await store.apps.create(unique('cfg'));
        await store.config.set(app.id, tricky);
        assert.deepEqual(await store.config.all(app.id), Object.fromEntries(Object.entries(tricky).sort(([a], [b]) => a.localeCompare(b))));
        const raw = await store.db.query<{ key: string; value: Buffer }>('SELECT key, value FROM config_vars WHERE app_id = $1', [app.id]);
        for (const row of raw.rows) {
          const plain = tricky[row.key as keyof typeof tricky];
          if (plain.length >= 2) assert.equal(row.value.includes(Buffer.from(plain)), false, `${row.key} is stored in clear`);
          assert.ok(row.value.length >= 29 + Buffer.byteLength(plain), 'holds version, iv and tag');
        }
        const text = await store.db.query("SELECT count(*)::int AS n FROM config_vars WHERE encode(value, 'escape') LIKE '%wörld%' OR encode(value, 'escape') LIKE '%double%'");
        assert.equal(text.rows[0]!.n, 0);
      });

      it('a sealed value moved to another app does not decrypt', async () => {
        const a = await store.apps.create(unique('cfga'));
        const b = await store.apps.create(unique('cfgb'));
        await store.config.set(a.id, { SECRET: 'for a only' });
        await store.db.query('INSERT INTO config_vars (app_id, key, value) SELECT $2, key, value FROM config_vars WHERE app_id = $1', [a.id, b.id]);
        await rejectsWith(store.config.get(b.id, 'SECRET'), 'SHIPOFF_SECRET_UNREADABLE');
      });

      it('one bad key refuses the whole set; unset reports what it removed', async () => {
        const app = await store.apps.create(unique('cfgc'));
        await store.config.set(app.id, { KEEP: '1' });
        await rejectsWith(store.config.set(app.id, { GOOD: '2', '1BAD': '3' }), 'SHIPOFF_INVALID_CONFIG_KEY');
        assert.deepEqual(await store.config.all(app.id), { KEEP: '1' });
        assert.deepEqual(await store.config.unset(app.id, ['KEEP', 'MISSING']), ['KEEP']);
        assert.deepEqual(await store.config.all(app.id), {});
      });
    });

    describe('deploys and releases', () => {
      async function deployIn(appId: number, state: DeployState): Promise<number> {
        const d = await store.deploys.create({ appId, commitSha: COMMIT, branch: 'main' });
        for (const step of pathTo(state)) await store.deploys.transition(d.id, step, { reason: step === 'FAILED' ? 'test' : undefined });
        return d.id;
      }

      it('walks QUEUED → BUILDING → RELEASING → LIVE with timestamps and a build log', async () => {
        const app = await store.apps.create(unique('dep'));
        const d = await store.deploys.create({ appId: app.id, commitSha: COMMIT, branch: 'main' });
        assert.equal(d.state, 'QUEUED');
        const building = await store.deploys.transition(d.id, 'BUILDING');
        assert.ok(building.startedAt);
        await store.deploys.appendLog(d.id, '-----> Node.js app detected\n');
        await store.deploys.appendLog(d.id, '       npm ci\n');
        await store.deploys.transition(d.id, 'RELEASING');
        const release = await store.deploys.createRelease({ appId: app.id, image: 'shipoff/app:1', processTypes: { web: 'node server.js' }, config: { A: '1' }, sourceCommit: COMMIT });
        const live = await store.deploys.transition(d.id, 'LIVE', { releaseId: release.id });
        assert.ok(live.finishedAt);
        assert.equal(await store.deploys.log(d.id), '-----> Node.js app detected\n       npm ci\n');
        assert.equal((await store.deploys.liveRelease(app.id))?.version, 1);
      });

      it('every illegal transition throws a typed error and changes nothing', async () => {
        const app = await store.apps.create(unique('illegal'));
        for (const from of DEPLOY_STATES) {
          for (const to of DEPLOY_STATES) {
            if (canTransition(from, to) || from === to) continue;
            const id = await deployIn(app.id, from);
            await rejectsWith(store.deploys.transition(id, to, { reason: 'x' }), 'SHIPOFF_ILLEGAL_TRANSITION');
            assert.equal((await store.deploys.get(id)).state, from);
            if (from === 'LIVE') await store.deploys.transition(id, 'SUPERSEDED');
          }
        }
      });

      it('the database trigger agrees with the state table on every pair', async () => {
        const app = await store.apps.create(unique('trigger'));
        const client = await store.connectListener();
        try {
          for (const from of DEPLOY_STATES) {
            for (const to of DEPLOY_STATES) {
              if (from === to) continue;
              await client.query('BEGIN');
              const ins = await client.query<{ id: number }>('INSERT INTO deploys (app_id) VALUES ($1) RETURNING id', [app.id]);
              const id = ins.rows[0]!.id;
              for (const step of pathTo(from)) await client.query("UPDATE deploys SET state = $2, reason = 'r' WHERE id = $1", [id, step]);
              let allowed = true;
              try {
                await client.query("UPDATE deploys SET state = $2, reason = 'r' WHERE id = $1", [id, to]);
              } catch (err) {
                assert.equal((err as { code?: string }).code, 'SH001', `${from} → ${to}: ${(err as Error).message}`);
                allowed = false;
              }
              await client.query('ROLLBACK');
              assert.equal(allowed, DEPLOY_TRANSITIONS[from].includes(to), `${from} → ${to}`);
            }
          }
          await assert.rejects(client.query("INSERT INTO deploys (app_id, state) VALUES ($1, 'LIVE')", [app.id]), /starts QUEUED/);
        } finally {
          client.release();
        }
      });

      it('a failed deploy needs a reason', async () => {
        const app = await store.apps.create(unique('reason'));
        const d = await store.deploys.create({ appId: app.id });
        await assert.rejects(store.deploys.transition(d.id, 'FAILED'), /needs a reason/);
        const failed = await store.deploys.transition(d.id, 'FAILED', { reason: 'npm ci exited 1' });
        assert.equal(failed.reason, 'npm ci exited 1');
      });

      it('going LIVE supersedes the previous LIVE deploy', async () => {
        const app = await store.apps.create(unique('supersede'));
        const first = await deployIn(app.id, 'LIVE');
        const second = await deployIn(app.id, 'LIVE');
        assert.equal((await store.deploys.get(first)).state, 'SUPERSEDED');
        assert.equal((await store.deploys.live(app.id))?.id, second);
      });

      it('two transactions setting LIVE at once: the database lets only one commit', async () => {
        const app = await store.apps.create(unique('race'));
        const d1 = await deployIn(app.id, 'RELEASING');
        const d2 = await deployIn(app.id, 'RELEASING');
        const c1 = await store.connectListener();
        const c2 = await store.connectListener();
        try {
          await c1.query('BEGIN');
          await c2.query('BEGIN');
          await c1.query("UPDATE deploys SET state = 'LIVE' WHERE id = $1", [d1]);
          // c2 blocks on the unique index until c1 ends, then fails.
          const second = c2.query("UPDATE deploys SET state = 'LIVE' WHERE id = $1", [d2]).then(
            () => 'committed',
            (err: { code?: string; constraint?: string }) => `${err.code}:${err.constraint}`,
          );
          await new Promise((r) => setTimeout(r, 100));
          await c1.query('COMMIT');
          assert.equal(await second, '23505:deploys_one_live_per_app');
          await c2.query('ROLLBACK');
        } finally {
          c1.release();
          c2.release();
        }
        const live = await store.db.query("SELECT id FROM deploys WHERE app_id = $1 AND state = 'LIVE'", [app.id]);
        assert.deepEqual(live.rows.map((r) => r.id), [d1]);
      });

      it('two deploys promoted concurrently through the store take turns: one LIVE, one SUPERSEDED', async () => {
        const app = await store.apps.create(unique('turns'));
        const ids = await Promise.all([deployIn(app.id, 'RELEASING'), deployIn(app.id, 'RELEASING')]);
        await Promise.all(ids.map((id) => store.deploys.transition(id, 'LIVE')));
        const states = (await Promise.all(ids.map((id) => store.deploys.get(id)))).map((d) => d.state).sort();
        assert.deepEqual(states, ['LIVE', 'SUPERSEDED']);
      });

      it('releases are numbered per app, keep a sealed config snapshot, and are immutable', async () => {
        const a = await store.apps.create(unique('rel'));
        const b = await store.apps.create(unique('rel'));
        const r1 = await store.deploys.createRelease({ appId: a.id, image: 'img:1', processTypes: { web: 'npm start' }, config: { DB: 'postgres://secret' } });
        const r2 = await store.deploys.createRelease({ appId: a.id, image: 'img:2', processTypes: { web: 'npm start', worker: 'node w.js' }, config: { DB: 'x' } });
        const rb = await store.deploys.createRelease({ appId: b.id, image: 'img:b', processTypes: {}, config: {}, builder: 'dockerfile' });
        assert.deepEqual([r1.version, r2.version, rb.version], [1, 2, 1]);
        assert.deepEqual([r1.builder, (await store.deploys.findRelease(b.id, 1))?.builder], ['buildpack', 'dockerfile']);
        await assert.rejects(store.db.query("INSERT INTO releases (app_id, version, image, process_types, builder, config_snapshot) VALUES ($1, 9, 'x', '{}', 'shell', '')", [a.id]), /check/i);
        assert.deepEqual((await store.deploys.findRelease(a.id, 1))?.config, { DB: 'postgres://secret' });
        assert.deepEqual((await store.deploys.releases(a.id)).map((r) => r.version), [2, 1]);
        const raw = await store.db.query("SELECT count(*)::int AS n FROM releases WHERE encode(config_snapshot, 'escape') LIKE '%secret%'");
        assert.equal(raw.rows[0]!.n, 0);
        await assert.rejects(store.db.query("UPDATE releases SET description = 'evil' WHERE id = $1", [r1.id]), /immutable/);
        const concurrent = await Promise.all([1, 2, 3].map(() => store.deploys.createRelease({ appId: b.id, image: 'img', processTypes: {}, config: {} })));
        assert.deepEqual(concurrent.map((r) => r.version).sort(), [2, 3, 4]);
      });
    });

    describe('release images follow a renamed app', () => {
      it('renameReleaseImages changes the image of the app\'s releases, and only theirs', async () => {
        const a = await store.apps.create(unique('img'));
        const b = await store.apps.create(unique('img'));
        await store.deploys.createRelease({ appId: a.id, image: 'shipoff/old:v1', processTypes: { web: 'x' }, config: { K: 'v' } });
        await store.deploys.createRelease({ appId: a.id, image: 'shipoff/old:v2', processTypes: {}, config: {} });
        await store.deploys.createRelease({ appId: a.id, image: 'shipoff/old:v1', processTypes: {}, config: {}, description: 'Rollback to v1' });
        await store.deploys.createRelease({ appId: b.id, image: 'shipoff/old:v1', processTypes: {}, config: {} });
        const map = new Map([['shipoff/old:v1', 'shipoff/new:v1'], ['shipoff/old:v2', 'shipoff/new:v2']]);
        assert.equal(await store.deploys.renameReleaseImages(a.id, map), 3);
        assert.deepEqual((await store.deploys.releases(a.id)).map((r) => r.image), ['shipoff/new:v1', 'shipoff/new:v2', 'shipoff/new:v1']);
        assert.deepEqual((await store.deploys.findRelease(a.id, 1))?.config, { K: 'v' }, 'the sealed snapshot is untouched');
        assert.equal((await store.deploys.findRelease(b.id, 1))?.image, 'shipoff/old:v1', 'the other app keeps its image');
        assert.equal(await store.deploys.renameReleaseImages(a.id, new Map()), 0);
      });

      it('the image may change; every other column of a release stays immutable', async () => {
        const app = await store.apps.create(unique('imm'));
        const other = await store.apps.create(unique('imm'));
        const { user } = await store.users.ensure(unique('u'));
        const { user: someoneElse } = await store.users.ensure(unique('u'));
        const r = await store.deploys.createRelease({ appId: app.id, image: 'shipoff/x:v1', processTypes: { web: 'a' }, config: { A: '1' }, sourceCommit: COMMIT, createdBy: user.id });
        await store.db.query("UPDATE releases SET image = 'shipoff/y:v1' WHERE id = $1", [r.id]);
        assert.equal((await store.deploys.releaseById(r.id))?.image, 'shipoff/y:v1');
        const changes: Array<[string, unknown]> = [
          ['id', r.id + 100_000],
          ['app_id', other.id],
          ['version', 7],
          ['process_types', JSON.stringify({ web: 'b' })],
          ['builder', 'dockerfile'],
          ['config_snapshot', Buffer.from('x')],
          ['source_commit', 'b'.repeat(40)],
          ['description', 'changed'],
          ['created_at', new Date(0)],
        ];
        for (const [column, value] of changes) {
          await assert.rejects(
            store.db.query(`UPDATE releases SET ${column} = $2 WHERE id = $1`, [r.id, value]),
            (err: Error & { code?: string }) => err.code === 'SH002' && /immutable/.test(err.message),
            column,
          );
          // Changing the image along does not let another column through.
          await assert.rejects(store.db.query(`UPDATE releases SET image = 'shipoff/z:v1', ${column} = $2 WHERE id = $1`, [r.id, value]), /immutable/, `${column} with image`);
        }
        await assert.rejects(store.db.query('UPDATE releases SET created_by = $2 WHERE id = $1', [r.id, someoneElse.id]), /immutable/, 'the creator only fades');
        await store.db.query('UPDATE releases SET created_by = NULL WHERE id = $1', [r.id]);
        assert.equal((await store.deploys.releaseById(r.id))?.createdBy, undefined, 'the creator may fade to NULL');
      });
    });

    describe('audit events', () => {
      it('are recorded and listed newest first, and outlive their app', async () => {
        const name = unique('audited');
        await store.apps.create(name);
        await store.audit.record({ actor: 'alice', app: name, action: 'apps:create' });
        await store.audit.record({ actor: 'alice', app: name, action: 'config:set', details: { keys: ['A'] } });
        await store.apps.destroy(name);
        const events = await store.audit.list({ app: name });
        assert.deepEqual(events.map((e) => e.action), ['config:set', 'apps:create']);
        assert.deepEqual(events[0]!.details, { keys: ['A'] });
      });
    });
  });
}
