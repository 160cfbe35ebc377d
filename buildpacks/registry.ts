// The buildpacks Shipoff ships, in detection order: the first whose
// bin/detect exits 0 builds the app. `looksFor` is what its detect checks,
// for the message when nothing matched.
import { join } from 'node:path';
import { findRepoRoot } from './stack-image.js';

export interface Buildpack {
  /** Shown as "-----> <name> app detected" (bin/detect prints the same). */
  readonly name: string;
  /** Directory under buildpacks/ holding bin/{detect,compile,release}. */
  readonly dir: string;
  readonly looksFor: string;
}

export const BUILDPACKS: readonly Buildpack[] = Object.freeze([
  { name: 'Node.js', dir: 'node', looksFor: 'package.json' },
  { name: 'Python', dir: 'python', looksFor: 'requirements.txt, pyproject.toml, Pipfile, poetry.lock, uv.lock, setup.py' },
  { name: 'PHP', dir: 'php', looksFor: 'composer.json, index.php' },
  { name: 'Static site', dir: 'static', looksFor: 'index.html, static.json' },
]);

/** "package.json (Node.js), index.html (Static site)" */
export function describeDetection(buildpacks: readonly Buildpack[] = BUILDPACKS): string {
  return buildpacks.map((bp) => `${bp.looksFor} (${bp.name})`).join(', ');
}

/** The host directory bind-mounted into build containers: buildpacks/ in the repository. */
export function buildpacksHostDir(repoRoot: string = findRepoRoot()): string {
  return join(repoRoot, 'buildpacks');
}
