/* fuzz-resources.c: libFuzzer target, see fuzz/fuzz-common.h. The discovery document (resources.v4 for 3/3.2, resources.v3 for 2.1): the first byte picks. */
#include "fuzz-common.h"
#include "amm-json.h"
#include "amm-models.h"
#include "amm-error.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  AmmVersion wire = (data[0] & 1) ? AMM_VERSION_2_1 : AMM_VERSION_3;
  GError *error = NULL;
  JsonNode *root = amm_json_parse ((const char *) data + 1, size - 1, &error);
  if (root == NULL) {
    g_clear_error (&error);
    return 0;
  }
  AmmResources *r = amm_resources_parse (root, wire, (data[0] & 2) ? "https://h:8443" : NULL, &error);
  if (r != NULL) {
    (void) amm_resources_detect_version (r);
    amm_resources_unref (r);
  } else {
    g_assert (error != NULL && error->domain == AMM_ERROR);
  }
  g_clear_error (&error);
  json_node_unref (root);
  return 0;
}
