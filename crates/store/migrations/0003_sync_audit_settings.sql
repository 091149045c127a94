-- Version 3: sync progress that survives restarts, the audit log, settings.

-- Per chat: how far back history reaches, and the state of fetching more.
CREATE TABLE sync_checkpoints (
    chat_id         INTEGER PRIMARY KEY REFERENCES chats(id) ON DELETE CASCADE,
    oldest_msg_id   TEXT,
    oldest_from_me  INTEGER,
    oldest_ts       INTEGER,
    newest_ts       INTEGER,
    state           TEXT    NOT NULL DEFAULT 'idle'
                    CHECK (state IN ('idle', 'requested', 'complete', 'failed')),
    messages_synced INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE sync_jobs (
    id            INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('full', 'chat', 'community')),
    target        TEXT,
    state         TEXT    NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'running', 'paused', 'done', 'failed', 'cancelled')),
    max_messages  INTEGER,
    messages_done INTEGER NOT NULL DEFAULT 0,
    chats_done    INTEGER NOT NULL DEFAULT 0,
    chats_total   INTEGER,
    last_error    TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    finished_at   INTEGER
);
CREATE INDEX sync_jobs_open ON sync_jobs (state) WHERE state IN ('queued', 'running', 'paused');

-- Every action an assistant asked for, allowed or refused.
CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY,
    at             INTEGER NOT NULL,
    client         TEXT    NOT NULL,
    tool           TEXT    NOT NULL,
    recipient      TEXT,
    content_sha256 TEXT,
    decision       TEXT    NOT NULL CHECK (decision IN ('allowed', 'approved', 'denied', 'refused', 'failed')),
    detail         TEXT
);
CREATE INDEX audit_log_by_time ON audit_log (at);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
