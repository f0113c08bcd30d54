/* The physical reference of the engine-overhead benchmark: the journal and instance rows one
 * run of the engine writes, inserted straight through SQLite by the smallest program that
 * can, with the engine's schema (the same tables, indexes and foreign key), WAL,
 * synchronous=FULL, and the same number of transitions per write transaction.
 *
 *   raw-insert --db FILE --instances N --transitions-per-instance T --batch B
 *              --payload BYTES --snapshot BYTES [--inflight K]
 *
 * Each instance is one INSERT into instances (with a snapshot), then T journal rows; each
 * transition updates the instance row (status, current, sequence, updated_at), the first and
 * the last with a snapshot of --snapshot bytes, as the engine writes a snapshot when an
 * instance is created and when it comes to rest. K instances are in flight at once (default:
 * the batch size), their transitions interleaved as the engine's are. Every write transaction
 * saves the chain head, as the engine's group commit does. Row hashes are 32 bytes of
 * pseudo-random data: this measures storage, not SHA-256.
 *
 * Prints one JSON object: rows, commits, seconds, transitions_per_s.
 */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void check(sqlite3 *db, int code, const char *what) {
    if (code != SQLITE_OK && code != SQLITE_DONE && code != SQLITE_ROW) {
        fprintf(stderr, "raw-insert: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static void exec(sqlite3 *db, const char *sql) {
    char *error = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK) {
        fprintf(stderr, "raw-insert: %s: %s\n", sql, error);
        exit(1);
    }
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql) {
    sqlite3_stmt *statement = NULL;
    check(db, sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, NULL), sql);
    return statement;
}

static void step(sqlite3 *db, sqlite3_stmt *statement, const char *what) {
    check(db, sqlite3_step(statement), what);
    sqlite3_reset(statement);
}

/* Printable filler of `length` bytes: the stored size is what counts, not the content. */
static char *filler(size_t length, uint64_t *seed) {
    char *text = malloc(length + 1);
    for (size_t i = 0; i < length; i++) {
        *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
        text[i] = (char)('a' + (*seed >> 59) % 26);
    }
    text[length] = 0;
    return text;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    long instances = 0, per = 0, batch = 0, payload = 0, snapshot = 0, inflight = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        long value = atol(argv[i + 1]);
        if (!strcmp(argv[i], "--db")) path = argv[i + 1];
        else if (!strcmp(argv[i], "--instances")) instances = value;
        else if (!strcmp(argv[i], "--transitions-per-instance")) per = value;
        else if (!strcmp(argv[i], "--batch")) batch = value;
        else if (!strcmp(argv[i], "--payload")) payload = value;
        else if (!strcmp(argv[i], "--snapshot")) snapshot = value;
        else if (!strcmp(argv[i], "--inflight")) inflight = value;
        else { fprintf(stderr, "raw-insert: unknown option %s\n", argv[i]); return 64; }
    }
    if (!path || instances <= 0 || per <= 0 || batch <= 0 || payload <= 0 || snapshot <= 0) {
        fprintf(stderr, "usage: raw-insert --db FILE --instances N --transitions-per-instance T --batch B --payload BYTES --snapshot BYTES [--inflight K]\n");
        return 64;
    }
    if (inflight <= 0) inflight = batch;
    char wal[4096], shm[4096];
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    remove(path); remove(wal); remove(shm);

    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) { fprintf(stderr, "raw-insert: cannot open %s\n", path); return 1; }
    exec(db, "PRAGMA journal_mode = WAL");
    exec(db, "PRAGMA synchronous = FULL");
    exec(db, "PRAGMA foreign_keys = ON");
    exec(db,
         "CREATE TABLE instances (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, client_key TEXT UNIQUE, template TEXT NOT NULL,"
         " version TEXT NOT NULL, customer TEXT, status TEXT NOT NULL, current TEXT NOT NULL, sequence INTEGER NOT NULL, state TEXT NOT NULL,"
         " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, snapshot_seq INTEGER NOT NULL DEFAULT 0);"
         "CREATE INDEX instances_by_status ON instances(status, id);"
         "CREATE TABLE journal (id INTEGER PRIMARY KEY, instance INTEGER REFERENCES instances(rowid), seq INTEGER, kind TEXT NOT NULL,"
         " at INTEGER NOT NULL, actor TEXT NOT NULL, payload TEXT NOT NULL, hash BLOB NOT NULL, authority TEXT);"
         "CREATE UNIQUE INDEX journal_by_instance ON journal(instance, seq) WHERE instance IS NOT NULL;"
         "CREATE TABLE chain_head (one INTEGER PRIMARY KEY CHECK (one = 1), last_id INTEGER NOT NULL, last_hash BLOB NOT NULL);");

    sqlite3_stmt *insertInstance = prepare(db,
        "INSERT INTO instances (id, client_key, template, version, customer, status, current, sequence, state, created_at, updated_at, snapshot_seq)"
        " VALUES (?, NULL, 'engine-overhead', '1.0.0', NULL, 'running', 's1', 1, ?, ?, ?, 1)");
    sqlite3_stmt *update = prepare(db, "UPDATE instances SET status = ?, current = ?, sequence = ?, updated_at = ? WHERE rowid = ?");
    sqlite3_stmt *updateSnapshot = prepare(db,
        "UPDATE instances SET status = ?, current = ?, sequence = ?, state = ?, snapshot_seq = ?, updated_at = ? WHERE rowid = ?");
    sqlite3_stmt *append = prepare(db,
        "INSERT INTO journal (id, instance, seq, kind, at, actor, payload, authority, hash) VALUES (?, ?, ?, ?, ?, 'engine', ?, NULL, ?)");
    sqlite3_stmt *head = prepare(db, "INSERT OR REPLACE INTO chain_head (one, last_id, last_hash) VALUES (1, ?, ?)");

    uint64_t seed = 42;
    char *payloadText = filler((size_t)payload, &seed);
    char *snapshotText = filler((size_t)snapshot, &seed);
    unsigned char hash[32];
    long journalID = 0, commits = 0, rows = 0, inTransaction = 0;
    double start = now();
    exec(db, "BEGIN IMMEDIATE");
    for (long first = 0; first < instances; first += inflight) {
        long wave = instances - first < inflight ? instances - first : inflight;
        for (long seq = 1; seq <= per; seq++) {
            for (long k = 0; k < wave; k++) {
                long rowid = first + k + 1;
                int64_t at = 1796000000000LL + journalID;
                for (int b = 0; b < 32; b++) { seed = seed * 6364136223846793005ULL + 1; hash[b] = (unsigned char)(seed >> 56); }
                if (seq == 1) {
                    char id[32];
                    snprintf(id, sizeof id, "bench-%08ld", rowid);
                    sqlite3_bind_text(insertInstance, 1, id, -1, SQLITE_TRANSIENT);
                    sqlite3_bind_text(insertInstance, 2, snapshotText, (int)snapshot, SQLITE_STATIC);
                    sqlite3_bind_int64(insertInstance, 3, at);
                    sqlite3_bind_int64(insertInstance, 4, at);
                    step(db, insertInstance, "insert instance");
                } else {
                    int last = seq == per;
                    sqlite3_stmt *s = last ? updateSnapshot : update;
                    int n = 1;
                    sqlite3_bind_text(s, n++, last ? "completed" : "running", -1, SQLITE_STATIC);
                    sqlite3_bind_text(s, n++, last ? "done" : "s2", -1, SQLITE_STATIC);
                    sqlite3_bind_int64(s, n++, seq);
                    if (last) {
                        sqlite3_bind_text(s, n++, snapshotText, (int)snapshot, SQLITE_STATIC);
                        sqlite3_bind_int64(s, n++, seq);
                    }
                    sqlite3_bind_int64(s, n++, at);
                    sqlite3_bind_int64(s, n++, rowid);
                    step(db, s, "update instance");
                }
                journalID++;
                sqlite3_bind_int64(append, 1, journalID);
                sqlite3_bind_int64(append, 2, rowid);
                sqlite3_bind_int64(append, 3, seq);
                sqlite3_bind_text(append, 4, seq == 1 ? "started" : "step_succeeded", -1, SQLITE_STATIC);
                sqlite3_bind_int64(append, 5, at);
                sqlite3_bind_text(append, 6, payloadText, (int)payload, SQLITE_STATIC);
                sqlite3_bind_blob(append, 7, hash, 32, SQLITE_STATIC);
                step(db, append, "append");
                rows++;
                if (++inTransaction == batch) {
                    sqlite3_bind_int64(head, 1, journalID);
                    sqlite3_bind_blob(head, 2, hash, 32, SQLITE_STATIC);
                    step(db, head, "chain head");
                    exec(db, "COMMIT");
                    commits++;
                    inTransaction = 0;
                    exec(db, "BEGIN IMMEDIATE");
                }
            }
        }
    }
    sqlite3_bind_int64(head, 1, journalID);
    sqlite3_bind_blob(head, 2, hash, 32, SQLITE_STATIC);
    step(db, head, "chain head");
    exec(db, "COMMIT");
    commits++;
    double seconds = now() - start;
    printf("{\"rows\": %ld, \"commits\": %ld, \"seconds\": %.4f, \"transitions_per_s\": %.1f, \"batch\": %ld, \"payload_bytes\": %ld, \"snapshot_bytes\": %ld}\n",
           rows, commits, seconds, (double)rows / seconds, batch, payload, snapshot);
    sqlite3_finalize(insertInstance); sqlite3_finalize(update); sqlite3_finalize(updateSnapshot);
    sqlite3_finalize(append); sqlite3_finalize(head);
    sqlite3_close(db);
    free(payloadText); free(snapshotText);
    return 0;
}
