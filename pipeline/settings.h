/*
 * settings.h: the municipality's settings (fixtures/settings.yaml is the sample), with every
 * policy of the rules (rules.h) and its default (README "Settings"). A missing file or key means the default.
 *
 * struct settings is plain data: read its fields directly. settings_load() fills it and the
 * settings own their strings; settings_release() frees them.
 */
#ifndef SETTINGS_H
#define SETTINGS_H

#include <stddef.h>

#include "card.h"
#include "conf.h"
#include "kg.h"
#include "mailset.h"
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
	char *qr_url;        /* 交付申請用 QR; "{id}" is replaced by J-LIS's 申請書ID */
	/* Print 「本件は、J-LIS が全国の市区町村長から委任を受けて実施しています」: true only when J-LIS
	 * mails on the municipality's behalf; false (the default) when the municipality sends. */
	bool jlis_delegation;
	/* Where a resident mails the 個人番号カード交付申請書 (seed: J-LIS's 交付申請書受付センター). */
	char *application_center;
	/* Pre-printed inserts per kind of set (the leaflet 本書, a return envelope...): their names as
	 * the 同封物 list, the manifest, job.json and the job ticket show them. */
	char **inserts[MAILSET_N_GROUPS];
	size_t n_inserts[MAILSET_N_GROUPS];
	int max_sheets_per_file;
	int reinquiry_valid_days; /* validity of a re-inquiry form once the certificate has expired (90) */
	int proofs;               /* residents with PNG proofs */
	char *unknown_glyph;      /* "substitute" (use the table, else hold) or "hold" */
	enum pdfx_level pdfx;     /* output.pdfx: none (default) or x4 (PDF/X-4 identification) */

	/* The postage mark on the mailing envelope (Japan Post's 料金後納 / 料金別納 display). */
	char *postage;        /* postage.mark: "kounou" (料金後納), "betsunou" (料金別納) or "none" */
	char *postage_class;  /* what the mark says: "料金後納" / "料金別納", "" for none */
	char *postage_office; /* postage.office: the 差出事業所 as Japan Post writes it, "新宿北局" */
	struct settings_substitute *substitutes;
	size_t n_substitutes;

	/* The counter desk. */
	char *counter_reader;   /* counter.reader: the reader the desk uses (NULL: the only one there is) */
	enum card_app juki_app; /* counter.juki_application: where the 住民基本台帳用 PIN is verified */

	struct conf *conf; /* the loaded document, for modules with settings of their own */
};

/* Loads path (NULL: defaults only). Errors name the file and line. */
enum kg_err settings_load(const char *path, struct settings *out) KG_WUR;
void settings_release(struct settings *s);

#endif
