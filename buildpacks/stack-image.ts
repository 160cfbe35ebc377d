// The stack image the buildpacks build and run apps in: shipoff/stack:<hash>,
// where <hash> is the first 12 hex digits of sha256 over the bytes of
// buildpacks/stack/packages followed by buildpacks/stack/build-stack-image.
// scripts/setup computes the same hash in bash and builds the image.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const STACK_IMAGE_REPOSITORY = "shipoff/stack";
const RECIPE_FILES = ["buildpacks/stack/packages", "buildpacks/stack/build-stack-image"] as const;

/** The repository root: the nearest directory above this module (compiled to
 * dist/buildpacks/stack-image.js) holding package.json and the stack recipe. */
export function findRepoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, RECIPE_FILES[0]))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no Shipoff repository (package.json and ${RECIPE_FILES[0]}) above ${from}`);
    dir = parent;
  }
}

/** First 12 hex digits of sha256(packages ++ build-stack-image). */
export function stackRecipeHash(repoRoot: string = findRepoRoot()): string {
  const hash = createHash("sha256");
  for (const file of RECIPE_FILES) hash.update(readFileSync(join(repoRoot, file)));
  return hash.digest("hex").slice(0, 12);
}

/** `shipoff/stack:<hash>` for the recipe in this checkout. */
export function stackImageRef(repoRoot?: string): string {
  return `${STACK_IMAGE_REPOSITORY}:${stackRecipeHash(repoRoot)}`;
}
