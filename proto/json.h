/* A small JSON reader (RFC 8259) for what a JSON Web Token carries: its header and its
 * claims, each one object of a few KiB. Nothing is allocated and nothing is copied until
 * asked: a value is a window into the caller's bytes, and the reader walks it again for
 * each question. That costs a pass per lookup, which is nothing at a token's size, and
 * keeps the reader free of tables and limits on the number of members.
 *
 * Strict, because a token is an attacker's text: json_object_check() accepts exactly one
 * object with optional blanks around it, strings of valid UTF-8 with only JSON's escapes,
 * numbers in JSON's grammar, at most JSON_DEPTH_MAX levels of nesting (the walk recurses,
 * so the depth bounds the stack: about 64 B a level). json_member() refuses a member name
 * that occurs twice (RFC 7515 section 5.2 leaves a duplicate to the parser: two `exp` or
 * two `iss` read differently by two parsers is how tokens are forged). No function reads
 * past the window it is given. */
#ifndef GW_JSON_H
#define GW_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_DEPTH_MAX 16        /* objects and arrays within each other */
#define JSON_NAME_MAX 64         /* member names compared by json_member, NUL included */

enum json_type { JSON_NONE, JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_NUMBER, JSON_TRUE,
                 JSON_FALSE, JSON_NULL };

enum json_err {
    JSON_ESYNTAX = -1,           /* not JSON, or more than one value, or too deep */
    JSON_EDUPLICATE = -2,        /* the member asked for occurs twice */
    JSON_ETYPE = -3,             /* a value of another type than asked */
    JSON_ERANGE = -4,            /* a number outside what the caller can hold, or a string
                                    longer than its buffer */
};

/* A value: its type and its bytes in the document (a string's with its quotes). */
struct json_value {
    enum json_type type;
    const uint8_t *p;
    size_t len;
};

/* 0 when p[0..len) is one JSON object (blanks around it allowed), else JSON_ESYNTAX. The
 * other functions assume a document that passed. */
int json_object_check(const uint8_t *p, size_t len);
/* The whole document's object as a value (after json_object_check). */
int json_root(const uint8_t *p, size_t len, struct json_value *v);
/* The member name of object obj: 1 and *v when present once, 0 when absent,
 * JSON_EDUPLICATE, or JSON_ETYPE when obj is no object. Names are compared after their
 * escapes are decoded ("\u0065xp" is "exp"). */
int json_member(const struct json_value *obj, const char *name, struct json_value *v);
/* The next element of array arr after *pos (0 to start): 1 and *v, 0 at the end, or
 * JSON_ETYPE when arr is no array. */
int json_array_next(const struct json_value *arr, size_t *pos, struct json_value *v);
/* A string's text, its escapes decoded (\uXXXX and surrogate pairs into UTF-8) and
 * NUL-terminated: its length, JSON_ETYPE, or JSON_ERANGE when it does not fit in cap or
 * holds a NUL (a name that C would read shorter than it is). */
long json_string(const struct json_value *v, char *out, size_t cap);
/* A number as whole seconds (RFC 7519's NumericDate may have a fraction, dropped here):
 * 0, JSON_ETYPE, or JSON_ERANGE outside +-2^53 or with an exponent. */
int json_int(const struct json_value *v, int64_t *out);

#endif
