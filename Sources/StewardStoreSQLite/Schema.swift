import Foundation
import GRDB

/// The SQLite schema, versioned with GRDB migrations. Never edit a registered migration;
/// add a new one.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-instances-journal") { db in
            // Current state of every instance (a projection of the journal).
            try db.execute(sql: """
                CREATE TABLE instances (
                    rowid INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    client_key TEXT UNIQUE,
                    template TEXT NOT NULL,
                    version TEXT NOT NULL,
                    customer TEXT,
                    status TEXT NOT NULL,
                    current TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    state TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                );
                CREATE INDEX instances_by_status ON instances(status, id);
                """)
            // The append-only, hash-chained journal: instance events and audit entries.
            try db.execute(sql: """
                CREATE TABLE journal (
                    id INTEGER PRIMARY KEY,
                    instance INTEGER REFERENCES instances(rowid),
                    seq INTEGER,
                    kind TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    actor TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    hash BLOB NOT NULL
                );
                CREATE UNIQUE INDEX journal_by_instance ON journal(instance, seq) WHERE instance IS NOT NULL;
                """)
            try db.execute(sql: """
                CREATE TABLE review_tasks (
                    id INTEGER PRIMARY KEY,
                    instance INTEGER NOT NULL REFERENCES instances(rowid),
                    state TEXT NOT NULL,
                    credential TEXT NOT NULL,
                    status TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    decisions TEXT NOT NULL,
                    opened_at INTEGER NOT NULL,
                    due_at INTEGER,
                    escalation_level INTEGER NOT NULL DEFAULT 0,
                    decided_at INTEGER,
                    decision TEXT,
                    reviewer TEXT
                );
                CREATE INDEX review_tasks_open ON review_tasks(status, credential, due_at);
                CREATE UNIQUE INDEX review_tasks_one_open ON review_tasks(instance, state) WHERE status = 'open';
                """)
            // Reviewer edits kept as labelled data for evaluation.
            try db.execute(sql: """
                CREATE TABLE labelled_examples (
                    id INTEGER PRIMARY KEY,
                    instance INTEGER NOT NULL REFERENCES instances(rowid),
                    state TEXT NOT NULL,
                    template TEXT NOT NULL,
                    input TEXT NOT NULL,
                    model_output TEXT NOT NULL,
                    human_output TEXT NOT NULL,
                    reviewer TEXT NOT NULL,
                    at INTEGER NOT NULL
                );
                """)
            try db.execute(sql: """
                CREATE TABLE reviewers (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    credentials TEXT NOT NULL,
                    role TEXT NOT NULL DEFAULT 'reviewer',
                    created_at INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2-timers-notifications") { db in
            // Durable timers (SLA warning and breach); fired_at is set in the same transaction
            // as what the firing does, so each fires once even across restarts.
            try db.execute(sql: """
                CREATE TABLE timers (
                    id INTEGER PRIMARY KEY,
                    instance INTEGER NOT NULL REFERENCES instances(rowid),
                    task INTEGER REFERENCES review_tasks(id),
                    kind TEXT NOT NULL,
                    due_at INTEGER NOT NULL,
                    payload TEXT NOT NULL,
                    fired_at INTEGER,
                    cancelled_at INTEGER
                );
                CREATE INDEX timers_due ON timers(due_at) WHERE fired_at IS NULL AND cancelled_at IS NULL;
                """)
            // Who was told what (the escalation ladder's notifications), for delivery by an outbox reader.
            try db.execute(sql: """
                CREATE TABLE notifications (
                    id INTEGER PRIMARY KEY,
                    instance INTEGER REFERENCES instances(rowid),
                    task INTEGER REFERENCES review_tasks(id),
                    recipient TEXT NOT NULL,
                    message TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    delivered_at INTEGER
                );
                """)
            // The credential a task is currently assigned to after escalation (NULL: its own).
            try db.execute(sql: "ALTER TABLE review_tasks ADD COLUMN assigned TEXT")
        }
        migrator.registerMigration("v3-pinned-configs-chain-head") { db in
            // Effective configs by content hash: an instance runs and replays with the config it
            // started with, whatever the template or overlay says later.
            try db.execute(sql: "CREATE TABLE configs (hash TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID")
            // The journal's last id and hash, written with every append, so deleting the newest
            // rows is detected too.
            try db.execute(sql: "CREATE TABLE chain_head (one INTEGER PRIMARY KEY CHECK (one = 1), last_id INTEGER NOT NULL, last_hash BLOB NOT NULL)")
            try db.execute(sql: """
                INSERT INTO chain_head (one, last_id, last_hash)
                SELECT 1, id, hash FROM journal ORDER BY id DESC LIMIT 1
                """)
        }
        migrator.registerMigration("v4-snapshot-at-rest") { db in
            // The state snapshot is written when an instance comes to rest (waits or finishes);
            // while it runs only the journal grows. snapshot_seq says which event it reflects.
            try db.execute(sql: "ALTER TABLE instances ADD COLUMN snapshot_seq INTEGER NOT NULL DEFAULT 0")
            try db.execute(sql: "UPDATE instances SET snapshot_seq = sequence")
        }
        migrator.registerMigration("v5-pinned-templates-timer-states") { db in
            // Template texts (with the prompt texts they use) by content hash: an instance runs,
            // recovers and replays with the text it started with, whatever the file says later.
            try db.execute(sql: """
                CREATE TABLE templates (
                    hash TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    version TEXT NOT NULL,
                    text TEXT NOT NULL,
                    prompts TEXT NOT NULL,
                    stored_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX templates_by_version ON templates(name, version);
                """)
            // A timer belongs to a state: leaving the state cancels it. Existing timers belong to
            // their review task's checkpoint.
            try db.execute(sql: "ALTER TABLE timers ADD COLUMN state TEXT")
            try db.execute(sql: "UPDATE timers SET state = (SELECT state FROM review_tasks WHERE review_tasks.id = timers.task)")
            try db.execute(sql: "UPDATE timers SET state = '' WHERE state IS NULL")
            try db.execute(sql: "CREATE INDEX timers_by_instance ON timers(instance, state)")
        }
        migrator.registerMigration("v6-journalled-authority") { db in
            // The review-task change a transition made (JSON), hashed with its row, so the chain
            // covers review_tasks; reviewer_added entries carry the token hash from now on. The
            // baseline entry records what the tables held before, so old rows are not reported.
            try db.execute(sql: "ALTER TABLE journal ADD COLUMN authority TEXT")
            try Journal.appendBaseline(db, at: Int64((Date().timeIntervalSince1970 * 1000).rounded()))
        }
        migrator.registerMigration("v7-eval-runs") { db in try EvalSchema.create(db) }
        migrator.registerMigration("v8-audit-samples") { db in
            // Production instances sampled for audit as they passed a checkpoint unreviewed,
            // written by the commit of that transition (one per instance, checkpoint and visit).
            // items: the judged paths with the instance's values; bindings and input: what a
            // production-accuracy figure and a labelled example are keyed by and built from.
            try db.execute(sql: """
                CREATE TABLE audit_items (
                    id INTEGER PRIMARY KEY,
                    instance INTEGER NOT NULL REFERENCES instances(rowid),
                    state TEXT NOT NULL,
                    visit INTEGER NOT NULL,
                    template TEXT NOT NULL,
                    version TEXT NOT NULL,
                    customer TEXT,
                    credential TEXT NOT NULL,
                    items TEXT NOT NULL,
                    bindings TEXT NOT NULL,
                    input TEXT NOT NULL,
                    rate REAL NOT NULL,
                    needed_reviews INTEGER NOT NULL,
                    created_at INTEGER NOT NULL
                );
                CREATE UNIQUE INDEX audit_items_one_per_visit ON audit_items(instance, state, visit);
                CREATE INDEX audit_items_by_template ON audit_items(template, customer, id);
                CREATE INDEX audit_items_by_credential ON audit_items(credential, id);
                """)
            // Reviewers' verdicts, in the order given (ordinal 1 is the first review). One per
            // reviewer and item, at most needed_reviews per item (checked when writing).
            try db.execute(sql: """
                CREATE TABLE audit_verdicts (
                    id INTEGER PRIMARY KEY,
                    item INTEGER NOT NULL REFERENCES audit_items(id),
                    ordinal INTEGER NOT NULL,
                    reviewer TEXT NOT NULL,
                    credential TEXT NOT NULL,
                    judgements TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    UNIQUE (item, ordinal),
                    UNIQUE (item, reviewer)
                );
                """)
        }
        migrator.registerMigration("v9-migrations") { db in try MigrationSchema.create(db) }
        migrator.registerMigration("v10-shadow-observations") { db in try MigrationSchema.createShadow(db) }
        // What instances at event states wait for, by correlation key (rows leave with the state).
        migrator.registerMigration("v11-event-waits") { db in
            try db.execute(
                sql: """
                    CREATE TABLE event_waits (
                        instance INTEGER NOT NULL REFERENCES instances(rowid),
                        state TEXT NOT NULL,
                        event TEXT NOT NULL,
                        key TEXT,
                        PRIMARY KEY (instance, state)
                    );
                    CREATE INDEX event_waits_key ON event_waits(event, key);
                    """)
        }
        // The notification outbox: each channel's deliveries (their log) and how far it routed.
        migrator.registerMigration("v12-notification-deliveries") { db in
            try db.execute(
                sql: """
                    CREATE TABLE notification_deliveries (
                        notification INTEGER NOT NULL REFERENCES notifications(id),
                        channel TEXT NOT NULL,
                        status TEXT NOT NULL,
                        attempts INTEGER NOT NULL,
                        next_attempt_at INTEGER,
                        last_error TEXT,
                        last_status INTEGER,
                        delivered_at INTEGER,
                        PRIMARY KEY (notification, channel)
                    );
                    CREATE INDEX notification_deliveries_due ON notification_deliveries(next_attempt_at) WHERE status = 'pending';
                    CREATE TABLE notification_cursors (channel TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
                    """)
        }
        // Reviewers' claims on open review tasks: the newest claim of each task, kept until a
        // claim replaces or releases it (whether it still holds is the review desk's call).
        migrator.registerMigration("v13-review-claims") { db in
            try db.execute(
                sql: """
                    CREATE TABLE review_claims (
                        task INTEGER PRIMARY KEY REFERENCES review_tasks(id),
                        reviewer TEXT NOT NULL,
                        claimed_at INTEGER NOT NULL,
                        until INTEGER NOT NULL
                    );
                    """)
        }

        return migrator
    }
}
