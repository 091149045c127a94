#!/usr/bin/env bash
# Build this system's release bundles, sign them for the updater, and copy
# them into dist/ (used by .github/workflows/release.yml on Linux, Windows and
# macOS runners; runs the same by hand on any of them).
#   installers/release/build.sh            (the `dist` profile: release, sized)
# Needs: TAURI_SIGNING_PRIVATE_KEY (and _PASSWORD if the key has one). Without
# the key it still builds the installers, but no updater signatures.
# Output: dist/<bundles>, dist/<bundle>.sig, dist/updater-packages.txt
# (lines TARGET=FILE for installers/updates/latest-json.py).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
triple=$(rustc -vV | sed -n 's/^host: //p')
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
exe=""
case "$triple" in *windows*) exe=".exe" ;; esac
case "$triple" in
  *linux*) bundles=deb,rpm,appimage; os=linux ;;
  *windows*) bundles=msi,nsis; os=windows ;;
  *apple*) bundles=app,dmg; os=darwin ;;
  *) echo "release/build.sh: no bundles for $triple" >&2; exit 1 ;;
esac
arch=${triple%%-*}

cargo build --profile dist --locked -p whatsapp-mcp
mkdir -p src-tauri/binaries
cp "$target/dist/whatsapp-mcp$exe" "src-tauri/binaries/whatsapp-mcp-$triple$exe"
(cd ui && npm ci --no-audit --no-fund && npm run build)
configs=(--config installers/tauri.bundle.json)
if [ -n "${TAURI_SIGNING_PRIVATE_KEY:-}" ]; then
  configs+=(--config installers/release/updater.bundle.json)
else
  echo "release/build.sh: TAURI_SIGNING_PRIVATE_KEY is not set: installers only, no update signatures" >&2
fi
ui/node_modules/.bin/tauri build --bundles "$bundles" "${configs[@]}" -- --profile dist

rm -rf dist && mkdir -p dist
bundle_dir="$target/dist/bundle"
: > dist/updater-packages.txt
# The updater installs these files (one per installer kind); each is signed
# again with the version bound into the signature (--app-version), which the
# app requires (requireSignedVersion).
# Names without spaces (GitHub turns them into dots, which would break the
# manifest's URLs); the macOS archive gets its architecture (both Macs build one).
add() { # add TARGET FILE [NAME]
  local name
  name=$(basename "${3:-$2}")
  name=${name// /_}
  cp "$2" "dist/$name"
  if [ -n "${TAURI_SIGNING_PRIVATE_KEY:-}" ]; then
    ui/node_modules/.bin/tauri signer sign --app-version "$version" "dist/$name" >/dev/null
    echo "$1=dist/$name" >> dist/updater-packages.txt
  fi
}
shopt -s nullglob
case "$os" in
  linux)
    for f in "$bundle_dir"/deb/*.deb; do add "linux-$arch-deb" "$f"; done
    for f in "$bundle_dir"/rpm/*.rpm; do add "linux-$arch-rpm" "$f"; done
    for f in "$bundle_dir"/appimage/*.AppImage; do add "linux-$arch-appimage" "$f"; add "linux-$arch" "$f"; done
    ;;
  windows)
    for f in "$bundle_dir"/msi/*.msi; do add "windows-$arch-msi" "$f"; done
    for f in "$bundle_dir"/nsis/*-setup.exe; do add "windows-$arch-nsis" "$f"; add "windows-$arch" "$f"; done
    ;;
  darwin)
    for f in "$bundle_dir"/dmg/*.dmg; do n=$(basename "$f"); cp "$f" "dist/${n// /_}"; done
    # The updater replaces the .app from its archive.
    for f in "$bundle_dir"/macos/*.app.tar.gz; do
      add "darwin-$arch-app" "$f" "WhatsApp_MCP_Desktop_${version}_$arch.app.tar.gz"
      add "darwin-$arch" "$f" "WhatsApp_MCP_Desktop_${version}_$arch.app.tar.gz"
    done
    ;;
esac
# The Claude Desktop extension for this system.
installers/mcpb/build.sh "$target/dist/whatsapp-mcp$exe" "dist/whatsapp-mcp-desktop-$os-$arch.mcpb"
sort -u -o dist/updater-packages.txt dist/updater-packages.txt
ls -l dist
