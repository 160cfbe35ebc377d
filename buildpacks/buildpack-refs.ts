// Which buildpacks an app chose, when it chose: the BUILDPACK_URL config var
// (one buildpack), else a `.buildpacks` file in the repository (several, run
// in order, as Heroku's multi buildpack does). A reference is one of ours by
// name (`node`, `heroku/nodejs`), a git URL (https, http or git, with an
// optional `#ref`), or a path on the host under the operator's buildpacks
// directory (a buildpack directory, or a git repository to clone).
//
// References are user input: they never reach a shell, and a host path must
// stay inside the buildpacks directory, so an app cannot borrow another app's
// repository or any other file of the host as a "buildpack".
import { existsSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { ShipoffError } from '../core/errors.js';
import { BUILDPACKS, type Buildpack } from './registry.js';

export type BuildpackRef =
  | { kind: 'builtin'; text: string; buildpack: Buildpack }
  | { kind: 'git'; text: string; url: string; ref: string | undefined }
  | { kind: 'dir'; text: string; path: string };

export interface ChosenBuildpacks {
  /** Where the choice came from, for messages: "BUILDPACK_URL" or ".buildpacks". */
  source: string;
  refs: BuildpackRef[];
}

const MAX_BUILDPACKS = 10;
const MAX_REF_LENGTH = 500;
const GIT_REF = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/;
const REMOTE_URL = /^(https?|git):\/\/[^\s/?#]+[^\s]*$/;

/** Names users know from Heroku map to ours. */
const ALIASES: Record<string, string> = {
  nodejs: 'node',
  'heroku/nodejs': 'node',
  'heroku/python': 'python',
  'heroku/php': 'php',
  'heroku/static': 'static',
  'heroku-community/static': 'static',
};

export function builtinByName(name: string): Buildpack | undefined {
  const dir = ALIASES[name] ?? name;
  return BUILDPACKS.find((bp) => bp.dir === dir);
}

/**
 * The app's choice of buildpacks, or undefined to detect. `buildpacksFile` is
 * the text of the repository's `.buildpacks`, if it has one.
 */
export function chosenBuildpacks(
  env: Record<string, string>,
  buildpacksFile: string | null,
  localRoot: string | undefined,
): ChosenBuildpacks | undefined {
  const url = env.BUILDPACK_URL?.trim();
  if (url) return { source: 'BUILDPACK_URL', refs: [parseBuildpackRef(url, 'BUILDPACK_URL', localRoot)] };
  if (buildpacksFile === null) return undefined;
  const lines = buildpacksFile
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (lines.length === 0) return undefined;
  if (lines.length > MAX_BUILDPACKS) {
    throw new ShipoffError('SHIPOFF_BUILDPACK_INVALID', { source: '.buildpacks', ref: lines[MAX_BUILDPACKS]!, reason: `at most ${MAX_BUILDPACKS} buildpacks can run in one build` });
  }
  return { source: '.buildpacks', refs: lines.map((line) => parseBuildpackRef(line, '.buildpacks', localRoot)) };
}

/** LOCALROOT: the directory local buildpack paths must lie in; undefined: none are taken. */
export function parseBuildpackRef(text: string, source: string, localRoot: string | undefined): BuildpackRef {
  const invalid = (reason: string) => new ShipoffError('SHIPOFF_BUILDPACK_INVALID', { source, ref: text.slice(0, 100), reason });
  if (text.length > MAX_REF_LENGTH) throw invalid(`it is longer than ${MAX_REF_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\0-\x1f\x7f]/.test(text)) throw invalid('it holds control characters');

  const builtin = builtinByName(text);
  if (builtin) return { kind: 'builtin', text, buildpack: builtin };

  const hash = text.indexOf('#');
  const location = hash === -1 ? text : text.slice(0, hash);
  const ref = hash === -1 ? undefined : text.slice(hash + 1);
  if (ref !== undefined && (!GIT_REF.test(ref) || ref.includes('..'))) throw invalid(`"#${ref}" is not a branch, tag or commit name`);

  if (REMOTE_URL.test(location)) return { kind: 'git', text, url: location, ref };
  if (location.startsWith('file://') || isAbsolute(location)) {
    if (localRoot === undefined) throw invalid('this build takes no buildpacks from the host; use a git URL');
    const path = insideRoot(decodeFileUrl(location), localRoot, invalid);
    // A repository is cloned, so what runs is what was committed (at #ref).
    if (isGitRepository(path) || ref !== undefined) return { kind: 'git', text, url: path, ref };
    if (isBuildpackDir(path)) return { kind: 'dir', text, path };
    throw invalid('it is neither a git repository nor a directory with bin/detect and bin/compile');
  }
  const names = BUILDPACKS.map((bp) => bp.dir).join(', ');
  throw invalid(`use one of Shipoff's buildpacks (${names}), an https:// or git:// URL${localRoot ? `, or a path under ${localRoot}` : ''}`);
}

function decodeFileUrl(location: string): string {
  if (!location.startsWith('file://')) return location;
  try {
    return decodeURIComponent(new URL(location).pathname);
  } catch {
    return location.slice('file://'.length);
  }
}

/** The real path of `path`, which must exist and lie inside `root`. */
function insideRoot(path: string, root: string, invalid: (reason: string) => Error): string {
  let real: string;
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch {
    throw invalid(`local buildpacks must be under ${root}, which does not exist`);
  }
  try {
    real = realpathSync(path);
  } catch {
    throw invalid(`${path} does not exist`);
  }
  const rel = relative(realRoot, real);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw invalid(`local buildpacks must be under ${root}`);
  return real;
}

function isGitRepository(path: string): boolean {
  return existsSync(join(path, '.git')) || (existsSync(join(path, 'HEAD')) && existsSync(join(path, 'objects')));
}

function isBuildpackDir(path: string): boolean {
  try {
    return statSync(`${path}/bin/compile`).isFile() && statSync(`${path}/bin/detect`).isFile();
  } catch {
    return false;
  }
}

/** How a reference shows in output: the URL or path without credentials. */
export function describeRef(ref: BuildpackRef): string {
  if (ref.kind === 'builtin') return ref.buildpack.name;
  return ref.text.replace(/\/\/[^/@]*@/, '//');
}
