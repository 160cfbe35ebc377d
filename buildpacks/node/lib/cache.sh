# shellcheck shell=bash
# The dependency cache in CACHE_DIR/node:
#   deps/signature   what the saved directories were built with (one "key value" a line)
#   deps/dirs/PATH   the saved cacheDirectories (default: node_modules), before pruning
#   store/           the package manager's download store, with its own signature
# The deps signature covers the stack, node, the manager and its version, the
# lockfile and the dev/prod choice: when it matches, a restored node_modules is
# exactly what an install would produce, so the install is skipped. The store
# is content-addressed and survives lockfile changes; it is cleared only when
# the stack, node or the manager change.
# Needs: BUILD_DIR, CACHE_DIR.

NODE_CACHE="$CACHE_DIR/node"

# The stack: its package database changes whenever a stack package does, and
# compiled addons in node_modules depend on those libraries.
stack_id() { sha256sum /var/lib/dpkg/status 2>/dev/null | cut -c1-16; }

# Prints the signature of this build.
deps_signature() {
  local dev="$1" lock_sum="none"
  if [[ -n "$LOCKFILE" ]]; then lock_sum="$(sha256sum "$BUILD_DIR/$LOCKFILE" | cut -c1-16)"; fi
  printf 'stack %s\nnode %s\nmanager %s %s\nlockfile %s %s\ndevDependencies %s\ndirs %s\n' \
    "$(stack_id)" "$NODE_VERSION" "$MANAGER" "$MANAGER_VERSION" "${LOCKFILE:-none}" "$lock_sum" "$dev" "${CACHE_DIRS[*]}"
}

# The first line that differs between two signatures, said as a reason.
signature_change() {
  local old="$1" new="$2" key
  key="$(diff <(printf '%s\n' "$old") <(printf '%s\n' "$new") | grep -m1 '^>' | cut -d' ' -f2)" || true
  case "$key" in
    stack) printf 'the stack changed' ;;
    node) printf 'node changed: %s -> %s' "$(grep '^node ' <<<"$old" | cut -d' ' -f2)" "$NODE_VERSION" ;;
    manager) printf 'package manager changed: %s -> %s %s' "$(grep '^manager ' <<<"$old" | cut -d' ' -f2-)" "$MANAGER" "$MANAGER_VERSION" ;;
    lockfile) printf '%s changed' "${LOCKFILE:-the lockfile}" ;;
    devDependencies) printf 'devDependencies are needed now: %s' "$(grep '^devDependencies ' <<<"$new" | cut -d' ' -f2)" ;;
    dirs) printf 'cacheDirectories changed' ;;
    *) printf 'it was made by another version of this buildpack' ;;
  esac
}

# Sets STORE (where the manager keeps downloads) and clears it when it was
# made for another stack, node or manager.
prepare_store() {
  local wanted
  if [[ "$CACHE_ENABLED" != true ]]; then
    # Off means off: a private store that is gone after the build.
    STORE="$(mktemp -d)"
    rm -rf "$NODE_CACHE/deps" "$NODE_CACHE/store"
    return 0
  fi
  STORE="$NODE_CACHE/store"
  wanted="$(deps_signature - | grep -E '^(stack|node|manager) ')"
  if [[ "$(cat "$STORE/.signature" 2>/dev/null)" != "$wanted" ]]; then
    rm -rf "$STORE"
    mkdir -p "$STORE"
    printf '%s\n' "$wanted" >"$STORE/.signature"
  fi
}

# Restores the saved directories when the signature matches. Sets
# NODE_MODULES_RESTORED=true when node_modules came back.
restore_cache() {
  local dev="$1" saved wanted dir
  NODE_MODULES_RESTORED=false
  if [[ "$CACHE_ENABLED" != true ]]; then
    heading "Cache: not restored (NODE_MODULES_CACHE=false)"
    return 0
  fi
  wanted="$(deps_signature "$dev")"
  if [[ ! -f "$NODE_CACHE/deps/signature" ]]; then
    heading "Cache: not restored (no cache yet: the first build)"
    return 0
  fi
  saved="$(cat "$NODE_CACHE/deps/signature")"
  if [[ "$saved" != "$wanted" ]]; then
    heading "Cache: not restored ($(signature_change "$saved" "$wanted"))"
    return 0
  fi
  heading "Restoring cache"
  for dir in "${CACHE_DIRS[@]}"; do
    if [[ ! -e "$NODE_CACHE/deps/dirs/$dir" ]]; then
      info "$dir: not in the cache"
    elif [[ -e "$BUILD_DIR/$dir" || -L "$BUILD_DIR/$dir" ]]; then
      # Committed to the repository: the app's own copy wins.
      info "$dir: kept the app's own (not restored)"
    else
      mkdir -p "$(dirname "$BUILD_DIR/$dir")"
      cp -a "$NODE_CACHE/deps/dirs/$dir" "$BUILD_DIR/$dir"
      info "$dir: restored"
      if [[ "$dir" == node_modules ]]; then NODE_MODULES_RESTORED=true; fi
    fi
  done
}

# Saves the cached directories (called after the build, before pruning, so
# the next build finds devDependencies too). An unchanged node_modules that
# came from the cache is moved over instead of copied again.
save_cache() {
  local dev="$1" dir new="$NODE_CACHE/deps.new"
  if [[ "$CACHE_ENABLED" != true ]]; then
    heading "Cache: not saved (NODE_MODULES_CACHE=false)"
    return 0
  fi
  heading "Caching ${CACHE_DIRS[*]}"
  rm -rf "$new"
  mkdir -p "$new/dirs"
  for dir in "${CACHE_DIRS[@]}"; do
    [[ -e "$BUILD_DIR/$dir" && ! -L "$BUILD_DIR/$dir" ]] || continue
    mkdir -p "$(dirname "$new/dirs/$dir")"
    if [[ "$dir" == node_modules && "$NODE_MODULES_RESTORED" == true && -d "$NODE_CACHE/deps/dirs/$dir" ]]; then
      mv "$NODE_CACHE/deps/dirs/$dir" "$new/dirs/$dir"
      info "$dir: unchanged"
    else
      cp -a "$BUILD_DIR/$dir" "$new/dirs/$dir"
      info "$dir: saved"
    fi
  done
  deps_signature "$dev" >"$new/signature"
  rm -rf "$NODE_CACHE/deps"
  mv "$new" "$NODE_CACHE/deps"
}

# Layouts of earlier versions of this buildpack.
remove_old_cache_layout() {
  rm -rf "$NODE_CACHE/node_modules" "$NODE_CACHE/node_modules.new" "$NODE_CACHE/key" "$CACHE_DIR/npm"
}
