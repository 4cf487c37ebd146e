/**
 * Versioned schema migrations, applied in order inside one transaction each; the applied
 * version lives in SQLite's user_version. Never edit a shipped migration: add the next one.
 *
 * Layout choice (see docs/architecture.md): inventory is fleet-deduplicated. Each distinct
 * item (a package version, a file with its hashes, a certificate) is stored once in `items`;
 * hosts hold (host, item) pairs in `host_items`. `item_keys` maps every lookup value an
 * indicator can name (hash, normalised software name, serial, thumbprint, signer, file name)
 * to items, so matching and retro-hunt are index lookups, not scans.
 */
export const MIGRATIONS: readonly string[] = [
  /* 1: initial */ `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

  CREATE TABLE enroll_secrets (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    label TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    max_uses INTEGER,
    uses INTEGER NOT NULL DEFAULT 0,
    revoked_at TEXT
  ) STRICT;

  CREATE TABLE hosts (
    id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    os TEXT,
    agent_version TEXT,
    token_hash TEXT NOT NULL,
    enrolled_at TEXT NOT NULL,
    last_seen TEXT,
    last_seq INTEGER NOT NULL DEFAULT 0,
    revoked_at TEXT,
    flagged TEXT
  ) STRICT;

  CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    label TEXT,
    created_at TEXT NOT NULL,
    last_used TEXT,
    revoked_at TEXT
  ) STRICT;

  CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    digest BLOB NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    ikey TEXT NOT NULL,
    data TEXT NOT NULL
  ) STRICT;

  CREATE TABLE item_keys (
    value TEXT NOT NULL,
    item_id INTEGER NOT NULL,
    PRIMARY KEY (value, item_id)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE host_items (
    host_id TEXT NOT NULL,
    item_id INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    removed_at TEXT,
    scan_id TEXT NOT NULL,
    PRIMARY KEY (host_id, item_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX host_items_item ON host_items (item_id);

  CREATE TABLE indicators (
    id TEXT PRIMARY KEY,
    feed TEXT NOT NULL,
    type TEXT NOT NULL,
    value TEXT NOT NULL,
    spec TEXT NOT NULL,
    severity TEXT NOT NULL,
    description TEXT,
    reference TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    valid_from TEXT,
    valid_until TEXT,
    content_hash TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    retired_at TEXT
  ) STRICT;
  CREATE INDEX indicators_feed ON indicators (feed);

  CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    host_id TEXT NOT NULL,
    indicator_id TEXT NOT NULL,
    item_id INTEGER NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    item_first_seen TEXT NOT NULL,
    retro INTEGER NOT NULL DEFAULT 0,
    item_removed INTEGER NOT NULL DEFAULT 0,
    close_reason TEXT,
    note TEXT,
    updated_by TEXT,
    updated_at TEXT,
    UNIQUE (host_id, indicator_id, item_id)
  ) STRICT;
  CREATE INDEX alerts_status ON alerts (status, id);
  CREATE INDEX alerts_host ON alerts (host_id, id);
  CREATE INDEX alerts_indicator ON alerts (indicator_id);

  CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT
  ) STRICT;

  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    created TEXT NOT NULL,
    finished TEXT,
    progress REAL NOT NULL DEFAULT 0,
    result TEXT
  ) STRICT;
  `,
];
