/*
 * kb -- knowledge-base search, written in plain C against steward_abi.h.
 *
 * Step "kb.search": input {"query": "...", "k": 3} -> output
 *   {"results": [{"id": "faq-001", "title": "...", "score": 12.3456}, ...]}
 * best first, at most k (default 3, at most 100) articles with a positive score.
 *
 * Config (all optional):
 *   "articles"      path of the articles file, [{"id", "title", "answers": ["..."]}]; else
 *                   $STEWARD_KB_ARTICLES; else data/stackfaq/articles.json in the current directory
 *   "k1", "b_title", "b_body", "title_weight", "body_weight"
 *                   BM25F parameters (see kb_index.c); the defaults were tuned on StackFAQ
 *
 * Each articles file is read and indexed once, on the first call that names it, and kept for
 * the life of the process (plugins are never unloaded); later changes to the file, or its
 * removal, are not seen. The cache is guarded by a mutex and an index is immutable once built, so the step is
 * thread-safe. Depends on libc and libm only.
 */
#define _XOPEN_SOURCE 700 /* realpath, strdup */

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kb.h"
#include "steward_abi.h"

#define KB_DEFAULT_K 3
#define KB_MAX_K 100
#define KB_DEFAULT_ARTICLES "data/stackfaq/articles.json"
#define KB_ARTICLES_ENV "STEWARD_KB_ARTICLES"
#define KB_MAX_FILE (512u * 1024u * 1024u)

/* ---------------------------------------------------------------------------------
 * The index cache: one index per articles file (by resolved path), built on first use.
 * ------------------------------------------------------------------------------- */

typedef struct cached_index {
    char *path;             /* resolved by realpath */
    kb_index *index;
    struct cached_index *next;
} cached_index;

/* A path as a config or the environment spelled it (made absolute with the current
 * directory), mapped to its index, so that a call needs no realpath once the file is known. */
typedef struct cached_alias {
    char *spelling;
    const kb_index *index;
    struct cached_alias *next;
} cached_alias;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
/* Guarded by cache_lock; entries are never removed (plugins are never unloaded). */
static cached_index *cache = NULL;
static cached_alias *aliases = NULL;

/* path if absolute, else the current directory + "/" + path; malloc'd, NULL on failure. */
static char *absolute_spelling(const char *path) {
    if (path[0] == '/') return strdup(path);
    size_t size = 256;
    for (;;) {
        char *buffer = (char *)malloc(size + strlen(path) + 2);
        if (buffer == NULL) return NULL;
        if (getcwd(buffer, size) != NULL) {
            strcat(buffer, "/");
            strcat(buffer, path);
            return buffer;
        }
        free(buffer);
        if (errno != ERANGE || size > 65536) return NULL;
        size *= 2;
    }
}

/* Remembers spelling (taking ownership) as another name of index. Called under cache_lock. */
static void add_alias(char *spelling, const kb_index *index) {
    cached_alias *alias = spelling != NULL ? (cached_alias *)malloc(sizeof(cached_alias)) : NULL;
    if (alias == NULL) {
        free(spelling); /* only a missed shortcut: the next call resolves the path again */
        return;
    }
    alias->spelling = spelling;
    alias->index = index;
    alias->next = aliases;
    aliases = alias;
}

static const char *errno_text(int error) {
    switch (error) {
    case ENOENT: return "no such file";
    case ENOTDIR: return "a parent is not a directory";
    case EACCES: return "permission denied";
    case EISDIR: return "is a directory";
    case ENOMEM: return "out of memory";
    default: return "cannot be read";
    }
}

/* Reads a whole file into a malloc'd buffer. Returns 0, or an errno value. */
static int read_file(const char *path, char **bytes, size_t *length) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) return errno;
    size_t capacity = 1 << 16, used = 0;
    char *buffer = (char *)malloc(capacity);
    int error = buffer == NULL ? ENOMEM : 0;
    while (error == 0) {
        if (used == capacity) {
            if (capacity >= KB_MAX_FILE) { error = EFBIG; break; }
            char *grown = (char *)realloc(buffer, capacity * 2);
            if (grown == NULL) { error = ENOMEM; break; }
            buffer = grown;
            capacity *= 2;
        }
        size_t n = fread(buffer + used, 1, capacity - used, file);
        used += n;
        if (n == 0) {
            if (ferror(file)) error = errno != 0 ? errno : EIO;
            break;
        }
    }
    fclose(file);
    if (error != 0) {
        free(buffer);
        return error;
    }
    *bytes = buffer;
    *length = used;
    return 0;
}

static void log_line(const stw_host *host, int32_t level, const char *text) {
    if (host != NULL && host->log != NULL) host->log(host->context, level, text, strlen(text));
}

/* Finds or builds the index of the articles file at path. On failure returns NULL and writes
 * a message naming the path into message. */
static const kb_index *index_for(const stw_host *host, const char *path, const char *origin, char *message,
                                 size_t message_size) {
    char *spelling = absolute_spelling(path);
    if (spelling != NULL) {
        pthread_mutex_lock(&cache_lock);
        for (cached_alias *alias = aliases; alias != NULL; alias = alias->next) {
            if (strcmp(alias->spelling, spelling) == 0) {
                pthread_mutex_unlock(&cache_lock);
                free(spelling);
                return alias->index;
            }
        }
        pthread_mutex_unlock(&cache_lock);
    }
    char *resolved = realpath(path, NULL);
    if (resolved == NULL) {
        snprintf(message, message_size, "knowledge base articles file '%s' (%s): %s", path, origin, errno_text(errno));
        free(spelling);
        return NULL;
    }
    pthread_mutex_lock(&cache_lock);
    for (cached_index *entry = cache; entry != NULL; entry = entry->next) {
        if (strcmp(entry->path, resolved) == 0) {
            add_alias(spelling, entry->index);
            pthread_mutex_unlock(&cache_lock);
            free(resolved);
            return entry->index;
        }
    }
    /* Built under the lock: concurrent first calls wait for one build instead of racing. */
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    const kb_index *result = NULL;
    char *bytes = NULL;
    size_t length = 0;
    int error = read_file(resolved, &bytes, &length);
    if (error != 0) {
        snprintf(message, message_size, "knowledge base articles file '%s' (%s): %s", path, origin, errno_text(error));
    } else {
        kb_json document;
        char detail[256];
        if (kb_json_parse(bytes, length, &document, detail, sizeof(detail)) != 0) {
            snprintf(message, message_size, "knowledge base articles file '%s': %s", path, detail);
        } else {
            kb_index *index = kb_index_build(&document, detail, sizeof(detail));
            kb_json_free(&document);
            cached_index *entry = index != NULL ? (cached_index *)malloc(sizeof(cached_index)) : NULL;
            if (index == NULL) {
                snprintf(message, message_size, "knowledge base articles file '%s': %s", path, detail);
            } else if (entry == NULL) {
                snprintf(message, message_size, "knowledge base articles file '%s': out of memory", path);
                /* the index leaks here; the process is out of memory anyway */
            } else {
                entry->path = resolved;
                entry->index = index;
                entry->next = cache;
                cache = entry;
                resolved = NULL;
                result = index;
                add_alias(spelling, index);
                spelling = NULL;
                struct timespec finished;
                clock_gettime(CLOCK_MONOTONIC, &finished);
                double ms = (double)(finished.tv_sec - started.tv_sec) * 1e3 + (double)(finished.tv_nsec - started.tv_nsec) / 1e6;
                char line[1200];
                snprintf(line, sizeof(line), "kb: indexed %zu articles (%zu terms) from %s in %.1f ms", kb_index_size(index),
                         kb_index_terms(index), entry->path, ms);
                log_line(host, STW_LOG_INFO, line);
            }
        }
        free(bytes);
    }
    pthread_mutex_unlock(&cache_lock);
    free(resolved);
    free(spelling);
    return result;
}

/* ---------------------------------------------------------------------------------
 * The step
 * ------------------------------------------------------------------------------- */

/* Reads an optional number member into *out, checking lo <= value <= hi. 0 when fine. */
static int read_parameter(const kb_json *config, const char *key, double lo, double hi, double *out, char *message,
                          size_t message_size) {
    const kb_json *value = kb_json_member(config, key);
    if (value == NULL) return 0;
    if (value->type != KB_JSON_NUMBER || !(value->number >= lo && value->number <= hi)) {
        snprintf(message, message_size, "config \"%s\" must be a number from %g to %g", key, lo, hi);
        return -1;
    }
    *out = value->number;
    return 0;
}

/* Checks the step config and fills params and the articles path. 0 when fine. */
static int read_config(const kb_json *config, kb_params *params, const char **articles, const char **origin, char *message,
                       size_t message_size) {
    static const char *const known[] = {"articles", "k1", "b_title", "b_body", "title_weight", "body_weight", NULL};
    if (config->type != KB_JSON_OBJECT) {
        snprintf(message, message_size, "config must be a JSON object, found %s", kb_json_type_name(config->type));
        return -1;
    }
    for (size_t i = 0; i < config->count; i++) {
        int found = 0;
        for (const char *const *k = known; *k != NULL && !found; k++) found = strcmp(config->children[i].key, *k) == 0;
        if (!found) {
            snprintf(message, message_size,
                     "unknown config key \"%.64s\" (known: articles, k1, b_title, b_body, title_weight, body_weight)",
                     config->children[i].key);
            return -1;
        }
    }
    *params = kb_default_params;
    if (read_parameter(config, "k1", 0.001, 1000, &params->k1, message, message_size) != 0 ||
        read_parameter(config, "b_title", 0, 1, &params->b_title, message, message_size) != 0 ||
        read_parameter(config, "b_body", 0, 1, &params->b_body, message, message_size) != 0 ||
        read_parameter(config, "title_weight", 0, 1000, &params->title_weight, message, message_size) != 0 ||
        read_parameter(config, "body_weight", 0, 1000, &params->body_weight, message, message_size) != 0) {
        return -1;
    }
    if (params->title_weight == 0 && params->body_weight == 0) {
        snprintf(message, message_size, "config \"title_weight\" and \"body_weight\" cannot both be 0");
        return -1;
    }
    const kb_json *path = kb_json_member(config, "articles");
    if (path != NULL) {
        if (path->type != KB_JSON_STRING || path->length == 0 || strlen(path->string) != path->length) {
            snprintf(message, message_size, "config \"articles\" must be a non-empty path string");
            return -1;
        }
        *articles = path->string;
        *origin = "from step config \"articles\"";
        return 0;
    }
    const char *env = getenv(KB_ARTICLES_ENV);
    if (env != NULL && env[0] != '\0') {
        *articles = env;
        *origin = "from $" KB_ARTICLES_ENV;
    } else {
        *articles = KB_DEFAULT_ARTICLES;
        *origin = "the default, relative to the current directory; set step config \"articles\" or $" KB_ARTICLES_ENV;
    }
    return 0;
}

/* Checks the input; fills the query and k. 0 when fine. */
static int read_input(const kb_json *input, const kb_json **query, size_t *k, char *message, size_t message_size) {
    if (input->type != KB_JSON_OBJECT) {
        snprintf(message, message_size, "input must be a JSON object {\"query\": \"...\", \"k\": 3}, found %s",
                 kb_json_type_name(input->type));
        return -1;
    }
    *query = kb_json_member(input, "query");
    if (*query == NULL || (*query)->type != KB_JSON_STRING) {
        snprintf(message, message_size, "input field \"query\" must be a string, found %s",
                 *query == NULL ? "nothing" : kb_json_type_name((*query)->type));
        return -1;
    }
    int blank = 1;
    for (size_t i = 0; i < (*query)->length && blank; i++) {
        char c = (*query)->string[i];
        blank = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    }
    if (blank) {
        snprintf(message, message_size, "input field \"query\" is empty");
        return -1;
    }
    *k = KB_DEFAULT_K;
    const kb_json *count = kb_json_member(input, "k");
    if (count != NULL) {
        double v = count->type == KB_JSON_NUMBER ? count->number : NAN;
        if (!(v >= 1 && v <= KB_MAX_K && v == floor(v))) {
            snprintf(message, message_size, "input field \"k\" must be an integer from 1 to %d", KB_MAX_K);
            return -1;
        }
        *k = (size_t)v;
    }
    return 0;
}

static stw_status search(const stw_step_call *call, stw_step_result *result) {
    const stw_host *host = call->host;
    char message[1536];
    kb_json input, config;
    char detail[256];
    if (kb_json_parse(call->input, call->input_length, &input, detail, sizeof(detail)) != 0) {
        snprintf(message, sizeof(message), "input is not valid JSON: %s", detail);
        return stw_step_error(host, result, STW_ERR_INVALID_INPUT, message);
    }
    int have_config = call->config != NULL && call->config_length > 0;
    if (!have_config) {
        memset(&config, 0, sizeof(config));
        config.type = KB_JSON_OBJECT;
    } else if (kb_json_parse(call->config, call->config_length, &config, detail, sizeof(detail)) != 0) {
        kb_json_free(&input);
        snprintf(message, sizeof(message), "config is not valid JSON: %s", detail);
        return stw_step_error(host, result, STW_ERR_INVALID_INPUT, message);
    }

    stw_status status = STW_OK;
    kb_params params;
    const char *articles = NULL, *origin = NULL;
    const kb_json *query = NULL;
    size_t k = 0;
    const kb_index *index = NULL;
    kb_hit hits[KB_MAX_K];
    size_t found = 0;
    if (read_config(&config, &params, &articles, &origin, message, sizeof(message)) != 0 ||
        read_input(&input, &query, &k, message, sizeof(message)) != 0) {
        status = STW_ERR_INVALID_INPUT;
    } else if ((index = index_for(host, articles, origin, message, sizeof(message))) == NULL) {
        status = STW_ERR_PERMANENT; /* the same call cannot succeed until someone fixes the file */
    } else if ((found = kb_index_search(index, query->string, query->length, &params, k, hits)) == (size_t)-1) {
        snprintf(message, sizeof(message), "out of memory while searching");
        status = STW_ERR_INTERNAL;
    }
    kb_json_free(&input);
    kb_json_free(&config);
    if (status != STW_OK) return stw_step_error(host, result, status, message);

    kb_buffer out = {NULL, 0, 0, 0};
    kb_buffer_append_text(&out, "{\"results\":[");
    for (size_t i = 0; i < found; i++) {
        size_t length;
        const char *text;
        kb_buffer_append_text(&out, i == 0 ? "{\"id\":" : ",{\"id\":");
        text = kb_index_id(index, hits[i].article, &length);
        kb_buffer_append_json_string(&out, text, length);
        kb_buffer_append_text(&out, ",\"title\":");
        text = kb_index_title(index, hits[i].article, &length);
        kb_buffer_append_json_string(&out, text, length);
        kb_buffer_append_text(&out, ",\"score\":");
        kb_buffer_append_decimal(&out, hits[i].score);
        kb_buffer_append_text(&out, "}");
    }
    kb_buffer_append_text(&out, "]}");
    if (out.failed) {
        kb_buffer_free(&out);
        return stw_step_error(host, result, STW_ERR_INTERNAL, "out of memory while writing the output");
    }
    status = stw_step_output(host, result, out.bytes, out.length);
    kb_buffer_free(&out);
    return status;
}

static const stw_step search_step = {
    STW_STRUCT_HEADER(stw_step), "search", "1.0.0",
    "Rank knowledge-base articles for a query (BM25F over title and answers); returns the top k",
    STW_STEP_THREAD_SAFE | STW_STEP_PURE, search,
};

static const stw_step *const steps[] = {&search_step};

static const stw_plugin plugin = {
    STW_STRUCT_HEADER(stw_plugin), "kb", "1.0.0", "Knowledge-base search (in-memory BM25F with Porter stemming)",
    NULL, 1, steps, 0, NULL, NULL, NULL, NULL /* deinit, get_extension_with_state: since 1.2 */,
};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    if (host == NULL || out == NULL || host->header.abi_major != STW_ABI_VERSION_MAJOR) return STW_ERR_INCOMPATIBLE;
    *out = &plugin;
    return STW_OK;
}
