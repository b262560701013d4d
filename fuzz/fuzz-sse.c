/* fuzz-sse.c: libFuzzer target, see fuzz/fuzz-common.h. The bounded SSE parser (amm-sse.c), fed in pieces whose sizes the first bytes choose; every
 * event's data goes on to the frame parser as the channel does. */
#include "fuzz-common.h"
#include "amm-sse.h"
#include "amm-models.h"

static void
on_event (const char *event, const char *data, gsize len, gpointer user_data)
{
  g_assert (strlen (data) <= len); /* NUL-terminated at len (data may hold NULs) */
  g_assert (data[len] == 0);
  (*(gsize *) user_data)++;
  if (g_strcmp0 (event, "CASNotification") == 0 || g_strcmp0 (event, "message") == 0) {
    AmmFrame *f = amm_frame_parse (data, len, NULL);
    if (f)
      amm_frame_unref (f);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 2)
    return 0;
  gsize piece = 1 + data[0] % 64;
  gsize max = 16 + data[1] * 64; /* small caps, so that they are hit */
  data += 2;
  size -= 2;
  gsize events = 0;
  AmmSseParser *p = amm_sse_parser_new (max, max, on_event, &events);
  gboolean ok = TRUE;
  for (gsize off = 0; off < size && ok; off += piece) {
    GError *error = NULL;
    ok = amm_sse_parser_feed (p, (const char *) data + off, MIN (piece, size - off), &error);
    g_assert (ok == (error == NULL));
    g_assert (amm_sse_parser_buffered (p) <= 2 * max);
    g_clear_error (&error);
  }
  amm_sse_parser_free (p);
  return 0;
}
