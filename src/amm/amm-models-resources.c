/* amm-models-resources.c: the discovery document, resources.v4 (3, 3.2) and resources.v3 (2.1).
 * docs/protocol.md §3.
 */
#include <string.h>

#include "amm-error.h"
#include "amm-json.h"
#include "amm-models-private.h"
#include "amm-protocol.h"

static void
resources_clear (AmmResources *r)
{
  g_free (r->self);
  g_strfreev (r->domains);
  g_free (r->conversations_href);
  g_strfreev (r->conversations_request_types);
  g_free (r->messages_href);
  g_free (r->outbox_href);
  g_free (r->mark_as_read_if_href);
  g_free (r->mark_as_read_batch_href);
  g_free (r->validate_addresses_href);
  g_strfreev (r->validate_request_types);
  g_free (r->websocket_href);
  g_free (r->sse_href);
  g_free (r->session_href);
  g_free (r->session_username);
}

AmmResources *
amm_resources_ref (AmmResources *r)
{
  return r != NULL ? g_atomic_rc_box_acquire (r) : NULL;
}

void
amm_resources_unref (AmmResources *r)
{
  if (r != NULL)
    g_atomic_rc_box_release_full (r, (GDestroyNotify) resources_clear);
}

static gboolean
strv_contains (GStrv strv, const char *s)
{
  return strv != NULL && g_strv_contains ((const char * const *) strv, s);
}

AmmVersion
amm_resources_detect_version (const AmmResources *resources)
{
  if (resources == NULL)
    return AMM_VERSION_AUTO;
  if (resources->version == AMM_VERSION_2_1)
    return AMM_VERSION_2_1;
  if (strv_contains (resources->conversations_request_types, AMM_TYPE_CONVERSATIONS_FILTER) &&
      strv_contains (resources->validate_request_types, AMM_TYPE_ADDRESSES_TO_VALIDATE))
    return AMM_VERSION_3_2;
  return AMM_VERSION_3;
}

/* The outbox limits; each 0 or absent = "no limit announced". */
static gboolean
parse_limits (JsonObject *limits, const char *path, AmmLimits *out, GError **error)
{
  guint64 *fields[] = {
    &out->max_text_length, &out->max_image_size, &out->max_video_size,
    &out->max_audio_size, &out->max_generic_attachment_size,
  };
  const char *names[] = {
    "maxTextLength", "maxImageSize", "maxVideoSize", "maxAudioSize", "maxGenericAttachmentSize",
  };
  gsize i;

  if (limits == NULL)
    return TRUE;
  for (i = 0; i < G_N_ELEMENTS (names); i++)
    if (!amm_json_opt_uint (limits, path, names[i], G_MAXINT64, 0, fields[i], error))
      return FALSE;
  return TRUE;
}

/* capabilities.richContent, from a capabilities object (nullable). */
static gboolean
parse_rich_content (JsonObject *parent, const char *path, gboolean *out, GError **error)
{
  JsonObject *caps = NULL;
  g_autofree char *caps_path = amm_json_member_path (path, "capabilities");

  if (!amm_json_opt_object (parent, path, "capabilities", &caps, error))
    return FALSE;
  return amm_json_opt_boolean (caps, caps_path, "richContent", FALSE, out, error);
}

/* A resource that is either a URL string or an {href} object. Required: absent is an error. */
static gboolean
parse_href_or_object (JsonObject *obj, const char *path, const char *member, const char *base,
                      gboolean allow_string, gboolean allow_object, gboolean required,
                      char **out, JsonObject **out_obj, GError **error)
{
  JsonNode *node = amm_json_get_member (obj, member);
  g_autofree char *full = amm_json_member_path (path, member);

  *out = NULL;
  if (out_obj != NULL)
    *out_obj = NULL;

  if (node == NULL)
    {
      if (required)
        return amm_json_set_type_error (error, full, "object", NULL);
      return TRUE;
    }
  if (allow_string && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    {
      const char *s = json_node_get_string (node);

      if (s == NULL || *s == '\0')
        {
          if (required)
            {
              g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED, "%s: empty URL", full);
              return FALSE;
            }
          return TRUE;
        }
      *out = amm_json_resolve_href (base, s, full, error);
      return *out != NULL;
    }
  if (allow_object && JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *o = json_node_get_object (node);

      if (out_obj != NULL)
        *out_obj = o;
      if (required)
        {
          *out = amm_json_require_href (o, full, "href", base, error);
          return *out != NULL;
        }
      return amm_json_opt_href (o, full, "href", base, out, error);
    }
  return amm_json_set_type_error (error, full,
                                  allow_string && allow_object ? "string or object"
                                  : allow_string ? "string" : "object",
                                  node);
}

/* A WebSocket href that had to be resolved against the http(s) base gets the ws(s) scheme. */
static char *
websocket_scheme (const char *raw, char *resolved)
{
  if (resolved == NULL || raw == NULL || g_uri_peek_scheme (raw) != NULL)
    return resolved;
  if (g_str_has_prefix (resolved, "http://"))
    {
      char *ws = g_strconcat ("ws://", resolved + strlen ("http://"), NULL);
      g_free (resolved);
      return ws;
    }
  if (g_str_has_prefix (resolved, "https://"))
    {
      char *ws = g_strconcat ("wss://", resolved + strlen ("https://"), NULL);
      g_free (resolved);
      return ws;
    }
  return resolved;
}

static gboolean
parse_services (JsonObject *obj, const char *base, AmmResources *r, GError **error)
{
  JsonObject *services = NULL, *batch = NULL, *validate = NULL, *limits = NULL;
  guint64 max_batch = 0;

  if (!amm_json_opt_object (obj, NULL, "services", &services, error))
    return FALSE;
  if (services == NULL)
    return TRUE;

  /* {href} objects (protocol.md); older servers send plain strings: both are accepted */
  if (!parse_href_or_object (services, "services", "markAsReadIf", base, TRUE, TRUE, FALSE,
                             &r->mark_as_read_if_href, NULL, error) ||
      !parse_href_or_object (services, "services", "markAsReadBatch", base, TRUE, TRUE, FALSE,
                             &r->mark_as_read_batch_href, &batch, error) ||
      !parse_href_or_object (services, "services", "validateAddresses", base, TRUE, TRUE, FALSE,
                             &r->validate_addresses_href, &validate, error))
    return FALSE;

  if (!amm_json_opt_object (batch, "services.markAsReadBatch", "limits", &limits, error) ||
      !amm_json_opt_uint (limits, "services.markAsReadBatch.limits", "maxBatchSize",
                          G_MAXUINT, 0, &max_batch, error))
    return FALSE;
  r->mark_as_read_max_batch = (guint) max_batch;

  g_strfreev (r->validate_request_types);
  r->validate_request_types = amm_json_opt_string_array (validate, "services.validateAddresses",
                                                         "requestTypes", error);
  return r->validate_request_types != NULL;
}

static gboolean
parse_notification_service (JsonObject *obj, const char *base, AmmResources *r, GError **error)
{
  JsonObject *ns = NULL, *ws = NULL, *sse = NULL;
  const char *raw = NULL;

  if (!amm_json_opt_object (obj, NULL, "notificationService", &ns, error))
    return FALSE;
  if (ns == NULL)
    return TRUE;
  if (!amm_json_opt_object (ns, "notificationService", "websocket", &ws, error) ||
      !amm_json_opt_object (ns, "notificationService", "sse", &sse, error))
    return FALSE;

  if (!amm_json_opt_string (ws, "notificationService.websocket", "href", NULL, &raw, error) ||
      !amm_json_opt_href (ws, "notificationService.websocket", "href", base, &r->websocket_href, error))
    return FALSE;
  r->websocket_href = websocket_scheme (raw, r->websocket_href);

  return amm_json_opt_href (sse, "notificationService.sse", "href", base, &r->sse_href, error);
}

AmmResources *
amm_resources_parse (JsonNode *root, AmmVersion wire_version, const char *base, GError **error)
{
  JsonObject *obj = amm_json_node_get_object (root, NULL, error);
  g_autoptr (AmmResources) r = NULL;
  JsonObject *timeout = NULL, *conv = NULL, *conv_limits = NULL, *outbox = NULL;
  JsonObject *session = NULL, *limits = NULL;
  const char *self, *username = NULL;
  guint64 recommended = 0, max_count = 0, max_ids = 0;
  gboolean v3;

  if (obj == NULL)
    return NULL;

  switch (wire_version)
    {
    case AMM_VERSION_2_1:
      v3 = TRUE;
      break;
    case AMM_VERSION_3:
    case AMM_VERSION_3_2:
      v3 = FALSE;
      break;
    case AMM_VERSION_AUTO:
    default:
      {
        /* resources.v3 has outbox as a plain string */
        JsonNode *ob = amm_json_get_member (obj, "outbox");
        v3 = ob != NULL && JSON_NODE_HOLDS_VALUE (ob) && json_node_get_value_type (ob) == G_TYPE_STRING;
        wire_version = AMM_VERSION_AUTO;
      }
      break;
    }

  r = g_atomic_rc_box_new0 (AmmResources);
  r->domains = g_new0 (char *, 1);
  r->conversations_request_types = g_new0 (char *, 1);
  r->validate_request_types = g_new0 (char *, 1);
  r->request_timeout_recommended = AMM_LONG_POLL_DEFAULT_SECONDS;
  r->max_message_count = AMM_DEFAULT_MAX_MESSAGE_COUNT;

  /* self, domains */
  self = amm_models_require_nonempty (obj, NULL, "self", error);
  if (self == NULL)
    return NULL;
  r->self = g_strdup (self);
  g_strfreev (r->domains);
  r->domains = amm_json_opt_string_array (obj, NULL, "domains", error);
  if (r->domains == NULL)
    return NULL;

  /* avayaRequestTimeout.recommended (0 or absent: the default) */
  if (!amm_json_opt_object (obj, NULL, "avayaRequestTimeout", &timeout, error) ||
      !amm_json_opt_uint (timeout, "avayaRequestTimeout", "recommended", G_MAXUINT, 0, &recommended, error))
    return NULL;
  if (recommended > 0)
    r->request_timeout_recommended = (guint) recommended;

  /* conversationsResource {href, requestTypes, limits.maxMessageCount} */
  conv = amm_json_require_object (obj, NULL, "conversationsResource", error);
  if (conv == NULL)
    return NULL;
  r->conversations_href = amm_json_require_href (conv, "conversationsResource", "href", base, error);
  if (r->conversations_href == NULL)
    return NULL;
  g_strfreev (r->conversations_request_types);
  r->conversations_request_types = amm_json_opt_string_array (conv, "conversationsResource",
                                                              "requestTypes", error);
  if (r->conversations_request_types == NULL)
    return NULL;
  if (!amm_json_opt_object (conv, "conversationsResource", "limits", &conv_limits, error) ||
      !amm_json_opt_uint (conv_limits, "conversationsResource.limits", "maxMessageCount",
                          G_MAXUINT, 0, &max_count, error) ||
      !amm_json_opt_uint (conv_limits, "conversationsResource.limits", "maxIdsLimit",
                          G_MAXUINT, 0, &max_ids, error))
    return NULL;
  if (max_count > 0)
    r->max_message_count = (guint) max_count;
  r->max_ids_limit = (guint) max_ids;

  /* messages, outbox: strings in v3, {href,…} objects in v4 */
  if (!parse_href_or_object (obj, NULL, "messages", base, v3, !v3, FALSE, &r->messages_href, NULL, error) ||
      !parse_href_or_object (obj, NULL, "outbox", base, v3, !v3, TRUE, &r->outbox_href, &outbox, error))
    return NULL;

  if (v3)
    {
      /* limits and capabilities.richContent at the top level */
      if (!amm_json_opt_object (obj, NULL, "limits", &limits, error) ||
          !parse_limits (limits, "limits", &r->limits, error) ||
          !parse_rich_content (obj, NULL, &r->limits.rich_content, error))
        return NULL;
    }
  else
    {
      if (!amm_json_opt_object (outbox, "outbox", "limits", &limits, error) ||
          !parse_limits (limits, "outbox.limits", &r->limits, error) ||
          !parse_rich_content (outbox, "outbox", &r->limits.rich_content, error))
        return NULL;
    }

  if (!parse_services (obj, base, r, error) ||
      !parse_notification_service (obj, base, r, error))
    return NULL;

  /* sessionManagement {href, username} */
  if (!amm_json_opt_object (obj, NULL, "sessionManagement", &session, error) ||
      !amm_json_opt_href (session, "sessionManagement", "href", base, &r->session_href, error) ||
      !amm_json_opt_string (session, "sessionManagement", "username", NULL, &username, error))
    return NULL;
  r->session_username = g_strdup (username);

  if (wire_version != AMM_VERSION_AUTO)
    r->version = wire_version;
  else if (v3)
    r->version = AMM_VERSION_2_1;
  else
    {
      r->version = AMM_VERSION_3;
      r->version = amm_resources_detect_version (r);
    }
  return g_steal_pointer (&r);
}
