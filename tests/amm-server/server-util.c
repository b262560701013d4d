/* server-util.c: logging, error.v1 answers, media-type checks, authentication, the session
 * cookie, CORS and the per-request hooks. */
#include "server.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "amm-protocol.h"

#define USER_KEY "amm-user"

void
amm_log (const char *fmt, ...)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%H:%M:%S");
  g_autofree char *text = NULL;
  va_list ap;

  va_start (ap, fmt);
  text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "%s.%03d amm-server: %s\n", stamp,
           g_date_time_get_microsecond (now) / 1000, text);
}

/* From the listening socket itself: soup_server_get_uris() would do, but libsoup 3.2 never
 * frees the address it caches for it. */
guint16
amm_listening_port (SoupServer *soup)
{
  GSList *sockets = soup_server_get_listeners (soup);
  g_autoptr (GSocketAddress) addr = sockets ? g_socket_get_local_address (sockets->data, NULL) : NULL;
  guint16 port = G_IS_INET_SOCKET_ADDRESS (addr) ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr)) : 0;

  g_slist_free (sockets);
  return port;
}

const char *
amm_message_user (SoupServerMessage *msg)
{
  return g_object_get_data (G_OBJECT (msg), USER_KEY);
}

void
amm_message_set_user (SoupServerMessage *msg, const char *address)
{
  g_object_set_data_full (G_OBJECT (msg), USER_KEY, g_strdup (address), g_free);
}

char *
amm_request_base (AmmServer *server, SoupServerMessage *msg, gboolean websocket)
{
  GUri *uri = soup_server_message_get_uri (msg);
  const char *scheme;
  const char *host = uri ? g_uri_get_host (uri) : NULL;
  int port = uri ? g_uri_get_port (uri) : -1;

  if (websocket)
    scheme = server->opt.tls ? "wss" : "ws";
  else
    scheme = server->opt.tls ? "https" : "http";
  if (!host || !*host)
    host = server->opt.host;
  if (port <= 0)
    port = server->port;
  return g_uri_join (G_URI_FLAGS_NONE, scheme, NULL, host, port, "", NULL, NULL);
}

/* ---- answers ---- */

void
amm_respond_json (SoupServerMessage *msg, guint status, const char *content_type, JsonNode *node)
{
  gsize len = 0;
  char *text = json_to_string (node, FALSE);

  len = strlen (text);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_TAKE, text, len);
}

void
amm_respond_error (SoupServerMessage *msg, guint status, const char *error_code,
                   const char *error_msg, const char *display_msg)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "errorCode");
  json_builder_add_string_value (b, error_code);
  json_builder_set_member_name (b, "errorMsg");
  json_builder_add_string_value (b, error_msg);
  json_builder_set_member_name (b, "displayMsg");
  json_builder_add_string_value (b, display_msg ? display_msg : error_msg);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  amm_respond_json (msg, status, AMM_TYPE_ERROR, root);
}

void
amm_respond_fault (SoupServerMessage *msg, const GError *error)
{
  if (error->domain == AMM_FAULT)
    amm_respond_error (msg, amm_fault_status (error->code),
                       amm_fault_error_code (error->code), error->message, NULL);
  else
    amm_respond_error (msg, 500, "SERVER_ERROR", error->message, NULL);
}

void
amm_respond_empty (SoupServerMessage *msg, guint status)
{
  soup_server_message_set_status (msg, status, NULL);
}

void
amm_respond_unauthorized (SoupServerMessage *msg)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "WWW-Authenticate", "Basic realm=\"AMM\"");
  amm_respond_error (msg, 401, "AUTHENTICATION_FAILED", "Invalid credentials",
                     "Wrong user name or password.");
}

/* ---- authentication ---- */

/* Returns TRUE when a Basic Authorization header is present; *user the matching user. */
static gboolean
basic_credentials (AmmServer *server, SoupServerMessage *msg, AmmUser **user)
{
  const char *h = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                "Authorization");
  g_autofree char *token = NULL;
  g_autofree guchar *raw = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;
  char *colon;

  *user = NULL;
  if (!h || g_ascii_strncasecmp (h, "Basic ", 6) != 0)
    return h != NULL;
  token = g_strstrip (g_strdup (h + 6));
  if (!*token)
    return TRUE;
  raw = g_base64_decode (token, &len);
  text = g_strndup ((const char *) raw, len);
  if (strlen (text) != len || !g_utf8_validate (text, -1, NULL))
    return TRUE;
  colon = strchr (text, ':');
  if (!colon)
    return TRUE;
  *colon = '\0';
  *user = amm_state_authenticate (server->state, text, colon + 1);
  return TRUE;
}

static char *
session_cookie (SoupServerMessage *msg)
{
  const char *h = soup_message_headers_get_list (soup_server_message_get_request_headers (msg),
                                                 "Cookie");
  g_autoptr (GHashTable) cookies = NULL;

  if (!h)
    return NULL;
  cookies = soup_header_parse_semi_param_list (h);
  return g_strdup (g_hash_table_lookup (cookies, AMM_SESSION_COOKIE));
}

static AmmUser *
cookie_user (AmmServer *server, SoupServerMessage *msg)
{
  g_autofree char *value = session_cookie (msg);
  const char *address = value ? g_hash_table_lookup (server->sessions, value) : NULL;

  return address ? amm_state_find_user (server->state, address) : NULL;
}

AmmUser *
amm_authenticate (AmmServer *server, SoupServerMessage *msg, gboolean *via_basic)
{
  AmmUser *user = NULL;

  if (via_basic)
    *via_basic = FALSE;
  if (basic_credentials (server, msg, &user)) {
    /* Credentials that are present must be right, whatever the cookie says. */
    if (via_basic)
      *via_basic = user != NULL;
    return user;
  }
  return cookie_user (server, msg);
}

AmmUser *
amm_require_user (AmmServer *server, SoupServerMessage *msg)
{
  gboolean via_basic = FALSE;
  AmmUser *user = amm_authenticate (server, msg, &via_basic);

  if (!user) {
    amm_respond_unauthorized (msg);
    return NULL;
  }
  amm_message_set_user (msg, user->address);
  if (via_basic && cookie_user (server, msg) != user) {
    g_autofree char *value = g_uuid_string_random ();
    g_autoptr (SoupCookie) cookie = soup_cookie_new (AMM_SESSION_COOKIE, value, "", "/", -1);
    g_autofree char *header = NULL;

    soup_cookie_set_domain (cookie, NULL);   /* host-only cookie: no Domain attribute */
    soup_cookie_set_http_only (cookie, TRUE);
    soup_cookie_set_secure (cookie, server->opt.tls);
    header = soup_cookie_to_set_cookie_header (cookie);
    soup_message_headers_append (soup_server_message_get_response_headers (msg),
                                 "Set-Cookie", header);
    g_hash_table_insert (server->sessions, g_steal_pointer (&value), g_strdup (user->address));
  }
  return user;
}

void
amm_session_remove (AmmServer *server, SoupServerMessage *msg)
{
  g_autofree char *value = session_cookie (msg);
  g_autoptr (SoupCookie) cookie = soup_cookie_new (AMM_SESSION_COOKIE, "", "", "/", 0);
  g_autofree char *header = NULL;

  if (value)
    g_hash_table_remove (server->sessions, value);
  soup_cookie_set_domain (cookie, NULL);
  soup_cookie_set_http_only (cookie, TRUE);
  soup_cookie_set_secure (cookie, server->opt.tls);
  header = soup_cookie_to_set_cookie_header (cookie);
  soup_message_headers_append (soup_server_message_get_response_headers (msg),
                               "Set-Cookie", header);
}

/* ---- media types ---- */

gboolean
amm_check_content_type (SoupServerMessage *msg, const char * const *types, const char **matched)
{
  const char *ct = soup_message_headers_get_content_type (
      soup_server_message_get_request_headers (msg), NULL);

  for (guint i = 0; ct && types[i]; i++) {
    if (g_ascii_strcasecmp (ct, types[i]) == 0) {
      if (matched)
        *matched = types[i];
      return TRUE;
    }
  }
  {
    g_autofree char *text = g_strdup_printf ("Unsupported Content-Type %s; expected %s",
                                             ct ? ct : "(none)", types[0]);
    amm_respond_error (msg, 415, "UNSUPPORTED_MEDIA_TYPE", text, NULL);
  }
  return FALSE;
}

const char *
amm_negotiate (SoupServerMessage *msg, const char * const *types)
{
  const char *accept = soup_message_headers_get_list (
      soup_server_message_get_request_headers (msg), "Accept");
  GSList *list, *l;
  const char *found = NULL;

  if (!accept || !*accept)
    return types[0];
  list = soup_header_parse_quality_list (accept, NULL);
  for (l = list; l && !found; l = l->next) {
    const char *item = l->data;

    if (g_ascii_strcasecmp (item, "*/*") == 0 || g_ascii_strcasecmp (item, "application/*") == 0
        || g_ascii_strcasecmp (item, "application/json") == 0) {
      found = types[0];
      break;
    }
    for (guint i = 0; types[i]; i++) {
      if (g_ascii_strcasecmp (item, types[i]) == 0) {
        found = types[i];
        break;
      }
    }
  }
  soup_header_free_list (list);
  if (!found) {
    g_autofree char *text = g_strdup_printf ("Not acceptable: %s; this resource produces %s",
                                             accept, types[0]);
    amm_respond_error (msg, 406, "NOT_ACCEPTABLE", text, NULL);
  }
  return found;
}

JsonObject *
amm_parse_body_object (SoupServerMessage *msg, JsonNode **root)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  gsize len = 0;
  const char *data = g_bytes_get_data (bytes, &len);

  *root = NULL;
  if (len == 0 || !json_parser_load_from_data (parser, data, len, &error)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    amm_respond_error (msg, 400, "INVALID_PARAMETER", "The request body is not a JSON object",
                       NULL);
    return NULL;
  }
  *root = json_node_copy (json_parser_get_root (parser));
  return json_node_get_object (*root);
}

/* ---- hooks: CORS, request counting, logging ---- */

static void
request_read (SoupServer *soup, SoupServerMessage *msg, gpointer data)
{
  AmmServer *server = data;
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  const char *origin = soup_message_headers_get_one (req, "Origin");
  const char *method = soup_server_message_get_method (msg);

  server->requests++;
  if (origin) {
    soup_message_headers_replace (resp, "Access-Control-Allow-Origin", origin);
    soup_message_headers_replace (resp, "Access-Control-Allow-Credentials", "true");
    soup_message_headers_replace (resp, "Access-Control-Expose-Headers",
                                  "Retry-After, ETag, Last-Modified");
    soup_message_headers_append (resp, "Vary", "Origin");
  }
  if (g_strcmp0 (method, "OPTIONS") == 0) {
    const char *req_headers = soup_message_headers_get_list (req, "Access-Control-Request-Headers");

    soup_message_headers_replace (resp, "Access-Control-Allow-Methods",
                                  "GET, POST, PUT, DELETE, OPTIONS");
    soup_message_headers_replace (resp, "Access-Control-Allow-Headers",
                                  req_headers ? req_headers
                                  : "Authorization, Content-Type, Accept, "
                                    AMM_HEADER_REQUEST_TIMEOUT);
    soup_message_headers_replace (resp, "Access-Control-Max-Age", "86400");
    soup_message_headers_replace (resp, "Allow", "GET, POST, DELETE, OPTIONS");
    soup_server_message_set_status (msg, 204, NULL);
  }
}

static void
log_request (AmmServer *server, SoupServerMessage *msg, gboolean aborted)
{
  GUri *uri = soup_server_message_get_uri (msg);
  const char *user = amm_message_user (msg);

  if (!server->opt.verbose)
    return;
  /* Never the query's secrets: there are none in AMM URLs, but no headers are logged. */
  if (aborted)
    amm_log ("%s %s: connection closed (streams and held requests end this way) user=%s",
             soup_server_message_get_method (msg), uri ? g_uri_get_path (uri) : "?",
             user ? user : "-");
  else
    amm_log ("%s %s%s%s -> %u user=%s bytes=%" G_GOFFSET_FORMAT,
             soup_server_message_get_method (msg), uri ? g_uri_get_path (uri) : "?",
             uri && g_uri_get_query (uri) ? "?" : "",
             uri && g_uri_get_query (uri) ? g_uri_get_query (uri) : "",
             soup_server_message_get_status (msg), user ? user : "-",
             soup_server_message_get_response_body (msg)->length);
}

static void
request_finished (SoupServer *soup, SoupServerMessage *msg, gpointer data)
{
  log_request (data, msg, FALSE);
}

static void
request_aborted (SoupServer *soup, SoupServerMessage *msg, gpointer data)
{
  log_request (data, msg, TRUE);
}

void
amm_install_request_hooks (AmmServer *server)
{
  g_signal_connect (server->soup, "request-read", G_CALLBACK (request_read), server);
  g_signal_connect (server->soup, "request-finished", G_CALLBACK (request_finished), server);
  g_signal_connect (server->soup, "request-aborted", G_CALLBACK (request_aborted), server);
}
