#!/usr/bin/env bash
# Build the Linux bundles (.deb and .rpm) with Tauri's bundler (the npm CLI,
# pinned in ui/package.json). The whatsapp-mcp helper ships beside the app as
# a Tauri externalBin (/usr/bin/whatsapp-mcp), so assistant configs point at a
# path that stays the same across updates.
#   installers/linux/build.sh [--debug]     (default: the `dist` profile, what we ship)
# Output: $CARGO_TARGET_DIR/<profile>/bundle/{deb,rpm}/
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
profile=dist
flags=()
cargo_flags=(-- --profile dist)
if [ "${1:-}" = "--debug" ]; then
  profile=debug
  flags=(--debug)
  cargo_flags=()
fi
target="${CARGO_TARGET_DIR:-$root/target}"
triple=$(rustc -vV | sed -n 's/^host: //p')
if [ "$profile" = dist ]; then
  cargo build --profile dist -p whatsapp-mcp
else
  cargo build -p whatsapp-mcp -p whatsapp-mcp-desktop --bins
fi
# Tauri wants the external binary as <name>-<target triple> beside its config;
# it is a build product, so it is not committed (see .gitignore).
mkdir -p src-tauri/binaries
cp "$target/$profile/whatsapp-mcp" "src-tauri/binaries/whatsapp-mcp-$triple"
(cd ui && { [ -d dist ] || npm run build; })
ui/node_modules/.bin/tauri build "${flags[@]}" --bundles deb,rpm --config installers/tauri.bundle.json "${cargo_flags[@]}"
ls -l "$target/$profile/bundle/deb/"*.deb "$target/$profile/bundle/rpm/"*.rpm
