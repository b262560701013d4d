/* amm-discovery.c: see amm-discovery.h. */
#include "amm-discovery.h"

#include "amm-http.h"
#include "amm-protocol.h"

typedef struct {
  SoupSession  *session;
  char         *base_url;
  char         *auth;
  char         *username;
  AmmVersion    want;
  gboolean      need_channel;
  GCancellable *c1, *c2;
  gboolean      use_v3;       /* asking for resources.v3 */
  gboolean      logged_out;   /* the username check already logged a session out */
} Discovery;

static void
discovery_free (Discovery *d)
{
  g_clear_object (&d->session);
  g_free (d->base_url);
  g_free (d->auth);
  g_free (d->username);
  g_clear_object (&d->c1);
  g_clear_object (&d->c2);
  g_free (d);
}

static void discovery_step (GTask *task);

static void
return_error (GTask *task, GError *error)
{
  g_task_return_error (task, error);
  g_object_unref (task);
}

static void
on_logged_out (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  GError *error = NULL;
  g_autoptr (GBytes) body = amm_http_send_finish (res, NULL, NULL, &error);
  (void) body; /* only freed: the answer to a logout does not matter */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    return_error (task, error);
    return;
  }
  g_clear_error (&error); /* a failed logout does not matter: discovery decides */
  discovery_step (task);
}

static void
on_discovery_answer (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  Discovery *d = g_task_get_task_data (task);
  GError *error = NULL;
  guint status = 0;
  g_autoptr (GBytes) body = amm_http_send_finish (res, &status, NULL, &error);

  if (body == NULL) {
    if (g_error_matches (error, AMM_ERROR, AMM_ERROR_NOT_ACCEPTABLE)) {
      if (!d->use_v3 && d->want == AMM_VERSION_AUTO) {
        g_clear_error (&error);
        d->use_v3 = TRUE;
        discovery_step (task);
        return;
      }
      g_clear_error (&error);
      return_error (task, g_error_new (AMM_ERROR, AMM_ERROR_UNSUPPORTED,
                                       d->want == AMM_VERSION_AUTO
                                       ? "The server offers no AMM API version this client speaks"
                                       : "The server does not offer AMM API version %s",
                                       amm_version_to_string (d->want)));
      return;
    }
    if (g_error_matches (error, AMM_ERROR, AMM_ERROR_FORBIDDEN)) {
      error->code = AMM_ERROR_AUTH;
    } else if (g_error_matches (error, AMM_ERROR, AMM_ERROR_NOT_FOUND)) {
      g_clear_error (&error);
      error = g_error_new (AMM_ERROR, AMM_ERROR_INVALID_SETTINGS, "%s is not an AMM server (no %s)",
                           d->base_url, AMM_DISCOVERY_PATH);
    }
    return_error (task, error);
    return;
  }

  g_autoptr (JsonNode) root = amm_http_parse_json (body, NULL);
  g_autoptr (GError) parse_error = NULL;
  g_autoptr (AmmResources) r = root ? amm_resources_parse (root, d->use_v3 ? AMM_VERSION_2_1 : AMM_VERSION_3,
                                                          d->base_url, &parse_error) : NULL;
  if (r == NULL) {
    return_error (task, g_error_new (AMM_ERROR, AMM_ERROR_INVALID_SETTINGS,
                                     "%s is not an AMM server (%s)", d->base_url,
                                     parse_error ? parse_error->message : "its answer is not JSON"));
    return;
  }
  AmmVersion detected = amm_resources_detect_version (r);
  AmmVersion version = detected;
  if (d->want == AMM_VERSION_3_2 && detected != AMM_VERSION_3_2) {
    return_error (task, g_error_new (AMM_ERROR, AMM_ERROR_UNSUPPORTED,
                                     "The server does not offer AMM API version 3.2 (it speaks %s)",
                                     amm_version_to_string (detected)));
    return;
  }
  if (d->want == AMM_VERSION_3 && detected == AMM_VERSION_3_2)
    version = AMM_VERSION_3;
  r->version = version;

  if (r->self == NULL || r->conversations_href == NULL || r->outbox_href == NULL) {
    return_error (task, g_error_new (AMM_ERROR, AMM_ERROR_INVALID_SETTINGS,
                                     "%s is not an AMM server (its discovery document lacks %s)", d->base_url,
                                     r->self == NULL ? "self"
                                     : r->conversations_href == NULL ? "conversationsResource" : "outbox"));
    return;
  }
  if (version != AMM_VERSION_2_1 && d->need_channel && r->websocket_href == NULL && r->sse_href == NULL) {
    return_error (task, g_error_new (AMM_ERROR, AMM_ERROR_UNSUPPORTED,
                                     "The server announces no notification channel; set a poll interval"));
    return;
  }
  /* every link of the document must point to the configured server (or a trusted host) */
  const char *hrefs[] = { r->conversations_href, r->messages_href, r->outbox_href, r->mark_as_read_if_href,
                          r->mark_as_read_batch_href, r->validate_addresses_href, r->websocket_href,
                          r->sse_href, r->session_href };
  for (guint i = 0; i < G_N_ELEMENTS (hrefs); i++) {
    GError *origin_error = NULL;
    if (hrefs[i] != NULL && !amm_http_check_origin (d->session, hrefs[i], &origin_error)) {
      return_error (task, origin_error);
      return;
    }
  }
  if (r->session_username && d->username && g_ascii_strcasecmp (r->session_username, d->username) != 0) {
    if (d->logged_out || r->session_href == NULL) {
      return_error (task, g_error_new (AMM_ERROR, AMM_ERROR_AUTH, "The server signed in %s, not %s",
                                       r->session_username, d->username));
      return;
    }
    d->logged_out = TRUE;
    GError *err = NULL;
    g_autoptr (SoupMessage) msg = amm_http_request_new ("DELETE", r->session_href, d->auth, AMM_TYPE_ERROR,
                                                        NULL, NULL, 0, &err);
    if (msg == NULL) {
      return_error (task, err);
      return;
    }
    amm_http_send_async (d->session, msg, AMM_REST_TIMEOUT_SECONDS, d->c1, d->c2, on_logged_out, task);
    return;
  }
  g_task_return_pointer (task, g_steal_pointer (&r), (GDestroyNotify) amm_resources_unref);
  g_object_unref (task);
}

static void
discovery_step (GTask *task)
{
  Discovery *d = g_task_get_task_data (task);
  g_autofree char *uri = g_strconcat (d->base_url, AMM_DISCOVERY_PATH, NULL);
  const char *accept = d->use_v3 ? AMM_TYPE_RESOURCES_V3 ", " AMM_TYPE_ERROR
                                 : AMM_TYPE_RESOURCES_V4 ", " AMM_TYPE_ERROR;
  GError *error = NULL;
  g_autoptr (SoupMessage) msg = amm_http_request_new ("GET", uri, d->auth, accept, NULL, NULL, 0, &error);
  if (msg == NULL) {
    return_error (task, error);
    return;
  }
  amm_http_send_async (d->session, msg, AMM_REST_TIMEOUT_SECONDS, d->c1, d->c2, on_discovery_answer, task);
}

void
amm_discovery_run_async (SoupSession *session, const char *base_url, const char *auth, const char *username,
                         AmmVersion want, gboolean need_channel, GCancellable *c1, GCancellable *c2,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  Discovery *d = g_new0 (Discovery, 1);
  d->session = g_object_ref (session);
  d->base_url = g_strdup (base_url);
  d->auth = g_strdup (auth);
  d->username = g_strdup (username);
  d->want = want;
  d->need_channel = need_channel;
  d->c1 = c1 ? g_object_ref (c1) : NULL;
  d->c2 = c2 ? g_object_ref (c2) : NULL;
  d->use_v3 = want == AMM_VERSION_2_1;
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_task_data (task, d, (GDestroyNotify) discovery_free);
  discovery_step (task);
}

AmmResources *
amm_discovery_run_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
