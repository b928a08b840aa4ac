/*
 * desk.h: the terminal side of the counter: reading PINs without echo or from a file
 * descriptor, and the interactive desk's screen (in Japanese, for counter staff).
 *
 * PINs are read byte by byte with read(2) into the caller's struct counter_pins, never through
 * stdio (whose buffers would keep copies), and the process is made non-dumpable first so no
 * core dump can hold one. counter_redeem() wipes them.
 */
#ifndef DESK_H
#define DESK_H

#include <stdio.h>

#include "counter.h"
#include "kg.h"

/* Makes the process non-dumpable and locks the PIN buffer in memory (no swap). */
void desk_protect(struct counter_pins *pins);

/* Reads the PINs from fd, one per line: 署名用, 利用者証明用, 住民基本台帳用, or the word "face"
 * (いずれの暗証番号も設定しない) alone. A holder without a signature certificate may give two
 * lines (利用者証明用, 住民基本台帳用) or leave the first line empty. */
enum kg_err desk_read_pins_fd(int fd, bool has_sign_cert, struct counter_pins *pins) KG_WUR;

/* Runs the interactive desk on the terminal until staff type q or press Ctrl-C. */
enum kg_err desk_run(struct store *st, const struct settings *set, const struct counter_desk *desk) KG_WUR;

/* The result as one JSON object (for `kigen counter redeem --json`). */
void desk_print_json(FILE *f, const struct counter_result *r);
/* What the notice renews, in Japanese ("署名用電子証明書・利用者証明用電子証明書", ...). */
const char *desk_what_label(const struct counter_view *v);
/* The result for a person, in Japanese. */
void desk_print_verdict(FILE *f, const struct counter_result *r);

#endif
