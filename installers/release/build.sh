#!/usr/bin/env bash
# Build this system's release bundles, sign them for the updater, and copy
# them into dist/ (used by .github/workflows/release.yml on Linux and macOS
# runners; runs the same by hand on either).
#   installers/release/build.sh            (the `dist` profile: release, sized)
#   installers/release/build.sh windows    (on Linux: the Windows programs built
#     with mingw-w64 and the installer made by installers/windows/build.sh, as
#     ./dev test builds them; WEBVIEW2_BOOTSTRAPPER embeds Microsoft's bootstrapper)
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

sign() { # sign FILE: the updater's signature, bound to this version (--app-version)
  ui/node_modules/.bin/tauri signer sign --app-version "$version" "$1" >/dev/null
}

if [ "${1:-}" = windows ]; then
  # Windows from Linux: the same programs and installer script as the tests use.
  win=x86_64-pc-windows-gnu
  rustup target add "$win" >/dev/null
  (cd ui && npm ci --no-audit --no-fund && npm run build)
  cargo build --profile dist --locked --target "$win" -p whatsapp-mcp -p whatsapp-mcp-desktop \
    --features whatsapp-mcp-desktop/custom-protocol
  rm -rf dist && mkdir -p dist
  setup="dist/WhatsApp_MCP_Desktop_${version}_x64-setup.exe"
  installers/windows/build.sh "$target/$win/dist/whatsapp-mcp-desktop.exe" "$target/$win/dist/whatsapp-mcp.exe" "$setup"
  : > dist/updater-packages.txt
  if [ -n "${TAURI_SIGNING_PRIVATE_KEY:-}" ]; then
    sign "$setup"
    printf 'windows-x86_64-nsis=%s\nwindows-x86_64=%s\n' "$setup" "$setup" >> dist/updater-packages.txt
  else
    echo "release/build.sh: TAURI_SIGNING_PRIVATE_KEY is not set: installer only, no update signature" >&2
  fi
  installers/mcpb/build.sh "$target/$win/dist/whatsapp-mcp.exe" "dist/whatsapp-mcp-desktop-windows-x86_64.mcpb"
  ls -l dist
  exit 0
fi

case "$triple" in
  *linux*) bundles=deb,rpm,appimage; os=linux ;;
  *windows*) echo "release/build.sh: the Windows installer is built on Linux: installers/release/build.sh windows" >&2; exit 1 ;;
  *apple*) bundles=app,dmg; os=darwin ;;
  *) echo "release/build.sh: no bundles for $triple" >&2; exit 1 ;;
esac
arch=${triple%%-*}

cargo build --profile dist --locked -p whatsapp-mcp
mkdir -p src-tauri/binaries
cp "$target/dist/whatsapp-mcp" "src-tauri/binaries/whatsapp-mcp-$triple"
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
    sign "dist/$name"
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
installers/mcpb/build.sh "$target/dist/whatsapp-mcp" "dist/whatsapp-mcp-desktop-$os-$arch.mcpb"
sort -u -o dist/updater-packages.txt dist/updater-packages.txt
ls -l dist
