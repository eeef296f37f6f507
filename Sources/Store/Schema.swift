import GRDB

/// The versioned schema. Every change is a new migration; shipped migrations
/// are never edited.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-core") { db in
            // The append-only event log. `message_id` is unique: the same
            // message twice changes nothing the second time.
            try db.execute(sql: """
                CREATE TABLE events (
                    seq INTEGER PRIMARY KEY,
                    message_id TEXT NOT NULL UNIQUE,
                    customer_id TEXT,
                    type TEXT NOT NULL,
                    name TEXT NOT NULL,
                    timestamp INTEGER NOT NULL,
                    payload TEXT NOT NULL,
                    -- what every rule did with it (compact; see RuleResult) and under which rules
                    ruleset_version TEXT,
                    results TEXT
                );
                CREATE INDEX events_by_customer ON events(customer_id, timestamp);

                CREATE TABLE customers (
                    id TEXT PRIMARY KEY,
                    user_id TEXT,
                    anonymous_id TEXT,
                    traits TEXT NOT NULL DEFAULT '{}',
                    consent TEXT NOT NULL DEFAULT '{}',
                    first_seen INTEGER,
                    last_seen INTEGER,
                    orders_count INTEGER NOT NULL DEFAULT 0,
                    total_spent REAL NOT NULL DEFAULT 0,
                    last_order_at INTEGER,
                    first_touch TEXT,
                    last_touch TEXT,
                    merged_into TEXT
                );

                -- anonymous ids (and aliases) resolved to the customer that owns them
                CREATE TABLE identities (
                    alias TEXT PRIMARY KEY,
                    customer_id TEXT NOT NULL
                );
                CREATE INDEX identities_by_customer ON identities(customer_id);

                CREATE TABLE orders (
                    id TEXT PRIMARY KEY,
                    customer_id TEXT,
                    status TEXT NOT NULL,
                    total REAL NOT NULL DEFAULT 0,
                    currency TEXT,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    is_first INTEGER NOT NULL DEFAULT 0,
                    payment TEXT,
                    shipping TEXT,
                    campaign TEXT,
                    consultant TEXT,
                    region TEXT,
                    refund_reason TEXT,
                    refunded_at INTEGER
                );
                CREATE INDEX orders_by_customer ON orders(customer_id, created_at);

                CREATE TABLE order_items (
                    order_id TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    sku TEXT,
                    name TEXT,
                    category TEXT,
                    price REAL,
                    quantity INTEGER,
                    PRIMARY KEY (order_id, position)
                );

                CREATE TABLE products (
                    sku TEXT PRIMARY KEY,
                    name TEXT,
                    category TEXT,
                    brand TEXT,
                    price REAL,
                    updated_at INTEGER
                );

                CREATE TABLE inventory (
                    sku TEXT NOT NULL,
                    region TEXT NOT NULL,
                    quantity INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    PRIMARY KEY (sku, region)
                );

                CREATE TABLE carts (
                    cart_id TEXT PRIMARY KEY,
                    customer_id TEXT,
                    value REAL NOT NULL DEFAULT 0,
                    items INTEGER NOT NULL DEFAULT 0,
                    updated_at INTEGER NOT NULL
                );
                CREATE INDEX carts_by_customer ON carts(customer_id);

                CREATE TABLE wishlist (
                    customer_id TEXT NOT NULL,
                    sku TEXT NOT NULL,
                    price REAL,
                    added_at INTEGER NOT NULL,
                    PRIMARY KEY (customer_id, sku)
                );

                CREATE TABLE reviews (
                    message_id TEXT PRIMARY KEY,
                    customer_id TEXT,
                    sku TEXT,
                    rating REAL,
                    text TEXT,
                    created_at INTEGER NOT NULL
                );
                CREATE INDEX reviews_by_customer ON reviews(customer_id);

                CREATE TABLE segment_members (
                    segment TEXT NOT NULL,
                    customer_id TEXT NOT NULL,
                    entered_at INTEGER NOT NULL,
                    PRIMARY KEY (segment, customer_id)
                );

                CREATE TABLE segment_history (
                    id INTEGER PRIMARY KEY,
                    segment TEXT NOT NULL,
                    customer_id TEXT NOT NULL,
                    change TEXT NOT NULL CHECK (change IN ('entered', 'exited')),
                    at INTEGER NOT NULL,
                    message_id TEXT
                );
                CREATE INDEX segment_history_by_customer ON segment_history(customer_id, at);

                -- one row per counted occurrence; windows are computed from them
                CREATE TABLE counter_hits (
                    counter TEXT NOT NULL,
                    key TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    value TEXT
                );
                CREATE INDEX counter_hits_by_key ON counter_hits(counter, key, at);

                CREATE TABLE list_entries (
                    list TEXT NOT NULL,
                    value TEXT NOT NULL,
                    source TEXT NOT NULL DEFAULT 'rules',
                    added_at INTEGER NOT NULL,
                    PRIMARY KEY (list, value)
                );

                CREATE TABLE decisions (
                    message_id TEXT PRIMARY KEY,
                    customer_id TEXT,
                    order_id TEXT,
                    decision TEXT NOT NULL CHECK (decision IN ('allow', 'review', 'block')),
                    score REAL NOT NULL,
                    reasons TEXT NOT NULL,
                    rules TEXT NOT NULL,
                    ruleset_version TEXT,
                    at INTEGER NOT NULL
                );
                CREATE INDEX decisions_by_customer ON decisions(customer_id, at);
                CREATE INDEX decisions_by_order ON decisions(order_id);

                CREATE TABLE promotion_fires (
                    promotion TEXT NOT NULL,
                    customer_id TEXT NOT NULL,
                    at INTEGER NOT NULL
                );
                CREATE INDEX promotion_fires_by_key ON promotion_fires(promotion, customer_id, at);

                CREATE TABLE outbox (
                    id INTEGER PRIMARY KEY,
                    idempotency_key TEXT NOT NULL UNIQUE,
                    message_id TEXT NOT NULL,
                    customer_id TEXT,
                    rule TEXT NOT NULL,
                    action TEXT NOT NULL,
                    channel TEXT,
                    payload TEXT NOT NULL,
                    status TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'delivered', 'dead')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL
                );
                CREATE INDEX outbox_by_status ON outbox(status, id);
                CREATE INDEX outbox_by_customer ON outbox(customer_id);

                -- every loaded rule set: its sources, and its rule ids in order
                -- (explanations refer to rules by their position in this list)
                CREATE TABLE rulesets (
                    version TEXT PRIMARY KEY,
                    loaded_at INTEGER NOT NULL,
                    sources TEXT NOT NULL,
                    rules TEXT NOT NULL DEFAULT '[]'
                );
                """)
        }
        migrator.registerMigration("v2-journeys") { db in
            try db.execute(sql: """
                -- one row per journey instance; an active one with wake_at set is a durable timer
                CREATE TABLE journey_instances (
                    id INTEGER PRIMARY KEY,
                    journey TEXT NOT NULL,
                    customer_id TEXT NOT NULL,
                    key TEXT NOT NULL DEFAULT '',
                    status TEXT NOT NULL CHECK (status IN ('active', 'completed', 'exited')),
                    step TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    resume INTEGER NOT NULL DEFAULT 0,
                    wake_at INTEGER,
                    waiting_for TEXT,
                    entered_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    converted INTEGER NOT NULL DEFAULT 0,
                    exit_reason TEXT,
                    note TEXT,
                    ruleset_version TEXT NOT NULL,
                    runs INTEGER NOT NULL DEFAULT 0,
                    vars TEXT NOT NULL DEFAULT '{}'
                );
                CREATE INDEX journey_instances_by_customer ON journey_instances(journey, customer_id, key, entered_at);

                -- per journey and step: how often it was reached, sent, deferred, suppressed
                CREATE TABLE journey_steps (
                    journey TEXT NOT NULL,
                    step TEXT NOT NULL,
                    metric TEXT NOT NULL,
                    count INTEGER NOT NULL,
                    PRIMARY KEY (journey, step, metric)
                );

                -- the step names of each journey in each rule set (live edits map instances by them)
                CREATE TABLE journey_definitions (
                    ruleset_version TEXT NOT NULL,
                    journey TEXT NOT NULL,
                    steps TEXT NOT NULL,
                    PRIMARY KEY (ruleset_version, journey)
                );

                -- when each schedule last ran (per shard)
                CREATE TABLE schedule_runs (
                    schedule TEXT NOT NULL,
                    shard INTEGER NOT NULL DEFAULT 0,
                    last_run INTEGER NOT NULL,
                    PRIMARY KEY (schedule, shard)
                );
                """)
        }
        migrator.registerMigration("v3-delivery") { db in
            try db.execute(sql: """
                -- webhook delivery of the outbox: when to try next, the last failure, when delivered
                ALTER TABLE outbox ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE outbox ADD COLUMN last_error TEXT;
                ALTER TABLE outbox ADD COLUMN delivered_at INTEGER;

                -- what the admin API did to customer data (erasure), kept after the data is gone
                CREATE TABLE audit_log (
                    id INTEGER PRIMARY KEY,
                    at INTEGER NOT NULL,
                    action TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    detail TEXT NOT NULL DEFAULT '{}'
                );
                """)
        }
        migrator.registerMigration("v4-reports") { db in
            try db.execute(sql: """
                -- reports read events by name (ad spend, consultations, ratings, coupons, fraud labels) and orders by time
                CREATE INDEX events_by_name ON events(name, timestamp);
                CREATE INDEX orders_by_time ON orders(created_at);
                CREATE INDEX decisions_by_time ON decisions(at);
                CREATE INDEX promotion_fires_by_time ON promotion_fires(at);
                """)
        }
        migrator.registerMigration("v5-recommendations") { db in
            try db.execute(sql: """
                -- item-to-item co-occurrence (bought together, viewed in a row) and popularity per scope
                CREATE TABLE item_pairs (
                    a TEXT NOT NULL,
                    b TEXT NOT NULL,
                    weight REAL NOT NULL,
                    PRIMARY KEY (a, b)
                ) WITHOUT ROWID;
                CREATE TABLE item_popularity (
                    scope TEXT NOT NULL,
                    sku TEXT NOT NULL,
                    count REAL NOT NULL,
                    PRIMARY KEY (scope, sku)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v6-market") { db in
            try db.execute(sql: """
                -- the latest price each competitor was seen at, per product
                CREATE TABLE competitor_prices (
                    sku TEXT NOT NULL,
                    competitor TEXT NOT NULL,
                    price REAL NOT NULL,
                    at INTEGER NOT NULL,
                    PRIMARY KEY (sku, competitor)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v7-customer-indexes") { db in
            // A merge moves every row of the merged customer (and forgetting a
            // customer erases them): without these, each merge scanned the
            // three tables whole (7 of 11.5 s of a 100,000-event replay).
            try db.execute(sql: """
                CREATE INDEX promotion_fires_by_customer ON promotion_fires(customer_id);
                CREATE INDEX journey_instances_of_customer ON journey_instances(customer_id);
                CREATE INDEX segment_members_by_customer ON segment_members(customer_id);
                """)
        }
        migrator.registerMigration("v8-one-customer-index") { db in
            // One index per table led by the customer serves both the lookups
            // by customer (merges, export, erasure) and those by customer and
            // journey or promotion: each new instance or fire updates one
            // index in random order instead of two.
            try db.execute(sql: """
                DROP INDEX journey_instances_by_customer;
                DROP INDEX journey_instances_of_customer;
                CREATE INDEX journey_instances_by_customer ON journey_instances(customer_id, journey, key, entered_at);
                DROP INDEX promotion_fires_by_key;
                DROP INDEX promotion_fires_by_customer;
                CREATE INDEX promotion_fires_by_customer ON promotion_fires(customer_id, promotion, at);
                """)
        }
        registerLaterMigrations(&migrator)
        return migrator
    }
}
