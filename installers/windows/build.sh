#!/usr/bin/env bash
# The Windows installer: a per-user setup .exe made with makensis from our own
# script (installer.nsi; nothing is downloaded at build time).
#
#   installers/windows/build.sh APP.exe HELPER.exe OUT-setup.exe
#
# APP.exe and HELPER.exe are the Windows programs (x86_64-pc-windows-gnu);
# WebView2Loader.dll is taken from beside APP.exe (webview2-com puts it there);
# the programs' symbols are stripped into copies first (the programs built for the
# tests keep theirs). WEBVIEW2_BOOTSTRAPPER=path/MicrosoftEdgeWebview2Setup.exe
# embeds Microsoft's bootstrapper (the release workflow downloads it), which
# the installer runs where WebView2 is missing. Runs on Linux (Debian's nsis,
# mingw-w64's strip) and on Windows (NSIS on PATH).
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 APP.exe HELPER.exe OUT-setup.exe" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
app="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
helper="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
out_dir="$(mkdir -p "$(dirname "$3")" && cd "$(dirname "$3")" && pwd)"
out="$out_dir/$(basename "$3")"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
strip_tool=""
for s in x86_64-w64-mingw32-strip strip; do
  if command -v "$s" >/dev/null 2>&1; then strip_tool="$s"; break; fi
done
for pair in "app:$app" "helper:$helper"; do
  name="${pair%%:*}"; src="${pair#*:}"
  if [ -n "$strip_tool" ]; then "$strip_tool" -o "$stage/$name.exe" "$src"; else cp "$src" "$stage/$name.exe"; fi
done

loader="$(dirname "$app")/WebView2Loader.dll"
[ -f "$loader" ] || { echo "build.sh: $loader is missing (the app built for Windows loads it)" >&2; exit 1; }
defines=(-DVERSION="$version" -DAPP_EXE="$stage/app.exe" -DHELPER_EXE="$stage/helper.exe"
  -DWEBVIEW2_LOADER="$loader"
  -DICON="$root/icons/icon.ico" -DOUT="$out")
if [ -n "${WEBVIEW2_BOOTSTRAPPER:-}" ]; then
  defines+=(-DWEBVIEW2_BOOTSTRAPPER="$(cd "$(dirname "$WEBVIEW2_BOOTSTRAPPER")" && pwd)/$(basename "$WEBVIEW2_BOOTSTRAPPER")")
fi
makensis -V2 -WX "${defines[@]}" "$here/installer.nsi"
echo "$out: $(du -h "$out" | cut -f1)"
