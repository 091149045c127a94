#!/usr/bin/env python3
"""Write the update manifest (`latest.json`) the app's updater reads.

Each package must already be signed with `tauri signer sign --app-version VERSION`
(the `.sig` file beside it). This script refuses a version that is not semver
and a signature bound to another version, so a release can never announce one
version and ship another (the app would refuse it anyway; better to fail here).

    latest-json.py --version 0.2.0 --notes-file NOTES.md \
        --base-url https://github.com/OWNER/REPO/releases/download/v0.2.0 \
        --package linux-x86_64-deb=dist/WhatsApp.MCP.Desktop_0.2.0_amd64.deb \
        --package windows-x86_64-nsis=dist/WhatsApp.MCP.Desktop_0.2.0_x64-setup.exe \
        > latest.json

Targets are the updater's names: `{os}-{arch}` or `{os}-{arch}-{installer}`
(linux: appimage, deb, rpm; windows: nsis, msi; darwin: app).
"""
import argparse
import base64
import datetime
import json
import os
import re
import sys
import urllib.parse

SEMVER = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
TARGET = re.compile(r"^(linux|windows|darwin)-(x86_64|aarch64|i686|armv7)(-(appimage|deb|rpm|nsis|msi|app))?$")


def fail(message):
    print(f"latest-json: {message}", file=sys.stderr)
    sys.exit(1)


def signed_version(signature_b64, path):
    """The version in the signature's trusted comment (minisign format)."""
    try:
        text = base64.b64decode(signature_b64, validate=True).decode("utf-8")
    except ValueError:
        fail(f"{path}.sig is not a signature written by `tauri signer sign`.")
    for line in text.splitlines():
        if line.startswith("trusted comment: "):
            for field in line[len("trusted comment: "):].split("\t"):
                if field.startswith("version:"):
                    return field[len("version:"):]
    fail(f"{path}.sig carries no version: sign it with `tauri signer sign --app-version VERSION`.")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", required=True)
    parser.add_argument("--notes", default="")
    parser.add_argument("--notes-file")
    parser.add_argument("--base-url", required=True, help="where the packages are downloaded from")
    parser.add_argument("--pub-date", help="RFC 3339 (default: now)")
    parser.add_argument("--package", action="append", required=True, metavar="TARGET=FILE")
    args = parser.parse_args()

    if not SEMVER.match(args.version):
        fail(f"{args.version!r} is not a version (expected MAJOR.MINOR.PATCH, like 0.2.0).")
    version = args.version.lstrip("v")
    notes = args.notes
    if args.notes_file:
        with open(args.notes_file, encoding="utf-8") as f:
            notes = f.read().strip()
    pub_date = args.pub_date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    platforms = {}
    for package in args.package:
        target, sep, path = package.partition("=")
        if not sep or not TARGET.match(target):
            fail(f"{package!r}: expected TARGET=FILE with a target like linux-x86_64-deb.")
        if not os.path.isfile(path):
            fail(f"{path} does not exist.")
        try:
            with open(path + ".sig", encoding="ascii") as f:
                signature = f.read().strip()
        except OSError:
            fail(f"{path}.sig is missing: sign the package with `tauri signer sign --app-version {version}`.")
        signed = signed_version(signature, path).lstrip("v")
        if signed != version:
            fail(f"{path} is signed for version {signed}, not {version}: sign it again with --app-version {version}.")
        name = urllib.parse.quote(os.path.basename(path))
        platforms[target] = {"signature": signature, "url": f"{args.base_url.rstrip('/')}/{name}"}

    json.dump({"version": version, "notes": notes, "pub_date": pub_date, "platforms": platforms}, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
