/* fuzz-cursor.c: libFuzzer target, see fuzz/fuzz-common.h. The sync cursor parser (amm-sync.c): a stored cursor string from the account settings. */
#include "fuzz-common.h"
#include "amm-sync.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *in = fuzz_strndup (data, size);
  AmmSync *sync = amm_sync_new ("alice@example.com");
  amm_sync_start (sync, in);
  (void) amm_sync_get_cursor (sync);
  (void) amm_sync_get_after (sync);
  (void) amm_sync_is_first_login (sync);
  amm_sync_free (sync);
  g_free (in);
  return 0;
}
