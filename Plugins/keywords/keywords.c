/*
 * keywords -- a keyword-rule ticket classifier, written in plain C against steward_abi.h.
 *
 * Step "keywords.classify": input {"text": "..."} -> output
 *   {"category": "...", "confidence": 0.83, "matched": ["stolen", ...], "scores": {...}}
 *
 * Each category has weighted keywords; the score of a category is the sum of the weights
 * of its keywords found in the lower-cased text (whole-word or phrase match). Confidence is
 * the winner's share of all scores, damped when little matched. It is a baseline: the
 * trained classifier adapter replaces it. Depends on libc only.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steward_abi.h"

typedef struct keyword {
    const char *phrase;
    double weight;
} keyword;

typedef struct category {
    const char *name;
    const keyword *keywords;
} category;

static const keyword card_lost[] = {{"lost", 2}, {"stolen", 3}, {"missing card", 3}, {"can't find my card", 3},
                                      {"cannot find my", 3}, {"can't find my", 3}, {"cant find my", 3}, {"can not find my", 3},
                                      {"stole my", 3}, {"misplaced", 2}, {NULL, 0}};
static const keyword fraud[] = {{"fraud", 3}, {"didn't make", 3}, {"did not make", 3}, {"unauthorized", 3}, {"unauthorised", 3}, {"don't recognise", 3}, {"don't recognize", 3}, {"compromised", 3}, {"hacked", 2}, {NULL, 0}};
static const keyword refund[] = {{"refund", 3}, {"money back", 3}, {"return", 1}, {"reimburse", 2}, {"charged twice", 2}, {NULL, 0}};
static const keyword payment[] = {{"declined", 3}, {"payment failed", 3}, {"transfer", 2}, {"pending", 2}, {"payment", 1}, {"top up", 2}, {"top-up", 2}, {NULL, 0}};
static const keyword access[] = {{"password", 3}, {"log in", 2}, {"login", 2}, {"locked out", 3}, {"passcode", 3}, {"pin", 2}, {"verify", 1}, {"verification", 2}, {NULL, 0}};
static const keyword fees[] = {{"fee", 3}, {"charge", 1}, {"exchange rate", 3}, {"commission", 2}, {NULL, 0}};

static const category categories[] = {
    {"card_lost", card_lost}, {"fraud", fraud}, {"refund", refund},
    {"payment_issue", payment}, {"account_access", access}, {"fees", fees},
};
#define CATEGORY_COUNT (sizeof(categories) / sizeof(categories[0]))

/* Whether the document is structurally whole: every string closed and every object and
 * array closed in order, with nothing but white space around one top-level object. A
 * truncated or malformed input is refused rather than read as far as it goes. */
static int well_formed(const char *json, size_t length) {
    char stack[256];
    int depth = 0;
    size_t i = 0;
    while (i < length && isspace((unsigned char)json[i])) i++;
    if (i >= length || json[i] != '{') return 0;
    for (; i < length; i++) {
        char c = json[i];
        if (c == '"') {
            for (i++; i < length && json[i] != '"'; i++) {
                if (json[i] == '\\') i++;
            }
            if (i >= length) return 0;
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth == (int)sizeof(stack)) return 0;
            stack[depth++] = c == '{' ? '}' : ']';
        } else if (c == '}' || c == ']') {
            if (depth == 0 || stack[depth - 1] != c) return 0;
            if (--depth == 0) {
                for (i++; i < length; i++) {
                    if (!isspace((unsigned char)json[i])) return 0;
                }
                return 1;
            }
        }
    }
    return 0;
}

/* Finds the string value of top-level key "text" in a JSON object and decodes it into a
 * lower-cased, NUL-terminated copy (malloc'd). Returns NULL if absent or not a string. */
static char *extract_text(const char *json, size_t length) {
    if (!well_formed(json, length)) return NULL;
    const char *needle = "\"text\"";
    size_t needle_length = strlen(needle);
    int depth = 0;
    int in_string = 0;
    for (size_t i = 0; i < length; i++) {
        char c = json[i];
        if (in_string) {
            if (c == '\\') { i++; continue; }
            if (c == '"') in_string = 0;
            continue;
        }
        if (c == '{' || c == '[') { depth++; continue; }
        if (c == '}' || c == ']') { depth--; continue; }
        if (c != '"') continue;
        if (depth == 1 && i + needle_length <= length && memcmp(json + i, needle, needle_length) == 0) {
            size_t j = i + needle_length;
            while (j < length && isspace((unsigned char)json[j])) j++;
            if (j >= length || json[j] != ':') { in_string = 1; continue; }
            j++;
            while (j < length && isspace((unsigned char)json[j])) j++;
            if (j >= length || json[j] != '"') return NULL;
            j++;
            char *out = (char *)malloc(length - j + 1);
            if (out == NULL) return NULL;
            size_t n = 0;
            while (j < length && json[j] != '"') {
                char ch = json[j];
                if (ch == '\\' && j + 1 < length) {
                    char e = json[j + 1];
                    j += 2;
                    switch (e) {
                    case 'n': case 't': case 'r': case 'b': case 'f': out[n++] = ' '; break;
                    case 'u': j += 4; out[n++] = ' '; break; /* non-ASCII escapes never match keywords */
                    default: out[n++] = e; break;
                    }
                    continue;
                }
                out[n++] = (char)tolower((unsigned char)ch);
                j++;
            }
            if (j >= length) {
                free(out);
                return NULL;
            }
            out[n] = '\0';
            return out;
        }
        in_string = 1;
    }
    return NULL;
}

/* Whether phrase occurs in text at word boundaries. */
static int contains_phrase(const char *text, const char *phrase) {
    size_t phrase_length = strlen(phrase);
    for (const char *at = strstr(text, phrase); at != NULL; at = strstr(at + 1, phrase)) {
        int starts = at == text || !isalnum((unsigned char)at[-1]);
        /* allow plural/inflected endings: "refunds", "declined" */
        const char *end = at + phrase_length;
        int ends = !isalnum((unsigned char)*end) || *end == 's' || *end == 'e' || *end == 'd';
        if (starts && ends) return 1;
    }
    return 0;
}

static stw_status classify(const stw_step_call *call, stw_step_result *result) {
    const stw_host *host = call->host;
    char *text = extract_text(call->input, call->input_length);
    if (text == NULL) {
        return stw_step_error(host, result, STW_ERR_INVALID_INPUT, "input must be a JSON object with a string field \"text\"");
    }
    double scores[CATEGORY_COUNT] = {0};
    double total = 0;
    size_t best = 0;
    char matched[1024] = "";
    size_t matched_length = 0;
    for (size_t c = 0; c < CATEGORY_COUNT; c++) {
        for (const keyword *k = categories[c].keywords; k->phrase != NULL; k++) {
            if (contains_phrase(text, k->phrase)) {
                scores[c] += k->weight;
                int written = snprintf(matched + matched_length, sizeof(matched) - matched_length, "%s\"%s\"",
                                       matched_length > 0 ? "," : "", k->phrase);
                if (written > 0 && (size_t)written < sizeof(matched) - matched_length) matched_length += (size_t)written;
            }
        }
        total += scores[c];
        if (scores[c] > scores[best]) best = c;
    }
    free(text);

    const char *label = total > 0 ? categories[best].name : "general";
    /* Share of the evidence, damped by how much evidence there is (3 points = full weight). */
    double share = total > 0 ? scores[best] / total : 0.0;
    double strength = total >= 3 ? 1.0 : total / 3.0;
    double confidence = total > 0 ? share * (0.5 + 0.5 * strength) : 0.3;

    char buffer[2048];
    int length = snprintf(buffer, sizeof(buffer),
                          "{\"category\":\"%s\",\"confidence\":%.4f,\"matched\":[%s],\"scores\":{", label, confidence, matched);
    for (size_t c = 0; c < CATEGORY_COUNT && length > 0 && (size_t)length < sizeof(buffer); c++) {
        length += snprintf(buffer + length, sizeof(buffer) - (size_t)length, "%s\"%s\":%.1f", c > 0 ? "," : "",
                           categories[c].name, scores[c]);
    }
    if (length <= 0 || (size_t)length + 2 >= sizeof(buffer)) {
        return stw_step_error(host, result, STW_ERR_INTERNAL, "output buffer too small");
    }
    buffer[length++] = '}';
    buffer[length++] = '}';
    return stw_step_output(host, result, buffer, (size_t)length);
}

static const stw_step classify_step = {
    STW_STRUCT_HEADER(stw_step), "classify", "1.0.0",
    "Classify a support ticket by weighted keyword rules", STW_STEP_THREAD_SAFE | STW_STEP_PURE | STW_STEP_NONBLOCKING, classify,
};

static const stw_step *const steps[] = {&classify_step};

static const stw_plugin plugin = {
    STW_STRUCT_HEADER(stw_plugin), "keywords", "1.0.0", "Keyword-rule ticket classifier (baseline)",
    NULL, 1, steps, 0, NULL, NULL, NULL, NULL /* deinit, get_extension_with_state: since 1.2 */,
};

STW_EXPORT stw_status stw_plugin_entry(const stw_host *host, const stw_plugin **out) {
    if (host == NULL || host->header.abi_major != STW_ABI_VERSION_MAJOR) return STW_ERR_INCOMPATIBLE;
    *out = &plugin;
    return STW_OK;
}
