// The static buildpack's server (static/server.js) as a library, for the
// router to serve static releases in process. Always this repository's own
// copy: never a file from a release (a build could have written anything
// into its .shipoff/). The file is evaluated as CommonJS (it runs as either
// kind of module), so its main() does not run and it exports createStaticSite.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type http from 'node:http';
import { dirname, join } from 'node:path';
import vm from 'node:vm';
import { findRepoRoot } from './stack-image.js';

export interface StaticSite {
  /** The real path of the directory served (static.json's root). */
  readonly root: string;
  /** Answers one GET or HEAD (else 405); resolves once the response is under way, never rejects. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
}

type ServerModule = { createStaticSite(dir: string): Promise<StaticSite> };

let loaded: Promise<ServerModule> | undefined;

async function loadServerModule(): Promise<ServerModule> {
  const file = join(findRepoRoot(), 'buildpacks', 'static', 'server.js');
  const source = await readFile(file, 'utf8');
  const wrapper = vm.compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: file });
  const mod = { exports: {} as Partial<ServerModule> };
  wrapper.call(mod.exports, mod.exports, createRequire(file), mod, file, dirname(file));
  if (typeof mod.exports.createStaticSite !== 'function') throw new Error(`${file} does not export createStaticSite`);
  return mod.exports as ServerModule;
}

/** The static site in DIR (a release's extracted /app), its static.json read and checked. */
export async function staticSiteHandler(dir: string): Promise<StaticSite> {
  loaded ??= loadServerModule().catch((err: unknown) => {
    loaded = undefined;
    throw err;
  });
  return (await loaded).createStaticSite(dir);
}
