"""The app's archive is encrypted at rest (SQLCipher). What the end-to-end tests
need to look at it as another program would:

- a real keychain: GNOME Keyring's Secret Service, started in the test's own
  D-Bus session (dbus-run-session), where the app keeps the archive's key;
- SQLCipher's own Python binding (sqlcipher3, from PyPI) to open the file with
  that key, or with the passphrase a test gave the app.

Run as a script (for tests on the system Python, which lacks sqlcipher3):
    python archive.py count DB KEY     -> prints the number of messages (0 if unreadable)
where KEY is `keychain`, `passphrase:<text>` or `x:<64 hex digits>`.
"""

import os
import subprocess
import sys
import tempfile

SERVICE = "WhatsApp MCP Desktop"
ACCOUNT = "message-archive-key"


def start_keyring():
    """Start an unlocked Secret Service (GNOME Keyring) on this D-Bus session."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return False
    # Keyrings of its own: a login keyring the developer made earlier has another password.
    home = tempfile.mkdtemp(prefix="wamcp-keyring-")
    env = dict(os.environ, XDG_DATA_HOME=home, HOME=home)
    started = subprocess.run(["gnome-keyring-daemon", "--unlock", "--components=secrets"], env=env,
                             input=b"test-login-password", capture_output=True, timeout=30)
    return started.returncode == 0


def keychain_key():
    """The archive key the app keeps in the keychain (64 hex digits), or None."""
    found = subprocess.run(["secret-tool", "lookup", "service", SERVICE, "username", ACCOUNT],
                           capture_output=True, text=True, timeout=30)
    return found.stdout.strip() or None


def key_pragma(key):
    """`PRAGMA key` for a KEY as in the module's doc string."""
    if key == "keychain":
        key = "x:" + (keychain_key() or "")
    if key.startswith("x:"):
        return f"PRAGMA key = \"x'{key[2:]}'\""
    if key.startswith("passphrase:"):
        phrase = key[len("passphrase:"):].replace("'", "''")
        return f"PRAGMA key = '{phrase}'"
    raise ValueError(f"unknown key form {key!r}")


def connect(db, key, read_only=False):
    """A SQLCipher connection to the archive `db`, unlocked with `key`."""
    from sqlcipher3 import dbapi2
    conn = dbapi2.connect(f"file:{db}?mode=ro" if read_only else db, uri=read_only, timeout=10)
    conn.execute(key_pragma(key))
    return conn


def count_messages(db, key):
    try:
        conn = connect(db, key, read_only=True)
        try:
            return conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        finally:
            conn.close()
    except Exception:  # noqa: BLE001 - unreadable (yet) counts as none
        return 0


def count_with(python, db, key):
    """count_messages run by `python` (one that has sqlcipher3)."""
    done = subprocess.run([python, os.path.abspath(__file__), "count", db, key], capture_output=True, text=True,
                          timeout=60)
    try:
        return int(done.stdout.strip())
    except ValueError:
        return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "count":
        print(count_messages(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
