/* amm-time.h: ISO-8601 timestamps as AMM uses them (docs/protocol.md §5).
 *
 * Parsing accepts any ISO-8601 date-time with a zone ("…Z", "…+02:00", with or without
 * fractional seconds); a time without a zone is rejected. Formatting always produces UTC with
 * milliseconds and "Z": "2026-11-27T07:45:40.728Z". Sub-millisecond precision is truncated.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A new GDateTime, or NULL with an AMM_ERROR_MALFORMED error (NULL/garbage/no zone). */
GDateTime *amm_time_parse (const char *iso, GError **error);

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" in UTC. Newly allocated; NULL only for a NULL dt. */
char      *amm_time_format (GDateTime *dt);
/* The current time, formatted as above. */
char      *amm_time_format_now (void);
/* Parse and re-format in the canonical form; NULL with an error if unparseable. */
char      *amm_time_normalize (const char *iso, GError **error);

/* Milliseconds since the Unix epoch (sub-millisecond part truncated toward -inf). */
gint64     amm_time_to_unix_ms (GDateTime *dt);
/* A new UTC GDateTime for the given Unix milliseconds (NULL if out of GDateTime's range). */
GDateTime *amm_time_from_unix_ms (gint64 ms);

/* A new GDateTime `ms` milliseconds later (earlier if negative); NULL if out of range. */
GDateTime *amm_time_add_ms (GDateTime *dt, gint64 ms);
/* Canonical string `ms` later than `iso`; NULL with an error if `iso` is unparseable. */
char      *amm_time_string_add_ms (const char *iso, gint64 ms, GError **error);

/* <0, 0, >0 like strcmp. NULL sorts before any date. */
int        amm_time_compare (GDateTime *a, GDateTime *b);
/* Compare two ISO-8601 strings by the instant they denote (not textually).
 * NULL or unparseable strings sort before every valid one (and equal to each other). */
int        amm_time_compare_strings (const char *a, const char *b);

G_END_DECLS
