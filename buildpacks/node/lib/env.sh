# shellcheck shell=bash
# Config vars are visible to the package manager and build scripts (as on
# Heroku), except the ones that would change how the build itself runs.
export_env_dir() {
  local env_dir="$1" file key
  [[ -d "$env_dir" ]] || return 0
  for file in "$env_dir"/*; do
    [[ -f "$file" ]] || continue
    key="${file##*/}"
    [[ "$key" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    [[ "$key" =~ ^(PATH|HOME|GIT_DIR|CPATH|CPPATH|LD_PRELOAD|LD_LIBRARY_PATH|LIBRARY_PATH|LANG|BUILD_DIR|CACHE_DIR|ENV_DIR)$ ]] && continue
    export "$key=$(cat -- "$file")"
  done
}
