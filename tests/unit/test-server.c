/* test-server.c: tests of tests/amm-server at the HTTP level, with a plain SoupSession.
 * Run: AMM_SERVER=build/amm-server AMM_TLS_DIR=build/tls build/tests/test-server */
#include <libsoup/soup.h>
#include <string.h>

#include "amm-protocol.h"
#include "amm-test-server.h"

#define ALICE "alice@example.com"
#define BOB "bob@example.com"
#define CAROL "carol@example.com"
#define ACCEPT(t) t ", " AMM_TYPE_ERROR

/* ---- helpers ---- */

typedef struct {
  guint status;
  char *content_type;
  char *text;
  JsonNode *json;
  SoupMessageHeaders *headers;
} Resp;

static void
resp_free (Resp *r)
{
  g_free (r->content_type);
  g_free (r->text);
  if (r->json)
    json_node_unref (r->json);
  if (r->headers)
    soup_message_headers_unref (r->headers);
  g_free (r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Resp, resp_free)

static char *
password_for (const char *user)
{
  const char *at = strchr (user, '@');

  return g_strdup_printf ("%.*s-pw", (int) (at ? at - user : (long) strlen (user)), user);
}

static void
set_basic (SoupMessage *msg, const char *user, const char *password)
{
  g_autofree char *pw = password ? g_strdup (password) : password_for (user);
  g_autofree char *pair = g_strdup_printf ("%s:%s", user, pw);
  g_autofree char *b64 = g_base64_encode ((const guchar *) pair, strlen (pair));
  g_autofree char *h = g_strdup_printf ("Basic %s", b64);

  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", h);
}

static SoupSession *
new_session (AmmTestServer *srv)
{
  SoupSession *session = soup_session_new_with_options ("timeout", 20, NULL);

  soup_session_set_proxy_resolver (session, NULL);
  if (srv && amm_test_server_is_tls (srv)) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GTlsDatabase) db = g_tls_file_database_new (amm_test_server_get_ca_file (srv), &error);
    g_assert_no_error (error);
    soup_session_set_tls_database (session, db);
  }
  return session;
}

static char *
url_of (AmmTestServer *srv, const char *path_or_url)
{
  if (g_str_has_prefix (path_or_url, "http"))
    return g_strdup (path_or_url);
  return g_strconcat (amm_test_server_get_base_url (srv), path_or_url, NULL);
}

static SoupMessage *
build (AmmTestServer *srv, const char *method, const char *path, const char *user,
       const char *accept, const char *ctype, const char *body)
{
  g_autofree char *url = url_of (srv, path);
  SoupMessage *msg = soup_message_new (method, url);

  g_assert_nonnull (msg);
  if (user)
    set_basic (msg, user, NULL);
  if (accept)
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Accept", accept);
  if (body) {
    g_autoptr (GBytes) b = g_bytes_new (body, strlen (body));
    soup_message_set_request_body_from_bytes (msg, ctype, b);
  }
  return msg;
}

static Resp *
send_msg (SoupSession *session, SoupMessage *msg)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = soup_session_send_and_read (session, msg, NULL, &error);
  Resp *r = g_new0 (Resp, 1);
  gsize len = 0;
  const char *data;

  g_assert_no_error (error);
  r->status = soup_message_get_status (msg);
  r->headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
  r->content_type = g_strdup (soup_message_headers_get_content_type (r->headers, NULL));
  data = g_bytes_get_data (bytes, &len);
  r->text = g_strndup (data ? data : "", len);
  if (len > 0) {
    g_autoptr (JsonParser) p = json_parser_new ();
    if (json_parser_load_from_data (p, r->text, len, NULL))
      r->json = json_node_copy (json_parser_get_root (p));
  }
  return r;
}

static Resp *
http (SoupSession *session, AmmTestServer *srv, const char *method, const char *path,
      const char *user, const char *accept, const char *ctype, const char *body)
{
  g_autoptr (SoupMessage) msg = build (srv, method, path, user, accept, ctype, body);

  return send_msg (session, msg);
}

static JsonObject *
obj (Resp *r)
{
  g_assert_nonnull (r->json);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (r->json));
  return json_node_get_object (r->json);
}

static const char *
path_str (JsonNode *root, const char *path)
{
  g_autoptr (JsonNode) res = json_path_query (path, root, NULL);
  JsonArray *a = res ? json_node_get_array (res) : NULL;

  if (!a || json_array_get_length (a) == 0)
    return NULL;
  return json_node_get_string (json_array_get_element (a, 0));
}

static void
assert_error_doc (Resp *r, guint status)
{
  g_assert_cmpuint (r->status, ==, status);
  g_assert_cmpstr (r->content_type, ==, AMM_TYPE_ERROR);
  g_assert_true (json_object_has_member (obj (r), "errorCode"));
  g_assert_true (json_object_has_member (obj (r), "errorMsg"));
  g_assert_true (json_object_has_member (obj (r), "displayMsg"));
}

static JsonObject *
discover (SoupSession *session, AmmTestServer *srv, const char *user, Resp **out)
{
  Resp *r = http (session, srv, "GET", AMM_DISCOVERY_PATH, user,
                  ACCEPT (AMM_TYPE_RESOURCES_V4), NULL, NULL);

  g_assert_cmpuint (r->status, ==, 200);
  *out = r;
  return obj (r);
}

static char *
conversations_href (SoupSession *session, AmmTestServer *srv, const char *user)
{
  g_autoptr (Resp) r = NULL;
  JsonObject *d = discover (session, srv, user, &r);

  return g_strdup (json_object_get_string_member (
      json_object_get_object_member (d, "conversationsResource"), "href"));
}

static char *
send_rest (SoupSession *session, AmmTestServer *srv, const char *from, const char *to,
           const char *thread, const char *text)
{
  g_autofree char *body = thread
      ? g_strdup_printf ("{\"body\":\"%s\",\"subject\":\"\",\"threadId\":\"%s\",\"flags\":{\"sensitivity\":\"NORMAL\"},\"to\":[]}", text, thread)
      : g_strdup_printf ("{\"body\":\"%s\",\"subject\":\"\",\"flags\":{\"sensitivity\":\"NORMAL\"},"
                         "\"to\":[{\"address\":\"%s\",\"type\":\"CONTACT\"},{\"address\":\"%s\",\"type\":\"CONTACT\"}]}",
                         text, from, to);
  g_autoptr (Resp) r = http (session, srv, "POST", "/aem/outbox", from,
                             ACCEPT (AMM_TYPE_MESSAGE_V2), AMM_TYPE_MESSAGE_V2, body);

  g_assert_cmpuint (r->status, ==, 201);
  g_assert_cmpstr (r->content_type, ==, AMM_TYPE_MESSAGE_V2);
  return g_strdup (json_object_get_string_member (obj (r), "threadId"));
}

static Resp *
list_post (SoupSession *session, AmmTestServer *srv, const char *user, const char *filter)
{
  g_autofree char *c = conversations_href (session, srv, user);

  return http (session, srv, "POST", c, user, ACCEPT (AMM_TYPE_CONVERSATIONS_V2),
               AMM_TYPE_CONVERSATIONS_FILTER, filter);
}

static char *
iso_plus_ms (const char *iso, int ms)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (iso, NULL);
  g_autoptr (GDateTime) later = NULL;
  g_autofree char *s = NULL;

  g_assert_nonnull (dt);
  later = g_date_time_add (dt, (GTimeSpan) ms * 1000);
  s = g_date_time_format (later, "%Y-%m-%dT%H:%M:%S");
  return g_strdup_printf ("%s.%03dZ", s, g_date_time_get_microsecond (later) / 1000);
}

static JsonArray *
conversations_of (Resp *r)
{
  return json_object_get_array_member (obj (r), "conversations");
}

static void
wait_flag (gboolean *flag, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!*flag && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
}

/* ---- discovery ---- */

static void
test_discovery_v4_32 (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_startv (NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autoptr (Resp) r = NULL;
  JsonObject *d = discover (session, srv, ALICE, &r);
  g_autofree char *conv_prefix = g_strconcat (amm_test_server_get_base_url (srv), "/aem/", NULL);

  g_assert_cmpstr (r->content_type, ==, AMM_TYPE_RESOURCES_V4);
  g_assert_cmpstr (json_object_get_string_member (d, "self"), ==, ALICE);
  g_assert_true (g_str_has_prefix (path_str (r->json, "$.conversationsResource.href"), conv_prefix));
  g_assert_cmpstr (path_str (r->json, "$.conversationsResource.requestTypes[0]"), ==,
                   AMM_TYPE_CONVERSATIONS_FILTER);
  g_assert_cmpstr (path_str (r->json, "$.services.validateAddresses.requestTypes[0]"), ==,
                   AMM_TYPE_ADDRESSES_TO_VALIDATE);
  g_assert_true (g_str_has_prefix (path_str (r->json, "$.notificationService.websocket.href"), "ws://127.0.0.1:"));
  g_assert_true (g_str_has_prefix (path_str (r->json, "$.notificationService.sse.href"), conv_prefix));
  g_assert_true (g_str_has_prefix (path_str (r->json, "$.outbox.href"), conv_prefix));
  g_assert_true (g_str_has_prefix (path_str (r->json, "$.services.markAsReadIf.href"), conv_prefix));
  g_assert_cmpstr (path_str (r->json, "$.sessionManagement.username"), ==, ALICE);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (
      json_object_get_object_member (d, "conversationsResource"), "limits"), "maxMessageCount"), ==, 50);
}

static void
test_discovery_v4_3 (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_start ("--api", "3", NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autoptr (Resp) r = NULL;
  g_autoptr (Resp) post = NULL;
  g_autofree char *c = NULL;

  discover (session, srv, ALICE, &r);
  g_assert_cmpstr (r->content_type, ==, AMM_TYPE_RESOURCES_V4);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_object_get_object_member (
      obj (r), "conversationsResource"), "requestTypes")), ==, 0);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_object_get_object_member (
      json_object_get_object_member (obj (r), "services"), "validateAddresses"), "requestTypes")), ==, 0);
  g_assert_nonnull (path_str (r->json, "$.notificationService.websocket.href"));
  /* 3 has no filter POST */
  c = g_strdup (path_str (r->json, "$.conversationsResource.href"));
  post = http (session, srv, "POST", c, ALICE, ACCEPT (AMM_TYPE_CONVERSATIONS_V2),
               AMM_TYPE_CONVERSATIONS_FILTER, "{}");
  assert_error_doc (post, 415);
}

static void
test_discovery_21 (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_start ("--api", "2.1", NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autoptr (Resp) v4 = http (session, srv, "GET", AMM_DISCOVERY_PATH, ALICE,
                              ACCEPT (AMM_TYPE_RESOURCES_V4), NULL, NULL);
  g_autoptr (Resp) v3 = http (session, srv, "GET", AMM_DISCOVERY_PATH, ALICE,
                              ACCEPT (AMM_TYPE_RESOURCES_V3), NULL, NULL);
  JsonObject *d;

  assert_error_doc (v4, 406);
  g_assert_cmpuint (v3->status, ==, 200);
  g_assert_cmpstr (v3->content_type, ==, AMM_TYPE_RESOURCES_V3);
  d = obj (v3);
  g_assert_true (JSON_NODE_HOLDS_VALUE (json_object_get_member (d, "outbox")));
  g_assert_true (JSON_NODE_HOLDS_VALUE (json_object_get_member (d, "messages")));
  g_assert_false (json_object_has_member (d, "notificationService"));
  g_assert_true (json_object_has_member (d, "limits"));
  g_assert_nonnull (path_str (v3->json, "$.services.markAsReadIf.href"));
}

static void
test_v3_on_32_server (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_startv (NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autoptr (Resp) v3 = http (session, srv, "GET", AMM_DISCOVERY_PATH, ALICE,
                              ACCEPT (AMM_TYPE_RESOURCES_V3), NULL, NULL);

  g_assert_cmpuint (v3->status, ==, 200);
  g_assert_cmpstr (v3->content_type, ==, AMM_TYPE_RESOURCES_V3);
  g_assert_false (json_object_has_member (obj (v3), "notificationService"));
}

/* ---- auth ---- */

static char *
cookie_of (Resp *r)
{
  const char *h = soup_message_headers_get_list (r->headers, "Set-Cookie");
  g_autoptr (SoupCookie) c = NULL;

  if (!h)
    return NULL;
  c = soup_cookie_parse (h, NULL);
  g_assert_nonnull (c);
  g_assert_cmpstr (soup_cookie_get_name (c), ==, AMM_SESSION_COOKIE);
  g_assert_true (soup_cookie_get_http_only (c));
  g_assert_cmpstr (soup_cookie_get_path (c), ==, "/");
  return g_strdup_printf ("%s=%s", soup_cookie_get_name (c), soup_cookie_get_value (c));
}

static void
test_auth (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_startv (NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autoptr (Resp) none = http (session, srv, "GET", AMM_DISCOVERY_PATH, NULL,
                                ACCEPT (AMM_TYPE_RESOURCES_V4), NULL, NULL);
  g_autoptr (SoupMessage) wrong_msg = build (srv, "GET", AMM_DISCOVERY_PATH, NULL,
                                             ACCEPT (AMM_TYPE_RESOURCES_V4), NULL, NULL);
  g_autoptr (Resp) wrong = NULL;
  g_autoptr (Resp) ok = NULL;
  g_autoptr (Resp) by_cookie = NULL;
  g_autoptr (Resp) logout = NULL;
  g_autoptr (Resp) after = NULL;
  g_autoptr (SoupMessage) m1 = NULL, m2 = NULL, m3 = NULL;
  g_autofree char *cookie = NULL;
  g_autofree char *session_href = NULL;

  assert_error_doc (none, 401);
  g_assert_cmpstr (json_object_get_string_member (obj (none), "displayMsg"), ==,
                   "Wrong user name or password.");
  g_assert_cmpstr (soup_message_headers_get_one (none->headers, "WWW-Authenticate"), ==,
                   "Basic realm=\"AMM\"");

  set_basic (wrong_msg, ALICE, "not-the-password");
  wrong = send_msg (session, wrong_msg);
  assert_error_doc (wrong, 401);

  discover (session, srv, ALICE, &ok);
  cookie = cookie_of (ok);
  g_assert_nonnull (cookie);
  session_href = g_strdup (path_str (ok->json, "$.sessionManagement.href"));

  /* the cookie alone authenticates */
  m1 = build (srv, "GET", AMM_DISCOVERY_PATH, NULL, ACCEPT (AMM_TYPE_RESOURCES_V4), NULL, NULL);
  soup_message_headers_replace (soup_message_get_request_headers (m1), "Cookie", cookie);
  by_cookie = send_msg (session, m1);
  g_assert_cmpuint (by_cookie->status, ==, 200);
  g_assert_cmpstr (json_object_get_string_member (obj (by_cookie), "self"), ==, ALICE);

  /* logout kills the cookie */
  m2 = build (srv, "DELETE", session_href, NULL, AMM_TYPE_ERROR, NULL, NULL);
  soup_message_headers_replace (soup_message_get_request_headers (m2), "Cookie", cookie);
  logout = send_msg (session, m2);
  g_assert_cmpuint (logout->status, ==, 204);
  m3 = build (srv, "GET", AMM_DISCOVERY_PATH, NULL, ACCEPT (AMM_TYPE_RESOURCES_V4), NULL, NULL);
  soup_message_headers_replace (soup_message_get_request_headers (m3), "Cookie", cookie);
  after = send_msg (session, m3);
  assert_error_doc (after, 401);
}

/* ---- media types and errors ---- */

static void
test_media_types (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_start ("--max-text-length", "10", NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autofree char *c = conversations_href (session, srv, ALICE);
  g_autofree char *thread = send_rest (session, srv, ALICE, BOB, NULL, "hello");
  g_autofree char *conv_url = g_strdup_printf ("%s/%s", c, thread);
  g_autofree char *conv_missing = g_strdup_printf ("%s/c999", c);
  const char *ok_body = "{\"body\":\"x\",\"to\":[{\"address\":\"bob@example.com\"}]}";
  g_autoptr (Resp) r415 = http (session, srv, "POST", "/aem/outbox", ALICE,
                                ACCEPT (AMM_TYPE_MESSAGE_V2), "text/plain", ok_body);
  g_autoptr (Resp) r406 = http (session, srv, "GET", c, ALICE, "text/html", NULL, NULL);
  g_autoptr (Resp) star = http (session, srv, "GET", c, ALICE, "*/*", NULL, NULL);
  g_autoptr (Resp) json = http (session, srv, "GET", c, ALICE, "application/json", NULL, NULL);
  g_autoptr (Resp) bad_json = http (session, srv, "POST", "/aem/outbox", ALICE,
                                    ACCEPT (AMM_TYPE_MESSAGE_V2), AMM_TYPE_MESSAGE_V2, "{nope");
  g_autoptr (Resp) empty = http (session, srv, "POST", "/aem/outbox", ALICE,
                                 ACCEPT (AMM_TYPE_MESSAGE_V2), AMM_TYPE_MESSAGE_V2,
                                 "{\"body\":\"\",\"to\":[{\"address\":\"bob@example.com\"}]}");
  g_autoptr (Resp) too_long = http (session, srv, "POST", "/aem/outbox", ALICE,
                                    ACCEPT (AMM_TYPE_MESSAGE_V2), AMM_TYPE_MESSAGE_V2,
                                    "{\"body\":\"01234567890\",\"to\":[{\"address\":\"bob@example.com\"}]}");
  g_autoptr (Resp) bad_addr = http (session, srv, "POST", "/aem/outbox", ALICE,
                                    ACCEPT (AMM_TYPE_MESSAGE_V2), AMM_TYPE_MESSAGE_V2,
                                    "{\"body\":\"x\",\"to\":[{\"address\":\"nobody@example.com\"}]}");
  g_autoptr (Resp) missing = http (session, srv, "GET", conv_missing, ALICE,
                                   ACCEPT (AMM_TYPE_CONVERSATION_V2), NULL, NULL);
  g_autoptr (Resp) foreign = http (session, srv, "GET", conv_url, CAROL,
                                   ACCEPT (AMM_TYPE_CONVERSATION_V2), NULL, NULL);
  g_autoptr (Resp) unknown = http (session, srv, "GET", "/aem/nothing-here", ALICE, NULL, NULL, NULL);
  g_autofree char *foreign_send = g_strdup_printf ("{\"body\":\"x\",\"threadId\":\"%s\"}", thread);
  g_autoptr (Resp) foreign_post = http (session, srv, "POST", "/aem/outbox", CAROL,
                                        ACCEPT (AMM_TYPE_MESSAGE_V2), AMM_TYPE_MESSAGE_V2,
                                        foreign_send);
  g_autoptr (Resp) missing_thread = http (session, srv, "POST", "/aem/outbox", ALICE,
                                          ACCEPT (AMM_TYPE_MESSAGE_V2), AMM_TYPE_MESSAGE_V2,
                                          "{\"body\":\"x\",\"threadId\":\"c999\"}");
  g_autoptr (Resp) no_ct_filter = http (session, srv, "POST", c, ALICE,
                                        ACCEPT (AMM_TYPE_CONVERSATIONS_V2), "application/json", "{}");

  assert_error_doc (r415, 415);
  assert_error_doc (r406, 406);
  g_assert_cmpuint (star->status, ==, 200);
  g_assert_cmpstr (star->content_type, ==, AMM_TYPE_CONVERSATIONS_V2);
  g_assert_cmpuint (json->status, ==, 200);
  assert_error_doc (bad_json, 400);
  assert_error_doc (empty, 400);
  assert_error_doc (too_long, 413);
  g_assert_cmpstr (json_object_get_string_member (obj (too_long), "errorCode"), ==, "BODY_LENGTH_EXCEEDED");
  assert_error_doc (bad_addr, 400);
  g_assert_cmpstr (json_object_get_string_member (obj (bad_addr), "errorCode"), ==,
                   "PARTICIPANT_ADDRESS_INVALID");
  assert_error_doc (missing, 404);
  assert_error_doc (foreign, 403);
  assert_error_doc (unknown, 404);
  assert_error_doc (foreign_post, 403);
  assert_error_doc (missing_thread, 404);
  assert_error_doc (no_ct_filter, 415);
}

static void
test_cors (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_startv (NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autoptr (SoupMessage) pre = build (srv, "OPTIONS", "/aem/outbox", NULL, NULL, NULL, NULL);
  g_autoptr (SoupMessage) get = build (srv, "GET", AMM_DISCOVERY_PATH, ALICE,
                                       ACCEPT (AMM_TYPE_RESOURCES_V4), NULL, NULL);
  SoupMessageHeaders *h = soup_message_get_request_headers (pre);
  g_autoptr (Resp) r = NULL;
  g_autoptr (Resp) g = NULL;

  soup_message_headers_replace (h, "Origin", "http://page.example");
  soup_message_headers_replace (h, "Access-Control-Request-Method", "POST");
  soup_message_headers_replace (h, "Access-Control-Request-Headers", "authorization,content-type");
  r = send_msg (session, pre);
  g_assert_cmpuint (r->status, ==, 204);
  g_assert_cmpstr (soup_message_headers_get_one (r->headers, "Access-Control-Allow-Origin"), ==,
                   "http://page.example");
  g_assert_cmpstr (soup_message_headers_get_one (r->headers, "Access-Control-Allow-Credentials"), ==, "true");
  g_assert_nonnull (strstr (soup_message_headers_get_one (r->headers, "Access-Control-Allow-Methods"), "DELETE"));
  g_assert_cmpstr (soup_message_headers_get_one (r->headers, "Access-Control-Allow-Headers"), ==,
                   "authorization,content-type");
  g_assert_nonnull (soup_message_headers_get_one (r->headers, "Access-Control-Max-Age"));

  soup_message_headers_replace (soup_message_get_request_headers (get), "Origin", "http://page.example");
  g = send_msg (session, get);
  g_assert_cmpuint (g->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_one (g->headers, "Access-Control-Allow-Origin"), ==,
                   "http://page.example");
  g_assert_nonnull (strstr (soup_message_headers_get_one (g->headers, "Access-Control-Expose-Headers"),
                            "Retry-After"));
}

/* ---- conversations ---- */

static void
test_send_and_list (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_startv (NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autofree char *thread = send_rest (session, srv, ALICE, BOB, NULL, "hi");
  g_autoptr (Resp) bob = list_post (session, srv, BOB, "{}");
  g_autoptr (Resp) alice = list_post (session, srv, ALICE, "{}");
  g_autoptr (Resp) carol = list_post (session, srv, CAROL, "{}");
  g_autoptr (Resp) inc_same = NULL, inc_later = NULL, get_after = NULL, inc_left = NULL;
  g_autoptr (Resp) full_left = NULL, leave = NULL;
  g_autofree char *f1 = NULL, *f2 = NULL, *later = NULL, *c = NULL, *after_url = NULL;
  g_autofree char *esc = NULL, *conv_url = NULL, *cursor = NULL;
  JsonObject *conv, *m0, *m1;
  JsonArray *msgs;

  g_assert_cmpuint (bob->status, ==, 200);
  g_assert_cmpstr (bob->content_type, ==, AMM_TYPE_CONVERSATIONS_V2);
  g_assert_cmpuint (json_array_get_length (conversations_of (bob)), ==, 1);
  conv = json_array_get_object_element (conversations_of (bob), 0);
  g_assert_cmpstr (json_object_get_string_member (conv, "id"), ==, thread);
  g_assert_cmpstr (json_object_get_string_member (conv, "subject"), ==, "");
  g_assert_true (json_object_get_boolean_member (json_object_get_object_member (conv, "flags"), "active"));
  g_assert_cmpint (json_object_get_int_member (conv, "unreadCount"), ==, 1);
  msgs = json_object_get_array_member (conv, "messages");
  g_assert_cmpuint (json_array_get_length (msgs), ==, 2);
  m0 = json_array_get_object_element (msgs, 0);
  m1 = json_array_get_object_element (msgs, 1);
  g_assert_cmpstr (json_object_get_string_member (m0, "body"), ==, "hi");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (m0, "event"), "type"), ==, "MESSAGE");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (m1, "event"), "type"), ==, "START");
  g_assert_false (json_object_get_boolean_member (json_object_get_object_member (m0, "flags"), "read"));
  g_assert_false (json_object_has_member (m0, "inReplyTo"));
  g_assert_true (json_object_has_member (m0, "from") && json_object_has_member (m0, "to")
                 && json_object_has_member (m0, "parts"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (m0, "to")), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (obj (bob), "lastUpdated"), ==,
                   json_object_get_string_member (m0, "lastModifiedDate"));
  g_assert_cmpstr (json_object_get_string_member (m0, "receivedDate"), >,
                   json_object_get_string_member (m1, "receivedDate"));
  /* the sender's own copy is read */
  g_assert_true (json_object_get_boolean_member (json_object_get_object_member (
      json_array_get_object_element (json_object_get_array_member (
          json_array_get_object_element (conversations_of (alice), 0), "messages"), 0), "flags"), "read"));
  /* carol has nothing */
  g_assert_cmpuint (json_array_get_length (conversations_of (carol)), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (obj (carol), "lastUpdated"), ==, AMM_EPOCH_TIMESTAMP);

  /* incremental: inclusive at the cursor, empty just after, lastUpdated unchanged */
  cursor = g_strdup (json_object_get_string_member (obj (bob), "lastUpdated"));
  f1 = g_strdup_printf ("{\"searchAfterDate\":\"%s\"}", cursor);
  inc_same = list_post (session, srv, BOB, f1);
  g_assert_cmpuint (json_array_get_length (conversations_of (inc_same)), ==, 1);
  later = iso_plus_ms (cursor, 1);
  f2 = g_strdup_printf ("{\"searchAfterDate\":\"%s\"}", later);
  inc_later = list_post (session, srv, BOB, f2);
  g_assert_cmpuint (json_array_get_length (conversations_of (inc_later)), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (obj (inc_later), "lastUpdated"), ==, cursor);

  /* GET C?after= (API 3 style) */
  c = conversations_href (session, srv, BOB);
  esc = g_uri_escape_string (cursor, NULL, FALSE);
  after_url = g_strdup_printf ("%s?after=%s", c, esc);
  get_after = http (session, srv, "GET", after_url, BOB, ACCEPT (AMM_TYPE_CONVERSATIONS_V2), NULL, NULL);
  g_assert_cmpuint (get_after->status, ==, 200);
  g_assert_cmpuint (json_array_get_length (conversations_of (get_after)), ==, 1);

  /* leave: gone from the full list, seen inactive by an incremental one */
  conv_url = g_strdup_printf ("%s/%s", c, thread);
  leave = http (session, srv, "DELETE", conv_url, BOB, AMM_TYPE_ERROR, NULL, NULL);
  g_assert_cmpuint (leave->status, ==, 204);
  full_left = list_post (session, srv, BOB, "{}");
  g_assert_cmpuint (json_array_get_length (conversations_of (full_left)), ==, 0);
  inc_left = list_post (session, srv, BOB, f2);
  g_assert_cmpuint (json_array_get_length (conversations_of (inc_left)), ==, 1);
  conv = json_array_get_object_element (conversations_of (inc_left), 0);
  g_assert_false (json_object_get_boolean_member (json_object_get_object_member (conv, "flags"), "active"));
  g_assert_cmpstr (path_str (inc_left->json, "$.conversations[0].messages[0].event.type"), ==, "LEFT");
}

/* conversations.ids.v1 on GET C (after= as the incremental listing), the by-id listings
 * (3.2 POST {ids}, GET ?id=) within maxIdsLimit, and --no-conversation-ids (406). */
static void
test_conversation_ids (void)
{
  const char *args[] = { "--max-ids-limit", "2", NULL };
  g_autoptr (AmmTestServer) srv = amm_test_server_startv (args);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autofree char *t1 = send_rest (session, srv, ALICE, BOB, NULL, "one");
  g_autofree char *t2 = send_rest (session, srv, ALICE, CAROL, NULL, "two");
  g_autofree char *t3 = send_rest (session, srv, BOB, CAROL, NULL, "not alice's");
  g_autofree char *c = conversations_href (session, srv, ALICE);
  g_autoptr (Resp) disc = NULL;
  JsonObject *d = discover (session, srv, ALICE, &disc);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (
      json_object_get_object_member (d, "conversationsResource"), "limits"), "maxIdsLimit"), ==, 2);

  g_autoptr (Resp) full = list_post (session, srv, ALICE, "{}");
  g_autoptr (Resp) ids = http (session, srv, "GET", c, ALICE, ACCEPT (AMM_TYPE_CONVERSATION_IDS), NULL, NULL);
  g_assert_cmpuint (ids->status, ==, 200);
  g_assert_cmpstr (ids->content_type, ==, AMM_TYPE_CONVERSATION_IDS);
  JsonArray *a = json_object_get_array_member (obj (ids), "conversationIds");
  g_assert_cmpuint (json_array_get_length (a), ==, 2);
  JsonObject *e0 = json_array_get_object_element (a, 0);
  g_assert_cmpstr (json_object_get_string_member (e0, "id"), ==, t2); /* newest change first */
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (a, 1), "id"), ==, t1);
  g_assert_true (json_object_has_member (e0, "href") && json_object_has_member (e0, "lastAccessedTime")
                 && json_object_has_member (e0, "lastUpdated"));
  g_assert_cmpstr (json_object_get_string_member (obj (ids), "lastUpdated"), ==,
                   json_object_get_string_member (obj (full), "lastUpdated"));
  g_assert_true (json_object_has_member (obj (ids), "href"));

  /* after= (inclusive) */
  g_autofree char *esc = g_uri_escape_string (json_object_get_string_member (e0, "lastUpdated"), NULL, FALSE);
  g_autofree char *after_url = g_strdup_printf ("%s?after=%s", c, esc);
  g_autoptr (Resp) inc = http (session, srv, "GET", after_url, ALICE, ACCEPT (AMM_TYPE_CONVERSATION_IDS), NULL, NULL);
  g_assert_cmpuint (inc->status, ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj (inc), "conversationIds")), ==, 1);

  /* by id: unknown and foreign ids are omitted; more than maxIdsLimit is 400 */
  g_autofree char *by_id = g_strdup_printf ("%s?id=%s&id=%s", c, t1, t3);
  g_autoptr (Resp) got = http (session, srv, "GET", by_id, ALICE, ACCEPT (AMM_TYPE_CONVERSATIONS_V2), NULL, NULL);
  g_assert_cmpuint (got->status, ==, 200);
  g_assert_cmpuint (json_array_get_length (conversations_of (got)), ==, 1);
  g_assert_cmpstr (path_str (got->json, "$.conversations[0].id"), ==, t1);
  g_autofree char *too_many = g_strdup_printf ("%s?id=%s&id=%s&id=nope", c, t1, t2);
  g_autoptr (Resp) over = http (session, srv, "GET", too_many, ALICE, ACCEPT (AMM_TYPE_CONVERSATIONS_V2), NULL, NULL);
  assert_error_doc (over, 400);
  g_autofree char *filter = g_strdup_printf ("{\"ids\":[{\"id\":\"%s\"},{\"id\":\"%s\"}]}", t2, t3);
  g_autoptr (Resp) posted = list_post (session, srv, ALICE, filter);
  g_assert_cmpuint (posted->status, ==, 200);
  g_assert_cmpuint (json_array_get_length (conversations_of (posted)), ==, 1);
  g_assert_cmpstr (path_str (posted->json, "$.conversations[0].id"), ==, t2);
  g_autofree char *filter3 = g_strdup_printf ("{\"ids\":[{\"id\":\"%s\"},{\"id\":\"%s\"},{\"id\":\"x\"}]}",
                                              t1, t2);
  g_autoptr (Resp) posted3 = list_post (session, srv, ALICE, filter3);
  assert_error_doc (posted3, 400);

  /* strict Accept */
  g_autoptr (Resp) bad = http (session, srv, "GET", c, ALICE, ACCEPT (AMM_MEDIA ("conversations.ids.v9")), NULL, NULL);
  assert_error_doc (bad, 406);

  /* a server without conversation ids */
  const char *args2[] = { "--no-conversation-ids", "--max-ids-limit", "0", NULL };
  g_autoptr (AmmTestServer) old = amm_test_server_startv (args2);
  g_autoptr (SoupSession) s2 = new_session (old);
  g_autofree char *c2 = conversations_href (s2, old, ALICE);
  g_autoptr (Resp) refused = http (s2, old, "GET", c2, ALICE, ACCEPT (AMM_TYPE_CONVERSATION_IDS), NULL, NULL);
  assert_error_doc (refused, 406);
  g_autoptr (Resp) plain = http (s2, old, "GET", c2, ALICE, ACCEPT (AMM_TYPE_CONVERSATIONS_V2), NULL, NULL);
  g_assert_cmpuint (plain->status, ==, 200);
  g_autoptr (Resp) disc2 = NULL;
  JsonObject *d2 = discover (s2, old, ALICE, &disc2);
  g_assert_false (json_object_has_member (json_object_get_object_member (
      json_object_get_object_member (d2, "conversationsResource"), "limits"), "maxIdsLimit"));
}

/* The embedded messages of `thread` in a listing, newest first: "body,body,…". */
static char *
embedded_of (Resp *r, const char *thread)
{
  JsonArray *convs = conversations_of (r);
  g_autoptr (GStrvBuilder) sb = g_strv_builder_new ();
  g_auto (GStrv) bodies = NULL;

  for (guint i = 0; i < json_array_get_length (convs); i++) {
    JsonObject *c = json_array_get_object_element (convs, i);
    JsonArray *msgs = json_object_get_array_member (c, "messages");

    if (!g_str_equal (json_object_get_string_member (c, "id"), thread))
      continue;
    for (guint j = 0; j < json_array_get_length (msgs); j++)
      g_strv_builder_add (sb, json_object_get_string_member (json_array_get_object_element (msgs, j), "body"));
  }
  bodies = g_strv_builder_end (sb);
  return g_strjoinv (",", bodies);
}

static Resp *
list_after (SoupSession *session, AmmTestServer *srv, const char *user, const char *after)
{
  g_autofree char *filter = g_strdup_printf ("{\"searchAfterDate\":\"%s\"}", after);

  return list_post (session, srv, user, filter);
}

/* A cursor just after the listing's lastUpdated: what came before is known. */
static char *
cursor_after (Resp *r)
{
  return iso_plus_ms (json_object_get_string_member (obj (r), "lastUpdated"), 1);
}

/* An incremental listing embeds, per conversation, what changed at or after the cursor (new
 * messages, and older ones the user marked read since) plus the anchor, the newest message
 * received before it; full and by-id listings embed the newest maxMessageCount. */
static void
test_incremental_embedding (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_start ("--max-message-count", "3", NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  const char *to[] = { BOB, NULL };
  g_autoptr (JsonNode) first = amm_test_server_send (srv, ALICE, to, NULL, "p0");
  g_autofree char *thread = g_strdup (json_object_get_string_member (json_node_get_object (first), "threadId"));
  g_autofree char *p1_id = NULL;
  g_autofree char *c = conversations_href (session, srv, BOB);
  g_autofree char *by_id = g_strdup_printf ("{\"ids\":[{\"id\":\"%s\"}]}", thread);

  for (int i = 1; i < 6; i++) {
    g_autofree char *text = g_strdup_printf ("p%d", i);
    g_autoptr (JsonNode) m = amm_test_server_send (srv, ALICE, NULL, thread, text);
    if (i == 1)
      p1_id = g_strdup (json_object_get_string_member (json_node_get_object (m), "id"));
  }

  /* full and by-id: the newest three */
  g_autoptr (Resp) full = list_post (session, srv, BOB, "{}");
  g_autofree char *full_e = embedded_of (full, thread);
  g_assert_cmpstr (full_e, ==, "p5,p4,p3");
  g_autoptr (Resp) ids = list_post (session, srv, BOB, by_id);
  g_autofree char *ids_e = embedded_of (ids, thread);
  g_assert_cmpstr (ids_e, ==, "p5,p4,p3");

  /* one new message: it and the anchor; at the cursor's own instant p5 still counts as new
   * (inclusive), and the anchor is then p4 */
  const char *cursor = json_object_get_string_member (obj (full), "lastUpdated");
  g_autofree char *after_full = cursor_after (full);
  json_node_unref (amm_test_server_send (srv, ALICE, NULL, thread, "p6"));
  g_autoptr (Resp) inc = list_after (session, srv, BOB, after_full);
  g_autofree char *inc_e = embedded_of (inc, thread);
  g_assert_cmpstr (inc_e, ==, "p6,p5");
  g_assert_cmpstr (path_str (inc->json, "$.conversations[0].messages[1].receivedDate"), <, after_full);
  g_autoptr (Resp) inclusive = list_after (session, srv, BOB, cursor);
  g_autofree char *inclusive_e = embedded_of (inclusive, thread);
  g_assert_cmpstr (inclusive_e, ==, "p6,p5,p4");
  /* the same through GET ?after= */
  g_autofree char *esc = g_uri_escape_string (after_full, NULL, FALSE);
  g_autofree char *get_url = g_strdup_printf ("%s?after=%s", c, esc);
  g_autoptr (Resp) get = http (session, srv, "GET", get_url, BOB, ACCEPT (AMM_TYPE_CONVERSATIONS_V2), NULL, NULL);
  g_autofree char *get_e = embedded_of (get, thread);
  g_assert_cmpstr (get_e, ==, "p6,p5");

  /* more new ones than fit: the newest three, no anchor (the client pages back from p8) */
  g_autofree char *after_inc = cursor_after (inc);
  for (int i = 7; i < 11; i++) {
    g_autofree char *text = g_strdup_printf ("p%d", i);
    json_node_unref (amm_test_server_send (srv, ALICE, NULL, thread, text));
  }
  g_autoptr (Resp) many = list_after (session, srv, BOB, after_inc);
  g_autofree char *many_e = embedded_of (many, thread);
  g_assert_cmpstr (many_e, ==, "p10,p9,p8");
  g_assert_cmpstr (path_str (many->json, "$.conversations[0].messages[2].receivedDate"), >=, after_inc);

  /* an old message bob reads (on any device): it comes back read, with the anchor */
  g_autofree char *after_many = cursor_after (many);
  g_autofree char *mark = g_strdup_printf ("{\"messageIds\":[\"%s\"]}", p1_id);
  g_autoptr (Resp) marked = http (session, srv, "POST", "/aem/services/markAsReadBatch", BOB,
                                  AMM_TYPE_ERROR, AMM_TYPE_MESSAGE_IDS, mark);
  g_assert_cmpuint (marked->status, ==, 204);
  g_autoptr (Resp) read = list_after (session, srv, BOB, after_many);
  g_autofree char *read_e = embedded_of (read, thread);
  g_assert_cmpstr (read_e, ==, "p10,p1");
  g_assert_cmpstr (path_str (read->json, "$.conversations[0].messages[1].id"), ==, p1_id);
  g_assert_true (json_object_get_boolean_member (json_object_get_object_member (json_array_get_object_element (
      json_object_get_array_member (json_array_get_object_element (conversations_of (read), 0), "messages"), 1),
      "flags"), "read"));
  g_assert_cmpstr (path_str (read->json, "$.conversations[0].messages[1].lastModifiedDate"), >=, after_many);
  /* alice's view did not change */
  g_autoptr (Resp) alice = list_after (session, srv, ALICE, after_many);
  g_assert_cmpuint (json_array_get_length (conversations_of (alice)), ==, 0);

  /* full and by-id listings still embed the newest three, whatever changed */
  g_autoptr (Resp) full2 = list_post (session, srv, BOB, "{}");
  g_autofree char *full2_e = embedded_of (full2, thread);
  g_assert_cmpstr (full2_e, ==, "p10,p9,p8");
  g_autoptr (Resp) ids2 = list_post (session, srv, BOB, by_id);
  g_autofree char *ids2_e = embedded_of (ids2, thread);
  g_assert_cmpstr (ids2_e, ==, "p10,p9,p8");
}

static void
test_pages (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_start ("--max-message-count", "3", NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  const char *to[] = { BOB, NULL };
  g_autoptr (JsonNode) first = amm_test_server_send (srv, ALICE, to, NULL, "p0");
  const char *thread = json_object_get_string_member (json_node_get_object (first), "threadId");
  g_autofree char *c = conversations_href (session, srv, ALICE);
  g_autofree char *u1 = NULL, *u2 = NULL, *u3 = NULL;
  g_autoptr (Resp) p1 = NULL, p2 = NULL, p3 = NULL;
  g_autofree char *oldest_of_p1 = NULL;
  g_autofree char *id_p2 = NULL;
  JsonArray *a;

  for (int i = 1; i < 6; i++) {
    g_autofree char *text = g_strdup_printf ("p%d", i);
    g_autoptr (JsonNode) m = amm_test_server_send (srv, i % 2 ? BOB : ALICE, NULL, thread, text);
    g_assert_cmpstr (json_object_get_string_member (json_node_get_object (m), "threadId"), ==, thread);
  }
  /* asking for 100 is capped at 3, newest first */
  u1 = g_strdup_printf ("%s/%s?messageCount=100", c, thread);
  p1 = http (session, srv, "GET", u1, ALICE, ACCEPT (AMM_TYPE_CONVERSATION_V2), NULL, NULL);
  g_assert_cmpuint (p1->status, ==, 200);
  g_assert_cmpstr (p1->content_type, ==, AMM_TYPE_CONVERSATION_V2);
  a = json_object_get_array_member (obj (p1), "messages");
  g_assert_cmpuint (json_array_get_length (a), ==, 3);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (a, 0), "body"), ==, "p5");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (a, 2), "body"), ==, "p3");
  oldest_of_p1 = g_strdup (json_object_get_string_member (json_array_get_object_element (a, 2), "id"));

  u2 = g_strdup_printf ("%s/%s?messageCount=2&beforeId=%s", c, thread, oldest_of_p1);
  p2 = http (session, srv, "GET", u2, ALICE, ACCEPT (AMM_TYPE_CONVERSATION_V2), NULL, NULL);
  a = json_object_get_array_member (obj (p2), "messages");
  g_assert_cmpuint (json_array_get_length (a), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (a, 0), "body"), ==, "p2");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (a, 1), "body"), ==, "p1");
  id_p2 = g_strdup (json_object_get_string_member (json_array_get_object_element (a, 0), "id"));

  u3 = g_strdup_printf ("%s/%s?messageCount=2&afterId=%s", c, thread, id_p2);
  p3 = http (session, srv, "GET", u3, ALICE, ACCEPT (AMM_TYPE_CONVERSATION_V2), NULL, NULL);
  a = json_object_get_array_member (obj (p3), "messages");
  g_assert_cmpuint (json_array_get_length (a), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (a, 0), "body"), ==, "p4");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (a, 1), "body"), ==, "p3");
}

static void
test_validate_and_read (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_startv (NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autoptr (Resp) post = http (session, srv, "POST", "/aem/services/validateAddresses", ALICE,
                                ACCEPT (AMM_TYPE_VALIDATED_ADDRESSES), AMM_TYPE_ADDRESSES_TO_VALIDATE,
                                "{\"addresses\":[{\"address\":\"bob@example.com\"},{\"address\":\"zed@example.com\"}]}");
  g_autoptr (Resp) get = http (session, srv, "GET",
                               "/aem/services/validateAddresses?address=carol@example.com&address=dave@example.com",
                               ALICE, ACCEPT (AMM_TYPE_VALIDATED_ADDRESSES), NULL, NULL);
  const char *to[] = { BOB, NULL };
  g_autoptr (JsonNode) m = amm_test_server_send (srv, ALICE, to, NULL, "read me");
  g_autofree char *body = g_strdup_printf ("{\"messageIds\":[\"%s\"]}",
                                           json_object_get_string_member (json_node_get_object (m), "id"));
  g_autoptr (Resp) mark = http (session, srv, "POST", "/aem/services/markAsReadBatch", BOB,
                                AMM_TYPE_ERROR, AMM_TYPE_MESSAGE_IDS, body);
  g_autoptr (Resp) list = list_post (session, srv, BOB, "{}");

  g_assert_cmpuint (post->status, ==, 200);
  g_assert_cmpstr (post->content_type, ==, AMM_TYPE_VALIDATED_ADDRESSES);
  g_assert_cmpstr (path_str (post->json, "$.validatedAddresses[0].query"), ==, BOB);
  g_assert_cmpstr (path_str (post->json, "$.validatedAddresses[0].addresses[0].address"), ==, BOB);
  g_assert_cmpstr (path_str (post->json, "$.validatedAddresses[0].addresses[0].givenName"), ==, "Bob");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_array_get_object_element (
      json_object_get_array_member (obj (post), "validatedAddresses"), 1), "addresses")), ==, 0);
  g_assert_cmpuint (get->status, ==, 200);
  g_assert_cmpstr (path_str (get->json, "$.validatedAddresses[1].addresses[0].address"), ==, "dave@example.com");
  g_assert_cmpuint (mark->status, ==, 204);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (conversations_of (list), 0),
                                               "unreadCount"), ==, 0);
}

/* ---- notification channel ---- */

typedef struct {
  GQueue frames;      /* JsonNode */
  SoupWebsocketConnection *ws;
  GError *error;
  gboolean done;
} WsCtx;

static void
ws_on_message (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
  WsCtx *ctx = data;
  g_autoptr (JsonParser) p = json_parser_new ();
  gsize len = 0;
  const char *text = g_bytes_get_data (message, &len);

  g_assert_true (json_parser_load_from_data (p, text, len, NULL));
  g_queue_push_tail (&ctx->frames, json_node_copy (json_parser_get_root (p)));
}

static void
ws_connected (GObject *source, GAsyncResult *res, gpointer data)
{
  WsCtx *ctx = data;

  ctx->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), res, &ctx->error);
  if (ctx->ws)
    g_signal_connect (ctx->ws, "message", G_CALLBACK (ws_on_message), ctx);
  ctx->done = TRUE;
}

static void
ws_open (SoupSession *session, AmmTestServer *srv, const char *url, const char *user, WsCtx *ctx)
{
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);

  if (user)
    set_basic (msg, user, NULL);
  soup_session_websocket_connect_async (session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        ws_connected, ctx);
  wait_flag (&ctx->done, 10000);
  g_assert_true (ctx->done);
}

static JsonNode *
ws_next (WsCtx *ctx, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_queue_is_empty (&ctx->frames) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  return g_queue_pop_head (&ctx->frames);
}

static void
ws_clear (WsCtx *ctx)
{
  g_queue_clear_full (&ctx->frames, (GDestroyNotify) json_node_unref);
  if (ctx->ws) {
    g_signal_handlers_disconnect_by_data (ctx->ws, ctx);
    g_object_unref (ctx->ws);
  }
  g_clear_error (&ctx->error);
}

static void
test_websocket (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_startv (NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autoptr (Resp) d = NULL;
  g_autofree char *ws_url = NULL, *c = NULL, *sub = NULL;
  g_autoptr (JsonNode) f1 = NULL, f2 = NULL, f3 = NULL, f4 = NULL, stats = NULL;
  WsCtx ctx = { G_QUEUE_INIT, NULL, NULL, FALSE };
  WsCtx anon = { G_QUEUE_INIT, NULL, NULL, FALSE };
  const char *to[] = { BOB, NULL };
  g_autoptr (JsonNode) sent = NULL;
  guint status = 0;

  discover (session, srv, BOB, &d);
  ws_url = g_strdup (path_str (d->json, "$.notificationService.websocket.href"));
  c = g_strdup (path_str (d->json, "$.conversationsResource.href"));

  ws_open (session, srv, ws_url, NULL, &anon);
  g_assert_null (anon.ws);
  g_assert_nonnull (anon.error);
  ws_clear (&anon);

  ws_open (session, srv, ws_url, BOB, &ctx);
  g_assert_no_error (ctx.error);
  f1 = ws_next (&ctx, 5000);
  g_assert_nonnull (f1);
  g_assert_cmpstr (path_str (f1, "$.discovery.version"), ==, "1");
  g_assert_cmpstr (path_str (f1, "$.discovery.applications[0]"), ==, "AMM");
  g_assert_true (g_str_has_prefix (path_str (f1, "$.discovery.commandURL"), amm_test_server_get_base_url (srv)));

  sub = g_strdup_printf ("{\"subscribe\":{\"resources\":[{\"application\":\"AMM\",\"service\":\"conversation\",\"resource\":\"%s\"}],\"version\":\"1\"}}", c);
  soup_websocket_connection_send_text (ctx.ws, sub);
  f2 = ws_next (&ctx, 5000);
  g_assert_nonnull (f2);
  g_assert_cmpstr (path_str (f2, "$.subscribed.results.successful[0].service"), ==, "conversation");
  g_assert_cmpstr (path_str (f2, "$.subscribed.results.successful[0].resource"), ==, c);

  sent = amm_test_server_send (srv, ALICE, to, NULL, "ring");
  f3 = ws_next (&ctx, 5000);
  g_assert_nonnull (f3);
  g_assert_cmpstr (path_str (f3, "$.notification.service"), ==, "conversation");
  g_assert_cmpstr (path_str (f3, "$.notification.resource"), ==, c);
  g_assert_cmpstr (path_str (f3, "$.notification.application"), ==, "AMM");
  g_assert_nonnull (path_str (f3, "$.notification.contents.entityTag"));

  soup_websocket_connection_send_text (ctx.ws, "{\"ping\":{\"requestId\":\"0123456789abcdef0123456789abcdef\",\"version\":\"1\"}}");
  f4 = ws_next (&ctx, 5000);
  g_assert_nonnull (f4);
  g_assert_cmpstr (path_str (f4, "$.pong.requestId"), ==, "0123456789abcdef0123456789abcdef");

  stats = amm_test_server_control (srv, "GET", "/control/stats", NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (
      json_node_get_object (stats), "channels"), BOB), ==, 1);

  /* getState answers the entity tag last notified */
  soup_websocket_connection_send_text (ctx.ws, "{\"getState\":{\"requestId\":\"gs\",\"resources\":[{\"application\":\"AMM\",\"service\":\"conversation\",\"resource\":\"x\"}],\"version\":\"1\"}}");
  {
    g_autoptr (JsonNode) f5 = ws_next (&ctx, 5000);
    g_assert_nonnull (f5);
    g_assert_cmpstr (path_str (f5, "$.resourceState.results.successful[0].state.entityTag"), ==,
                     path_str (f3, "$.notification.contents.entityTag"));
  }

  /* a browser: the WebSocket handshake carries only the session cookie; typing is relayed */
  {
    WsCtx browser = { G_QUEUE_INIT, NULL, NULL, FALSE };
    g_autoptr (Resp) da = NULL;
    g_autoptr (SoupMessage) hs = NULL;
    g_autofree char *cookie = NULL, *chat = NULL, *notify = NULL;
    g_autoptr (JsonNode) b1 = NULL, b2 = NULL, b3 = NULL, n1 = NULL;
    const char *thread = json_object_get_string_member (json_node_get_object (sent), "threadId");
    const char *h;

    discover (session, srv, ALICE, &da);
    h = soup_message_headers_get_list (da->headers, "Set-Cookie");
    g_assert_nonnull (h);
    {
      g_autoptr (SoupCookie) sc = soup_cookie_parse (h, NULL);
      cookie = g_strdup_printf ("%s=%s", soup_cookie_get_name (sc), soup_cookie_get_value (sc));
    }
    hs = soup_message_new ("GET", ws_url);
    soup_message_headers_replace (soup_message_get_request_headers (hs), "Cookie", cookie);
    soup_session_websocket_connect_async (session, hs, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                          ws_connected, &browser);
    wait_flag (&browser.done, 10000);
    g_assert_no_error (browser.error);
    b1 = ws_next (&browser, 5000);
    g_assert_nonnull (b1);
    g_assert_nonnull (path_str (b1, "$.discovery.commandURL"));
    chat = g_strdup_printf ("{\"subscribe\":{\"resources\":[{\"application\":\"AMM\",\"service\":\"chatState\",\"resource\":\"%s/%s\"}]}}", c, thread);
    soup_websocket_connection_send_text (browser.ws, chat);
    b2 = ws_next (&browser, 5000);
    g_assert_cmpstr (path_str (b2, "$.subscribed.results.successful[0].service"), ==, "chatState");

    notify = g_strdup_printf ("{\"notify\":{\"requestId\":\"VGS4I8qOMm\",\"notifications\":[{\"application\":\"AMM\",\"service\":\"chatState\",\"resource\":\"%s/%s\",\"contents\":{\"action\":\"typing\",\"state\":\"composing\"}}]}}", c, thread);
    soup_websocket_connection_send_text (ctx.ws, notify);
    n1 = ws_next (&ctx, 5000);
    g_assert_cmpstr (path_str (n1, "$.notified.requestId"), ==, "VGS4I8qOMm");
    b3 = ws_next (&browser, 5000);
    g_assert_nonnull (b3);
    g_assert_cmpstr (path_str (b3, "$.notification.service"), ==, "chatState");
    g_assert_cmpstr (path_str (b3, "$.notification.contents.address"), ==, BOB);
    g_assert_cmpstr (path_str (b3, "$.notification.contents.state"), ==, "composing");
    g_assert_nonnull (path_str (b3, "$.notification.contents.timestamp"));
    ws_clear (&browser);
  }

  /* drop-channels closes bob's socket with 1001 */
  {
    g_autoptr (JsonNode) dropped = amm_test_server_control (srv, "POST",
                                                            "/control/drop-channels?user=bob%40example.com",
                                                            NULL, &status);
    gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

    g_assert_cmpint (json_object_get_int_member (json_node_get_object (dropped), "dropped"), ==, 1);
    while (soup_websocket_connection_get_state (ctx.ws) != SOUP_WEBSOCKET_STATE_CLOSED
           && g_get_monotonic_time () < deadline)
      g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
    g_assert_cmpint (soup_websocket_connection_get_close_code (ctx.ws), ==, SOUP_WEBSOCKET_CLOSE_GOING_AWAY);
  }
  ws_clear (&ctx);
}

static void
test_websocket_refused (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_start ("--no-websocket", NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autoptr (Resp) d = NULL;
  WsCtx ctx = { G_QUEUE_INIT, NULL, NULL, FALSE };
  g_autoptr (SoupMessage) msg = NULL;

  discover (session, srv, BOB, &d);
  msg = soup_message_new ("GET", path_str (d->json, "$.notificationService.websocket.href"));
  set_basic (msg, BOB, NULL);
  soup_session_websocket_connect_async (session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        ws_connected, &ctx);
  wait_flag (&ctx.done, 10000);
  g_assert_null (ctx.ws);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 403);
  ws_clear (&ctx);
}

static char *
read_event (GDataInputStream *in, char **event)
{
  g_autofree char *ev = NULL;
  char *data = NULL;

  for (;;) {
    g_autoptr (GError) error = NULL;
    g_autofree char *line = g_data_input_stream_read_line_utf8 (in, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (line);
    if (!*line && ev)
      break;
    if (g_str_has_prefix (line, "event: "))
      ev = g_strdup (line + 7);
    else if (g_str_has_prefix (line, "data: "))
      data = g_strdup (line + 6);
  }
  *event = g_steal_pointer (&ev);
  return data;
}

static void
test_sse (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_start ("--ping-interval", "1", NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autoptr (Resp) d = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GInputStream) stream = NULL;
  g_autoptr (GDataInputStream) in = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autofree char *ev1 = NULL, *data1 = NULL, *ev2 = NULL, *data2 = NULL, *ev3 = NULL, *data3 = NULL;
  g_autofree char *command = NULL, *sub = NULL, *c = NULL;
  g_autoptr (Resp) posted = NULL;

  discover (session, srv, BOB, &d);
  c = g_strdup (path_str (d->json, "$.conversationsResource.href"));
  msg = build (srv, "GET", path_str (d->json, "$.notificationService.sse.href"), BOB,
               "text/event-stream", NULL, NULL);
  stream = soup_session_send (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL),
                   ==, "text/event-stream");
  in = g_data_input_stream_new (stream);
  data1 = read_event (in, &ev1);
  g_assert_cmpstr (ev1, ==, AMM_SSE_EVENT_NOTIFICATION);
  g_assert_true (json_parser_load_from_data (p, data1, -1, NULL));
  command = g_strdup (path_str (json_parser_get_root (p), "$.discovery.commandURL"));
  g_assert_nonnull (command);

  sub = g_strdup_printf ("{\"subscribe\":{\"resources\":[{\"application\":\"AMM\",\"service\":\"conversation\",\"resource\":\"%s\"}],\"version\":\"1\"}}", c);
  posted = http (session, srv, "POST", command, BOB, "application/json, text/javascript, */*; q=0.01",
                 "application/json", sub);
  g_assert_cmpuint (posted->status, ==, 200);
  data2 = read_event (in, &ev2);
  g_assert_cmpstr (ev2, ==, AMM_SSE_EVENT_NOTIFICATION);
  g_assert_nonnull (strstr (data2, "\"subscribed\""));
  /* the next event: a Ping within the 1 s interval */
  data3 = read_event (in, &ev3);
  g_assert_cmpstr (ev3, ==, AMM_SSE_EVENT_PING);
  g_assert_cmpstr (data3, ==, "{}");
  g_input_stream_close (stream, NULL, NULL);
}

/* ---- long poll (2.1) ---- */

typedef struct {
  gboolean done;
  GBytes *bytes;
  SoupMessage *msg;
} AsyncCtx;

static void
async_done (GObject *source, GAsyncResult *res, gpointer data)
{
  AsyncCtx *ctx = data;

  ctx->bytes = soup_session_send_and_read_finish (SOUP_SESSION (source), res, NULL);
  ctx->done = TRUE;
}

static void
test_long_poll (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_start ("--api", "2.1", NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autoptr (Resp) d = http (session, srv, "GET", AMM_DISCOVERY_PATH, ALICE,
                             ACCEPT (AMM_TYPE_RESOURCES_V3), NULL, NULL);
  const char *c = path_str (d->json, "$.conversationsResource.href");
  g_autoptr (Resp) first = http (session, srv, "GET", c, ALICE, ACCEPT (AMM_TYPE_CONVERSATIONS_V1), NULL, NULL);
  g_autoptr (Resp) v2 = http (session, srv, "GET", c, ALICE, ACCEPT (AMM_TYPE_CONVERSATIONS_V2), NULL, NULL);
  const char *cursor = json_object_get_string_member (obj (first), "lastUpdated");
  g_autofree char *esc = g_uri_escape_string (cursor, NULL, FALSE);
  g_autofree char *url = g_strdup_printf ("%s?after=%s", c, esc);
  g_autoptr (SoupMessage) msg = build (srv, "GET", url, ALICE, ACCEPT (AMM_TYPE_CONVERSATIONS_V1), NULL, NULL);
  AsyncCtx ctx = { FALSE, NULL, NULL }, ctx2 = { FALSE, NULL, NULL };
  g_autoptr (JsonNode) stats = NULL, sent = NULL;
  g_autoptr (JsonParser) p = json_parser_new ();
  const char *to[] = { ALICE, NULL };
  gint64 t0;
  guint status = 0;

  g_assert_cmpuint (first->status, ==, 200);
  g_assert_cmpstr (first->content_type, ==, AMM_TYPE_CONVERSATIONS_V1);
  g_assert_cmpstr (cursor, ==, AMM_EPOCH_TIMESTAMP);
  assert_error_doc (v2, 406);

  soup_message_headers_replace (soup_message_get_request_headers (msg), AMM_HEADER_REQUEST_TIMEOUT, "20");
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, async_done, &ctx);
  t0 = g_get_monotonic_time ();
  wait_flag (&ctx.done, 400);
  g_assert_false (ctx.done);       /* held */
  stats = amm_test_server_control (srv, "GET", "/control/stats", NULL, &status);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (stats), "longPolls"), ==, 1);

  sent = amm_test_server_send (srv, BOB, to, NULL, "wake up");
  wait_flag (&ctx.done, 5000);
  g_assert_true (ctx.done);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 5 * G_USEC_PER_SEC);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  g_assert_nonnull (ctx.bytes);
  g_assert_true (json_parser_load_from_data (p, g_bytes_get_data (ctx.bytes, NULL),
                                             g_bytes_get_size (ctx.bytes), NULL));
  g_assert_cmpstr (path_str (json_parser_get_root (p), "$.conversations[0].messages[0].body"), ==, "wake up");
  g_bytes_unref (ctx.bytes);

  /* nothing new after the new cursor: the poll times out (1 s) with an empty list */
  {
    const char *next = path_str (json_parser_get_root (p), "$.lastUpdated");
    g_autofree char *later = iso_plus_ms (next, 1);
    g_autofree char *esc2 = g_uri_escape_string (later, NULL, FALSE);
    g_autofree char *url2 = g_strdup_printf ("%s?after=%s", c, esc2);
    g_autoptr (JsonParser) p2 = json_parser_new ();
    g_autoptr (SoupMessage) msg2 = build (srv, "GET", url2, ALICE, ACCEPT (AMM_TYPE_CONVERSATIONS_V1),
                                          NULL, NULL);

    soup_message_headers_replace (soup_message_get_request_headers (msg2), AMM_HEADER_REQUEST_TIMEOUT, "1");
    t0 = g_get_monotonic_time ();
    soup_session_send_and_read_async (session, msg2, G_PRIORITY_DEFAULT, NULL, async_done, &ctx2);
    wait_flag (&ctx2.done, 5000);
    g_assert_true (ctx2.done);
    g_assert_cmpint (g_get_monotonic_time () - t0, >=, 900 * 1000);
    g_assert_true (json_parser_load_from_data (p2, g_bytes_get_data (ctx2.bytes, NULL),
                                               g_bytes_get_size (ctx2.bytes), NULL));
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
        json_node_get_object (json_parser_get_root (p2)), "conversations")), ==, 0);
    g_bytes_unref (ctx2.bytes);
  }
}

/* ---- TLS, restart, control ---- */

static void
test_tls (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_start ("--tls", NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autoptr (Resp) d = NULL;
  g_autoptr (SoupCookie) cookie = NULL;

  g_assert_true (g_str_has_prefix (amm_test_server_get_base_url (srv), "https://"));
  discover (session, srv, ALICE, &d);
  g_assert_true (g_str_has_prefix (path_str (d->json, "$.notificationService.websocket.href"), "wss://"));
  g_assert_true (g_str_has_prefix (path_str (d->json, "$.outbox.href"), "https://"));
  cookie = soup_cookie_parse (soup_message_headers_get_list (d->headers, "Set-Cookie"), NULL);
  g_assert_true (soup_cookie_get_secure (cookie));
}

static void
test_tls_untrusted (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_start ("--tls", "--cert", "untrusted.pem",
                                                         "--key", "untrusted-key.pem", NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autoptr (SoupMessage) msg = build (srv, "GET", AMM_DISCOVERY_PATH, ALICE, NULL, NULL, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = soup_session_send_and_read (session, msg, NULL, &error);

  g_assert_null (bytes);
  g_assert_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
}

static void
test_restart_and_control (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_startv (NULL);
  const char *to[] = { BOB, NULL };
  g_autoptr (JsonNode) m1 = amm_test_server_send (srv, ALICE, to, NULL, "one");
  const char *thread = json_object_get_string_member (json_node_get_object (m1), "threadId");
  g_autoptr (JsonNode) m2 = amm_test_server_send (srv, BOB, NULL, thread, "two");
  g_autoptr (JsonNode) before = amm_test_server_messages (srv, BOB);
  g_autoptr (JsonNode) after = NULL;
  g_autoptr (JsonNode) conversations = NULL;
  g_autoptr (JsonNode) bad = NULL;
  guint16 port = amm_test_server_get_port (srv);
  JsonArray *a;
  guint status = 0;

  a = json_node_get_array (before);
  g_assert_cmpuint (json_array_get_length (a), ==, 3);   /* START, one, two: oldest first */
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (a, 1), "body"), ==, "one");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (a, 2), "body"), ==, "two");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (a, 2), "threadId"), ==, thread);

  amm_test_server_restart (srv);
  g_assert_cmpuint (amm_test_server_get_port (srv), ==, port);
  after = amm_test_server_messages (srv, BOB);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (after)), ==, 3);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (
      json_node_get_array (after), 2), "id"), ==,
                   json_object_get_string_member (json_node_get_object (m2), "id"));

  conversations = amm_test_server_control (srv, "GET", "/control/conversations?user=bob%40example.com",
                                           NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
      json_node_get_object (conversations), "conversations")), ==, 1);
  bad = amm_test_server_control (srv, "POST", "/control/send",
                                 "{\"from\":\"alice@example.com\",\"to\":[\"nobody@example.com\"],\"body\":\"x\"}",
                                 &status);
  g_assert_cmpuint (status, ==, 400);
}

static void
test_bot (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_start ("--bot", BOB, NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  g_autofree char *thread = send_rest (session, srv, ALICE, BOB, NULL, "hello bot");
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  gboolean answered = FALSE;

  while (!answered && g_get_monotonic_time () < deadline) {
    g_autoptr (JsonNode) msgs = amm_test_server_messages (srv, ALICE);
    JsonArray *a = json_node_get_array (msgs);
    guint n = json_array_get_length (a);
    answered = n == 3 && g_strcmp0 (json_object_get_string_member (json_array_get_object_element (a, 2), "body"),
                                    "Bob got: hello bot") == 0;
    if (!answered)
      g_usleep (50 * 1000);
  }
  g_assert_true (answered);
}

static void
test_multipart (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_startv (NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  /* exactly as the SDK sends it: CRLF, no space after the colons, ';' after the type */
  const char *body =
    "--boundary\r\n"
    "Content-Type:application/vnd.avaya.aem.message.v2+json;\r\n\r\n"
    "{\"body\":\"a picture\",\"subject\":\"\",\"flags\":{\"sensitivity\":\"NORMAL\"},"
    "\"to\":[{\"address\":\"alice@example.com\",\"type\":\"CONTACT\"},{\"address\":\"bob@example.com\",\"type\":\"CONTACT\"}]}\r\n"
    "--boundary\r\n"
    "Content-Type:image/jpeg\r\nContent-Transfer-Encoding:binary\r\n"
    "Content-Disposition:attachment; filename=\"photo.jpg\"\r\n\r\n"
    "JPEGBYTES\r\n"
    "--boundary\r\n"
    "Content-Type:image/jpeg\r\nContent-Transfer-Encoding:binary\r\n"
    "Content-Disposition:inline; filename=\"photo.jpg\"\r\n\r\n"
    "THUMB\r\n"
    "--boundary--\r\n";
  g_autoptr (Resp) r = http (session, srv, "POST", "/aem/outbox", ALICE, ACCEPT (AMM_TYPE_MESSAGE_V2),
                             "multipart/related;boundary=\"boundary\"", body);
  g_autoptr (Resp) media = NULL, foreign = NULL;
  g_autofree char *media_url = NULL;

  g_assert_cmpuint (r->status, ==, 201);
  g_assert_cmpstr (r->content_type, ==, AMM_TYPE_MESSAGE_V2);
  g_assert_cmpstr (json_object_get_string_member (obj (r), "body"), ==, "a picture");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj (r), "parts")), ==, 2);
  g_assert_cmpstr (path_str (r->json, "$.parts[0].mimeType"), ==, "image/jpeg");
  g_assert_cmpstr (path_str (r->json, "$.parts[1].disposition"), ==, "inline; filename=\"photo.jpg\"");
  media_url = g_strdup (path_str (r->json, "$.parts[0].media"));
  media = http (session, srv, "GET", media_url, BOB, NULL, NULL, NULL);
  g_assert_cmpuint (media->status, ==, 200);
  g_assert_cmpstr (media->content_type, ==, "image/jpeg");
  g_assert_cmpstr (media->text, ==, "JPEGBYTES");
  foreign = http (session, srv, "GET", media_url, CAROL, NULL, NULL, NULL);
  assert_error_doc (foreign, 403);
}

/* ---- conversation rules (server-conversations.c) ---- */

/* The message `id` as `user` sees it (control), or NULL. */
static JsonObject *
message_view (AmmTestServer *srv, const char *user, const char *id, JsonNode **keep)
{
  JsonArray *a;

  *keep = amm_test_server_messages (srv, user);
  a = json_node_get_array (*keep);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonObject *m = json_array_get_object_element (a, i);
    if (g_strcmp0 (json_object_get_string_member (m, "id"), id) == 0)
      return m;
  }
  return NULL;
}

static gboolean
has_event (AmmTestServer *srv, const char *user, const char *type, const char *participant)
{
  g_autoptr (JsonNode) all = amm_test_server_messages (srv, user);
  JsonArray *a = json_node_get_array (all);

  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonObject *e = json_object_get_object_member (json_array_get_object_element (a, i), "event");
    if (g_strcmp0 (json_object_get_string_member (e, "type"), type) != 0)
      continue;
    if (!participant)
      return TRUE;
    if (json_object_has_member (e, "participants")) {
      JsonArray *ps = json_object_get_array_member (e, "participants");
      for (guint k = 0; k < json_array_get_length (ps); k++)
        if (g_strcmp0 (json_object_get_string_member (json_array_get_object_element (ps, k), "address"),
                       participant) == 0)
          return TRUE;
    }
  }
  return FALSE;
}

static gboolean
sees_body (AmmTestServer *srv, const char *user, const char *body)
{
  g_autoptr (JsonNode) all = amm_test_server_messages (srv, user);
  JsonArray *a = json_node_get_array (all);

  for (guint i = 0; i < json_array_get_length (a); i++)
    if (g_strcmp0 (json_object_get_string_member (json_array_get_object_element (a, i), "body"), body) == 0)
      return TRUE;
  return FALSE;
}

static void
test_conversation_rules (void)
{
  g_autoptr (AmmTestServer) srv = amm_test_server_startv (NULL);
  g_autoptr (SoupSession) session = new_session (srv);
  const char *to[] = { BOB, "carol@example.com", NULL };
  g_autoptr (JsonNode) first = amm_test_server_send (srv, ALICE, to, NULL, "group start");
  const char *thread = json_object_get_string_member (json_node_get_object (first), "threadId");
  const char *first_id = json_object_get_string_member (json_node_get_object (first), "id");
  g_autofree char *c = g_strdup_printf ("/aem/conversations/%s", thread);
  g_autofree char *parts = g_strdup_printf ("%s/participants", c);
  g_autofree char *flags = g_strdup_printf ("%s/flags", c);
  g_autofree char *post_bob = g_strdup_printf ("{\"body\":\"bob again\",\"subject\":\"\",\"threadId\":\"%s\",\"to\":[]}", thread);
  g_autofree char *post_carol = g_strdup_printf ("{\"body\":\"carol late\",\"subject\":\"\",\"threadId\":\"%s\",\"to\":[]}", thread);

  /* participants: entities with names, type and phone numbers */
  {
    g_autoptr (Resp) r = http (session, srv, "GET", parts, ALICE, ACCEPT (AMM_TYPE_PARTICIPANTS), NULL, NULL);
    JsonArray *a;
    g_assert_cmpuint (r->status, ==, 200);
    a = json_object_get_array_member (obj (r), "participants");
    g_assert_cmpuint (json_array_get_length (a), ==, 3);
    for (guint i = 0; i < 3; i++) {
      JsonObject *e = json_array_get_object_element (a, i);
      g_assert_true (json_object_has_member (e, "givenName"));
      g_assert_true (json_object_has_member (e, "surname"));
      g_assert_cmpstr (json_object_get_string_member (e, "type"), ==, "CONTACT");
      g_assert_true (JSON_NODE_HOLDS_ARRAY (json_object_get_member (e, "phoneNumbers")));
    }
  }
  /* adding: not by a non-participant, not an unknown address; JOINED names the added */
  {
    g_autoptr (Resp) outsider = http (session, srv, "POST", parts, "dave@example.com", ACCEPT (AMM_TYPE_PARTICIPANTS),
                                      AMM_TYPE_PARTICIPANTS, "{\"participants\":[{\"address\":\"dave@example.com\"}]}");
    g_autoptr (Resp) unknown = http (session, srv, "POST", parts, ALICE, ACCEPT (AMM_TYPE_PARTICIPANTS),
                                     AMM_TYPE_PARTICIPANTS, "{\"participants\":[{\"address\":\"zed@example.com\"}]}");
    g_autoptr (Resp) ok = http (session, srv, "POST", parts, ALICE, ACCEPT (AMM_TYPE_PARTICIPANTS),
                                AMM_TYPE_PARTICIPANTS, "{\"participants\":[{\"address\":\"dave@example.com\",\"type\":\"CONTACT\"}]}");
    assert_error_doc (outsider, 403);
    assert_error_doc (unknown, 400);
    g_assert_cmpstr (json_object_get_string_member (obj (unknown), "errorCode"), ==, "PARTICIPANT_ADDRESS_INVALID");
    g_assert_cmpuint (ok->status, ==, 200);
    g_assert_cmpstr (path_str (ok->json, "$.participants[0].address"), ==, "dave@example.com");
    g_assert_true (has_event (srv, BOB, "JOINED", "dave@example.com"));
  }
  /* subject: over 50 characters refused, else 204 and a SUBJECT_CHANGE event */
  {
    g_autofree char *x = g_strnfill (51, 'x');
    g_autofree char *too_long = g_strdup_printf ("{\"subject\":\"%s\"}", x);
    g_autoptr (Resp) bad = http (session, srv, "POST", c, ALICE, AMM_TYPE_ERROR, AMM_TYPE_SUBJECT, too_long);
    g_autoptr (Resp) ok = http (session, srv, "POST", c, ALICE, AMM_TYPE_ERROR, AMM_TYPE_SUBJECT, "{\"subject\":\"Plans\"}");
    assert_error_doc (bad, 400);
    g_assert_cmpstr (json_object_get_string_member (obj (bad), "errorCode"), ==, "SUBJECT_LENGTH_EXCEEDED");
    g_assert_cmpuint (ok->status, ==, 204);
    g_assert_true (has_event (srv, "carol@example.com", "SUBJECT_CHANGE", NULL));
  }
  /* read state is the reader's: carol's view of the message changes, alice's does not */
  {
    g_autoptr (JsonNode) k1 = NULL, k2 = NULL, k3 = NULL, k4 = NULL;
    JsonObject *carol_before = message_view (srv, "carol@example.com", first_id, &k1);
    g_autofree char *carol_mod = g_strdup (json_object_get_string_member (carol_before, "lastModifiedDate"));
    g_autofree char *alice_mod = g_strdup (json_object_get_string_member (message_view (srv, ALICE, first_id, &k2),
                                                                          "lastModifiedDate"));
    g_autofree char *ids = g_strdup_printf ("{\"messageIds\":[\"%s\"]}", first_id);
    g_autoptr (Resp) mark = http (session, srv, "POST", "/aem/services/markAsReadBatch", "carol@example.com",
                                  AMM_TYPE_ERROR, AMM_TYPE_MESSAGE_IDS, ids);
    JsonObject *carol_after;
    g_assert_cmpuint (mark->status, ==, 204);
    carol_after = message_view (srv, "carol@example.com", first_id, &k3);
    g_assert_true (json_object_get_boolean_member (json_object_get_object_member (carol_after, "flags"), "read"));
    g_assert_cmpstr (json_object_get_string_member (carol_after, "lastModifiedDate"), >, carol_mod);
    g_assert_cmpstr (json_object_get_string_member (carol_after, "receivedDate"), ==,
                     json_object_get_string_member (carol_before, "receivedDate"));
    g_assert_cmpstr (json_object_get_string_member (message_view (srv, ALICE, first_id, &k4), "lastModifiedDate"),
                     ==, alice_mod);
  }
  /* leaving: LEFT names the leaver, who can neither post nor see what follows */
  {
    g_autoptr (Resp) left = http (session, srv, "DELETE", c, BOB, AMM_TYPE_ERROR, NULL, NULL);
    g_autoptr (Resp) post = NULL;
    g_autoptr (Resp) list = NULL;
    g_assert_cmpuint (left->status, ==, 204);
    g_assert_true (has_event (srv, ALICE, "LEFT", BOB));
    post = http (session, srv, "POST", "/aem/outbox", BOB, ACCEPT (AMM_TYPE_MESSAGE_V2), AMM_TYPE_MESSAGE_V2, post_bob);
    assert_error_doc (post, 403);
    json_node_unref (amm_test_server_send (srv, ALICE, NULL, thread, "after bob left"));
    g_assert_false (sees_body (srv, BOB, "after bob left"));
    g_assert_true (sees_body (srv, "carol@example.com", "after bob left"));
    list = list_post (session, srv, BOB, "{\"searchAfterDate\":\"1970-01-01T00:00:00.000Z\"}");
    g_assert_false (json_object_get_boolean_member (json_object_get_object_member (
        json_array_get_object_element (conversations_of (list), 0), "flags"), "active"));
  }
  /* closing: CLOSED, flags.closed, and no more posting */
  {
    g_autoptr (Resp) close = http (session, srv, "POST", flags, ALICE, ACCEPT (AMM_TYPE_CONVERSATION_FLAGS),
                                   AMM_TYPE_CONVERSATION_FLAGS, "{\"closed\":true}");
    g_autoptr (Resp) post = NULL;
    g_autoptr (Resp) list = NULL;
    g_assert_cmpuint (close->status, ==, 200);
    g_assert_true (json_object_get_boolean_member (obj (close), "closed"));
    g_assert_true (has_event (srv, "carol@example.com", "CLOSED", NULL));
    post = http (session, srv, "POST", "/aem/outbox", "carol@example.com", ACCEPT (AMM_TYPE_MESSAGE_V2),
                 AMM_TYPE_MESSAGE_V2, post_carol);
    assert_error_doc (post, 403);
    g_assert_cmpstr (json_object_get_string_member (obj (post), "errorCode"), ==, "CONVERSATION_CLOSED");
    list = list_post (session, srv, "carol@example.com", "{\"searchAfterDate\":\"1970-01-01T00:00:00.000Z\"}");
    g_assert_true (json_object_get_boolean_member (json_object_get_object_member (
        json_array_get_object_element (conversations_of (list), 0), "flags"), "closed"));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/server/discovery/v4-3.2", test_discovery_v4_32);
  g_test_add_func ("/server/discovery/v4-3", test_discovery_v4_3);
  g_test_add_func ("/server/discovery/2.1", test_discovery_21);
  g_test_add_func ("/server/discovery/v3-on-3.2", test_v3_on_32_server);
  g_test_add_func ("/server/auth", test_auth);
  g_test_add_func ("/server/media-types", test_media_types);
  g_test_add_func ("/server/cors", test_cors);
  g_test_add_func ("/server/send-and-list", test_send_and_list);
  g_test_add_func ("/server/pages", test_pages);
  g_test_add_func ("/server/incremental-embedding", test_incremental_embedding);
  g_test_add_func ("/server/conversation-ids", test_conversation_ids);
  g_test_add_func ("/server/validate-and-read", test_validate_and_read);
  g_test_add_func ("/server/conversation-rules", test_conversation_rules);
  g_test_add_func ("/server/websocket", test_websocket);
  g_test_add_func ("/server/websocket-refused", test_websocket_refused);
  g_test_add_func ("/server/sse", test_sse);
  g_test_add_func ("/server/long-poll", test_long_poll);
  g_test_add_func ("/server/tls", test_tls);
  g_test_add_func ("/server/tls-untrusted", test_tls_untrusted);
  g_test_add_func ("/server/restart-and-control", test_restart_and_control);
  g_test_add_func ("/server/bot", test_bot);
  g_test_add_func ("/server/multipart", test_multipart);
  return g_test_run ();
}
