# Shared by the scripts in this folder: paths and tool locations.  Source it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Tools that are not cargo binaries live outside the checkout, so clean clones reuse them.
TOOLS_DIR="${YEW_SIMPLEJWT_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/yew-simplejwt}"
VENV="$ROOT/backend/.venv"
PYTHON="$VENV/bin/python"
export PATH="$TOOLS_DIR/binaryen/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export TRUNK_SKIP_VERSION_CHECK=true
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"

TRUNK_VERSION=0.21.14
BINARYEN_VERSION=132.0.0
DEMO_USER="${DEMO_USER:-demo}"
DEMO_PASSWORD="${DEMO_PASSWORD:-demo-password}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# The wasm-bindgen version Cargo.lock pins: the CLI must be exactly that version.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}
