// apps:destroy and apps:rename on the host: everything of one app, and
// nothing of any other. Both hold the app's turn (deployer.exclusive), so no
// deploy, release or scale of it runs meanwhile; a push already under way
// finishes first, and one that waited behind us finds its app gone or renamed
// (its deploy then fails before building, and the push is rejected).
import fs from 'node:fs';
import path from 'node:path';
import { type App, assertAppName, ShipoffError } from '../core/index.js';
import type { Progress } from '../admin/index.js';
import { isStopped, removeTree } from '../deployer/index.js';
import type { HostOpsDeps } from './host-ops.js';

/** Where an app keeps files under the data directory: exact paths, so `foo` never reaches `foo-bar`'s. */
export function appFiles(dataDir: string, app: string): { repo: string; cache: string; static: string } {
  assertAppName(app);
  const inside = (dir: string, leaf: string): string => {
    const root = path.resolve(dataDir, dir);
    const full = path.join(root, leaf);
    if (path.dirname(full) !== root) throw new Error(`${full} is not directly under ${root}`);
    return full;
  };
  // The same places gitd/repos.ts, the deployer (build cache) and deployer/static-release.ts use.
  return { repo: inside('repos', `${app}.git`), cache: inside('cache', app), static: inside('static', app) };
}

/** The app as the store has it now, inside the turn (it may have gone or been renamed while we waited). */
async function current(deps: HostOpsDeps, app: App): Promise<App> {
  const now = await deps.store.apps.find(app.name);
  if (!now || now.id !== app.id) throw new ShipoffError('SHIPOFF_APP_NOT_FOUND', { app: app.name });
  return now;
}

async function exists(p: string): Promise<boolean> {
  return fs.promises.lstat(p).then(() => true, () => false);
}

export async function destroyApp(deps: HostOpsDeps, app: App, actor: string, progress: Progress): Promise<void> {
  const { store, deployer, runtime, traffic } = deps;
  const files = appFiles(deps.dataDir, app.name);
  // Once it started it runs to its end, even if the client goes away: half an app is worse than either.
  await deployer.exclusive(app.name, async () => {
    const target = await current(deps, app);
    progress(`-----> Destroying ${target.name}`);
    traffic.set(target.name, []);
    progress('       taken out of the routers');
    // Its images carry its own name (a rename takes them along), so this finds them all, and no other app's.
    await runtime.removeApp(target.name);
    progress('       containers and images removed');
    await store.transaction(async (tx) => {
      await tx.apps.destroy(target.name);
      await tx.audit.record({ actor, app: target.name, action: 'apps:destroy', details: { id: target.id } });
    });
    progress('       releases, config, domains, certificates and deploys removed');
    // A request that came in between may have woken it (the wake starts
    // instances of a live release): once that wake ended, sweep again. From
    // here on no wake finds the app, so nothing can start it.
    await deps.forgetSleep?.(target.name);
    await runtime.removeApp(target.name);
    traffic.set(target.name, []);
    deps.accessLog.forget(target.name);
    for (const dir of [files.repo, files.cache, files.static]) await removeTree(dir);
    progress('       repository, build cache and static files removed');
    progress(`=====> ${target.name} is destroyed`);
  });
}

/** Moves the app's files from one name's places to the other's; returns an undo. */
async function moveFiles(dataDir: string, from: string, to: string): Promise<() => Promise<void>> {
  const src = appFiles(dataDir, from);
  const dst = appFiles(dataDir, to);
  const moved: Array<[string, string]> = [];
  const undo = async (): Promise<void> => {
    for (const [a, b] of moved.reverse()) await fs.promises.rename(b, a);
  };
  try {
    for (const key of ['repo', 'cache', 'static'] as const) {
      if (!(await exists(src[key]))) continue;
      await fs.promises.rename(src[key], dst[key]);
      moved.push([src[key], dst[key]]);
    }
  } catch (err) {
    await undo();
    throw err;
  }
  return undo;
}

/**
 * The release images the app's new name takes along: its own (shipoff/OLD:vN)
 * and, from a rename made before images followed their app, ones of an
 * earlier name that no app has now (one that does may have taken the tag over).
 */
async function imagesToCarry(deps: HostOpsDeps, app: App, oldName: string): Promise<string[]> {
  const refs = new Set((await deps.store.deploys.releases(app.id, 100_000)).map((r) => r.image));
  const carried: string[] = [];
  for (const ref of refs) {
    const named = /^shipoff\/([a-z0-9-]+):v\d+$/.exec(ref)?.[1];
    if (named === undefined) continue;
    if (named === oldName || !(await deps.store.apps.find(named))) carried.push(ref);
  }
  return carried;
}

/** Drops image tags that are no longer needed; a failure leaves only an unused tag behind. */
async function untag(deps: HostOpsDeps, refs: string[]): Promise<void> {
  await deps.runtime.untagImages(refs).catch((err: Error) => deps.log(` !     removing the tags ${refs.join(', ')}: ${err.message}`));
}

export async function renameApp(deps: HostOpsDeps, app: App, newName: string, actor: string, progress: Progress): Promise<App> {
  const { store, deployer, runtime, traffic } = deps;
  assertAppName(newName);
  const oldName = app.name;
  // Only the old name's turn is held: restart() takes the new name's turn
  // itself. A push creating NEW meanwhile loses to the store's unique name
  // (or, if it won, we stop at APP_EXISTS before touching anything).
  return deployer.exclusive(oldName, async () => {
    await current(deps, app);
    if (await store.apps.find(newName)) throw new ShipoffError('SHIPOFF_APP_EXISTS', { app: newName });
    // Files left under the new name by no app: refuse rather than mix or delete them.
    for (const dir of Object.values(appFiles(deps.dataDir, newName))) {
      if (await exists(dir)) throw new ShipoffError('SHIPOFF_DATA_DIR', { path: dir, reason: `it exists already and belongs to no app; move it away, then rename again` });
    }
    progress(`-----> Renaming ${oldName} to ${newName}`);
    const renamed = await store.apps.rename(oldName, newName);
    let undoFiles: () => Promise<void> = async () => {};
    // old → new reference of each release image copied to the new name.
    let images = new Map<string, string>();
    try {
      undoFiles = await moveFiles(deps.dataDir, oldName, newName);
      progress('       repository, build cache and static files moved');
      // Copies first, old tags dropped only once all went through: undoing
      // needs nothing but the releases pointed back and the copies untagged.
      images = await runtime.renameImages(await imagesToCarry(deps, renamed, oldName), newName);
      await store.deploys.renameReleaseImages(renamed.id, images);
      if (images.size > 0) progress(`       ${images.size} release image${images.size === 1 ? '' : 's'} tagged shipoff/${newName}`);
      // restart() reads the live release again, so its instances run the copies.
      const live = await store.deploys.liveRelease(renamed.id);
      if (live && !isStopped(renamed)) {
        // The new name answers from the running instances at once, until the restart switches it to its own.
        const running = traffic.get(oldName);
        if (running.length > 0 && !traffic.isStatic(oldName)) traffic.set(newName, [...running]);
        await deployer.restart(renamed, actor, progress);
      }
    } catch (err) {
      // Undone rather than left half-way: the old name keeps serving as it
      // did (its routes and instances were not touched yet), and the user
      // can simply try again. Only if undoing fails is the state mixed.
      progress(` !     ${newName} could not be started; undoing the rename`);
      try {
        traffic.set(newName, []);
        for (const i of await runtime.list(newName)) await runtime.stop(i.id, 1_000).catch(() => {});
        await store.deploys.renameReleaseImages(renamed.id, new Map([...images].map(([from, to]) => [to, from])));
        await untag(deps, [...images.values()]);
        await undoFiles();
        // The routes row follows the app's id: let the removal above land before the name goes back.
        await traffic.flush();
        await store.apps.rename(newName, oldName);
        traffic.publish(oldName);
        progress(`       ${oldName} keeps its name and keeps serving`);
      } catch (undoErr) {
        progress(` !     undoing failed too (${(undoErr as Error).message}): the app is now named ${newName}; push to it again to start it`);
      }
      throw err;
    }
    // The old name goes away: out of the routers, its instances stopped.
    traffic.set(oldName, []);
    await deps.forgetSleep?.(oldName);
    await Promise.all((await runtime.list(oldName)).map((i) => runtime.stop(i.id).catch((err: Error) => deps.log(` !     stopping ${oldName} ${i.processType}.${i.index}: ${err.message}`))));
    deps.accessLog.forget(oldName);
    // Nothing uses the old tags now; a new app of the old name builds its own.
    await untag(deps, [...images.keys()]);
    await store.audit.record({ actor, app: newName, action: 'apps:rename', details: { from: oldName, to: newName } });
    progress(`=====> ${oldName} is now ${newName}`);
    return renamed;
  });
}
