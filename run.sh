#!/bin/sh
# Started by SyftBox (`$SHELL -lc 'exec <app>/run.sh'`, once: it never restarts
# an app that exits; stdout and stderr go to logs/app.log) or by hand. So it
# never exits over a problem the user can fix: it says what is wrong in one
# line and waits.
#  1. Waits until the app folder is complete (a clone or copy may still run).
#  2. Finds Node.js 20.10 or newer: on PATH, then through nvm ($NVM_DIR/nvm.sh,
#     default ~/.nvm), then in the usual install folders (NODE_SEARCH_PATH, a
#     colon-separated list, replaces those), again every NODE_RETRY_SECONDS
#     (default 30) until one is there. SyftBox's PATH often lacks Node:
#     a login shell whose .bashrc returns early skips nvm, and the client drops
#     PATH entries containing env/bin, conda, pyenv or .virtualenvs.
#  3. Installs dependencies when package-lock.json changed since the last install.
#  4. Replaces itself with one long-running Node process (`cli app`), which
#     picks its role (aggregator and/or participant) from the client config and .env:
#     the production build dist/cli.js (`npm run build`) when no file in src/ is
#     newer than it, else the sources through tsx.
set -u

case "$0" in */*) cd "${0%/*}" || exit 1 ;; esac
HOME=${HOME:-}
ORIGINAL_PATH=${PATH:-}
# The shell tools below (sleep, sed, ...) must work even with an empty PATH.
PATH="${ORIGINAL_PATH:+$ORIGINAL_PATH:}/usr/bin:/bin"
export PATH

say() { printf 'run.sh: %s\n' "$*"; }

# ---- 1. a complete app folder
REQUIRED_FILES="package.json package-lock.json tsconfig.json src/cli.ts data/catalog.json ui/index.html"
incomplete() {
  [ -e .git/index.lock ] && return 0 # git is still checking files out
  for file in $REQUIRED_FILES; do [ -f "$file" ] || return 0; done
  return 1
}
if incomplete; then
  say "the app folder $(pwd) is not complete yet (still being cloned or copied?); waiting for it"
  while incomplete; do sleep 5; done
fi

# ---- 2. Node.js
MIN_NODE=20.10
NODE_CHECK='const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 10) ? 0 : 1)'
NVM_HOME=${NVM_DIR:-${HOME:+$HOME/.nvm}}
DEFAULT_NODE_DIRS="${HOME:+$HOME/.volta/bin:$HOME/.local/share/fnm/aliases/default/bin:$HOME/n/bin:$HOME/.asdf/shims:$HOME/.local/share/mise/shims:$HOME/.local/bin:}/opt/homebrew/bin:/usr/local/bin:/opt/local/bin:/usr/bin:/bin:/snap/bin"

# consider <path>: use it if it is a Node.js new enough; remember the first one that is too old
consider() {
  [ -z "$NODE" ] && [ -x "$1" ] || return 0
  if "$1" -e "$NODE_CHECK" >/dev/null 2>&1; then
    NODE=$1
  elif [ -z "$TOO_OLD" ]; then
    TOO_OLD="$("$1" -v 2>/dev/null || echo 'an unknown version') at $1"
  fi
}

# consider_dirs <colon-separated folders>
consider_dirs() {
  saved_ifs=$IFS
  IFS=:
  for dir in $1; do [ -n "$dir" ] && consider "$dir/node"; done
  IFS=$saved_ifs
}

find_node() {
  NODE=
  TOO_OLD=
  consider_dirs "$ORIGINAL_PATH"
  if [ -z "$NODE" ] && [ -n "$NVM_HOME" ] && [ -s "$NVM_HOME/nvm.sh" ]; then
    # nvm.sh selects its default version; a subshell keeps everything else it does out of this script
    via_nvm=$(set +u; NVM_DIR=$NVM_HOME; export NVM_DIR; . "$NVM_HOME/nvm.sh" >/dev/null 2>&1; command -v node 2>/dev/null)
    case "$via_nvm" in "$NVM_HOME"/*) consider "$via_nvm" ;; esac
    # no default alias: the newest installed version that is new enough (last in version order for 2-digit majors)
    newest=
    for candidate in "$NVM_HOME"/versions/node/*/bin/node; do
      [ -x "$candidate" ] && "$candidate" -e "$NODE_CHECK" >/dev/null 2>&1 && newest=$candidate
    done
    [ -n "$newest" ] && consider "$newest"
  fi
  consider_dirs "${NODE_SEARCH_PATH-$DEFAULT_NODE_DIRS}"
  [ -n "$NODE" ]
}

if ! find_node; then
  say "cannot find Node.js $MIN_NODE or newer (looked on PATH, through nvm in ${NVM_HOME:-~/.nvm}, and in ${NODE_SEARCH_PATH-the usual install folders})${TOO_OLD:+; found $TOO_OLD, which is too old}: install Node.js 22 LTS from https://nodejs.org (or: nvm install 22); the app starts by itself once it is installed"
  until sleep "${NODE_RETRY_SECONDS:-30}" && find_node; do :; done
fi
PATH="${NODE%/*}:$PATH"
export PATH
say "using Node.js $("$NODE" -v) at $NODE"

# ---- 3. dependencies
stamp=node_modules/.install-stamp
want=$("$NODE" -e 'const c=require("crypto"),f=require("fs");process.stdout.write(c.createHash("sha256").update(f.readFileSync("package-lock.json")).digest("hex"))')
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # Installed by hand already (npm install)? Then only record the stamp.
  if ! "$NODE" -e 'for (const d of Object.keys(require("./package.json").dependencies)) require("fs").statSync("node_modules/" + d + "/package.json")' 2>/dev/null || [ -f "$stamp" ]; then
    say "installing dependencies (first run or package-lock.json changed)"
    until npm ci --no-audit --no-fund; do
      say "npm ci failed (offline?); trying again in 60 s"
      sleep 60
    done
  fi
  printf '%s' "$want" > "$stamp"
fi

# ---- 4. the app
if [ -f dist/cli.js ] && [ -z "$(find src -newer dist/cli.js 2>/dev/null | head -n 1)" ]; then
  exec "$NODE" dist/cli.js app "$@"
fi
exec "$NODE" --import tsx src/cli.ts app "$@"
