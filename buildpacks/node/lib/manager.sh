# shellcheck shell=bash
# Which package manager installs the dependencies, from the lockfile and
# package.json "packageManager", and how each one installs, prunes and runs
# scripts. MANAGER is one of npm, yarn (classic, 1.x), berry (yarn 2+), pnpm.
# Needs: BUILD_DIR, PM_NAME, PM_VERSION (from package.json), errors.sh.

# Sets MANAGER and LOCKFILE ("" without one).
detect_manager() {
  local found=() name from_lock=""
  for name in package-lock.json npm-shrinkwrap.json yarn.lock pnpm-lock.yaml; do
    if [[ -L "$BUILD_DIR/$name" ]]; then
      fail "$name is a symbolic link." "Commit the lockfile itself and push again."
    fi
    if [[ -e "$BUILD_DIR/$name" ]]; then found+=("$name"); fi
  done
  if ((${#found[@]} > 1)); then
    fail "Several lockfiles found: ${found[*]}." \
      "They would install different dependency trees. Keep the one of the package manager you use, delete the others (git rm), and push again."
  fi
  LOCKFILE="${found[0]:-}"
  case "$LOCKFILE" in
    package-lock.json | npm-shrinkwrap.json) from_lock=npm ;;
    pnpm-lock.yaml) from_lock=pnpm ;;
    # Yarn 2+ lockfiles start with a __metadata entry; classic ones do not.
    yarn.lock) if grep -q '^__metadata:' "$BUILD_DIR/yarn.lock"; then from_lock=berry; else from_lock=yarn; fi ;;
  esac

  local from_pm=""
  case "$PM_NAME" in
    "") ;;
    npm | pnpm) from_pm="$PM_NAME" ;;
    yarn) if [[ "$PM_VERSION" =~ ^v?1\. ]]; then from_pm=yarn; else from_pm=berry; fi ;;
    *) fail "package.json \"packageManager\" names $PM_NAME, which this buildpack does not support." \
      "Use npm, yarn or pnpm (for example \"pnpm@10.12.1\"), or remove the field, and push again." ;;
  esac
  if [[ -n "$from_pm" && -n "$from_lock" && "${from_pm/berry/yarn}" != "${from_lock/berry/yarn}" ]]; then
    fail "package.json \"packageManager\" says $PM_NAME@$PM_VERSION, but the lockfile is $LOCKFILE." \
      "Keep the lockfile of the manager you use (or change \"packageManager\") and push again."
  fi
  # packageManager picks the yarn major; the lockfile picks it otherwise.
  MANAGER="${from_pm:-${from_lock:-npm}}"
}

describe_manager() {
  case "$MANAGER" in
    npm) printf 'npm' ;;
    yarn) printf 'yarn (classic)' ;;
    berry) printf 'yarn (berry)' ;;
    pnpm) printf 'pnpm' ;;
  esac
}

# Where each manager keeps downloaded packages: CACHE_DIR, so a changed
# lockfile downloads only what changed. Yarn berry with Plug'n'Play reads
# packages from its cache at run time, so that cache stays in the app.
configure_store() {
  local store="$1"
  export npm_config_cache="$store/npm"
  export YARN_CACHE_FOLDER="$store/yarn"
  # pnpm reads these from the environment; set only for pnpm, since npm
  # warns about settings it does not know.
  if [[ "$MANAGER" == pnpm ]]; then
    export npm_config_store_dir="$store/pnpm" npm_config_manage_package_manager_versions=false
  fi
  if [[ "$MANAGER" == berry ]]; then
    if berry_uses_pnp; then
      export YARN_ENABLE_GLOBAL_CACHE=false
      unset YARN_CACHE_FOLDER
    else
      export YARN_ENABLE_GLOBAL_CACHE=true YARN_GLOBAL_FOLDER="$store/berry"
      unset YARN_CACHE_FOLDER
    fi
  fi
}

berry_uses_pnp() {
  ! grep -qE '^nodeLinker:[[:space:]]*["'\'']?(node-modules|pnpm)' "$BUILD_DIR/.yarnrc.yml" 2>/dev/null
}

# Sets INSTALL (the command array). DEV is true when devDependencies are
# needed for the build. NODE_ENV=production is exported, so every manager is
# told explicitly whether to install them.
install_command() {
  local dev="$1"
  case "$MANAGER" in
    npm)
      local deps=--omit=dev
      if [[ "$dev" == true ]]; then deps=--include=dev; fi
      if [[ -n "$LOCKFILE" ]]; then INSTALL=(npm ci "$deps"); else INSTALL=(npm install "$deps"); fi
      ;;
    yarn)
      INSTALL=(yarn install --non-interactive "--production=$([[ "$dev" == true ]] && echo false || echo true)")
      if [[ -n "$LOCKFILE" ]]; then INSTALL+=(--frozen-lockfile); fi
      ;;
    berry)
      # Yarn 2+ always installs devDependencies; they are pruned after the build.
      INSTALL=(yarn install)
      if [[ -n "$LOCKFILE" ]]; then INSTALL+=(--immutable); fi
      ;;
    pnpm)
      INSTALL=(pnpm install "--prod=$([[ "$dev" == true ]] && echo false || echo true)")
      if [[ -n "$LOCKFILE" ]]; then INSTALL+=(--frozen-lockfile); fi
      ;;
  esac
}

# Sets PRUNE: removes devDependencies after the build.
prune_command() {
  case "$MANAGER" in
    npm) PRUNE=(npm prune --omit=dev) ;;
    yarn) PRUNE=(yarn install --non-interactive --production=true --ignore-scripts --prefer-offline) ;;
    berry) PRUNE=(yarn workspaces focus --all --production) ;;
    pnpm) PRUNE=(pnpm prune --prod --ignore-scripts) ;;
  esac
  if [[ "$MANAGER" == yarn && -n "$LOCKFILE" ]]; then PRUNE+=(--frozen-lockfile); fi
}

# shellcheck disable=SC2034 # RUN is used by bin/compile
run_script_command() {
  case "$MANAGER" in
    npm) RUN=(npm run "$1") ;;
    yarn | berry) RUN=(yarn run "$1") ;;
    pnpm) RUN=(pnpm run "$1") ;;
  esac
}
