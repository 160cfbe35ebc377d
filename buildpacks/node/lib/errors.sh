# shellcheck shell=bash
# Failures a user can fix: every line starts with " !     ", names the file
# and says what to do, and the build stops with status 1.

fail() {
  local line
  for line in "$@"; do warn "$line"; done
  exit 1
}

# explain_install_failure LOG MANAGER LOCKFILE: turns the package manager's
# own error (kept in LOG) into one that says what to change, when it is a
# failure we recognise; prints nothing otherwise.
explain_install_failure() {
  local log="$1" manager="$2" lockfile="$3" missing
  # A dependency the registry does not have (E404).
  missing="$(grep -oE "'[^' ]+' (is not in (this|the npm) registry|could not be found)" "$log" | head -n 1 | cut -d"'" -f2)" || true
  [[ -n "$missing" ]] || missing="$(grep -oE 'ERR_PNPM_FETCH_404 +GET [^ ]+' "$log" | head -n 1 | sed 's#.*/##; s#:$##; s#%2[fF]#/#')" || true
  [[ -n "$missing" ]] || missing="$(grep -oE 'YN0035: .*[^ ]+@npm:[^ :]+: Package not found' "$log" | head -n 1 | sed -E 's/.* ([^ ]+@npm:[^ :]+): .*/\1/')" || true
  [[ -n "$missing" ]] || missing="$(grep -oE 'Couldn.t find package "[^"]+"' "$log" | head -n 1 | cut -d'"' -f2)" || true
  if [[ -n "$missing" ]]; then
    fail "The dependency $missing does not exist in the npm registry (E404)." \
      "Check its name and version in package.json, update $lockfile, and push again."
  fi
  # The lockfile does not match package.json.
  if grep -qE 'can only install packages when your package\.json and (package-lock\.json|npm-shrinkwrap\.json)|ERR_PNPM_OUTDATED_LOCKFILE|Your lockfile needs to be updated|YN0028' "$log"; then
    local fix="npm install"
    case "$manager" in yarn | berry) fix="yarn install" ;; pnpm) fix="pnpm install" ;; esac
    fail "$lockfile is out of sync with package.json: the dependencies listed differ." \
      "Run \`$fix\` locally, commit the updated $lockfile, and push again."
  fi
}
