#!/usr/bin/env bash
# Build the Claude Desktop extension (.mcpb): the whatsapp-mcp helper with a
# manifest (spec 0.3), validated and packed by the official mcpb CLI.
#   installers/mcpb/build.sh path/to/whatsapp-mcp out/whatsapp-mcp-desktop.mcpb
# The bundle is per platform (the helper is a native binary); the release
# workflow builds one per system.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
helper="$1"
out="$2"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/../../Cargo.toml" | head -1)
name=$(basename "$helper")
case "$name:$(uname -s)" in
  *.exe:*) platform=win32 ;;  # also the Windows helper built on Linux
  *:Linux) platform=linux ;;
  *:Darwin) platform=darwin ;;
  *) platform=win32 ;;
esac
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/server"
cp "$helper" "$stage/server/$name"
chmod 755 "$stage/server/$name"
cp "$here/../../icons/icon.png" "$stage/icon.png"  # 512x512, the size the mcpb CLI recommends
sed -e "s/@VERSION@/$version/" -e "s/@PLATFORM@/$platform/" -e "s/@HELPER@/$name/g" \
  "$here/manifest.template.json" > "$stage/manifest.json"
(cd "$here" && { [ -d node_modules ] || npm ci --no-audit --no-fund; })
"$here/node_modules/.bin/mcpb" validate "$stage/manifest.json"
mkdir -p "$(dirname "$out")"
"$here/node_modules/.bin/mcpb" pack "$stage" "$out"
