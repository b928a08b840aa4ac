/*
 * conf.h: a YAML document (through libyaml) as a read-only tree, for settings and templates.
 *
 * A node is a scalar, a mapping or a sequence. Paths use dots for mapping keys and [i] for
 * sequence items: "municipality.name", "elements[3].x". The tree owns every node and string;
 * everything returned is borrowed until conf_free().
 */
#ifndef CONF_H
#define CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "kg.h"

struct conf;      /* a loaded document */
struct conf_node; /* one node in it */

/* The deepest nesting accepted (a mapping in a sequence in a mapping ... counts each level). */
#define CONF_MAX_DEPTH 32

/* Loads a YAML file; KG_EIO if it cannot be read, KG_EINPUT (with FILE:LINE) if it is not YAML
 * or nests deeper than CONF_MAX_DEPTH. */
enum kg_err conf_load(const char *path, struct conf **out) KG_WUR;
/* The same from a string in memory (for tests and built-in defaults). */
enum kg_err conf_load_string(const char *text, const char *name, struct conf **out) KG_WUR;
void conf_free(struct conf *c);

const struct conf_node *conf_root(const struct conf *c);
/* Follows path from node; NULL when absent. A NULL node gives NULL. */
const struct conf_node *conf_at(const struct conf_node *node, const char *path);

bool conf_is_scalar(const struct conf_node *n);
bool conf_is_map(const struct conf_node *n);
bool conf_is_seq(const struct conf_node *n);
/* A scalar's text (NULL for other kinds or NULL n). */
const char *conf_str(const struct conf_node *n);
/* Children of a mapping or sequence, in document order; a mapping child's key by conf_key. */
size_t conf_len(const struct conf_node *n);
const struct conf_node *conf_child(const struct conf_node *n, size_t i);
const char *conf_key(const struct conf_node *n);
/* The line in the file where the node starts (1-based), for error messages. */
int conf_line(const struct conf_node *n);

/* Typed reads of path under node; absent gives the default, a malformed value KG_EINPUT. */
const char *conf_get_str(const struct conf_node *node, const char *path, const char *def);
enum kg_err conf_get_int(const struct conf_node *node, const char *path, long def, long *out) KG_WUR;
enum kg_err conf_get_double(const struct conf_node *node, const char *path, double def, double *out) KG_WUR;
enum kg_err conf_get_bool(const struct conf_node *node, const char *path, bool def, bool *out) KG_WUR;

#endif
