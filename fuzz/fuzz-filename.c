/* fuzz-filename.c: libFuzzer target, see fuzz/fuzz-common.h. The attachment file-name sanitizer (amm-attachments.c), and the MIME guess on its result. */
#include "fuzz-common.h"
#include "amm-attachments.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *in = fuzz_strndup (data, size);
  char *out = amm_attachment_sanitize_filename (in);
  g_assert (out != NULL);
  g_assert (g_utf8_validate (out, -1, NULL));
  g_assert (strchr (out, 0x2f) == NULL && strchr (out, 0x5c) == NULL); /* no separator */
  g_assert (*out != '\0' && *out != '.' && *out != ' ');
  g_assert (strlen (out) <= AMM_FILENAME_MAX_BYTES);
  for (const char *p = out; *p; p++)
    g_assert ((guchar) *p >= 0x20 && *p != 0x7f);
  g_assert (strcmp (out, ".") != 0 && strcmp (out, "..") != 0);
  char *mime = amm_attachment_guess_mime (out);
  g_free (mime);
  g_free (out);
  g_free (in);
  return 0;
}
