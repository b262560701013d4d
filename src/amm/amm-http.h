/* amm-http.h: request building and response handling for the AMM REST calls.
 *
 * One concern: turn (method, url, headers, body) into a SoupMessage, send it with a
 * per-request timeout chained to up to two cancellables, read the body with a size cap,
 * and map every failure (transport, TLS, HTTP status, error.v1 body) to an AMM_ERROR.
 * Private to the client core.
 */
#pragma once

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include "amm-error.h"

G_BEGIN_DECLS

/* A session with a cookie jar, no session-wide timeout (every request has its own),
 * and `tls_db` (nullable: the system default) as its trust store. */
SoupSession *amm_http_session_new (GTlsDatabase *tls_db);

/* Test hook: every request of `session` times out after at most `ms` milliseconds (0: the
 * per-request timeouts alone). Not for production code. */
void amm_http_set_test_timeout (SoupSession *session, guint ms);

/* Test hook: 2xx bodies of `session` are capped at `bytes` (0: AMM_MAX_RESPONSE_BYTES, which is
 * also the most it can be). Not for production code. */
void amm_http_set_max_response_bytes (SoupSession *session, gsize bytes);

/* "Basic base64(user:password)". Never log it. */
char *amm_http_basic_auth (const char *user, const char *password);

/* A request. `accept`, `content_type`, `body` nullable. An invalid URI is AMM_ERROR_INVALID_SETTINGS. */
SoupMessage *amm_http_request_new (const char *method, const char *uri, const char *auth,
                                   const char *accept, const char *content_type,
                                   const char *body, gssize body_len, GError **error);

/* `uri` with `key=value` appended to its query (value percent-encoded, ':' included). */
char *amm_http_uri_add_query (const char *uri, const char *key, const char *value);
/* `href` resolved against `base` (an absolute href is returned as is). */
char *amm_http_resolve (const char *base, const char *href);

/* Send `msg` and read its whole body (at most AMM_MAX_RESPONSE_BYTES, or the test cap).
 * timeout_s 0 = none. Either cancellable (both nullable) cancels the request. */
void    amm_http_send_async  (SoupSession *session, SoupMessage *msg, guint timeout_s,
                              GCancellable *c1, GCancellable *c2,
                              GAsyncReadyCallback callback, gpointer user_data);
/* The body of a 2xx answer (possibly empty). On an error status: NULL and the mapped error;
 * *retry_after gets the Retry-After seconds (0 if none). status/retry_after nullable. */
GBytes *amm_http_send_finish (GAsyncResult *result, guint *status, guint *retry_after, GError **error);

/* Like amm_http_send_async, but a 2xx answer completes as soon as the headers are in,
 * with the body stream (for Server-Sent Events). The timeout covers the headers only. */
void          amm_http_open_stream_async  (SoupSession *session, SoupMessage *msg, guint timeout_s,
                                           GCancellable *c1, GCancellable *c2,
                                           GAsyncReadyCallback callback, gpointer user_data);
GInputStream *amm_http_open_stream_finish (GAsyncResult *result, guint *status, GError **error);

/* Parse a body as JSON; an empty or non-JSON body is AMM_ERROR_MALFORMED. */
JsonNode *amm_http_parse_json (GBytes *body, GError **error);

/* Serialize a node compactly. */
char *amm_http_json_to_string (JsonNode *node);

/* Record certificate problems of `msg` (connect before sending; the WebSocket handshake too). */
void amm_http_watch_tls (SoupMessage *msg);
/* Map a transport error of `msg` (TLS, DNS, refused, timeout) to an AMM_ERROR. CANCELLED is kept. */
GError *amm_http_map_transport_error (SoupMessage *msg, const GError *error);
/* The error for a non-2xx status, with the error.v1 displayMsg/errorMsg when `body` is one. */
GError *amm_http_status_error (guint status, const char *reason, GBytes *body);

/* --- where credentials may go (docs/design.md "Credentials") ---------------------------------
 * A session knows its origin: the configured server's scheme, host and port, plus the account's
 * extra trusted hosts (comma-separated "host" (any port) or "host:port"; IPv6 as "[::1]:8443").
 * A URL to anything else is never requested with the Authorization header or the cookies:
 * amm_http_send_async / amm_http_open_stream_async and the channel refuse it with an
 * AMM_ERROR_INVALID_SETTINGS error that names it. ws/wss count as http/https. A trusted host is
 * never reached over http when the server is https (no downgrade). A session without an origin
 * (a test's plain session) allows everything. */
void     amm_http_session_set_origin (SoupSession *session, const char *base_url, const char *trusted_hosts);
gboolean amm_http_check_origin (SoupSession *session, const char *uri, GError **error);
/* Validate a trusted-hosts list; FALSE + AMM_ERROR_INVALID_SETTINGS naming the bad entry. */
gboolean amm_http_trusted_hosts_validate (const char *trusted_hosts, GError **error);

G_END_DECLS
