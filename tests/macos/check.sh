#!/usr/bin/env bash
# macOS from Linux (docs/testing.md#macos): every macOS path of the workspace
# type-checks and lints for aarch64-apple-darwin, with no Mac and no Apple SDK.
#
#   cargo check  --target aarch64-apple-darwin -p whatsapp-mcp -p whatsapp-mcp-desktop
#   cargo clippy --target aarch64-apple-darwin --workspace --all-targets -- -D warnings
#
# Nothing is linked, so nothing here runs on a Mac. What it needs:
# - the Rust target (rustup) and zig from PyPI's `ziglang` (in a venv under
#   $CARGO_TARGET_DIR), whose clang and macOS libc headers compile the C that
#   build scripts build during a check (ring, SQLCipher, objc2's helper);
# - ui/dist (tauri::generate_context! embeds it): built with npm when missing.
#
# Two build scripts need Apple SDK headers that zig does not ship:
# - SQLCipher's macOS crypto (CommonCrypto) includes <Security/SecRandom.h> and
#   <CoreFoundation/CoreFoundation.h>, and its log device <os/log.h>. Built from
#   Linux, libsqlite3-sys would take OpenSSL instead (it picks CommonCrypto only
#   when the build machine is a Mac too), whose headers zig lacks as well. So
#   for the check SQLCipher is compiled without a log device and with a crypto
#   provider that is only declared (SQLCIPHER_CRYPTO_CUSTOM): the object would
#   not link, and a check never links. All the rest of SQLite is compiled.
# - mac-notification-sys compiles Objective-C against <Cocoa/Cocoa.h>. DOCS_RS=1
#   makes it skip that (as on docs.rs). Its Rust code is still checked. DOCS_RS
#   is read by no other build script here except for Android and iOS targets
#   (and objc2-exception-helper, which also skips its few lines of C then).
#
# CARGO_TARGET_DIR defaults to /var/tmp/wamcp-mac-target (its own, beside the
# Linux one); CARGO_BUILD_JOBS is honoured. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

TARGET=aarch64-apple-darwin
ZIGLANG_VERSION=0.17.1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/wamcp-mac-target}"
tools="$CARGO_TARGET_DIR/macos-tools"
mkdir -p "$tools"

say() { printf '\n== %s\n' "$*"; }

if ! rustup target list --installed | grep -qx "$TARGET"; then
  say "Installing the Rust target $TARGET"
  rustup target add "$TARGET"
fi

venv="$tools/zig-venv"
if ! "$venv/bin/python" -m ziglang version 2>/dev/null | grep -qx "$ZIGLANG_VERSION"; then
  say "Installing zig (PyPI ziglang $ZIGLANG_VERSION) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "ziglang==$ZIGLANG_VERSION"
fi

# The wrappers cc-rs runs for the target. cc-rs passes clang's
# --target=arm64-apple-macosx, which zig does not take: zig gets -target.
write_tool() {
  local path="$1" body="$2"
  if [ ! -f "$path" ] || [ "$(cat "$path")" != "$body" ]; then
    printf '%s\n' "$body" >"$path.tmp"
    chmod +x "$path.tmp"
    mv "$path.tmp" "$path"
  fi
}
zig_env="export ZIG_GLOBAL_CACHE_DIR='$tools/zig-cache' ZIG_LOCAL_CACHE_DIR='$tools/zig-cache'"
write_tool "$tools/cc" "#!/usr/bin/env bash
# zig cc for $TARGET (written by tests/macos/check.sh)
$zig_env
args=()
skip=0
for a in \"\$@\"; do
  if [ \$skip = 1 ]; then skip=0; continue; fi
  case \"\$a\" in
    --target=*) ;;
    -target) skip=1 ;;
    *) args+=(\"\$a\") ;;
  esac
done
exec '$venv/bin/python' -m ziglang cc -target aarch64-macos \"\${args[@]}\""
write_tool "$tools/ar" "#!/usr/bin/env bash
# zig ar for $TARGET (written by tests/macos/check.sh)
$zig_env
exec '$venv/bin/python' -m ziglang ar \"\$@\""

if [ ! -f ui/dist/index.html ]; then
  say "Building the UI (ui/dist, embedded by the app)"
  (cd ui && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build)
fi

run_cargo() {
  say "cargo $*"
  local start=$SECONDS
  env -u OPENSSL_DIR -u OPENSSL_LIB_DIR -u OPENSSL_INCLUDE_DIR \
    CC_aarch64_apple_darwin="$tools/cc" \
    AR_aarch64_apple_darwin="$tools/ar" \
    CFLAGS_aarch64_apple_darwin="-DSQLCIPHER_OMIT_LOG_DEVICE -DSQLCIPHER_CRYPTO_CUSTOM=sqlcipher_check_only_provider" \
    MACOSX_DEPLOYMENT_TARGET=11.0 \
    DOCS_RS=1 \
    cargo "$@"
  echo "(took $((SECONDS - start)) s)"
}

run_cargo check --keep-going --target "$TARGET" -p whatsapp-mcp -p whatsapp-mcp-desktop
run_cargo clippy --keep-going --target "$TARGET" --workspace --all-targets -- -D warnings
say "macOS check passed ($TARGET)"
