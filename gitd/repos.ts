// The bare repositories under <dataDir>/repos: where an app's lives, making it
// on first use (git init --bare, branch main) and keeping its pre-receive
// hook current.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { appNameProblem, assertAppName } from '../core/index.js';
import { cleanEnv } from './git-process.js';

const run = promisify(execFile);

/** The compiled hook program, next to this module in dist/gitd/. */
const HOOK_MODULE = fileURLToPath(new URL('./pre-receive-hook.js', import.meta.url));

/**
 * The hook git runs: a two-line Node program that loads the real one by
 * absolute path. Written by us, so no shell and no user text is involved.
 * `import()` works whether Node reads the file as CommonJS or as an ES module.
 */
export function hookScript(): string {
  const interpreter = /^[^\s]+$/.test(process.execPath) ? process.execPath : '/usr/bin/env node';
  return `#!${interpreter}\n// Written by Shipoff's git daemon on every start; changes here are overwritten.\nimport(${JSON.stringify(pathToFileURL(HOOK_MODULE).href)});\n`;
}

export class RepoStore {
  readonly root: string;
  private readonly pending = new Map<string, Promise<string>>();

  constructor(dataDir: string) {
    this.root = path.resolve(dataDir, 'repos');
  }

  /** The repository path of a valid app name; the name rule keeps it inside root. */
  pathOf(app: string): string {
    assertAppName(app);
    const repo = path.join(this.root, `${app}.git`);
    if (path.dirname(repo) !== this.root) throw new Error(`repository path escapes ${this.root}: ${repo}`);
    return repo;
  }

  /** Makes the repository when missing and (re)writes its hook; concurrent calls for one app share the work. */
  ensure(app: string): Promise<string> {
    const repo = this.pathOf(app);
    const inFlight = this.pending.get(app);
    if (inFlight) return inFlight;
    const work = this.create(repo).finally(() => this.pending.delete(app));
    this.pending.set(app, work);
    return work;
  }

  private async create(repo: string): Promise<string> {
    if (!fs.existsSync(path.join(repo, 'HEAD'))) {
      fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
      await run('git', ['init', '--bare', '--quiet', '--initial-branch=main', repo], { env: cleanEnv() });
    }
    installHook(repo);
    return repo;
  }

  /** Rewrites the hook of every repository, so one from an older Shipoff (or another install path) is replaced. */
  refreshHooks(): number {
    if (!fs.existsSync(this.root)) return 0;
    let count = 0;
    for (const entry of fs.readdirSync(this.root, { withFileTypes: true })) {
      const match = /^(.+)\.git$/.exec(entry.name);
      if (!entry.isDirectory() || !match || appNameProblem(match[1]!)) continue;
      installHook(path.join(this.root, entry.name));
      count++;
    }
    return count;
  }
}

function installHook(repo: string): void {
  const hooks = path.join(repo, 'hooks');
  const file = path.join(hooks, 'pre-receive');
  const script = hookScript();
  try {
    if (fs.readFileSync(file, 'utf8') === script) return;
  } catch {
    // missing: write it
  }
  fs.mkdirSync(hooks, { recursive: true });
  // Rename over the old one, so a push running right now sees a whole file.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, script, { mode: 0o755 });
  fs.renameSync(tmp, file);
}
