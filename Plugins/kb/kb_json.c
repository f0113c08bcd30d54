/*
 * kb_json.c -- a strict RFC 8259 JSON reader and the few writers the step needs.
 *
 * The reader checks UTF-8 (the host refuses outputs that are not UTF-8, and titles are
 * copied into outputs), decodes escapes including surrogate pairs (a lone surrogate becomes
 * U+FFFD), limits nesting depth, and never uses the C locale (numbers are parsed by hand).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb.h"

#define KB_JSON_MAX_DEPTH 64

typedef struct parser {
    const unsigned char *text;
    size_t length;
    size_t at;
    char *error;
    size_t error_size;
    int failed;
} parser;

static void fail(parser *p, const char *what) {
    if (!p->failed) {
        snprintf(p->error, p->error_size, "invalid JSON at byte %zu: %s", p->at, what);
        p->failed = 1;
    }
}

static void skip_space(parser *p) {
    while (p->at < p->length) {
        unsigned char c = p->text[p->at];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->at++;
    }
}

/* Appends one code point as UTF-8. out must have room for 4 bytes. */
static size_t put_utf8(char *out, unsigned long cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes available), or 0 if malformed. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t need;
    unsigned long cp;
    if (c >= 0xC2 && c <= 0xDF) { need = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { need = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 4; cp = c & 0x07; }
    else return 0;
    if (n < need) return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0; /* overlong / too big */
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0; /* surrogates are not characters */
    return need;
}

static int hex4(parser *p, unsigned long *out) {
    if (p->at + 4 > p->length) { fail(p, "truncated \\u escape"); return -1; }
    unsigned long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p->text[p->at + (size_t)i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned long)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned long)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned long)(c - 'A' + 10);
        else { fail(p, "bad hex digit in \\u escape"); return -1; }
    }
    p->at += 4;
    *out = v;
    return 0;
}

/* Parses a string literal at p->at (which is '"'); the result is malloc'd. */
static int parse_string(parser *p, char **out, size_t *out_length) {
    p->at++; /* opening quote */
    /* Decoded text is never longer than the literal (every escape shrinks: "\\uD800" becomes
     * the 3 bytes of U+FFFD), so the literal's length bounds the buffer. */
    size_t end = p->at;
    while (end < p->length && p->text[end] != '"') end += p->text[end] == '\\' ? 2 : 1;
    char *text = (char *)malloc((end < p->length ? end : p->length) - p->at + 1);
    if (text == NULL) { fail(p, "out of memory"); return -1; }
    size_t n = 0;
    for (;;) {
        if (p->at >= p->length) { fail(p, "unterminated string"); break; }
        unsigned char c = p->text[p->at];
        if (c == '"') {
            p->at++;
            text[n] = '\0';
            *out = text;
            *out_length = n;
            return 0;
        }
        if (c < 0x20) { fail(p, "control character in string"); break; }
        if (c == '\\') {
            if (p->at + 1 >= p->length) { fail(p, "unterminated escape"); break; }
            unsigned char e = p->text[p->at + 1];
            p->at += 2;
            switch (e) {
            case '"': text[n++] = '"'; break;
            case '\\': text[n++] = '\\'; break;
            case '/': text[n++] = '/'; break;
            case 'b': text[n++] = '\b'; break;
            case 'f': text[n++] = '\f'; break;
            case 'n': text[n++] = '\n'; break;
            case 'r': text[n++] = '\r'; break;
            case 't': text[n++] = '\t'; break;
            case 'u': {
                unsigned long cp;
                if (hex4(p, &cp) != 0) break;
                if (cp >= 0xD800 && cp <= 0xDBFF && p->at + 6 <= p->length && p->text[p->at] == '\\' &&
                    p->text[p->at + 1] == 'u') {
                    size_t saved = p->at;
                    unsigned long low;
                    p->at += 2;
                    if (hex4(p, &low) != 0) break;
                    if (low >= 0xDC00 && low <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    } else {
                        p->at = saved; /* not a pair: the high half stands alone */
                        cp = 0xFFFD;
                    }
                } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                    cp = 0xFFFD;
                }
                n += put_utf8(text + n, cp);
                break;
            }
            default: fail(p, "unknown escape"); break;
            }
            if (p->failed) break;
            continue;
        }
        size_t sequence = utf8_sequence(p->text + p->at, p->length - p->at);
        if (sequence == 0) { fail(p, "invalid UTF-8 in string"); break; }
        memcpy(text + n, p->text + p->at, sequence);
        n += sequence;
        p->at += sequence;
    }
    free(text);
    return -1;
}

/* Parses a number by hand so that the result does not depend on the C locale. */
static int parse_number(parser *p, kb_json *out) {
    int negative = 0;
    double mantissa = 0;
    int exponent = 0;
    if (p->at < p->length && p->text[p->at] == '-') { negative = 1; p->at++; }
    if (p->at >= p->length || p->text[p->at] < '0' || p->text[p->at] > '9') { fail(p, "expected a digit"); return -1; }
    if (p->text[p->at] == '0') {
        p->at++;
    } else {
        while (p->at < p->length && p->text[p->at] >= '0' && p->text[p->at] <= '9') {
            mantissa = mantissa * 10 + (p->text[p->at] - '0');
            p->at++;
        }
    }
    if (p->at < p->length && p->text[p->at] == '.') {
        p->at++;
        if (p->at >= p->length || p->text[p->at] < '0' || p->text[p->at] > '9') { fail(p, "expected a digit after '.'"); return -1; }
        while (p->at < p->length && p->text[p->at] >= '0' && p->text[p->at] <= '9') {
            mantissa = mantissa * 10 + (p->text[p->at] - '0');
            if (exponent > -400) exponent--;
            p->at++;
        }
    }
    if (p->at < p->length && (p->text[p->at] == 'e' || p->text[p->at] == 'E')) {
        p->at++;
        int sign = 1;
        long e = 0;
        if (p->at < p->length && (p->text[p->at] == '+' || p->text[p->at] == '-')) {
            sign = p->text[p->at] == '-' ? -1 : 1;
            p->at++;
        }
        if (p->at >= p->length || p->text[p->at] < '0' || p->text[p->at] > '9') { fail(p, "expected a digit in exponent"); return -1; }
        while (p->at < p->length && p->text[p->at] >= '0' && p->text[p->at] <= '9') {
            if (e < 100000) e = e * 10 + (p->text[p->at] - '0');
            p->at++;
        }
        exponent += (int)(sign * e);
    }
    double value = exponent == 0 || mantissa == 0 ? mantissa : mantissa * pow(10.0, exponent);
    out->type = KB_JSON_NUMBER;
    out->number = negative ? -value : value;
    return 0;
}

static int parse_value(parser *p, kb_json *out, int depth);

static int parse_literal(parser *p, const char *word, size_t length) {
    if (p->length - p->at < length || memcmp(p->text + p->at, word, length) != 0) {
        fail(p, "expected a value");
        return -1;
    }
    p->at += length;
    return 0;
}

/* Parses '[...]' or '{...}' at p->at. */
static int parse_container(parser *p, kb_json *out, int depth, int is_object) {
    out->type = is_object ? KB_JSON_OBJECT : KB_JSON_ARRAY;
    char close = is_object ? '}' : ']';
    size_t capacity = 0;
    p->at++;
    skip_space(p);
    if (p->at < p->length && p->text[p->at] == close) {
        p->at++;
        return 0;
    }
    for (;;) {
        if (out->count == capacity) {
            size_t grown = capacity == 0 ? 4 : capacity * 2;
            kb_json *children = (kb_json *)realloc(out->children, grown * sizeof(kb_json));
            if (children == NULL) { fail(p, "out of memory"); return -1; }
            out->children = children;
            capacity = grown;
        }
        kb_json *child = &out->children[out->count];
        memset(child, 0, sizeof(*child));
        out->count++; /* counted now so that kb_json_free releases a half-parsed child */
        skip_space(p);
        if (is_object) {
            if (p->at >= p->length || p->text[p->at] != '"') { fail(p, "expected a string key"); return -1; }
            if (parse_string(p, &child->key, &child->key_length) != 0) return -1;
            skip_space(p);
            if (p->at >= p->length || p->text[p->at] != ':') { fail(p, "expected ':'"); return -1; }
            p->at++;
        }
        if (parse_value(p, child, depth + 1) != 0) return -1;
        skip_space(p);
        if (p->at < p->length && p->text[p->at] == ',') {
            p->at++;
            continue;
        }
        if (p->at < p->length && p->text[p->at] == close) {
            p->at++;
            return 0;
        }
        fail(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
        return -1;
    }
}

static int parse_value(parser *p, kb_json *out, int depth) {
    if (depth > KB_JSON_MAX_DEPTH) { fail(p, "nested too deeply"); return -1; }
    skip_space(p);
    if (p->at >= p->length) { fail(p, "expected a value"); return -1; }
    switch (p->text[p->at]) {
    case '{': return parse_container(p, out, depth, 1);
    case '[': return parse_container(p, out, depth, 0);
    case '"':
        out->type = KB_JSON_STRING;
        return parse_string(p, &out->string, &out->length);
    case 't':
        out->type = KB_JSON_BOOL;
        out->boolean = 1;
        return parse_literal(p, "true", 4);
    case 'f':
        out->type = KB_JSON_BOOL;
        return parse_literal(p, "false", 5);
    case 'n':
        out->type = KB_JSON_NULL;
        return parse_literal(p, "null", 4);
    default:
        return parse_number(p, out);
    }
}

int kb_json_parse(const char *text, size_t length, kb_json *out, char *error, size_t error_size) {
    parser p = {(const unsigned char *)text, length, 0, error, error_size, 0};
    memset(out, 0, sizeof(*out));
    if (text == NULL) {
        fail(&p, "no document");
        return -1;
    }
    if (parse_value(&p, out, 0) == 0) {
        skip_space(&p);
        if (p.at != p.length) fail(&p, "unexpected text after the document");
    }
    if (p.failed) {
        kb_json_free(out);
        memset(out, 0, sizeof(*out));
        return -1;
    }
    return 0;
}

void kb_json_free(kb_json *value) {
    for (size_t i = 0; i < value->count; i++) {
        kb_json_free(&value->children[i]);
        free(value->children[i].key);
    }
    free(value->children);
    free(value->string);
    value->children = NULL;
    value->string = NULL;
    value->count = 0;
}

const kb_json *kb_json_member(const kb_json *object, const char *key) {
    if (object == NULL || object->type != KB_JSON_OBJECT) return NULL;
    size_t key_length = strlen(key);
    const kb_json *found = NULL;
    for (size_t i = 0; i < object->count; i++) {
        const kb_json *member = &object->children[i];
        if (member->key_length == key_length && memcmp(member->key, key, key_length) == 0) found = member;
    }
    return found;
}

const char *kb_json_type_name(kb_json_type type) {
    switch (type) {
    case KB_JSON_NULL: return "null";
    case KB_JSON_BOOL: return "boolean";
    case KB_JSON_NUMBER: return "number";
    case KB_JSON_STRING: return "string";
    case KB_JSON_ARRAY: return "array";
    case KB_JSON_OBJECT: return "object";
    }
    return "value";
}

/* ---------------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------------- */

void kb_buffer_append(kb_buffer *buffer, const char *bytes, size_t length) {
    if (buffer->failed) return;
    if (buffer->length + length > buffer->capacity) {
        size_t capacity = buffer->capacity == 0 ? 256 : buffer->capacity;
        while (capacity < buffer->length + length) capacity *= 2;
        char *grown = (char *)realloc(buffer->bytes, capacity);
        if (grown == NULL) {
            buffer->failed = 1;
            return;
        }
        buffer->bytes = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->bytes + buffer->length, bytes, length);
    buffer->length += length;
}

void kb_buffer_append_text(kb_buffer *buffer, const char *text) {
    kb_buffer_append(buffer, text, strlen(text));
}

void kb_buffer_append_json_string(kb_buffer *buffer, const char *bytes, size_t length) {
    static const char hex[] = "0123456789abcdef";
    kb_buffer_append(buffer, "\"", 1);
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)bytes[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        kb_buffer_append(buffer, bytes + run, i - run);
        run = i + 1;
        char escape[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
        switch (c) {
        case '"': kb_buffer_append(buffer, "\\\"", 2); break;
        case '\\': kb_buffer_append(buffer, "\\\\", 2); break;
        case '\n': kb_buffer_append(buffer, "\\n", 2); break;
        case '\r': kb_buffer_append(buffer, "\\r", 2); break;
        case '\t': kb_buffer_append(buffer, "\\t", 2); break;
        default: kb_buffer_append(buffer, escape, sizeof(escape)); break;
        }
    }
    kb_buffer_append(buffer, bytes + run, length - run);
    kb_buffer_append(buffer, "\"", 1);
}

void kb_buffer_append_decimal(kb_buffer *buffer, double value) {
    if (!(value >= 0) || !isfinite(value) || value > 1e15) value = 0; /* scores are finite and >= 0 */
    unsigned long long scaled = (unsigned long long)llround(value * 10000.0);
    char text[48];
    int length = snprintf(text, sizeof(text), "%llu.%04llu", scaled / 10000ULL, scaled % 10000ULL);
    if (length > 0) kb_buffer_append(buffer, text, (size_t)length);
}

void kb_buffer_free(kb_buffer *buffer) {
    free(buffer->bytes);
    buffer->bytes = NULL;
    buffer->length = buffer->capacity = 0;
}
