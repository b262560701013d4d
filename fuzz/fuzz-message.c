/* fuzz-message.c: libFuzzer target, see fuzz/fuzz-common.h. The one message parser. */
#include "fuzz-common.h"
#include "amm-json.h"
#include "amm-models.h"
#include "amm-error.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  JsonNode *root = amm_json_parse ((const char *) data, size, &error);
  if (root == NULL) {
    g_clear_error (&error);
    return 0;
  }
  AmmMessage *out = amm_message_parse (root, "https://h:8443/aem/messages", &error);
  if (out != NULL)
    amm_message_unref (out);
  else
    g_assert (error != NULL && error->domain == AMM_ERROR);
  g_clear_error (&error);
  json_node_unref (root);
  return 0;
}
