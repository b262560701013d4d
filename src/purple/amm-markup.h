/* amm-markup.h: the two text conversions between libpurple and AMM.
 *
 * AMM message bodies are plain text. libpurple hands a prpl HTML (Pidgin's
 * markup; Bitlbee's HTML-escaped IRC text) and shows what a prpl delivers as HTML.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Outgoing: libpurple HTML → the exact text the user typed. Tags are removed, <br> and raw
 * newlines (Finch) become newlines, tabs stay tabs, and entities are decoded exactly once
 * (a typed "&amp;" stays "&amp;"). Newly allocated, valid UTF-8. */
char *amm_markup_html_to_text (const char *html);

/* Incoming: AMM text → HTML that displays as that text: & < > " are escaped, newlines become
 * <br>. Invalid UTF-8 is repaired. Control characters other than newline and tab (C0, DEL, C1)
 * and the bidirectional override/embedding/isolate controls (U+202A–E, U+2066–9) are removed.
 * Newly allocated. */
char *amm_markup_text_to_html (const char *text);

G_END_DECLS
