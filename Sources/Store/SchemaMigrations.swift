import GRDB

/// The schema's later migrations (v9 on), registered after the first ones.
extension Schema {
    static func registerLaterMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v9-rejected-messages") { db in
            try db.execute(sql: """
                -- messages the ingest API refused (a batch keeps its valid messages): what came, why it was refused,
                -- when; the latest ones only (CrescentStore.rejectedMessagesKept)
                CREATE TABLE rejected_messages (
                    id INTEGER PRIMARY KEY,
                    received_at INTEGER NOT NULL,
                    source TEXT NOT NULL,
                    code TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    -- the ids the message named, so that a customer's export and erasure include it
                    user_id TEXT,
                    anonymous_id TEXT
                );
                CREATE INDEX rejected_messages_by_user ON rejected_messages(user_id) WHERE user_id IS NOT NULL;
                CREATE INDEX rejected_messages_by_anonymous ON rejected_messages(anonymous_id) WHERE anonymous_id IS NOT NULL;
                """)
        }
        migrator.registerMigration("v10-shadow-segment-members") { db in
            try db.execute(sql: """
                -- the shadow-mode segments each customer would be in, so that a would-be entry is counted once,
                -- across restarts and customers read back from the store
                CREATE TABLE shadow_segment_members (
                    segment TEXT NOT NULL,
                    customer_id TEXT NOT NULL,
                    entered_at INTEGER NOT NULL,
                    PRIMARY KEY (segment, customer_id)
                );
                CREATE INDEX shadow_segment_members_by_customer ON shadow_segment_members(customer_id);
                """)
        }
        migrator.registerMigration("v11-segments-hold") { db in
            try db.execute(sql: """
                -- until when a customer's segment answers hold, and under which rule set: the first
                -- sweep after a start skips the stored customers whose answers still hold
                ALTER TABLE customers ADD COLUMN segments_hold_until INTEGER;
                ALTER TABLE customers ADD COLUMN segments_version TEXT;
                """)
        }
        migrator.registerMigration("v12-outbox-consent") { db in
            // The consent an action was made under (`marketing`): delivery checks it is still given, and
            // `withheld` is an action never delivered because it was withdrawn. SQLite cannot change a
            // CHECK constraint in place, so the table is rebuilt.
            try db.execute(sql: """
                CREATE TABLE outbox_v12 (
                    id INTEGER PRIMARY KEY,
                    idempotency_key TEXT NOT NULL UNIQUE,
                    message_id TEXT NOT NULL,
                    customer_id TEXT,
                    rule TEXT NOT NULL,
                    action TEXT NOT NULL,
                    channel TEXT,
                    payload TEXT NOT NULL,
                    status TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'delivered', 'dead', 'withheld')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL,
                    next_attempt_at INTEGER NOT NULL DEFAULT 0,
                    last_error TEXT,
                    delivered_at INTEGER,
                    consent_purpose TEXT
                );
                INSERT INTO outbox_v12 (id, idempotency_key, message_id, customer_id, rule, action, channel, payload, status,
                                        attempts, created_at, next_attempt_at, last_error, delivered_at)
                    SELECT id, idempotency_key, message_id, customer_id, rule, action, channel, payload, status,
                           attempts, created_at, next_attempt_at, last_error, delivered_at FROM outbox;
                DROP TABLE outbox;
                ALTER TABLE outbox_v12 RENAME TO outbox;
                CREATE INDEX outbox_by_status ON outbox(status, id);
                CREATE INDEX outbox_by_customer ON outbox(customer_id);
                """)
        }
        migrator.registerMigration("v13-promotion-fire-keys") { db in
            // A promotion with a `key` counts its limits per customer and key (a cart, a SKU and region).
            try db.execute(sql: "ALTER TABLE promotion_fires ADD COLUMN fire_key TEXT")
        }
        migrator.registerMigration("v14-outbox-retried") { db in
            // The entries with failed attempts, for /metrics: summing them read the whole outbox on every
            // scrape (86 ms at 172,000 entries, growing with every action ever made). A new entry has none,
            // so the outbox's inserts never touch this index.
            try db.execute(sql: "CREATE INDEX outbox_retried ON outbox(status, attempts) WHERE \(OutboxQueries.hasFailures)")
        }
        migrator.registerMigration("v15-outbox-counts") { db in
            // The entries by status, kept as they change, for /metrics and the dashboard: counting them read
            // the whole status index on every scrape, growing with every action ever made.
            try db.execute(sql: """
                CREATE TABLE outbox_counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
                INSERT INTO outbox_counts (status, n) SELECT status, COUNT(*) FROM outbox GROUP BY status;
                CREATE TRIGGER outbox_counted AFTER INSERT ON outbox BEGIN
                    INSERT INTO outbox_counts (status, n) VALUES (NEW.status, 1) ON CONFLICT (status) DO UPDATE SET n = n + 1;
                END;
                CREATE TRIGGER outbox_recounted AFTER UPDATE OF status ON outbox WHEN OLD.status IS NOT NEW.status BEGIN
                    UPDATE outbox_counts SET n = n - 1 WHERE status = OLD.status;
                    INSERT INTO outbox_counts (status, n) VALUES (NEW.status, 1) ON CONFLICT (status) DO UPDATE SET n = n + 1;
                END;
                CREATE TRIGGER outbox_uncounted AFTER DELETE ON outbox BEGIN
                    UPDATE outbox_counts SET n = n - 1 WHERE status = OLD.status;
                END;
                """)
        }
    }
}
