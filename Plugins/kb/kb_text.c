/*
 * kb_text.c -- tokenizer, English stop words and the Porter stemmer.
 *
 * The stemmer is the original algorithm of M. F. Porter, "An algorithm for suffix
 * stripping", Program 14(3), 1980, written from the paper's rules (the same algorithm as
 * SQLite FTS5's "porter" tokenizer), so "deleting", "deleted" and "deletes" meet at "delet".
 */
#include <stdlib.h>
#include <string.h>

#include "kb.h"

/* ---------------------------------------------------------------------------------
 * Porter stemmer. The word is b[0..k]; j marks the end of a stem candidate.
 * ------------------------------------------------------------------------------- */

typedef struct stemmer {
    char *b;
    int k; /* index of the last character */
    int j;
} stemmer;

/* Whether b[i] is a consonant: not a, e, i, o, u, and y only after a vowel-position. */
static int cons(const stemmer *z, int i) {
    switch (z->b[i]) {
    case 'a': case 'e': case 'i': case 'o': case 'u': return 0;
    case 'y': return i == 0 ? 1 : !cons(z, i - 1);
    default: return 1;
    }
}

/* m(): the number of vowel-consonant sequences in b[0..j]. */
static int measure(const stemmer *z) {
    int n = 0;
    int i = 0;
    for (;;) {
        if (i > z->j) return n;
        if (!cons(z, i)) break;
        i++;
    }
    i++;
    for (;;) {
        for (;;) {
            if (i > z->j) return n;
            if (cons(z, i)) break;
            i++;
        }
        i++;
        n++;
        for (;;) {
            if (i > z->j) return n;
            if (!cons(z, i)) break;
            i++;
        }
        i++;
    }
}

/* Whether b[0..j] contains a vowel. */
static int vowel_in_stem(const stemmer *z) {
    for (int i = 0; i <= z->j; i++) {
        if (!cons(z, i)) return 1;
    }
    return 0;
}

/* Whether b[i-1..i] is a double consonant. */
static int double_cons(const stemmer *z, int i) {
    return i >= 1 && z->b[i] == z->b[i - 1] && cons(z, i);
}

/* Whether b[i-2..i] is consonant-vowel-consonant with the last not w, x or y ("hop", not "snow"). */
static int cvc(const stemmer *z, int i) {
    if (i < 2 || !cons(z, i) || cons(z, i - 1) || !cons(z, i - 2)) return 0;
    char c = z->b[i];
    return c != 'w' && c != 'x' && c != 'y';
}

/* Whether b[0..k] ends with s; if so sets j to the end of what precedes it. */
static int ends(stemmer *z, const char *s) {
    int length = (int)strlen(s);
    if (length > z->k + 1) return 0;
    if (memcmp(z->b + z->k - length + 1, s, (size_t)length) != 0) return 0;
    z->j = z->k - length;
    return 1;
}

/* Replaces b[j+1..k] with s. Never longer than what it replaces plus one ("e"), and the
 * caller's buffer has room for that. */
static void set_to(stemmer *z, const char *s) {
    int length = (int)strlen(s);
    memcpy(z->b + z->j + 1, s, (size_t)length);
    z->k = z->j + length;
}

static void replace_if_measured(stemmer *z, const char *s) {
    if (measure(z) > 0) set_to(z, s);
}

/* Step 1ab: plurals and -ed / -ing. */
static void step1ab(stemmer *z) {
    if (z->b[z->k] == 's') {
        if (ends(z, "sses")) z->k -= 2;
        else if (ends(z, "ies")) set_to(z, "i");
        else if (z->k >= 1 && z->b[z->k - 1] != 's') z->k--;
    }
    if (ends(z, "eed")) {
        if (measure(z) > 0) z->k--;
    } else if ((ends(z, "ed") || ends(z, "ing")) && vowel_in_stem(z)) {
        z->k = z->j;
        if (ends(z, "at")) set_to(z, "ate");
        else if (ends(z, "bl")) set_to(z, "ble");
        else if (ends(z, "iz")) set_to(z, "ize");
        else if (double_cons(z, z->k)) {
            char c = z->b[z->k];
            if (c != 'l' && c != 's' && c != 'z') z->k--;
        } else {
            z->j = z->k;
            if (measure(z) == 1 && cvc(z, z->k)) set_to(z, "e");
        }
    }
}

/* Step 1c: terminal y becomes i when there is another vowel in the stem. */
static void step1c(stemmer *z) {
    if (ends(z, "y") && vowel_in_stem(z)) z->b[z->k] = 'i';
}

typedef struct rule {
    const char *suffix;
    const char *replacement;
} rule;

/* Applies the first rule whose suffix matches (only that one, as in the paper). */
static void apply_rules(stemmer *z, const rule *rules) {
    for (const rule *r = rules; r->suffix != NULL; r++) {
        if (ends(z, r->suffix)) {
            replace_if_measured(z, r->replacement);
            return;
        }
    }
}

static const rule step2_rules[] = {
    {"ational", "ate"}, {"tional", "tion"}, {"enci", "ence"}, {"anci", "ance"}, {"izer", "ize"},
    {"bli", "ble"}, {"alli", "al"}, {"entli", "ent"}, {"eli", "e"}, {"ousli", "ous"},
    {"ization", "ize"}, {"ation", "ate"}, {"ator", "ate"}, {"alism", "al"}, {"iveness", "ive"},
    {"fulness", "ful"}, {"ousness", "ous"}, {"aliti", "al"}, {"iviti", "ive"}, {"biliti", "ble"},
    {"logi", "log"}, {NULL, NULL},
};

static const rule step3_rules[] = {
    {"icate", "ic"}, {"ative", ""}, {"alize", "al"}, {"iciti", "ic"}, {"ical", "ic"},
    {"ful", ""}, {"ness", ""}, {NULL, NULL},
};

/* Step 4: drops -ant, -ence, ... when m > 1. */
static void step4(stemmer *z) {
    static const char *const suffixes[] = {
        "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment",
        "ent", "ion", "ou", "ism", "ate", "iti", "ous", "ive", "ize", NULL,
    };
    for (const char *const *s = suffixes; *s != NULL; s++) {
        if (!ends(z, *s)) continue;
        if (strcmp(*s, "ion") == 0 && !(z->j >= 0 && (z->b[z->j] == 's' || z->b[z->j] == 't'))) return;
        if (measure(z) > 1) z->k = z->j;
        return;
    }
}

/* Step 5: drops a final -e when m > 1 (or m == 1 and not *o), and -ll to -l when m > 1. */
static void step5(stemmer *z) {
    z->j = z->k;
    if (z->b[z->k] == 'e') {
        z->j = z->k - 1;
        int a = measure(z);
        if (a > 1 || (a == 1 && !cvc(z, z->k - 1))) z->k--;
    }
    z->j = z->k;
    if (z->b[z->k] == 'l' && double_cons(z, z->k) && measure(z) > 1) z->k--;
}

size_t kb_porter_stem(char *word, size_t length) {
    if (length <= 2) return length; /* the paper leaves words of one or two letters alone */
    stemmer z = {word, (int)length - 1, 0};
    step1ab(&z);
    if (z.k > 0) {
        step1c(&z);
        apply_rules(&z, step2_rules);
        apply_rules(&z, step3_rules);
        step4(&z);
        step5(&z);
    }
    return (size_t)z.k + 1;
}

/* ---------------------------------------------------------------------------------
 * Stop words: a common English list (NLTK's core), applied to queries before stemming.
 * Sorted for bsearch.
 * ------------------------------------------------------------------------------- */

static const char *const stop_words[] = {
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at",
    "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could",
    "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has",
    "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if",
    "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor",
    "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out",
    "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs",
    "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too",
    "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who",
    "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves",
};

static int compare_word(const void *key, const void *element) {
    return strcmp((const char *)key, *(const char *const *)element);
}

static int is_stop_word(const char *word) {
    return bsearch(word, stop_words, sizeof(stop_words) / sizeof(stop_words[0]), sizeof(stop_words[0]),
                   compare_word) != NULL;
}

/* ---------------------------------------------------------------------------------
 * Tokenizer
 * ------------------------------------------------------------------------------- */

static int is_token_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

void kb_tokenize(const char *text, size_t length, kb_token_fn fn, void *context) {
    /* +2: the stemmer may append one letter ("hop" + "e") and the word is NUL-terminated. */
    char word[KB_MAX_TOKEN + 2];
    size_t i = 0;
    while (i < length) {
        while (i < length && !is_token_byte((unsigned char)text[i])) i++;
        size_t start = i;
        int ascii = 1;
        while (i < length && is_token_byte((unsigned char)text[i])) {
            if ((unsigned char)text[i] >= 0x80) ascii = 0;
            i++;
        }
        size_t n = i - start;
        if (n == 0 || n > KB_MAX_TOKEN) continue;
        for (size_t c = 0; c < n; c++) {
            char ch = text[start + c];
            word[c] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
        }
        word[n] = '\0';
        int stop = ascii && is_stop_word(word);
        if (ascii) n = kb_porter_stem(word, n);
        word[n] = '\0';
        fn(context, word, n, stop);
    }
}
