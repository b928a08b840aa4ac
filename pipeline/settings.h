/*
 * settings.h: the municipality's settings (fixtures/settings.yaml is the sample), with every
 * policy of domain.md and its default. A missing file or key means the default.
 *
 * struct settings is plain data: read its fields directly. settings_load() fills it and the
 * settings own their strings; settings_release() frees them.
 */
#ifndef SETTINGS_H
#define SETTINGS_H

#include <stddef.h>

#include "conf.h"
#include "kg.h"
#include "pdfx.h"
#include "rules.h"

struct settings_substitute {
	char *from; /* one character (a UTF-8 sequence, possibly with a variation selector) */
	char *to;   /* its 代替文字 */
};

struct settings {
	struct rules_policy policy;

	/* The municipality, printed as sender and contact. */
	char *lgcode;      /* 地方公共団体コード, 6 digits with check digit */
	char *name;        /* "〇〇市" */
	char *mayor;       /* "〇〇市長" */
	char *department;  /* "市民課" */
	char *postal_code; /* the office's, NNN-NNNN */
	char *address;     /* the office's address */
	char *phone;
	char *hours;                  /* office hours, one line */
	char **representative_postal; /* "not listed" codes: no customer barcode */
	size_t n_representative;

	/* Output. */
	char *templates_dir; /* default "templates" */
	char *qr_url;        /* 交付申請用 QR; "{id}" is replaced by the application ID */
	int max_sheets_per_file;
	int reinquiry_valid_days; /* validity of a re-inquiry form once the certificate has expired (90) */
	int proofs;               /* residents with PNG proofs */
	char *unknown_glyph;      /* "substitute" (use the table, else hold) or "hold" */
	enum pdfx_level pdfx;     /* output.pdfx: none (default) or x4 (PDF/X-4 identification) */

	/* The postage mark on the mailing envelope (Japan Post's 料金後納 / 料金別納 display). */
	char *postage;        /* postage.mark: "kounou" (料金後納), "betsunou" (料金別納) or "none" */
	char *postage_class;  /* what the mark says: "料金後納" / "料金別納", "" for none */
	char *postage_office; /* postage.office: the 差出事業所 as printed, e.g. "新宿北郵便局" */
	struct settings_substitute *substitutes;
	size_t n_substitutes;

	struct conf *conf; /* the loaded document, for modules with settings of their own */
};

/* Loads path (NULL: defaults only). Errors name the file and line. */
enum kg_err settings_load(const char *path, struct settings *out) KG_WUR;
void settings_release(struct settings *s);

#endif
