/* fuzz-frame.c: libFuzzer target, see fuzz/fuzz-common.h. Notification channel frames (WebSocket text frames, SSE data). */
#include "fuzz-common.h"
#include "amm-json.h"
#include "amm-models.h"
#include "amm-error.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  AmmFrame *f = amm_frame_parse ((const char *) data, size, &error);
  if (f)
    amm_frame_unref (f);
  else
    g_assert (error != NULL && error->domain == AMM_ERROR);
  g_clear_error (&error);
  return 0;
}
