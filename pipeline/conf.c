/*
 * conf.c: builds the tree from libyaml's event stream. Anchors and aliases are not
 * supported (settings and templates have no need of them) and are reported as errors.
 */
#include "conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "banned.h"

enum kind { SCALAR, MAP, SEQ };

struct conf_node {
	enum kind kind;
	char *key;   /* for children of a mapping */
	char *value; /* for scalars */
	int line;
	struct conf_node **kids;
	size_t n, alloc;
};

struct conf {
	struct conf_node *root;
	char *name;
};

static void node_free(struct conf_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->key);
	free(n->value);
	free(n);
}

void conf_free(struct conf *c)
{
	if (!c)
		return;
	node_free(c->root);
	free(c->name);
	free(c);
}

static struct conf_node *node_new(enum kind kind, int line)
{
	struct conf_node *n = kg_calloc(1, sizeof *n);
	n->kind = kind;
	n->line = line;
	return n;
}

static void node_add(struct conf_node *parent, struct conf_node *kid)
{
	KG_GROW(parent->kids, parent->n + 1, parent->alloc);
	parent->kids[parent->n++] = kid;
}

/* Parses one node whose start event is ev, depth levels down; *out receives it. Nesting is
 * bounded: settings and templates need a handful of levels, and 60,000 nested '[' must be an
 * error, not a stack overflow. */
static enum kg_err parse_node(yaml_parser_t *p, yaml_event_t *ev, const char *name, int depth, struct conf_node **out)
{
	int line = (int)ev->start_mark.line + 1;
	if (depth > CONF_MAX_DEPTH)
		return kg_fail(KG_EINPUT, "%s:%d: nested deeper than %d levels", name, line, CONF_MAX_DEPTH);
	if (ev->type == YAML_SCALAR_EVENT) {
		struct conf_node *n = node_new(SCALAR, line);
		n->value = kg_strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		*out = n;
		return KG_OK;
	}
	if (ev->type != YAML_MAPPING_START_EVENT && ev->type != YAML_SEQUENCE_START_EVENT)
		return kg_fail(KG_EINPUT, "%s:%d: unsupported YAML (anchors and aliases are not allowed)", name, line);

	bool map = ev->type == YAML_MAPPING_START_EVENT;
	struct conf_node *n = node_new(map ? MAP : SEQ, line);
	enum kg_err err = KG_OK;
	for (;;) {
		yaml_event_t e;
		if (!yaml_parser_parse(p, &e)) {
			err = kg_fail(KG_EINPUT, "%s:%zu: %s", name, p->problem_mark.line + 1,
			              p->problem ? p->problem : "bad YAML");
			break;
		}
		if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&e);
			break;
		}
		char *key = NULL;
		if (map) {
			if (e.type != YAML_SCALAR_EVENT) {
				err = kg_fail(KG_EINPUT, "%s:%zu: mapping keys must be plain text", name,
				              e.start_mark.line + 1);
				yaml_event_delete(&e);
				break;
			}
			key = kg_strndup((const char *)e.data.scalar.value, e.data.scalar.length);
			yaml_event_delete(&e);
			if (!yaml_parser_parse(p, &e)) {
				free(key);
				err = kg_fail(KG_EINPUT, "%s:%zu: %s", name, p->problem_mark.line + 1,
				              p->problem ? p->problem : "bad YAML");
				break;
			}
		}
		struct conf_node *kid = NULL;
		err = parse_node(p, &e, name, depth + 1, &kid);
		yaml_event_delete(&e);
		if (err) {
			free(key);
			break;
		}
		kid->key = key;
		node_add(n, kid);
	}
	if (err) {
		node_free(n);
		return err;
	}
	*out = n;
	return KG_OK;
}

static enum kg_err load(yaml_parser_t *p, const char *name, struct conf **out)
{
	struct conf *c = kg_calloc(1, sizeof *c);
	c->name = kg_strdup(name);
	enum kg_err err = KG_OK;
	for (;;) {
		yaml_event_t e;
		if (!yaml_parser_parse(p, &e)) {
			err = kg_fail(KG_EINPUT, "%s:%zu: %s", name, p->problem_mark.line + 1,
			              p->problem ? p->problem : "bad YAML");
			break;
		}
		yaml_event_type_t t = e.type;
		if (t == YAML_SCALAR_EVENT || t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT) {
			if (c->root) {
				yaml_event_delete(&e);
				err = kg_fail(KG_EINPUT, "%s: only one YAML document is allowed", name);
				break;
			}
			err = parse_node(p, &e, name, 1, &c->root);
		}
		yaml_event_delete(&e);
		if (err || t == YAML_STREAM_END_EVENT)
			break;
	}
	if (!err && !c->root)
		c->root = node_new(MAP, 1); /* an empty file is an empty mapping */
	if (err) {
		conf_free(c);
		return err;
	}
	*out = c;
	return KG_OK;
}

enum kg_err conf_load(const char *path, struct conf **out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return kg_fail(KG_EIO, "%s: %s", path, strerror(errno));
	yaml_parser_t p;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, f);
	enum kg_err err = load(&p, path, out);
	yaml_parser_delete(&p);
	fclose(f);
	return err;
}

enum kg_err conf_load_string(const char *text, const char *name, struct conf **out)
{
	yaml_parser_t p;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
	enum kg_err err = load(&p, name, out);
	yaml_parser_delete(&p);
	return err;
}

const struct conf_node *conf_root(const struct conf *c)
{
	return c ? c->root : NULL;
}

const struct conf_node *conf_at(const struct conf_node *node, const char *path)
{
	const char *s = path;
	while (node && *s) {
		if (*s == '.') {
			s++;
			continue;
		}
		if (*s == '[') {
			char *end;
			unsigned long i = strtoul(s + 1, &end, 10);
			if (*end != ']' || node->kind != SEQ || i >= node->n)
				return NULL;
			node = node->kids[i];
			s = end + 1;
			continue;
		}
		size_t len = strcspn(s, ".[");
		const struct conf_node *next = NULL;
		if (node->kind == MAP)
			for (size_t i = 0; i < node->n && !next; i++)
				if (strlen(node->kids[i]->key) == len && !memcmp(node->kids[i]->key, s, len))
					next = node->kids[i];
		node = next;
		s += len;
	}
	return node;
}

bool conf_is_scalar(const struct conf_node *n)
{
	return n && n->kind == SCALAR;
}
bool conf_is_map(const struct conf_node *n)
{
	return n && n->kind == MAP;
}
bool conf_is_seq(const struct conf_node *n)
{
	return n && n->kind == SEQ;
}
const char *conf_str(const struct conf_node *n)
{
	return conf_is_scalar(n) ? n->value : NULL;
}
size_t conf_len(const struct conf_node *n)
{
	return n && n->kind != SCALAR ? n->n : 0;
}
const char *conf_key(const struct conf_node *n)
{
	return n ? n->key : NULL;
}
int conf_line(const struct conf_node *n)
{
	return n ? n->line : 0;
}

const struct conf_node *conf_child(const struct conf_node *n, size_t i)
{
	return i < conf_len(n) ? n->kids[i] : NULL;
}

const char *conf_get_str(const struct conf_node *node, const char *path, const char *def)
{
	const char *s = conf_str(conf_at(node, path));
	return s ? s : def;
}

enum kg_err conf_get_int(const struct conf_node *node, const char *path, long def, long *out)
{
	const struct conf_node *n = conf_at(node, path);
	if (!n) {
		*out = def;
		return KG_OK;
	}
	char *end;
	const char *s = conf_str(n);
	errno = 0;
	long v = s ? strtol(s, &end, 10) : 0;
	if (!s || !*s || *end || errno)
		return kg_fail(KG_EINPUT, "line %d: %s must be a whole number", n->line, path);
	*out = v;
	return KG_OK;
}

enum kg_err conf_get_double(const struct conf_node *node, const char *path, double def, double *out)
{
	const struct conf_node *n = conf_at(node, path);
	if (!n) {
		*out = def;
		return KG_OK;
	}
	char *end;
	const char *s = conf_str(n);
	double v = s ? strtod(s, &end) : 0;
	if (!s || !*s || *end)
		return kg_fail(KG_EINPUT, "line %d: %s must be a number", n->line, path);
	*out = v;
	return KG_OK;
}

enum kg_err conf_get_bool(const struct conf_node *node, const char *path, bool def, bool *out)
{
	const struct conf_node *n = conf_at(node, path);
	if (!n) {
		*out = def;
		return KG_OK;
	}
	const char *s = conf_str(n);
	if (s && (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))) {
		*out = true;
		return KG_OK;
	}
	if (s && (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))) {
		*out = false;
		return KG_OK;
	}
	return kg_fail(KG_EINPUT, "line %d: %s must be true or false", n->line, path);
}
