-- Version 1: chats, contacts, messages and everything hanging off a message.
-- Times are milliseconds since the Unix epoch, UTC.

CREATE TABLE chats (
    id              INTEGER PRIMARY KEY,
    jid             TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL DEFAULT 'direct'
                    CHECK (kind IN ('direct', 'group', 'community', 'broadcast', 'newsletter')),
    name            TEXT,
    description     TEXT,
    -- The community a group belongs to (announcement group and sub-groups).
    parent_id       INTEGER REFERENCES chats(id) ON DELETE SET NULL,
    archived        INTEGER NOT NULL DEFAULT 0,
    pinned          INTEGER NOT NULL DEFAULT 0,
    muted_until     INTEGER,
    unread_count    INTEGER NOT NULL DEFAULT 0,
    -- Newest message (messages.id) and its time, kept by the ingest code.
    last_message_id INTEGER,
    last_message_ts INTEGER,
    -- Time of the newest metadata update applied (last writer wins by time).
    updated_at      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX chats_by_activity ON chats (last_message_ts DESC);
CREATE INDEX chats_by_parent ON chats (parent_id) WHERE parent_id IS NOT NULL;

-- Every JID we have seen as a sender, a member or a contact. Names come from
-- several sources; the display name prefers saved, then push, then business.
CREATE TABLE contacts (
    id            INTEGER PRIMARY KEY,
    jid           TEXT    NOT NULL UNIQUE,
    phone         TEXT,
    saved_name    TEXT,
    push_name     TEXT,
    business_name TEXT,
    lid           TEXT,
    updated_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX contacts_by_phone ON contacts (phone) WHERE phone IS NOT NULL;

-- id is chosen by the store so that id order is time order:
-- id = ts * 4096 + slot (see ingest.rs). Full-text search walks ids backwards
-- to return the newest matches first without sorting them.
CREATE TABLE messages (
    id               INTEGER PRIMARY KEY,
    chat_id          INTEGER NOT NULL REFERENCES chats(id),
    msg_id           TEXT    NOT NULL,
    sender_id        INTEGER NOT NULL REFERENCES contacts(id),
    from_me          INTEGER NOT NULL DEFAULT 0,
    ts               INTEGER NOT NULL,
    kind             TEXT    NOT NULL,
    text             TEXT,
    -- The text as the search index sees it, stored only when it differs from
    -- text (CJK and emoji are split into single-character words).
    search_text      TEXT,
    quoted_msg_id    TEXT,
    quoted_sender_id INTEGER REFERENCES contacts(id),
    extra            TEXT,
    original_text    TEXT,
    edited_at        INTEGER,
    deleted_at       INTEGER,
    deleted_by_id    INTEGER REFERENCES contacts(id),
    status           INTEGER NOT NULL DEFAULT 0,
    UNIQUE (chat_id, msg_id, sender_id)
);
-- Rows of one chat in id (= time) order.
CREATE INDEX messages_by_chat ON messages (chat_id);
CREATE INDEX messages_by_sender ON messages (sender_id);

-- Edits and revokes, kept whatever order they arrive in: the effective text of a
-- message is its newest edit, its deletion time the first revoke.
CREATE TABLE message_changes (
    chat_id   INTEGER NOT NULL REFERENCES chats(id),
    msg_id    TEXT    NOT NULL,
    sender_id INTEGER NOT NULL REFERENCES contacts(id),
    change_id TEXT    NOT NULL,
    kind      TEXT    NOT NULL CHECK (kind IN ('edit', 'revoke')),
    at        INTEGER NOT NULL,
    text      TEXT,
    by_id     INTEGER REFERENCES contacts(id),
    PRIMARY KEY (chat_id, msg_id, sender_id, change_id)
) WITHOUT ROWID;

-- One reaction per reactor and message; the newest wins, '' means removed.
CREATE TABLE reactions (
    chat_id       INTEGER NOT NULL REFERENCES chats(id),
    msg_id        TEXT    NOT NULL,
    msg_sender_id INTEGER NOT NULL REFERENCES contacts(id),
    reactor_id    INTEGER NOT NULL REFERENCES contacts(id),
    emoji         TEXT    NOT NULL,
    ts            INTEGER NOT NULL,
    PRIMARY KEY (chat_id, msg_id, msg_sender_id, reactor_id)
) WITHOUT ROWID;

CREATE TABLE poll_votes (
    chat_id       INTEGER NOT NULL REFERENCES chats(id),
    msg_id        TEXT    NOT NULL,
    msg_sender_id INTEGER NOT NULL REFERENCES contacts(id),
    voter_id      INTEGER NOT NULL REFERENCES contacts(id),
    options       TEXT    NOT NULL,
    ts            INTEGER NOT NULL,
    PRIMARY KEY (chat_id, msg_id, msg_sender_id, voter_id)
) WITHOUT ROWID;

CREATE TABLE media (
    message_id      INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    mime            TEXT,
    file_name       TEXT,
    direct_path     TEXT,
    url             TEXT,
    media_key       BLOB,
    media_key_ts    INTEGER,
    file_sha256     BLOB,
    file_enc_sha256 BLOB,
    file_length     INTEGER,
    width           INTEGER,
    height          INTEGER,
    duration_secs   INTEGER,
    local_path      TEXT,
    downloaded_at   INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT
);

CREATE TABLE group_members (
    group_id  INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES contacts(id),
    role      TEXT    NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'admin', 'superadmin')),
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
