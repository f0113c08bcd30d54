/*
 * kb_index.c -- an in-memory BM25F index over two fields: the title and the answers.
 *
 * Score of article d for query q (Robertson & Zaragoza, "The Probabilistic Relevance
 * Framework: BM25 and Beyond", 2009, section 3.5):
 *
 *   score(d) = sum over query terms t (with repeats) of  idf(t) * w(t,d) / (k1 + w(t,d))
 *   w(t,d)   = sum over fields f of  weight_f * tf(t,d,f) / (1 - b_f + b_f * len(d,f) / avglen(f))
 *   idf(t)   = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))     (always positive)
 *
 * Documents are indexed in full (stop words count towards field lengths); the query drops
 * stop words. The index is immutable once built, so any number of threads may search it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"

#define FIELD_TITLE 0
#define FIELD_BODY 1
#define FIELD_COUNT 2

const kb_params kb_default_params = {
    .k1 = 6.0,
    .b_title = 0.5,
    .b_body = 1.0,
    .title_weight = 10.0,
    .body_weight = 1.0,
};

typedef struct posting {
    uint32_t article;
    uint32_t tf[FIELD_COUNT];
} posting;

typedef struct term {
    char *text;
    size_t length;
    posting *postings;
    size_t count;
    size_t capacity;
} term;

typedef struct kb_article {
    char *id;
    size_t id_length;
    char *title;
    size_t title_length;
    uint32_t length[FIELD_COUNT];
} kb_article;

struct kb_index {
    kb_article *articles;
    size_t article_count;
    double average_length[FIELD_COUNT];
    term *terms;
    size_t term_count;
    size_t term_capacity;
    uint32_t *slots; /* open addressing: term index + 1, 0 = empty */
    size_t slot_count; /* a power of two */
};

static uint64_t hash_bytes(const char *bytes, size_t length) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < length; i++) {
        h ^= (unsigned char)bytes[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The slot holding term text, or the empty slot where it would go. */
static size_t find_slot(const kb_index *index, const char *text, size_t length) {
    size_t mask = index->slot_count - 1;
    size_t slot = (size_t)hash_bytes(text, length) & mask;
    for (;;) {
        uint32_t entry = index->slots[slot];
        if (entry == 0) return slot;
        const term *t = &index->terms[entry - 1];
        if (t->length == length && memcmp(t->text, text, length) == 0) return slot;
        slot = (slot + 1) & mask;
    }
}

static const term *lookup(const kb_index *index, const char *text, size_t length) {
    uint32_t entry = index->slots[find_slot(index, text, length)];
    return entry == 0 ? NULL : &index->terms[entry - 1];
}

static int grow_slots(kb_index *index) {
    size_t count = index->slot_count * 2;
    uint32_t *old = index->slots;
    size_t old_count = index->slot_count;
    index->slots = (uint32_t *)calloc(count, sizeof(uint32_t));
    if (index->slots == NULL) {
        index->slots = old;
        return -1;
    }
    index->slot_count = count;
    for (size_t i = 0; i < old_count; i++) {
        if (old[i] == 0) continue;
        const term *t = &index->terms[old[i] - 1];
        index->slots[find_slot(index, t->text, t->length)] = old[i];
    }
    free(old);
    return 0;
}

/* The term for text, created when new. NULL when out of memory. */
static term *intern(kb_index *index, const char *text, size_t length) {
    size_t slot = find_slot(index, text, length);
    if (index->slots[slot] != 0) return &index->terms[index->slots[slot] - 1];
    if (index->term_count == index->term_capacity) {
        size_t capacity = index->term_capacity == 0 ? 1024 : index->term_capacity * 2;
        term *terms = (term *)realloc(index->terms, capacity * sizeof(term));
        if (terms == NULL) return NULL;
        index->terms = terms;
        index->term_capacity = capacity;
    }
    term *t = &index->terms[index->term_count];
    memset(t, 0, sizeof(*t));
    t->text = (char *)malloc(length + 1);
    if (t->text == NULL) return NULL;
    memcpy(t->text, text, length);
    t->text[length] = '\0';
    t->length = length;
    index->term_count++;
    index->slots[slot] = (uint32_t)index->term_count;
    /* Keep the table at most half full. */
    if (index->term_count * 2 > index->slot_count && grow_slots(index) != 0) return NULL;
    return t;
}

typedef struct add_context {
    kb_index *index;
    uint32_t article;
    int field;
    int failed;
} add_context;

static void add_token(void *context, const char *token, size_t length, int is_stop_word) {
    (void)is_stop_word; /* documents are indexed in full */
    add_context *add = (add_context *)context;
    if (add->failed) return;
    term *t = intern(add->index, token, length);
    if (t == NULL) {
        add->failed = 1;
        return;
    }
    if (t->count == 0 || t->postings[t->count - 1].article != add->article) {
        if (t->count == t->capacity) {
            size_t capacity = t->capacity == 0 ? 4 : t->capacity * 2;
            posting *postings = (posting *)realloc(t->postings, capacity * sizeof(posting));
            if (postings == NULL) {
                add->failed = 1;
                return;
            }
            t->postings = postings;
            t->capacity = capacity;
        }
        posting *p = &t->postings[t->count++];
        memset(p, 0, sizeof(*p));
        p->article = add->article;
    }
    t->postings[t->count - 1].tf[add->field]++;
    add->index->articles[add->article].length[add->field]++;
}

static void free_index(kb_index *index) {
    if (index == NULL) return;
    for (size_t i = 0; i < index->article_count; i++) {
        free(index->articles[i].id);
        free(index->articles[i].title);
    }
    for (size_t i = 0; i < index->term_count; i++) {
        free(index->terms[i].text);
        free(index->terms[i].postings);
    }
    free(index->articles);
    free(index->terms);
    free(index->slots);
    free(index);
}

static char *copy_string(const kb_json *value) {
    char *copy = (char *)malloc(value->length + 1);
    if (copy != NULL) {
        memcpy(copy, value->string, value->length);
        copy[value->length] = '\0';
    }
    return copy;
}

kb_index *kb_index_build(const kb_json *articles, char *error, size_t error_size) {
    if (articles->type != KB_JSON_ARRAY) {
        snprintf(error, error_size, "expected an array of articles, found %s", kb_json_type_name(articles->type));
        return NULL;
    }
    if (articles->count == 0) {
        snprintf(error, error_size, "the array of articles is empty");
        return NULL;
    }
    if (articles->count > UINT32_MAX / 2) {
        snprintf(error, error_size, "too many articles (%zu)", articles->count);
        return NULL;
    }
    kb_index *index = (kb_index *)calloc(1, sizeof(kb_index));
    if (index == NULL) goto out_of_memory;
    index->slot_count = 4096;
    index->slots = (uint32_t *)calloc(index->slot_count, sizeof(uint32_t));
    index->articles = (kb_article *)calloc(articles->count, sizeof(kb_article));
    if (index->slots == NULL || index->articles == NULL) goto out_of_memory;

    for (size_t i = 0; i < articles->count; i++) {
        const kb_json *item = &articles->children[i];
        if (item->type != KB_JSON_OBJECT) {
            snprintf(error, error_size, "article %zu is a %s, expected an object", i, kb_json_type_name(item->type));
            goto invalid;
        }
        const kb_json *id = kb_json_member(item, "id");
        const kb_json *title = kb_json_member(item, "title");
        const kb_json *answers = kb_json_member(item, "answers");
        if (id == NULL || id->type != KB_JSON_STRING || id->length == 0) {
            snprintf(error, error_size, "article %zu: \"id\" must be a non-empty string", i);
            goto invalid;
        }
        if (title == NULL || title->type != KB_JSON_STRING) {
            snprintf(error, error_size, "article %zu (%.64s): \"title\" must be a string", i, id->string);
            goto invalid;
        }
        if (answers != NULL && answers->type != KB_JSON_ARRAY) {
            snprintf(error, error_size, "article %zu (%.64s): \"answers\" must be an array of strings", i, id->string);
            goto invalid;
        }
        kb_article *a = &index->articles[i];
        index->article_count = i + 1; /* so that free_index releases what this one holds */
        a->id = copy_string(id);
        a->id_length = id->length;
        a->title = copy_string(title);
        a->title_length = title->length;
        if (a->id == NULL || a->title == NULL) goto out_of_memory;

        add_context add = {index, (uint32_t)i, FIELD_TITLE, 0};
        kb_tokenize(title->string, title->length, add_token, &add);
        add.field = FIELD_BODY;
        for (size_t j = 0; answers != NULL && j < answers->count; j++) {
            const kb_json *answer = &answers->children[j];
            if (answer->type != KB_JSON_STRING) {
                snprintf(error, error_size, "article %zu (%.64s): answer %zu is a %s, expected a string", i, id->string, j,
                         kb_json_type_name(answer->type));
                goto invalid;
            }
            kb_tokenize(answer->string, answer->length, add_token, &add);
        }
        if (add.failed) goto out_of_memory;
    }
    for (int f = 0; f < FIELD_COUNT; f++) {
        double total = 0;
        for (size_t i = 0; i < index->article_count; i++) total += index->articles[i].length[f];
        index->average_length[f] = total / (double)index->article_count;
    }
    return index;

out_of_memory:
    snprintf(error, error_size, "out of memory while indexing");
invalid:
    free_index(index);
    return NULL;
}

size_t kb_index_size(const kb_index *index) { return index->article_count; }

size_t kb_index_terms(const kb_index *index) { return index->term_count; }

const char *kb_index_id(const kb_index *index, size_t article, size_t *length) {
    *length = index->articles[article].id_length;
    return index->articles[article].id;
}

const char *kb_index_title(const kb_index *index, size_t article, size_t *length) {
    *length = index->articles[article].title_length;
    return index->articles[article].title;
}

/* The query's distinct terms that occur in the index, with how often each was asked. */
typedef struct query_terms {
    const kb_index *index;
    const term **terms;
    uint32_t *counts;
    size_t count;
    size_t capacity;
    int failed;
} query_terms;

static void add_query_token(void *context, const char *token, size_t length, int is_stop_word) {
    query_terms *q = (query_terms *)context;
    if (is_stop_word || q->failed) return;
    const term *t = lookup(q->index, token, length);
    if (t == NULL) return; /* a word no article has adds nothing to any score */
    for (size_t i = 0; i < q->count; i++) {
        if (q->terms[i] == t) {
            q->counts[i]++;
            return;
        }
    }
    if (q->count == q->capacity) {
        size_t capacity = q->capacity == 0 ? 16 : q->capacity * 2;
        const term **terms = (const term **)realloc((void *)q->terms, capacity * sizeof(*terms));
        if (terms == NULL) { q->failed = 1; return; }
        q->terms = terms;
        uint32_t *counts = (uint32_t *)realloc(q->counts, capacity * sizeof(*counts));
        if (counts == NULL) { q->failed = 1; return; }
        q->counts = counts;
        q->capacity = capacity;
    }
    q->terms[q->count] = t;
    q->counts[q->count] = 1;
    q->count++;
}

/* Whether hit a ranks before hit b: higher score, then earlier article. */
static int ranks_before(double score_a, size_t article_a, double score_b, size_t article_b) {
    return score_a > score_b || (score_a == score_b && article_a < article_b);
}

size_t kb_index_search(const kb_index *index, const char *query, size_t query_length, const kb_params *params,
                       size_t k, kb_hit *hits) {
    query_terms q = {index, NULL, NULL, 0, 0, 0};
    kb_tokenize(query, query_length, add_query_token, &q);
    double *scores = q.failed ? NULL : (double *)calloc(index->article_count, sizeof(double));
    if (scores == NULL) {
        free((void *)q.terms);
        free(q.counts);
        return (size_t)-1;
    }
    const double weight[FIELD_COUNT] = {params->title_weight, params->body_weight};
    const double b[FIELD_COUNT] = {params->b_title, params->b_body};
    const double n_articles = (double)index->article_count;
    for (size_t i = 0; i < q.count; i++) {
        const term *t = q.terms[i];
        const double n = (double)t->count;
        const double idf = log(1.0 + (n_articles - n + 0.5) / (n + 0.5));
        for (size_t p = 0; p < t->count; p++) {
            const posting *hit = &t->postings[p];
            const kb_article *a = &index->articles[hit->article];
            double w = 0;
            for (int f = 0; f < FIELD_COUNT; f++) {
                if (hit->tf[f] == 0) continue; /* and so len(d,f) > 0 below */
                double norm = 1.0 - b[f] + b[f] * (double)a->length[f] / index->average_length[f];
                w += weight[f] * (double)hit->tf[f] / norm;
            }
            if (w > 0) scores[hit->article] += (double)q.counts[i] * idf * w / (params->k1 + w);
        }
    }
    free((void *)q.terms);
    free(q.counts);

    /* Keep the k best in hits, sorted, by insertion: k is small. */
    size_t found = 0;
    for (size_t d = 0; d < index->article_count && k > 0; d++) {
        double s = scores[d];
        if (!(s > 0)) continue;
        if (found == k && !ranks_before(s, d, hits[k - 1].score, hits[k - 1].article)) continue;
        size_t at = found < k ? found++ : k - 1;
        while (at > 0 && ranks_before(s, d, hits[at - 1].score, hits[at - 1].article)) {
            hits[at] = hits[at - 1];
            at--;
        }
        hits[at].article = d;
        hits[at].score = s;
    }
    free(scores);
    return found;
}
