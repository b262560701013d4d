/* amm-models-frame.c: notification-channel frames (docs/protocol.md §8) and error.v1 bodies (§4). */
#include <string.h>

#include "amm-error.h"
#include "amm-json.h"
#include "amm-models-private.h"

/* ---- frames ----------------------------------------------------------------------------- */

static void
frame_clear (AmmFrame *f)
{
  g_free (f->name);
  g_free (f->request_id);
  g_free (f->command_url);
  g_free (f->service);
  g_free (f->resource);
  g_free (f->entity_tag);
  g_clear_pointer (&f->contents, json_node_unref);
}

AmmFrame *
amm_frame_ref (AmmFrame *f)
{
  return f != NULL ? g_atomic_rc_box_acquire (f) : NULL;
}

void
amm_frame_unref (AmmFrame *f)
{
  if (f != NULL)
    g_atomic_rc_box_release_full (f, (GDestroyNotify) frame_clear);
}

static const struct {
  const char  *name;
  AmmFrameType type;
} frame_types[] = {
  { "discovery", AMM_FRAME_DISCOVERY },
  { "subscribed", AMM_FRAME_SUBSCRIBED },
  { "unsubscribed", AMM_FRAME_UNSUBSCRIBED },
  { "resourceState", AMM_FRAME_RESOURCE_STATE },
  { "notified", AMM_FRAME_NOTIFIED },
  { "notification", AMM_FRAME_NOTIFICATION },
  { "pong", AMM_FRAME_PONG },
};

/* gsize length (the API) to the gssize of amm_json_parse; (gsize) -1 = NUL-terminated. */
static gboolean
text_length (const char *text, gsize length, gssize *out, GError **error)
{
  if (length == (gsize) -1)
    *out = -1;
  else if (length > G_MAXSSIZE)
    {
      g_set_error_literal (error, AMM_ERROR, AMM_ERROR_MALFORMED, "body too large");
      return FALSE;
    }
  else
    *out = (gssize) length;
  return TRUE;
}

/* A string or a number (entity tags arrive either way), as a new string; NULL when absent. */
static gboolean
string_or_number (JsonObject *obj, const char *path, const char *member, char **out, GError **error)
{
  JsonNode *node = amm_json_get_member (obj, member);

  *out = NULL;
  if (node == NULL)
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (node))
    {
      GType t = json_node_get_value_type (node);

      if (t == G_TYPE_STRING)
        {
          *out = g_strdup (json_node_get_string (node) != NULL ? json_node_get_string (node) : "");
          return TRUE;
        }
      if (t == G_TYPE_INT64)
        {
          *out = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
          return TRUE;
        }
      if (t == G_TYPE_DOUBLE)
        {
          double d = json_node_get_double (node);
          char buf[G_ASCII_DTOSTR_BUF_SIZE];

          if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double) (gint64) d)
            *out = g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) d);
          else
            *out = g_strdup (g_ascii_dtostr (buf, sizeof buf, d));
          return TRUE;
        }
    }
  {
    g_autofree char *full = amm_json_member_path (path, member);
    return amm_json_set_type_error (error, full, "string or number", node);
  }
}

/* results.successful[0] {service, resource[, state.entityTag]} */
static gboolean
parse_results (JsonObject *body, const char *name, AmmFrame *f, GError **error)
{
  JsonObject *results = NULL, *first, *state = NULL;
  JsonArray *successful = NULL;
  const char *service = NULL, *resource = NULL;
  g_autofree char *results_path = amm_json_member_path (name, "results");
  g_autofree char *successful_path = amm_json_member_path (results_path, "successful");
  g_autofree char *first_path = amm_json_element_path (successful_path, 0);
  g_autofree char *state_path = amm_json_member_path (first_path, "state");

  if (!amm_json_opt_object (body, name, "results", &results, error) ||
      !amm_json_opt_array (results, results_path, "successful", &successful, error))
    return FALSE;
  if (successful == NULL || json_array_get_length (successful) == 0)
    return TRUE;

  first = amm_json_array_get_object (successful, successful_path, 0, error);
  if (first == NULL ||
      !amm_json_opt_string (first, first_path, "service", NULL, &service, error) ||
      !amm_json_opt_string (first, first_path, "resource", NULL, &resource, error) ||
      !amm_json_opt_object (first, first_path, "state", &state, error) ||
      !string_or_number (state, state_path, "entityTag", &f->entity_tag, error))
    return FALSE;
  f->service = g_strdup (service);
  f->resource = g_strdup (resource);
  return TRUE;
}

AmmFrame *
amm_frame_parse (const char *text, gsize length, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (AmmFrame) f = NULL;
  g_autoptr (GList) members = NULL;
  JsonObject *obj, *body;
  JsonNode *value;
  const char *name, *request_id = NULL;
  gssize len;
  gsize i;

  if (!text_length (text, length, &len, error))
    return NULL;
  root = amm_json_parse_object (text, len, error);
  if (root == NULL)
    return NULL;
  obj = json_node_get_object (root);
  if (json_object_get_size (obj) != 1)
    {
      g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED,
                   "frame: expected exactly one top-level member, got %u",
                   json_object_get_size (obj));
      return NULL;
    }
  members = json_object_get_members (obj);
  name = members->data;
  value = json_object_get_member (obj, name);

  f = g_atomic_rc_box_new0 (AmmFrame);
  f->type = AMM_FRAME_UNKNOWN;
  f->name = g_strdup (name);
  for (i = 0; i < G_N_ELEMENTS (frame_types); i++)
    if (strcmp (frame_types[i].name, name) == 0)
      f->type = frame_types[i].type;

  if (f->type == AMM_FRAME_UNKNOWN)
    {
      /* Not ours to judge; keep a requestId if there is a usable one. */
      if (value != NULL && JSON_NODE_HOLDS_OBJECT (value))
        {
          JsonNode *rid = amm_json_get_member (json_node_get_object (value), "requestId");
          if (rid != NULL && JSON_NODE_HOLDS_VALUE (rid) && json_node_get_value_type (rid) == G_TYPE_STRING)
            f->request_id = g_strdup (json_node_get_string (rid));
        }
      return g_steal_pointer (&f);
    }

  body = amm_json_node_get_object (value, name, error);
  if (body == NULL)
    return NULL;
  if (!amm_json_opt_string (body, name, "requestId", NULL, &request_id, error))
    return NULL;
  f->request_id = g_strdup (request_id);

  switch (f->type)
    {
    case AMM_FRAME_DISCOVERY:
      {
        const char *url = NULL;
        if (!amm_json_opt_string (body, name, "commandURL", NULL, &url, error))
          return NULL;
        f->command_url = (url != NULL && *url != '\0') ? g_strdup (url) : NULL;
      }
      break;

    case AMM_FRAME_SUBSCRIBED:
    case AMM_FRAME_UNSUBSCRIBED:
    case AMM_FRAME_RESOURCE_STATE:
    case AMM_FRAME_NOTIFIED:
      if (!parse_results (body, name, f, error))
        return NULL;
      break;

    case AMM_FRAME_NOTIFICATION:
      {
        const char *service = NULL, *resource = NULL;
        JsonObject *contents = NULL;
        g_autofree char *contents_path = amm_json_member_path (name, "contents");

        if (!amm_json_opt_string (body, name, "service", NULL, &service, error) ||
            !amm_json_opt_string (body, name, "resource", NULL, &resource, error) ||
            !amm_json_opt_object (body, name, "contents", &contents, error) ||
            !string_or_number (contents, contents_path, "entityTag", &f->entity_tag, error))
          return NULL;
        f->service = g_strdup (service);
        f->resource = g_strdup (resource);
        if (contents != NULL)
          f->contents = json_node_copy (amm_json_get_member (body, "contents"));
      }
      break;

    case AMM_FRAME_PONG:
    case AMM_FRAME_UNKNOWN:
    default:
      break;
    }

  return g_steal_pointer (&f);
}

/* ---- error.v1 --------------------------------------------------------------------------- */

void
amm_error_body_free (AmmErrorBody *b)
{
  if (b == NULL)
    return;
  g_free (b->error_code);
  g_free (b->error_msg);
  g_free (b->display_msg);
  g_free (b);
}

AmmErrorBody *
amm_error_body_parse (const char *text, gsize length, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (AmmErrorBody) b = NULL;
  JsonObject *obj;
  JsonNode *wrapped;
  const char *path = NULL, *msg = NULL, *display = NULL;
  gssize len;

  if (!text_length (text, length, &len, error))
    return NULL;
  root = amm_json_parse_object (text, len, error);
  if (root == NULL)
    return NULL;
  obj = json_node_get_object (root);

  /* {"error": {…}} is accepted as well as the bare document */
  wrapped = amm_json_get_member (obj, "error");
  if (json_object_get_size (obj) == 1 && wrapped != NULL && JSON_NODE_HOLDS_OBJECT (wrapped))
    {
      obj = json_node_get_object (wrapped);
      path = "error";
    }

  b = g_new0 (AmmErrorBody, 1);
  if (!string_or_number (obj, path, "errorCode", &b->error_code, error) ||
      !amm_json_opt_string (obj, path, "errorMsg", NULL, &msg, error) ||
      !amm_json_opt_string (obj, path, "displayMsg", NULL, &display, error))
    return NULL;
  b->error_msg = g_strdup (msg);
  b->display_msg = g_strdup (display);

  if (b->error_code == NULL && b->error_msg == NULL && b->display_msg == NULL)
    {
      g_set_error_literal (error, AMM_ERROR, AMM_ERROR_MALFORMED,
                           "not an error.v1 document: no errorCode, errorMsg or displayMsg");
      return NULL;
    }
  return g_steal_pointer (&b);
}
