/* amm-http.c: see amm-http.h. */
#include "amm-http.h"

#include <string.h>
#include "amm-json.h"
#include "amm-models.h"
#include "amm-pin.h"
#include "amm-protocol.h"

#define TLS_FLAGS_KEY "amm-tls-errors"
#define TLS_FINGERPRINT_KEY "amm-tls-fingerprint"
#define READ_CHUNK    65536
#define ERROR_BODY_CAP (256 * 1024)
#define TEST_TIMEOUT_KEY "amm-test-timeout-ms"
#define TEST_MAX_RESPONSE_KEY "amm-test-max-response-bytes"

SoupSession *
amm_http_session_new (GTlsDatabase *tls_db)
{
  SoupSession *session = soup_session_new_with_options ("timeout", 0,
                                                        "user-agent", "purple-amm ",
                                                        NULL);
  SoupCookieJar *jar = soup_cookie_jar_new ();
  soup_session_add_feature (session, SOUP_SESSION_FEATURE (jar));
  g_object_unref (jar);
  /* we send Basic auth ourselves, pre-emptively; a 401 is an answer, not a prompt */
  soup_session_remove_feature_by_type (session, SOUP_TYPE_AUTH_MANAGER);
  if (tls_db != NULL)
    soup_session_set_tls_database (session, tls_db);
  return session;
}

void
amm_http_set_test_timeout (SoupSession *session, guint ms)
{
  g_object_set_data (G_OBJECT (session), TEST_TIMEOUT_KEY, GUINT_TO_POINTER (ms));
}

void
amm_http_set_max_response_bytes (SoupSession *session, gsize bytes)
{
  g_object_set_data (G_OBJECT (session), TEST_MAX_RESPONSE_KEY,
                     GSIZE_TO_POINTER (MIN (bytes, (gsize) AMM_MAX_RESPONSE_BYTES)));
}

/* The size cap of a 2xx body: AMM_MAX_RESPONSE_BYTES, or less under the test hook. */
static gsize
response_cap (SoupSession *session)
{
  gsize test = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (session), TEST_MAX_RESPONSE_KEY));
  return test ? test : (gsize) AMM_MAX_RESPONSE_BYTES;
}

char *
amm_http_basic_auth (const char *user, const char *password)
{
  g_autofree char *plain = g_strdup_printf ("%s:%s", user ? user : "", password ? password : "");
  g_autofree char *b64 = g_base64_encode ((const guchar *) plain, strlen (plain));
  memset (plain, 0, strlen (plain));
  return g_strconcat ("Basic ", b64, NULL);
}

SoupMessage *
amm_http_request_new (const char *method, const char *uri, const char *auth,
                      const char *accept, const char *content_type,
                      const char *body, gssize body_len, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GUri) parsed = g_uri_parse (uri ? uri : "", SOUP_HTTP_URI_FLAGS, &local);
  if (parsed == NULL || g_uri_get_host (parsed) == NULL || *g_uri_get_host (parsed) == '\0'
      || (g_strcmp0 (g_uri_get_scheme (parsed), "http") != 0
          && g_strcmp0 (g_uri_get_scheme (parsed), "https") != 0)) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS, "Invalid URL from the server: %s",
                 uri ? uri : "(none)");
    return NULL;
  }
  SoupMessage *msg = soup_message_new_from_uri (method, parsed);
  /* a redirect could lead the credentials elsewhere: never followed (the 3xx is an error) */
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  SoupMessageHeaders *h = soup_message_get_request_headers (msg);
  if (auth != NULL)
    soup_message_headers_replace (h, "Authorization", auth);
  if (accept != NULL)
    soup_message_headers_replace (h, "Accept", accept);
  if (body != NULL) {
    if (body_len < 0)
      body_len = strlen (body);
    g_autoptr (GBytes) bytes = g_bytes_new (body, body_len);
    soup_message_set_request_body_from_bytes (msg, content_type, bytes);
  } else if (content_type != NULL) {
    soup_message_headers_replace (h, "Content-Type", content_type);
  }
  amm_http_watch_tls (msg);
  return msg;
}

char *
amm_http_uri_add_query (const char *uri, const char *key, const char *value)
{
  g_autoptr (GUri) parsed = g_uri_parse (uri, SOUP_HTTP_URI_FLAGS, NULL);
  if (parsed == NULL)
    return g_strdup (uri);
  g_autofree char *ev = g_uri_escape_string (value, NULL, FALSE);
  const char *old = g_uri_get_query (parsed);
  g_autofree char *query = (old && *old) ? g_strdup_printf ("%s&%s=%s", old, key, ev)
                                         : g_strdup_printf ("%s=%s", key, ev);
  g_autoptr (GUri) out = g_uri_build (g_uri_get_flags (parsed), g_uri_get_scheme (parsed),
                                      g_uri_get_userinfo (parsed), g_uri_get_host (parsed),
                                      g_uri_get_port (parsed), g_uri_get_path (parsed), query,
                                      g_uri_get_fragment (parsed));
  return g_uri_to_string (out);
}

char *
amm_http_resolve (const char *base, const char *href)
{
  if (href == NULL)
    return NULL;
  char *out = g_uri_resolve_relative (base, href, SOUP_HTTP_URI_FLAGS, NULL);
  return out ? out : g_strdup (href);
}

/* --- TLS ------------------------------------------------------------------------------- */

static gboolean
on_accept_certificate (SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors, gpointer data)
{
  g_object_set_data (G_OBJECT (msg), TLS_FLAGS_KEY, GUINT_TO_POINTER ((guint) errors | 0x80000000u));
  /* named in the error, so that the user can check it and pin it (cert-fingerprint) */
  g_object_set_data_full (G_OBJECT (msg), TLS_FINGERPRINT_KEY, amm_pin_fingerprint (cert), g_free);
  return FALSE; /* never accept a certificate the trust store (or the pin) rejected */
}

void
amm_http_watch_tls (SoupMessage *msg)
{
  if (g_object_get_data (G_OBJECT (msg), "amm-tls-watched"))
    return;
  g_object_set_data (G_OBJECT (msg), "amm-tls-watched", GINT_TO_POINTER (1));
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (on_accept_certificate), NULL);
}

static char *
tls_flags_text (GTlsCertificateFlags f)
{
  GString *s = g_string_new (NULL);
  struct { GTlsCertificateFlags flag; const char *text; } names[] = {
    { G_TLS_CERTIFICATE_UNKNOWN_CA, "unknown issuer" },
    { G_TLS_CERTIFICATE_BAD_IDENTITY, "issued for another host name" },
    { G_TLS_CERTIFICATE_NOT_ACTIVATED, "not yet valid" },
    { G_TLS_CERTIFICATE_EXPIRED, "expired" },
    { G_TLS_CERTIFICATE_REVOKED, "revoked" },
    { G_TLS_CERTIFICATE_INSECURE, "insecure algorithm" },
    { G_TLS_CERTIFICATE_GENERIC_ERROR, "invalid certificate" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (f & names[i].flag)
      g_string_append_printf (s, "%s%s", s->len ? ", " : "", names[i].text);
  if (s->len == 0)
    g_string_append (s, "rejected");
  return g_string_free (s, FALSE);
}

GError *
amm_http_map_transport_error (SoupMessage *msg, const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || error->domain == AMM_ERROR)
    return g_error_copy (error);
  GUri *uri = msg ? soup_message_get_uri (msg) : NULL;
  const char *host = uri && g_uri_get_host (uri) ? g_uri_get_host (uri) : "the server";
  guint flags = msg ? GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (msg), TLS_FLAGS_KEY)) : 0;
  if (flags != 0 || g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE)) {
    g_autofree char *what = tls_flags_text ((GTlsCertificateFlags) (flags & 0x7fffffffu));
    const char *fp = msg ? g_object_get_data (G_OBJECT (msg), TLS_FINGERPRINT_KEY) : NULL;
    if (fp != NULL)
      return g_error_new (AMM_ERROR, AMM_ERROR_TLS,
                          "The certificate for %s is not trusted (%s). If the server uses a private "
                          "CA, set the account's CA file to that CA's certificate (PEM); or, after "
                          "checking it with the server's administrator, pin this certificate by "
                          "setting the certificate fingerprint option to its SHA-256 fingerprint %s",
                          host, what, fp);
    return g_error_new (AMM_ERROR, AMM_ERROR_TLS, "The certificate for %s is not trusted (%s). If the "
                        "server uses a private CA, set the account's CA file to that CA's "
                        "certificate (PEM), or pin the server certificate's SHA-256 fingerprint",
                        host, what);
  }
  if (error->domain == G_TLS_ERROR)
    return g_error_new (AMM_ERROR, AMM_ERROR_TLS, "TLS connection to %s failed: %s", host, error->message);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return g_error_new (AMM_ERROR, AMM_ERROR_TIMEOUT, "%s did not answer in time", host);
  if (error->domain == G_RESOLVER_ERROR)
    return g_error_new (AMM_ERROR, AMM_ERROR_NETWORK, "Could not find %s: %s", host, error->message);
  return g_error_new (AMM_ERROR, AMM_ERROR_NETWORK, "Could not talk to %s: %s", host, error->message);
}

GError *
amm_http_status_error (guint status, const char *reason, GBytes *body)
{
  g_autoptr (AmmErrorBody) eb = NULL;
  if (body != NULL && g_bytes_get_size (body) > 0) {
    gsize len;
    const char *data = g_bytes_get_data (body, &len);
    eb = amm_error_body_parse (data, len, NULL);
  }
  const char *server_text = NULL;
  if (eb != NULL)
    server_text = (eb->display_msg && *eb->display_msg) ? eb->display_msg
                : (eb->error_msg && *eb->error_msg) ? eb->error_msg : NULL;
  if (reason == NULL || *reason == '\0')
    reason = soup_status_get_phrase (status);
  if (reason == NULL)
    reason = "";

  AmmErrorCode code;
  const char *what;
  if (status == 401) { code = AMM_ERROR_AUTH; what = "Authentication failed"; }
  else if (status == 403) { code = AMM_ERROR_FORBIDDEN; what = "Not allowed"; }
  else if (status == 404) { code = AMM_ERROR_NOT_FOUND; what = "Not found"; }
  else if (status == 406) { code = AMM_ERROR_NOT_ACCEPTABLE; what = "Media type not offered"; }
  else if (status == 413) { code = AMM_ERROR_TOO_LARGE; what = "Too large"; }
  else if (status == 429) { code = AMM_ERROR_RATE_LIMITED; what = "Too many requests"; }
  else if (status >= 500) { code = AMM_ERROR_SERVER; what = "Server error"; }
  else if (status >= 400) { code = AMM_ERROR_REJECTED; what = "The server refused the request"; }
  else { code = AMM_ERROR_SERVER; what = "Unexpected answer"; }

  if (server_text != NULL)
    return g_error_new (AMM_ERROR, code, "%s", server_text);
  return g_error_new (AMM_ERROR, code, "%s (HTTP %u %s)", what, status, reason);
}

static guint
parse_retry_after (SoupMessage *msg)
{
  const char *v = soup_message_headers_get_one (soup_message_get_response_headers (msg), "Retry-After");
  if (v == NULL)
    return 0;
  char *end = NULL;
  guint64 n = g_ascii_strtoull (v, &end, 10);
  if (end != v && (*end == '\0' || g_ascii_isspace (*end)))
    return (guint) MIN (n, 3600);
  GDateTime *when = soup_date_time_new_from_http_string (v);
  if (when == NULL)
    return 0;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  GTimeSpan diff = g_date_time_difference (when, now);
  g_date_time_unref (when);
  return diff > 0 ? (guint) MIN (diff / G_TIME_SPAN_SECOND + 1, 3600) : 0;
}

/* --- sending --------------------------------------------------------------------------- */

typedef struct {
  SoupSession  *session;
  SoupMessage  *msg;
  GCancellable *op_cancel;
  GCancellable *c1, *c2;
  gulong        h1, h2;
  guint         timer_id;
  gboolean      timed_out;
  gboolean      stream_mode;
  GInputStream *stream;
  GByteArray   *buf;
  gsize         cap;
  GError       *status_error; /* an error status whose body is being read */
  guint         status;
  guint         retry_after;
} SendData;

static void
send_data_free (SendData *d)
{
  if (d->timer_id)
    g_source_remove (d->timer_id);
  if (d->h1)
    g_cancellable_disconnect (d->c1, d->h1);
  if (d->h2)
    g_cancellable_disconnect (d->c2, d->h2);
  g_clear_object (&d->c1);
  g_clear_object (&d->c2);
  g_clear_object (&d->op_cancel);
  g_clear_object (&d->stream);
  g_clear_object (&d->msg);
  g_clear_object (&d->session);
  if (d->buf)
    g_byte_array_unref (d->buf);
  g_clear_error (&d->status_error);
  g_free (d);
}

static void
on_outer_cancelled (GCancellable *c, gpointer data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
}

static gboolean
on_request_timeout (gpointer data)
{
  SendData *d = data;
  d->timer_id = 0;
  d->timed_out = TRUE;
  g_cancellable_cancel (d->op_cancel);
  return G_SOURCE_REMOVE;
}

static gboolean
outer_cancelled (SendData *d)
{
  return (d->c1 && g_cancellable_is_cancelled (d->c1)) || (d->c2 && g_cancellable_is_cancelled (d->c2));
}

/* Complete with an error, turning our own timeout's CANCELLED into AMM_ERROR_TIMEOUT. */
static void
fail (GTask *task, GError *error)
{
  SendData *d = g_task_get_task_data (task);
  if (outer_cancelled (d)) {
    g_clear_error (&error);
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled");
  } else if (d->timed_out && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    GUri *uri = soup_message_get_uri (d->msg);
    g_clear_error (&error);
    g_task_return_new_error (task, AMM_ERROR, AMM_ERROR_TIMEOUT, "%s did not answer in time",
                             uri && g_uri_get_host (uri) ? g_uri_get_host (uri) : "The server");
  } else {
    GError *mapped = amm_http_map_transport_error (d->msg, error);
    g_clear_error (&error);
    g_task_return_error (task, mapped);
  }
  g_object_unref (task);
}

static void read_more (GTask *task);

static void
finish_body (GTask *task)
{
  SendData *d = g_task_get_task_data (task);
  if (d->timer_id) {
    g_source_remove (d->timer_id);
    d->timer_id = 0;
  }
  if (outer_cancelled (d)) {
    fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled"));
    return;
  }
  g_autoptr (GBytes) body = g_byte_array_free_to_bytes (d->buf);
  d->buf = NULL;
  /* a connection closed before the announced Content-Length arrived: libsoup reports a plain
   * end of stream, so the length is checked here (a cut answer is never parsed as a whole one) */
  SoupMessageHeaders *rh = soup_message_get_response_headers (d->msg);
  if (d->status_error == NULL && SOUP_STATUS_IS_SUCCESSFUL (d->status) /* an error page may be cut at its cap */
      && soup_message_headers_get_encoding (rh) == SOUP_ENCODING_CONTENT_LENGTH
      && (goffset) g_bytes_get_size (body) < soup_message_headers_get_content_length (rh)) {
    GUri *uri = soup_message_get_uri (d->msg);
    d->status_error = g_error_new (AMM_ERROR, AMM_ERROR_NETWORK,
                                   "The answer from %s was cut short (%" G_GSIZE_FORMAT " of %" G_GOFFSET_FORMAT
                                   " bytes)", uri && g_uri_get_host (uri) ? g_uri_get_host (uri) : "the server",
                                   g_bytes_get_size (body), soup_message_headers_get_content_length (rh));
  }
  if (d->status_error == NULL && SOUP_STATUS_IS_REDIRECTION (d->status)) {
    const char *location = soup_message_headers_get_one (soup_message_get_response_headers (d->msg), "Location");
    d->status_error = g_error_new (AMM_ERROR, AMM_ERROR_REJECTED,
                                   "The server redirected the request to %s; redirects are not followed "
                                   "(HTTP %u)", location ? location : "another address", d->status);
  }
  if (d->status_error == NULL && !SOUP_STATUS_IS_SUCCESSFUL (d->status))
    d->status_error = amm_http_status_error (d->status, soup_message_get_reason_phrase (d->msg), body);
  if (d->status_error != NULL) {
    g_task_return_error (task, g_steal_pointer (&d->status_error));
  } else {
    g_task_return_pointer (task, g_steal_pointer (&body), (GDestroyNotify) g_bytes_unref);
  }
  g_object_unref (task);
}

static void
on_read (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  SendData *d = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (GBytes) chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (src), res, &error);
  if (chunk == NULL) {
    fail (task, error);
    return;
  }
  gsize n = g_bytes_get_size (chunk);
  if (n == 0) {
    finish_body (task);
    return;
  }
  if (d->buf->len + n > d->cap) {
    if (!SOUP_STATUS_IS_SUCCESSFUL (d->status)) { /* an oversized error page: the status is enough */
      g_input_stream_close_async (d->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      g_byte_array_set_size (d->buf, 0);
      finish_body (task);
      return;
    }
    g_input_stream_close_async (d->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
    g_task_return_new_error (task, AMM_ERROR, AMM_ERROR_TOO_LARGE,
                             "The server's answer is larger than %" G_GSIZE_FORMAT " bytes", d->cap);
    g_object_unref (task);
    return;
  }
  g_byte_array_append (d->buf, g_bytes_get_data (chunk, NULL), n);
  read_more (task);
}

static void
read_more (GTask *task)
{
  SendData *d = g_task_get_task_data (task);
  g_input_stream_read_bytes_async (d->stream, READ_CHUNK, G_PRIORITY_DEFAULT, d->op_cancel, on_read, task);
}

/* A 2xx answer to a request that asked for JSON (its Accept names a JSON type) must be JSON
 * (application/json or any +json type) when it has a type at all: an HTML page from a proxy or
 * a text/plain body is an AMM_ERROR_MALFORMED, not something to parse. */
static gboolean
json_type_acceptable (SoupMessage *msg)
{
  const char *accept = soup_message_headers_get_one (soup_message_get_request_headers (msg), "Accept");
  const char *got = soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL);
  if (accept == NULL || strstr (accept, "json") == NULL || got == NULL)
    return TRUE;
  return g_ascii_strcasecmp (got, "application/json") == 0 || g_str_has_suffix (got, "+json");
}

static void
on_sent (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  SendData *d = g_task_get_task_data (task);
  GError *error = NULL;
  GInputStream *stream = soup_session_send_finish (SOUP_SESSION (src), res, &error);
  if (stream == NULL) {
    fail (task, error);
    return;
  }
  d->stream = stream;
  d->status = soup_message_get_status (d->msg);
  d->retry_after = parse_retry_after (d->msg);
  gboolean ok = SOUP_STATUS_IS_SUCCESSFUL (d->status);
  if (ok && d->stream_mode) {
    if (d->timer_id) {
      g_source_remove (d->timer_id);
      d->timer_id = 0;
    }
    if (outer_cancelled (d)) {
      fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled"));
      return;
    }
    g_task_return_pointer (task, g_object_ref (stream), g_object_unref);
    g_object_unref (task);
    return;
  }
  d->cap = ok ? response_cap (d->session) : ERROR_BODY_CAP;
  goffset announced = soup_message_headers_get_content_length (soup_message_get_response_headers (d->msg));
  if (ok && announced > (goffset) d->cap) {
    g_input_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
    g_task_return_new_error (task, AMM_ERROR, AMM_ERROR_TOO_LARGE,
                             "The server's answer is larger than %" G_GSIZE_FORMAT " bytes", d->cap);
    g_object_unref (task);
    return;
  }
  if (ok && !json_type_acceptable (d->msg)) {
    const char *got = soup_message_headers_get_content_type (soup_message_get_response_headers (d->msg), NULL);
    GUri *uri = soup_message_get_uri (d->msg);
    g_input_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
    g_task_return_new_error (task, AMM_ERROR, AMM_ERROR_MALFORMED,
                             g_ascii_strncasecmp (got, "text/html", 9) == 0
                             ? "%s answered with an HTML page (%s) instead of an AMM document; a proxy in between?"
                             : "%s answered with %s instead of an AMM document",
                             uri && g_uri_get_host (uri) ? g_uri_get_host (uri) : "The server", got);
    g_object_unref (task);
    return;
  }
  /* an error status: read the body (for error.v1) with a small cap, then build the error */
  d->buf = g_byte_array_new ();
  read_more (task);
}

static void
start_send (SoupSession *session, SoupMessage *msg, guint timeout_s, GCancellable *c1, GCancellable *c2,
            gboolean stream_mode, GAsyncReadyCallback callback, gpointer user_data)
{
  SendData *d = g_new0 (SendData, 1);
  d->session = g_object_ref (session);
  d->msg = g_object_ref (msg);
  d->op_cancel = g_cancellable_new ();
  d->stream_mode = stream_mode;
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (task, start_send);
  g_task_set_task_data (task, d, (GDestroyNotify) send_data_free);
  /* credentials go only where the user sent them (see amm_http_check_origin) */
  g_autofree char *target = g_uri_to_string (soup_message_get_uri (msg));
  GError *origin_error = NULL;
  if (!amm_http_check_origin (session, target, &origin_error)) {
    g_debug ("amm-http: refused: %s", origin_error->message);
    g_task_return_error (task, origin_error); /* GTask completes it from an idle */
    g_object_unref (task);
    return;
  }
  amm_http_watch_tls (msg);
  if (c1) {
    d->c1 = g_object_ref (c1);
    d->h1 = g_cancellable_connect (c1, G_CALLBACK (on_outer_cancelled), d->op_cancel, NULL);
  }
  if (c2) {
    d->c2 = g_object_ref (c2);
    d->h2 = g_cancellable_connect (c2, G_CALLBACK (on_outer_cancelled), d->op_cancel, NULL);
  }
  /* test hook (amm_http_set_test_timeout): a shorter timeout for every request of the session */
  guint test_ms = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (session), TEST_TIMEOUT_KEY));
  if (test_ms > 0 && (timeout_s == 0 || test_ms < timeout_s * 1000u))
    d->timer_id = g_timeout_add (test_ms, on_request_timeout, d);
  else if (timeout_s > 0)
    d->timer_id = g_timeout_add_seconds (timeout_s, on_request_timeout, d);
  soup_session_send_async (session, msg, G_PRIORITY_DEFAULT, d->op_cancel, on_sent, task);
}

void
amm_http_send_async (SoupSession *session, SoupMessage *msg, guint timeout_s,
                     GCancellable *c1, GCancellable *c2, GAsyncReadyCallback callback, gpointer user_data)
{
  start_send (session, msg, timeout_s, c1, c2, FALSE, callback, user_data);
}

GBytes *
amm_http_send_finish (GAsyncResult *result, guint *status, guint *retry_after, GError **error)
{
  GTask *task = G_TASK (result);
  SendData *d = g_task_get_task_data (task);
  if (status)
    *status = d->status;
  if (retry_after)
    *retry_after = d->retry_after;
  return g_task_propagate_pointer (task, error);
}

void
amm_http_open_stream_async (SoupSession *session, SoupMessage *msg, guint timeout_s,
                            GCancellable *c1, GCancellable *c2, GAsyncReadyCallback callback, gpointer user_data)
{
  start_send (session, msg, timeout_s, c1, c2, TRUE, callback, user_data);
}

GInputStream *
amm_http_open_stream_finish (GAsyncResult *result, guint *status, GError **error)
{
  GTask *task = G_TASK (result);
  SendData *d = g_task_get_task_data (task);
  if (status)
    *status = d->status;
  return g_task_propagate_pointer (task, error);
}

JsonNode *
amm_http_parse_json (GBytes *body, GError **error)
{
  gsize len = 0;
  const char *data = body ? g_bytes_get_data (body, &len) : NULL;
  if (data == NULL || len == 0) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED, "The server sent an empty answer");
    return NULL;
  }
  g_autoptr (GError) local = NULL;
  JsonNode *node = amm_json_parse (data, len, &local);
  if (node == NULL) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED, "The server sent an answer that is not valid JSON");
    return NULL;
  }
  return node;
}

char *
amm_http_json_to_string (JsonNode *node)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, node);
  return json_generator_to_data (gen, NULL);
}

/* --- where credentials may go ---------------------------------------------------------------- */

#define ORIGIN_KEY "amm-origin"

typedef struct {
  char   *scheme;  /* "http" or "https" */
  char   *host;    /* lower case, IPv6 without brackets */
  int     port;    /* effective */
  GPtrArray *trusted; /* of TrustedHost* */
} Origin;

typedef struct {
  char *host;
  int   port;      /* -1: any port */
} TrustedHost;

static void
trusted_host_free (TrustedHost *t)
{
  g_free (t->host);
  g_free (t);
}

static void
origin_free (Origin *o)
{
  g_free (o->scheme);
  g_free (o->host);
  g_ptr_array_unref (o->trusted);
  g_free (o);
}

/* "http"/"https" for http, https, ws, wss (any case); NULL otherwise. */
static const char *
http_scheme (const char *scheme)
{
  if (scheme == NULL)
    return NULL;
  if (g_ascii_strcasecmp (scheme, "https") == 0 || g_ascii_strcasecmp (scheme, "wss") == 0)
    return "https";
  if (g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "ws") == 0)
    return "http";
  return NULL;
}

static char *
normalize_host (const char *host)
{
  if (host == NULL)
    return NULL;
  gsize len = strlen (host);
  if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
    return g_ascii_strdown (host + 1, len - 2);
  char *h = g_ascii_strdown (host, -1);
  gsize n = strlen (h);
  if (n > 1 && h[n - 1] == '.') /* "example.com." is example.com */
    h[n - 1] = '\0';
  return h;
}

/* One trusted-hosts entry: "host", "host:port", "[v6]", "[v6]:port". */
static TrustedHost *
parse_trusted_host (const char *entry)
{
  const char *host_start = entry, *host_end, *port_str = NULL;
  if (*entry == '[') {
    const char *close = strchr (entry, ']');
    if (close == NULL)
      return NULL;
    host_start = entry + 1;
    host_end = close;
    if (close[1] == ':')
      port_str = close + 2;
    else if (close[1] != '\0')
      return NULL;
  } else {
    const char *colon = strchr (entry, ':');
    if (colon && strchr (colon + 1, ':'))
      return NULL; /* a bare IPv6 address: needs brackets to carry a port */
    host_end = colon ? colon : entry + strlen (entry);
    if (colon)
      port_str = colon + 1;
  }
  if (host_end == host_start)
    return NULL;
  for (const char *p = host_start; p < host_end; p++)
    if (!(g_ascii_isalnum (*p) || *p == '.' || *p == '-' || *p == '_' || (*entry == '[' && *p == ':')))
      return NULL;
  int port = -1;
  if (port_str != NULL) {
    char *end = NULL;
    guint64 n = g_ascii_strtoull (port_str, &end, 10);
    if (end == port_str || *end != '\0' || n == 0 || n > 65535)
      return NULL;
    port = (int) n;
  }
  TrustedHost *t = g_new0 (TrustedHost, 1);
  g_autofree char *h = g_strndup (host_start, host_end - host_start);
  t->host = normalize_host (h);
  t->port = port;
  return t;
}

static GPtrArray *
parse_trusted_hosts (const char *list, GError **error)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) trusted_host_free);
  if (list == NULL)
    return out;
  g_auto (GStrv) items = g_strsplit_set (list, ", \t", -1);
  for (guint i = 0; items[i]; i++) {
    if (items[i][0] == '\0')
      continue;
    TrustedHost *t = parse_trusted_host (items[i]);
    if (t == NULL) {
      g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS,
                   "Trusted hosts: “%s” is not a host name or host:port", items[i]);
      g_ptr_array_unref (out);
      return NULL;
    }
    g_ptr_array_add (out, t);
  }
  return out;
}

gboolean
amm_http_trusted_hosts_validate (const char *trusted_hosts, GError **error)
{
  GPtrArray *a = parse_trusted_hosts (trusted_hosts, error);
  if (a == NULL)
    return FALSE;
  g_ptr_array_unref (a);
  return TRUE;
}

void
amm_http_session_set_origin (SoupSession *session, const char *base_url, const char *trusted_hosts)
{
  g_autoptr (GUri) u = base_url ? g_uri_parse (base_url, SOUP_HTTP_URI_FLAGS, NULL) : NULL;
  if (u == NULL || http_scheme (g_uri_get_scheme (u)) == NULL) {
    g_object_set_data (G_OBJECT (session), ORIGIN_KEY, NULL);
    return;
  }
  Origin *o = g_new0 (Origin, 1);
  o->scheme = g_strdup (http_scheme (g_uri_get_scheme (u)));
  o->host = normalize_host (g_uri_get_host (u));
  o->port = g_uri_get_port (u) > 0 ? g_uri_get_port (u) : (strcmp (o->scheme, "https") == 0 ? 443 : 80);
  o->trusted = parse_trusted_hosts (trusted_hosts, NULL);
  if (o->trusted == NULL) /* validated by the caller; an invalid list trusts nothing extra */
    o->trusted = g_ptr_array_new_with_free_func ((GDestroyNotify) trusted_host_free);
  g_object_set_data_full (G_OBJECT (session), ORIGIN_KEY, o, (GDestroyNotify) origin_free);
}

gboolean
amm_http_check_origin (SoupSession *session, const char *uri, GError **error)
{
  Origin *o = session ? g_object_get_data (G_OBJECT (session), ORIGIN_KEY) : NULL;
  if (o == NULL)
    return TRUE;
  g_autoptr (GUri) u = uri ? g_uri_parse (uri, SOUP_HTTP_URI_FLAGS, NULL) : NULL;
  const char *scheme = u ? http_scheme (g_uri_get_scheme (u)) : NULL;
  g_autofree char *host = u ? normalize_host (g_uri_get_host (u)) : NULL;
  if (scheme == NULL || host == NULL || *host == '\0') {
    g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS, "Invalid URL from the server: %s",
                 uri ? uri : "(none)");
    return FALSE;
  }
  int port = g_uri_get_port (u) > 0 ? g_uri_get_port (u) : (strcmp (scheme, "https") == 0 ? 443 : 80);
  if (strcmp (scheme, o->scheme) == 0 && strcmp (host, o->host) == 0 && port == o->port)
    return TRUE;
  /* extra trusted hosts: never over http when the server itself is https */
  gboolean downgrade = strcmp (o->scheme, "https") == 0 && strcmp (scheme, "http") == 0;
  for (guint i = 0; !downgrade && i < o->trusted->len; i++) {
    TrustedHost *t = g_ptr_array_index (o->trusted, i);
    if (strcmp (t->host, host) == 0 && (t->port < 0 || t->port == port))
      return TRUE;
  }
  gboolean v6 = strchr (host, ':') != NULL;
  gboolean ov6 = strchr (o->host, ':') != NULL;
  g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS,
               "The server sent a link to %s://%s%s%s:%d, which is not the configured server "
               "%s://%s%s%s:%d; it was not followed (your password and session go only to the configured "
               "server%s). If that server belongs to your deployment, add it to the account's trusted hosts.",
               scheme, v6 ? "[" : "", host, v6 ? "]" : "", port,
               o->scheme, ov6 ? "[" : "", o->host, ov6 ? "]" : "", o->port,
               downgrade ? ", and never over plain HTTP" : "");
  return FALSE;
}
