/* fuzz-error-body.c: libFuzzer target, see fuzz/fuzz-common.h. The error.v1 body parser. */
#include "fuzz-common.h"
#include "amm-json.h"
#include "amm-models.h"
#include "amm-error.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  AmmErrorBody *b = amm_error_body_parse ((const char *) data, size, &error);
  if (b)
    amm_error_body_free (b);
  g_clear_error (&error);
  return 0;
}
