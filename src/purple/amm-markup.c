/* amm-markup.c: HTML ↔ text (see amm-markup.h). */
#include "amm-markup.h"

#include <string.h>
#include <util.h>

char *
amm_markup_html_to_text (const char *html)
{
  g_autofree char *valid = NULL;
  GString *protected;
  char *text;

  if (html == NULL)
    return g_strdup ("");

  valid = g_utf8_make_valid (html, -1);
  /* Pidgin writes line breaks as <br>, but Finch hands over the typed newlines and tabs as they
   * are, and purple_markup_strip_html() would turn them into spaces: protect them first. */
  protected = g_string_sized_new (strlen (valid) + 16);
  for (const char *p = valid; *p; p++)
    {
      if (*p == '\r' && p[1] == '\n')
        continue;
      if (*p == '\n' || *p == '\r')
        g_string_append (protected, "<br>");
      else if (*p == '\t')
        g_string_append (protected, "&#9;");
      else
        g_string_append_c (protected, *p);
    }
  /* purple_markup_strip_html() already decodes entities: never unescape its result again. */
  text = purple_markup_strip_html (protected->str);
  g_string_free (protected, TRUE);
  if (text == NULL)
    return g_strdup ("");
  /* purple_markup_strip_html() decodes numeric entities beyond Unicode (&#99999999;) into
   * invalid UTF-8 (found by fuzz/fuzz-markup.c): repair it */
  if (!g_utf8_validate (text, -1, NULL))
    {
      char *valid_text = g_utf8_make_valid (text, -1);
      g_free (text);
      text = valid_text;
    }
  return text;
}

char *
amm_markup_text_to_html (const char *text)
{
  g_autofree char *valid = NULL;
  GString *out;
  const char *p;

  if (text == NULL)
    return g_strdup ("");

  valid = g_utf8_make_valid (text, -1);
  out = g_string_sized_new (strlen (valid) + 16);
  for (p = valid; *p; p++)
    {
      if ((guchar) *p >= 0x80)
        {
          /* C1 controls and the bidirectional embedding/override/isolate controls (U+202E
           * "RIGHT-TO-LEFT OVERRIDE" can disguise a file name or a link) are dropped */
          gunichar c = g_utf8_get_char (p);
          const char *next = g_utf8_next_char (p);

          if (!((c >= 0x80 && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)))
            g_string_append_len (out, p, next - p);
          p = next - 1;
          continue;
        }
      /* other control characters (but newline and tab) are never shown */
      if (((guchar) *p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r') || *p == 0x7f)
        continue;
      switch (*p)
        {
        case '&': g_string_append (out, "&amp;"); break;
        case '<': g_string_append (out, "&lt;"); break;
        case '>': g_string_append (out, "&gt;"); break;
        case '"': g_string_append (out, "&quot;"); break;
        case '\r':
          if (p[1] != '\n')
            g_string_append (out, "<br>");
          break;
        case '\n': g_string_append (out, "<br>"); break;
        default: g_string_append_c (out, *p); break;
        }
    }
  return g_string_free (out, FALSE);
}
