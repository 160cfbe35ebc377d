// scripts/setup and the stack image it builds: real Docker, real bash, no mocks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, mkdir, copyFile, writeFile, appendFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { findRepoRoot, stackImageRef, stackRecipeHash } from "../buildpacks/stack-image.js";

const run = promisify(execFile);
const repoRoot = findRepoRoot();

test("the stack image exists in the Docker engine with Shipoff's labels", async () => {
  const ref = stackImageRef();
  assert.match(ref, /^shipoff\/stack:[0-9a-f]{12}$/);
  const { stdout } = await run("docker", ["image", "inspect", "--format", "{{json .Config.Labels}}", ref]);
  const labels = JSON.parse(stdout) as Record<string, string> | null;
  assert.ok(labels, `${ref} has no labels`);
  assert.equal(labels["com.shipoff.managed"], "true");
  assert.equal(labels["com.shipoff.stack"], stackRecipeHash());
});

test("the stack image runs Node.js, Python 3 with venv, PHP and git", { timeout: 120_000 }, async () => {
  const script = [
    "set -e",
    "node --version",
    "python3 --version",
    "python3 -m venv /tmp/venv",
    "/tmp/venv/bin/python -c 'import sys; print(\"venv\", sys.prefix)'",
    "php --version | head -1",
    "git --version",
    "pwd",
  ].join("\n");
  const { stdout } = await run("docker", ["run", "--rm", stackImageRef(), "sh", "-c", script], {
    timeout: 110_000,
  });
  const lines = stdout.trim().split("\n");
  assert.match(lines[0] ?? "", /^v\d+\.\d+\.\d+$/, "node --version");
  assert.match(lines[1] ?? "", /^Python 3\.\d+/, "python3 --version");
  assert.equal(lines[2], "venv /tmp/venv", "python3 -m venv");
  assert.match(lines[3] ?? "", /^PHP \d+\.\d+/, "php --version");
  assert.match(lines[4] ?? "", /^git version \d+/, "git --version");
  assert.equal(lines[5], "/app", "WORKDIR");
});

test("scripts/setup run again is quick and rebuilds nothing", { timeout: 120_000 }, async () => {
  const started = Date.now();
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn("bash", [join(repoRoot, "scripts/setup")], {
      cwd: repoRoot,
      env: { ...process.env, SHIPOFF_SETUP_SKIP_BUILD: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
  const seconds = (Date.now() - started) / 1000;
  assert.equal(code, 0, `scripts/setup failed:\n${output}`);
  assert.match(output, /npm dependencies: up to date/, output);
  assert.match(output, /Docker engine: running/, output);
  assert.match(output, /PostgreSQL binaries: present/, output);
  // Same tag from bash and from TypeScript: the two hash implementations agree.
  assert.ok(output.includes(`Stack image: ${stackImageRef()} present`), output);
  assert.doesNotMatch(output, /installing|building|starting dockerd/i, output);
  assert.ok(seconds < 30, `scripts/setup took ${seconds}s`);
});

test("stackRecipeHash follows the recipe files' contents", async () => {
  const dir = await mkdtemp(join(tmpdir(), "shipoff-recipe-"));
  try {
    await mkdir(join(dir, "buildpacks/stack"), { recursive: true });
    await writeFile(join(dir, "package.json"), "{}\n");
    for (const file of ["buildpacks/stack/packages", "buildpacks/stack/build-stack-image"]) {
      await copyFile(join(repoRoot, file), join(dir, file));
    }
    const original = stackRecipeHash(dir);
    assert.equal(original, stackRecipeHash(), "a copy of the recipe hashes the same");
    assert.match(original, /^[0-9a-f]{12}$/);

    await appendFile(join(dir, "buildpacks/stack/packages"), "jq\n");
    const changed = stackRecipeHash(dir);
    assert.notEqual(changed, original, "adding a package changes the hash");

    await appendFile(join(dir, "buildpacks/stack/build-stack-image"), "# tweak\n");
    assert.notEqual(stackRecipeHash(dir), changed, "changing the build script changes the hash");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
