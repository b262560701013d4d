/* fuzz-markup.c: libFuzzer target, see fuzz/fuzz-common.h. The plugin's markup conversions (src/purple/amm-markup.c): libpurple HTML to text and text
 * to HTML, and the round trip text → HTML → text. */
#include "fuzz-common.h"
#include "amm-markup.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *in = fuzz_strndup (data, size);
  char *text = amm_markup_html_to_text (in);
  g_assert (text != NULL && g_utf8_validate (text, -1, NULL));
  char *html = amm_markup_text_to_html (in);
  g_assert (html != NULL && g_utf8_validate (html, -1, NULL));
  /* what is shown never carries markup or control characters */
  for (const char *p = strchr (html, 0x3c); p; p = strchr (p + 1, 0x3c))
    g_assert (strncmp (p, "<br>", 4) == 0); /* the only tag: every other < is escaped */
  for (const char *p = html; *p; p++)
    g_assert ((guchar) *p >= 0x20 || *p == 0x09);
  char *back = amm_markup_html_to_text (html);
  g_free (back);
  g_free (html);
  g_free (text);
  g_free (in);
  return 0;
}
