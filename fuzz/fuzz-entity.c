/* fuzz-entity.c: libFuzzer target, see fuzz/fuzz-common.h. The participants and entities (EntityV1) parser. */
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
  AmmEntity *out = amm_entity_parse (root, &error);
  if (out != NULL)
    amm_entity_unref (out);
  else
    g_assert (error != NULL && error->domain == AMM_ERROR);
  g_clear_error (&error);
  json_node_unref (root);
  return 0;
}
