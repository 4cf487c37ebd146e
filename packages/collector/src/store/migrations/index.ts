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
/** The host_items view's write-through triggers (migration 4; recreated with the view in 6). */
const HOST_ITEMS_TRIGGERS = `
  CREATE TRIGGER host_items_insert INSTEAD OF INSERT ON host_items BEGIN
    INSERT OR IGNORE INTO host_nums (host_id) VALUES (NEW.host_id);
    INSERT INTO host_inv (host, item, first_seen, last_seen, removed_at, scan)
      VALUES ((SELECT num FROM host_nums WHERE host_id = NEW.host_id), NEW.item_id, NEW.first_seen, NEW.last_seen, NEW.removed_at, 0);
  END;
  CREATE TRIGGER host_items_update INSTEAD OF UPDATE ON host_items BEGIN
    UPDATE host_inv SET first_seen = NEW.first_seen, last_seen = NEW.last_seen, removed_at = NEW.removed_at
      WHERE host = (SELECT num FROM host_nums WHERE host_id = OLD.host_id) AND item = OLD.item_id;
  END;
  CREATE TRIGGER host_items_delete INSTEAD OF DELETE ON host_items BEGIN
    DELETE FROM host_inv WHERE host = (SELECT num FROM host_nums WHERE host_id = OLD.host_id) AND item = OLD.item_id;
  END;
`;

/** SQL: ISO-8601 text (as Date.toISOString writes it) to integer milliseconds since the epoch; NULL stays NULL. */
function ms(text: string): string { return `CAST(round((julianday(${text}) - 2440587.5) * 86400000.0) AS INTEGER)`; }
/** SQL: integer milliseconds since the epoch to ISO-8601 text, exactly as Date.toISOString writes it; NULL stays NULL. */
function iso(msExpr: string): string { return `strftime('%Y-%m-%dT%H:%M:%fZ', (${msExpr}) / 1000.0, 'unixepoch')`; }

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
  /* 2: alert history, TAXII sources, lookup indexes (search, filters, retention) */ `
  CREATE TABLE alert_history (
    id INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    reason TEXT,
    note TEXT
  ) STRICT;
  CREATE INDEX alert_history_alert ON alert_history (alert_id, id);
  CREATE INDEX alerts_severity ON alerts (severity, id);
  CREATE INDEX alerts_last_seen ON alerts (last_seen);
  CREATE INDEX items_ikey ON items (ikey);
  CREATE INDEX host_items_removed ON host_items (removed_at) WHERE removed_at IS NOT NULL;

  CREATE TABLE taxii_sources (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    collection TEXT NOT NULL,
    auth TEXT,
    interval_s INTEGER NOT NULL,
    added_after TEXT,
    last_poll TEXT,
    last_error TEXT,
    created TEXT NOT NULL
  ) STRICT;
  `,
  /* transport: per-host instance binding, token rotation, client certificate */ `
  ALTER TABLE hosts ADD COLUMN instance TEXT;
  ALTER TABLE hosts ADD COLUMN prev_token_hash TEXT;
  ALTER TABLE hosts ADD COLUMN pending_token_hash TEXT;
  ALTER TABLE hosts ADD COLUMN rotate_requested INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE hosts ADD COLUMN token_rotated_at TEXT;
  ALTER TABLE hosts ADD COLUMN cert_serial TEXT;
  `,
  /* 4: integer host-item pairs (ingest throughput; see store/inventory.ts). Hosts get a stable
     integer `num` in host_nums (with the host's current scan as an integer); the pairs live in
     host_inv keyed (host, item) WITHOUT ROWID — no UUID text per row. host_items stays as a view
     with the old columns (scan_id is now the integer scan), writable through triggers, so readers
     and maintenance code keep their SQL. Rows of a host's latest scan keep counting as seen in it,
     so a full scan split across the upgrade still removes nothing it saw. */ `
  CREATE TABLE host_nums (
    num INTEGER PRIMARY KEY,
    host_id TEXT NOT NULL UNIQUE,
    scan_id TEXT,
    scan INTEGER NOT NULL DEFAULT 0
  ) STRICT;
  INSERT INTO host_nums (host_id, scan_id, scan)
    SELECT host_id, (SELECT scan_id FROM host_items l WHERE l.host_id = d.host_id ORDER BY last_seen DESC LIMIT 1), 1
    FROM (SELECT DISTINCT host_id FROM host_items) d ORDER BY host_id;
  CREATE TABLE host_inv (
    host INTEGER NOT NULL,
    item INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    removed_at TEXT,
    scan INTEGER NOT NULL,
    PRIMARY KEY (host, item)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO host_inv (host, item, first_seen, last_seen, removed_at, scan)
    SELECT n.num, hi.item_id, hi.first_seen, hi.last_seen, hi.removed_at, hi.scan_id = n.scan_id
    FROM host_items hi JOIN host_nums n ON n.host_id = hi.host_id ORDER BY n.num, hi.item_id;
  DROP TABLE host_items;
  CREATE INDEX host_inv_item ON host_inv (item);
  CREATE INDEX host_inv_removed ON host_inv (removed_at) WHERE removed_at IS NOT NULL;
  CREATE VIEW host_items AS
    SELECT n.host_id AS host_id, hi.item AS item_id, hi.first_seen AS first_seen, hi.last_seen AS last_seen,
      hi.removed_at AS removed_at, hi.scan AS scan_id
    FROM host_inv hi JOIN host_nums n ON n.num = hi.host;
  ${HOST_ITEMS_TRIGGERS}  `,
  /* 5: TAXII sources: a CA bundle per source (feeds/taxii.ts); credentials stay in auth (JSON) */ `
  ALTER TABLE taxii_sources ADD COLUMN ca_file TEXT;
  `,
  /* 6: a delta scan's end confirms the host's held items with one row (host_nums.confirmed_at),
     not one UPDATE per held item (a delta storm of 10,000 hosts rewrote 30 million rows). A held
     item's last_seen is the later of its own and its host's confirmation; removal folds the
     confirmation into the row. The view and its triggers are recreated (dropping a view drops them). */ `
  ALTER TABLE host_nums ADD COLUMN confirmed_at TEXT;
  DROP VIEW host_items;
  CREATE VIEW host_items AS
    SELECT n.host_id AS host_id, hi.item AS item_id, hi.first_seen AS first_seen,
      CASE WHEN hi.removed_at IS NULL AND n.confirmed_at > hi.last_seen THEN n.confirmed_at ELSE hi.last_seen END AS last_seen,
      hi.removed_at AS removed_at, hi.scan AS scan_id
    FROM host_inv hi JOIN host_nums n ON n.num = hi.host;
  ${HOST_ITEMS_TRIGGERS}  `,
  /* 7: change counters a second connection can check cheaply inside its own write transaction:
     the ingest writer thread (store/ingest-worker.ts) reloads its matcher when indicators changed
     and forgets cached item ids when items were deleted (prune), whichever connection did it. */ `
  CREATE TABLE store_generation (name TEXT PRIMARY KEY, n INTEGER NOT NULL) STRICT;
  INSERT INTO store_generation VALUES ('indicators', 0), ('items', 0);
  CREATE TRIGGER gen_indicators_insert AFTER INSERT ON indicators
    BEGIN UPDATE store_generation SET n = n + 1 WHERE name = 'indicators'; END;
  CREATE TRIGGER gen_indicators_update AFTER UPDATE ON indicators
    BEGIN UPDATE store_generation SET n = n + 1 WHERE name = 'indicators'; END;
  CREATE TRIGGER gen_indicators_delete AFTER DELETE ON indicators
    BEGIN UPDATE store_generation SET n = n + 1 WHERE name = 'indicators'; END;
  CREATE TRIGGER gen_items_delete AFTER DELETE ON items
    BEGIN UPDATE store_generation SET n = n + 1 WHERE name = 'items'; END;
  `,
  /* 8: each host's current host item (its facts), by id. Every delta carries the host item and
     its key ('host') is shared by every host, so replacing "the host's older content under that
     key" by key probed one row per host in the fleet on every delta frame (430 µs per frame at
     5,000 hosts). Backfilled from the held host items (items of kind host, then the item index). */ `
  ALTER TABLE host_nums ADD COLUMN host_item INTEGER;
  UPDATE host_nums SET host_item = t.item FROM (
    SELECT hi.host AS host, max(hi.item) AS item FROM items it JOIN host_inv hi ON hi.item = it.id
    WHERE it.kind = 'host' AND hi.removed_at IS NULL GROUP BY hi.host) t
  WHERE t.host = host_nums.num;
  `,
  /* 9: the item index leads with the host's bucket, host >> 6 (store/host-buckets.ts: hosts that
     sync together share index pages). host_buckets lists the bucket numbers in use, for lookups
     by item to probe each. Hosts by name: search cuts its page from hosts in name order. */ `
  CREATE INDEX hosts_hostname ON hosts (hostname, id);
  DROP INDEX host_inv_item;
  CREATE INDEX host_inv_bucket_item ON host_inv (host >> 6, item);
  CREATE VIEW host_buckets (b) AS
    WITH RECURSIVE s (b) AS (SELECT 0 UNION ALL SELECT b + 1 FROM s WHERE b < (SELECT coalesce(max(num), 0) >> 6 FROM host_nums))
    SELECT b FROM s;
  `,
  /* 10: the removed pairs, by bucket and item (partial: held pairs have no entry, so keeping an
     item or sending it again writes nothing here; removed_at is in it so reads need no row). Search counts the hosts holding an item from
     the indexes alone — every pair of the item from host_inv_bucket_item, less its removed pairs
     from this one — instead of reading each pair's row for removed_at: a package held by 10,000
     hosts took 10,000 row reads (~1.2 s on a busy 1.7 GB store, on the API's event loop). */ `
  CREATE INDEX host_inv_removed_bucket ON host_inv (host >> 6, item, removed_at) WHERE removed_at IS NOT NULL;
  `,
  /* 11: host pair times (host_inv first_seen, last_seen, removed_at; host_nums.confirmed_at) in
     integer milliseconds since the epoch, not ISO text: a pair row goes from ~66 to ~30 bytes, so a
     host's 3,000 pairs fill 22 pages instead of 52. A delta that replaces 50 items rewrites the
     pages those 50 rows sit on (then again at checkpoint): half as many pages per delta frame
     (raw SQLite, 1,000 hosts: 325 -> 165 MB written, 1.15 -> 0.57 ms per host), and fewer per
     stored item at first sync. The host_items view still shows ISO text. Unparseable legacy
     text (none is written) becomes 0 rather than failing the upgrade. */ `
  DROP VIEW host_items;
  CREATE TABLE host_inv_ms (
    host INTEGER NOT NULL,
    item INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    removed_at INTEGER,
    scan INTEGER NOT NULL,
    PRIMARY KEY (host, item)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO host_inv_ms (host, item, first_seen, last_seen, removed_at, scan)
    SELECT host, item, coalesce(${ms('first_seen')}, 0), coalesce(${ms('last_seen')}, 0), ${ms('removed_at')}, scan FROM host_inv ORDER BY host, item;
  DROP TABLE host_inv;
  ALTER TABLE host_inv_ms RENAME TO host_inv;
  CREATE INDEX host_inv_removed ON host_inv (removed_at) WHERE removed_at IS NOT NULL;
  CREATE INDEX host_inv_bucket_item ON host_inv (host >> 6, item);
  CREATE INDEX host_inv_removed_bucket ON host_inv (host >> 6, item, removed_at) WHERE removed_at IS NOT NULL;
  ALTER TABLE host_nums ADD COLUMN confirmed_ms INTEGER;
  UPDATE host_nums SET confirmed_ms = ${ms('confirmed_at')};
  ALTER TABLE host_nums DROP COLUMN confirmed_at;
  ALTER TABLE host_nums RENAME COLUMN confirmed_ms TO confirmed_at;
  CREATE VIEW host_items AS
    SELECT n.host_id AS host_id, hi.item AS item_id, ${iso('hi.first_seen')} AS first_seen,
      ${iso('CASE WHEN hi.removed_at IS NULL AND n.confirmed_at > hi.last_seen THEN n.confirmed_at ELSE hi.last_seen END')} AS last_seen,
      ${iso('hi.removed_at')} AS removed_at, hi.scan AS scan_id
    FROM host_inv hi JOIN host_nums n ON n.num = hi.host;
  CREATE TRIGGER host_items_insert INSTEAD OF INSERT ON host_items BEGIN
    INSERT OR IGNORE INTO host_nums (host_id) VALUES (NEW.host_id);
    INSERT INTO host_inv (host, item, first_seen, last_seen, removed_at, scan)
      VALUES ((SELECT num FROM host_nums WHERE host_id = NEW.host_id), NEW.item_id, ${ms('NEW.first_seen')}, ${ms('NEW.last_seen')}, ${ms('NEW.removed_at')}, 0);
  END;
  CREATE TRIGGER host_items_update INSTEAD OF UPDATE ON host_items BEGIN
    UPDATE host_inv SET first_seen = ${ms('NEW.first_seen')}, last_seen = ${ms('NEW.last_seen')}, removed_at = ${ms('NEW.removed_at')}
      WHERE host = (SELECT num FROM host_nums WHERE host_id = OLD.host_id) AND item = OLD.item_id;
  END;
  CREATE TRIGGER host_items_delete INSTEAD OF DELETE ON host_items BEGIN
    DELETE FROM host_inv WHERE host = (SELECT num FROM host_nums WHERE host_id = OLD.host_id) AND item = OLD.item_id;
  END;
  `,
  /* 12: removals live in their own table, host_removed (host, item, removed_at, last_seen), not in
     host_inv's rows. A pair is held while it has no host_removed row. A delta that replaces 50
     of a host's 3,000 items marked 50 rows scattered over nearly all of the host's 22 host_inv
     pages, and each page went to the WAL (and again at checkpoint): ~21 of the ~32 pages a
     storm frame wrote. Now the 50 removals are neighbouring rows of one host, a page or two.
     host_inv keeps first_seen and scan (a pair that comes back keeps its first sighting); a removed
     pair's last sighting is host_removed.last_seen. The view and its triggers read and write both. */ `
  DROP VIEW host_items;
  CREATE TABLE host_removed (
    host INTEGER NOT NULL,
    item INTEGER NOT NULL,
    removed_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (host, item)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO host_removed (host, item, removed_at, last_seen)
    SELECT host, item, removed_at, last_seen FROM host_inv WHERE removed_at IS NOT NULL ORDER BY host, item;
  DROP INDEX host_inv_removed;
  DROP INDEX host_inv_removed_bucket;
  ALTER TABLE host_inv DROP COLUMN removed_at;
  CREATE INDEX host_removed_at ON host_removed (removed_at);
  CREATE INDEX host_removed_bucket ON host_removed (host >> 6, item);
  CREATE VIEW host_items AS
    SELECT n.host_id AS host_id, hi.item AS item_id, ${iso('hi.first_seen')} AS first_seen,
      ${iso('CASE WHEN r.host IS NOT NULL THEN r.last_seen WHEN n.confirmed_at > hi.last_seen THEN n.confirmed_at ELSE hi.last_seen END')} AS last_seen,
      ${iso('r.removed_at')} AS removed_at, hi.scan AS scan_id
    FROM host_inv hi JOIN host_nums n ON n.num = hi.host LEFT JOIN host_removed r ON r.host = hi.host AND r.item = hi.item;
  CREATE TRIGGER host_items_insert INSTEAD OF INSERT ON host_items BEGIN
    INSERT OR IGNORE INTO host_nums (host_id) VALUES (NEW.host_id);
    INSERT INTO host_inv (host, item, first_seen, last_seen, scan)
      VALUES ((SELECT num FROM host_nums WHERE host_id = NEW.host_id), NEW.item_id, ${ms('NEW.first_seen')}, ${ms('NEW.last_seen')}, 0);
    INSERT INTO host_removed (host, item, removed_at, last_seen)
      SELECT num, NEW.item_id, ${ms('NEW.removed_at')}, ${ms('NEW.last_seen')} FROM host_nums WHERE host_id = NEW.host_id AND NEW.removed_at IS NOT NULL;
  END;
  CREATE TRIGGER host_items_update INSTEAD OF UPDATE ON host_items BEGIN
    UPDATE host_inv SET first_seen = ${ms('NEW.first_seen')}, last_seen = ${ms('NEW.last_seen')}
      WHERE host = (SELECT num FROM host_nums WHERE host_id = OLD.host_id) AND item = OLD.item_id;
    DELETE FROM host_removed WHERE host = (SELECT num FROM host_nums WHERE host_id = OLD.host_id) AND item = OLD.item_id;
    INSERT INTO host_removed (host, item, removed_at, last_seen)
      SELECT num, OLD.item_id, ${ms('NEW.removed_at')}, ${ms('NEW.last_seen')} FROM host_nums WHERE host_id = OLD.host_id AND NEW.removed_at IS NOT NULL;
  END;
  CREATE TRIGGER host_items_delete INSTEAD OF DELETE ON host_items BEGIN
    DELETE FROM host_inv WHERE host = (SELECT num FROM host_nums WHERE host_id = OLD.host_id) AND item = OLD.item_id;
    DELETE FROM host_removed WHERE host = (SELECT num FROM host_nums WHERE host_id = OLD.host_id) AND item = OLD.item_id;
  END;
  `,
];
