/*
 * kb.h -- internal interfaces of the knowledge-base plugin (not part of the ABI).
 *
 * The plugin is four C files: a small JSON reader/writer (kb_json.c), the Porter stemmer
 * and tokenizer (kb_text.c), the in-memory BM25F index (kb_index.c) and the ABI glue with
 * the step itself (kb.c). Nothing here is exported from the shared library.
 */
#ifndef KB_H
#define KB_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------------
 * JSON (kb_json.c)
 * ------------------------------------------------------------------------------- */

typedef enum kb_json_type {
    KB_JSON_NULL,
    KB_JSON_BOOL,
    KB_JSON_NUMBER,
    KB_JSON_STRING,
    KB_JSON_ARRAY,
    KB_JSON_OBJECT,
} kb_json_type;

/* One parsed JSON value. Strings are decoded UTF-8, NUL-terminated (they may also contain
 * NUL bytes; use length). An object's members are its children, each carrying its key. */
typedef struct kb_json {
    kb_json_type type;
    int boolean;
    double number;
    char *string;            /* KB_JSON_STRING */
    size_t length;
    char *key;               /* set on the members of an object */
    size_t key_length;
    struct kb_json *children; /* KB_JSON_ARRAY elements or KB_JSON_OBJECT members */
    size_t count;
} kb_json;

/* Parses a whole document. Returns 0 and fills *out, or -1 and writes a message such as
 * "invalid JSON at byte 12: expected ':'" into error. Free *out with kb_json_free. */
int kb_json_parse(const char *text, size_t length, kb_json *out, char *error, size_t error_size);
/* Frees what kb_json_parse allocated inside value (not value itself). */
void kb_json_free(kb_json *value);
/* The member named key of an object (the last one when repeated), or NULL. */
const kb_json *kb_json_member(const kb_json *object, const char *key);
/* "null", "boolean", "number", "string", "array" or "object". */
const char *kb_json_type_name(kb_json_type type);

/* A growable output buffer. On allocation failure it sets failed and ignores later writes. */
typedef struct kb_buffer {
    char *bytes;
    size_t length;
    size_t capacity;
    int failed;
} kb_buffer;

void kb_buffer_append(kb_buffer *buffer, const char *bytes, size_t length);
void kb_buffer_append_text(kb_buffer *buffer, const char *text);
/* Appends a JSON string literal (quotes and escapes added). */
void kb_buffer_append_json_string(kb_buffer *buffer, const char *bytes, size_t length);
/* Appends a non-negative finite number with four decimals, independent of the C locale. */
void kb_buffer_append_decimal(kb_buffer *buffer, double value);
void kb_buffer_free(kb_buffer *buffer);

/* ---------------------------------------------------------------------------------
 * Text (kb_text.c)
 * ------------------------------------------------------------------------------- */

/* Longest token kept; longer runs of letters are skipped (they are hashes, not words). */
#define KB_MAX_TOKEN 64

/* Called for each token: bytes are lower-cased and, when all ASCII, Porter-stemmed. */
typedef void (*kb_token_fn)(void *context, const char *token, size_t length, int is_stop_word);

/* Splits text into tokens (runs of ASCII letters and digits and of non-ASCII bytes),
 * lower-cases them, flags English stop words (checked before stemming) and stems the rest. */
void kb_tokenize(const char *text, size_t length, kb_token_fn fn, void *context);

/* Stems word[0..length) in place with the original Porter (1980) algorithm; word must be
 * lower-case ASCII letters/digits. Returns the new length. */
size_t kb_porter_stem(char *word, size_t length);

/* ---------------------------------------------------------------------------------
 * Index (kb_index.c)
 * ------------------------------------------------------------------------------- */

/* Ranking parameters: BM25F (Robertson & Zaragoza, 2009) over two fields. */
typedef struct kb_params {
    double k1;           /* term-frequency saturation */
    double b_title;      /* length normalisation of the title field, 0..1 */
    double b_body;       /* length normalisation of the answers field, 0..1 */
    double title_weight; /* weight of a title occurrence relative to ... */
    double body_weight;  /* ... an occurrence in the answers */
} kb_params;

/* The defaults, chosen on the StackFAQ dev queries (see Docs/knowledge-base.md). */
extern const kb_params kb_default_params;

typedef struct kb_index kb_index;

/* Builds an index from a parsed articles document: [{"id", "title", "answers": [...]}].
 * Returns NULL and writes a message into error when the document has another shape. */
kb_index *kb_index_build(const kb_json *articles, char *error, size_t error_size);
/* Number of articles. */
size_t kb_index_size(const kb_index *index);
/* Number of distinct terms. */
size_t kb_index_terms(const kb_index *index);

/* One search hit. */
typedef struct kb_hit {
    size_t article;
    double score;
} kb_hit;

/* Ranks the articles for query; writes at most k hits with a positive score into hits, best
 * first (ties by article order), and returns how many. Returns (size_t)-1 when out of memory.
 * Reads the index only, so concurrent searches are safe. */
size_t kb_index_search(const kb_index *index, const char *query, size_t query_length, const kb_params *params,
                       size_t k, kb_hit *hits);
/* The id and title of an article (NUL-terminated, with their lengths). */
const char *kb_index_id(const kb_index *index, size_t article, size_t *length);
const char *kb_index_title(const kb_index *index, size_t article, size_t *length);

#endif /* KB_H */
