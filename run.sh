#!/bin/sh
# Started by SyftBox (once, never restarted) from the app folder, or by hand.
# Installs dependencies only when package-lock.json changed since the last
# install, then replaces itself with one long-running Node process that picks its
# role (aggregator and/or participant) from the SyftBox client config and .env.
set -eu
cd "$(dirname "$0")"

if ! command -v node >/dev/null 2>&1; then
  echo "run.sh: Node.js is not installed; install Node 20 or newer (https://nodejs.org)" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "run.sh: Node.js $(node -v) is too old; install Node 20 or newer" >&2
  exit 1
fi

stamp=node_modules/.install-stamp
want=$(node -e 'const c=require("crypto"),f=require("fs");process.stdout.write(c.createHash("sha256").update(f.readFileSync("package-lock.json")).digest("hex"))')
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # Installed by hand already (npm install)? Then only record the stamp.
  if ! node -e 'for (const d of Object.keys(require("./package.json").dependencies)) require("fs").statSync("node_modules/" + d + "/package.json")' 2>/dev/null || [ -f "$stamp" ]; then
    echo "run.sh: installing dependencies (first run or package-lock.json changed)"
    npm ci --no-audit --no-fund
  fi
  printf '%s' "$want" > "$stamp"
fi

exec node --import tsx src/cli.ts app "$@"
