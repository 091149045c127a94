"""The app's archive is encrypted at rest (SQLCipher). What the end-to-end tests
need to look at it as another program would:

- a real keychain: GNOME Keyring's Secret Service, started in the test's own
  D-Bus session (dbus-run-session), where the app keeps the archive's key;
- SQLCipher's own Python binding (sqlcipher3, from PyPI) to open the file with
  that key, or with the passphrase a test gave the app.

Run as a script (for tests on the system Python, which lacks sqlcipher3):
    python archive.py count DB KEY     -> prints the number of messages (0 if unreadable)
    python archive.py hold DB KEY SECS -> holds DB exclusively for SECS seconds
                                          (prints "held", then "released")
    python archive.py secrets DB KEY   -> prints, one per line in hex, every blob of
                                          16 to 64 bytes the file holds (a session's keys)
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


def hold(db, key, seconds):
    """Hold `db` exclusively for `seconds`: another program that opens it meanwhile waits."""
    import time
    conn = connect(db, key)
    conn.isolation_level = None
    # The archive is in WAL mode, where an exclusive transaction alone still
    # lets others read: the exclusive locking mode keeps them out too.
    conn.execute("PRAGMA locking_mode = EXCLUSIVE")
    conn.execute("BEGIN EXCLUSIVE")
    print("held", flush=True)
    time.sleep(seconds)
    conn.execute("ROLLBACK")
    conn.close()
    print("released", flush=True)


def secrets(db, key):
    """Every blob of 16 to 64 bytes in `db`, in hex: the keys a session file keeps."""
    conn = connect(db, key, read_only=True)
    found = set()
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                for (value,) in conn.execute(f'SELECT "{column}" FROM "{table}"'):
                    if isinstance(value, bytes) and 16 <= len(value) <= 64 and len(set(value)) > 4:
                        found.add(value.hex())
    finally:
        conn.close()
    return sorted(found)


def secrets_with(python, db, key):
    """secrets() run by `python` (one that has sqlcipher3)."""
    done = subprocess.run([python, os.path.abspath(__file__), "secrets", db, key], capture_output=True, text=True,
                          timeout=60)
    return done.stdout.split()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "count":
        print(count_messages(sys.argv[2], sys.argv[3]))
    elif len(sys.argv) == 5 and sys.argv[1] == "hold":
        hold(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif len(sys.argv) == 4 and sys.argv[1] == "secrets":
        print("\n".join(secrets(sys.argv[2], sys.argv[3])))
    else:
        sys.exit(__doc__)
