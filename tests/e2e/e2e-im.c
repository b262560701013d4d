/* e2e-im.c: instant messages end to end: libpurple + the AMM plugin + the test AMM server.
 *
 * Alice and Bob are two accounts in one headless libpurple core. Every message goes through the
 * plugin's send_im (purple_conv_im_send) or the server's control interface, and is checked as
 * libpurple shows it. Run for both notification modes: WebSocket (--api 3.2) and 2.1 long-poll.
 */
#include <string.h>
#include <libsoup/soup.h>

#include "harness.h"

#define ALICE "alice@example.com"
#define BOB   "bob@example.com"
#define LOGIN_MS   10000
#define DELIVER_MS 10000
#define SETTLE_MS  400     /* extra wait that would reveal a duplicate */

typedef struct {
  const char *name;
  const char *api;         /* the server's --api */
} Mode;

static const Mode mode_ws = { "ws", "3.2" };
static const Mode mode_lp = { "longpoll", "2.1" };

typedef struct {
  AmmTestServer *server;
  E2eAccount    *alice;
  E2eAccount    *bob;
} Fixture;

/* A server in `mode` with room for a 10 KB body. */
static AmmTestServer *
start_server (const Mode *mode, const char *extra, const char *extra_value)
{
  if (extra)
    return amm_test_server_start ("--api", mode->api, extra, extra_value, NULL);
  return amm_test_server_start ("--api", mode->api, "--max-text-length", "20000", NULL);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  const Mode *mode = data;

  f->server = start_server (mode, NULL, NULL);
  f->alice = e2e_account_new (ALICE, "alice-pw", f->server, NULL);
  f->bob = e2e_account_new (BOB, "bob-pw", f->server, NULL);
  g_assert_true (e2e_account_login (f->alice, LOGIN_MS));
  g_assert_true (e2e_account_login (f->bob, LOGIN_MS));
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->alice, e2e_account_free);
  g_clear_pointer (&f->bob, e2e_account_free);
  g_clear_pointer (&f->server, amm_test_server_free);
}

static char *
big_body (void)
{
  GString *s = g_string_new (NULL);
  guint i = 0;

  while (s->len < 10 * 1024 - 16)
    g_string_append_printf (s, "line %04u & <x> \"q\" 'a'\n", i++);
  g_string_append (s, "end.");
  return g_string_free (s, FALSE);
}

/* The text of the i-th message received from `sender`. */
static const char *
received_text (E2eAccount *a, const char *sender, guint index)
{
  guint n = 0;

  for (guint i = 0; i < a->received->len; i++)
    {
      E2eMessage *m = g_ptr_array_index (a->received, i);
      if (g_ascii_strcasecmp (m->who, sender) == 0 && n++ == index)
        return m->text;
    }
  return NULL;
}

typedef struct {
  E2eAccount *a;
  const char *sender;
  guint       n;
} FromWait;

static gboolean
received_from (gpointer data)
{
  FromWait *w = data;
  return e2e_count_received (w->a, w->sender, NULL) >= w->n;
}

static gboolean
wait_received_from (E2eAccount *a, const char *sender, guint n, guint timeout_ms)
{
  FromWait w = { a, sender, n };
  return e2e_wait (received_from, &w, timeout_ms);
}

/* The distinct threadIds of `user`'s server-side messages from `from` whose body is one of `bodies`. */
static guint
server_thread_count (AmmTestServer *server, const char *user, const char *from,
                     const char * const *bodies, char **first_thread)
{
  g_autoptr(JsonNode) node = amm_test_server_messages (server, user);
  g_autoptr(GHashTable) threads = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  JsonArray *arr;

  g_assert_true (node && JSON_NODE_HOLDS_ARRAY (node));
  arr = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonObject *o = json_array_get_object_element (arr, i);
      JsonObject *sender = json_object_get_object_member (o, "from");
      const char *body = json_object_get_string_member_with_default (o, "body", "");
      const char *thread = json_object_get_string_member_with_default (o, "threadId", "");

      if (sender == NULL
          || g_ascii_strcasecmp (json_object_get_string_member_with_default (sender, "address", ""), from) != 0
          || !g_strv_contains (bodies, body))
        continue;
      if (first_thread && *first_thread == NULL)
        *first_thread = g_strdup (thread);
      g_hash_table_add (threads, g_strdup (thread));
    }
  return g_hash_table_size (threads);
}

/* --- messages both ways ------------------------------------------------------------------- */

static void
test_both_ways (Fixture *f, gconstpointer data)
{
  g_autofree char *big = big_body ();
  const char *texts[] = { "Grüße 🌍 日本語", "<b>&amp;\"'", "two\nlines  and  spaces", big, NULL };
  guint n = g_strv_length ((char **) texts);

  /* Alice → Bob: quick sends to a new peer, in order, in one new conversation. */
  for (guint i = 0; i < n; i++)
    e2e_account_send (f->alice, BOB, texts[i]);
  g_assert_true (wait_received_from (f->bob, ALICE, n, DELIVER_MS));

  /* Bob → Alice: replies into the same conversation. */
  for (guint i = 0; i < n; i++)
    e2e_account_send (f->bob, ALICE, texts[i]);
  g_assert_true (wait_received_from (f->alice, BOB, n, DELIVER_MS));

  e2e_run_for (SETTLE_MS);

  g_assert_cmpuint (e2e_count_received (f->bob, ALICE, NULL), ==, n);
  g_assert_cmpuint (e2e_count_received (f->alice, BOB, NULL), ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpstr (received_text (f->bob, ALICE, i), ==, texts[i]);
      g_assert_cmpstr (received_text (f->alice, BOB, i), ==, texts[i]);
      g_assert_cmpuint (e2e_server_count_body (f->server, BOB, texts[i]), ==, 2);
    }
  /* Nobody receives their own messages back. */
  g_assert_cmpuint (e2e_count_received (f->alice, ALICE, NULL), ==, 0);
  g_assert_cmpuint (e2e_count_received (f->bob, BOB, NULL), ==, 0);
  /* Every received message is flagged as received, with a sane time. */
  for (guint i = 0; i < f->alice->received->len; i++)
    {
      E2eMessage *m = g_ptr_array_index (f->alice->received, i);
      g_assert_true (m->flags & PURPLE_MESSAGE_RECV);
      g_assert_false (m->flags & PURPLE_MESSAGE_SEND);
    }

  /* One conversation: Alice's sends did not start one conversation each, and Bob's replies
   * reused it. */
  {
    g_autofree char *t1 = NULL;
    g_autofree char *t2 = NULL;
    g_assert_cmpuint (server_thread_count (f->server, ALICE, ALICE, texts, &t1), ==, 1);
    g_assert_cmpuint (server_thread_count (f->server, ALICE, BOB, texts, &t2), ==, 1);
    g_assert_cmpstr (t1, ==, t2);
  }
}

/* --- what the different UIs hand over ---------------------------------------------------- */

static void
test_markup_variants (Fixture *f, gconstpointer data)
{
  static const struct { const char *html; const char *text; } cases[] = {
    { "<b>bold</b> and <i>italic</i>", "bold and italic" },                /* Pidgin */
    { "<font color=\"#ff0000\">red</font><br>next", "red\nnext" },        /* Pidgin */
    { "line one\nline two\tand a tab", "line one\nline two\tand a tab" }, /* Finch */
    { "a &amp;amp; b &lt;3 &quot;q&quot;", "a &amp; b <3 \"q\"" },        /* Bitlbee */
    { "<a href=\"https://example.com/x?a=1&amp;b=2\">https://example.com/x?a=1&amp;b=2</a>",
      "https://example.com/x?a=1&b=2" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    e2e_account_send_html (f->alice, BOB, cases[i].html);
  g_assert_true (wait_received_from (f->bob, ALICE, G_N_ELEMENTS (cases), DELIVER_MS));
  e2e_run_for (SETTLE_MS);
  g_assert_cmpuint (e2e_count_received (f->bob, ALICE, NULL), ==, G_N_ELEMENTS (cases));
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_assert_cmpstr (received_text (f->bob, ALICE, i), ==, cases[i].text);
      g_assert_cmpuint (e2e_server_count_body (f->server, BOB, cases[i].text), ==, 1);
    }
}

/* --- group conversations are not shown yet, and do no harm ------------------------------- */

static void
test_group_ignored (Fixture *f, gconstpointer data)
{
  const char *group[] = { "carol@example.com", ALICE, BOB, NULL };
  const char *direct[] = { BOB, ALICE, NULL };
  g_autoptr(JsonNode) g = amm_test_server_send (f->server, "carol@example.com", group, NULL, "group hello");
  g_autoptr(JsonNode) d = NULL;

  g_assert_nonnull (g);
  g_assert_true (e2e_server_wait_body (f->server, ALICE, "group hello", 1, DELIVER_MS));
  d = amm_test_server_send (f->server, BOB, direct, NULL, "after the group");
  g_assert_true (wait_received_from (f->alice, BOB, 1, DELIVER_MS));
  e2e_run_for (SETTLE_MS);

  g_assert_cmpuint (f->alice->received->len, ==, 1);
  g_assert_cmpuint (e2e_count_received (f->alice, BOB, "after the group"), ==, 1);
  g_assert_cmpuint (e2e_count_written (f->alice, 0, "group hello"), ==, 0);
  g_assert_true (e2e_account_is_connected (f->alice));
}

/* --- offline delivery --------------------------------------------------------------------- */

static gboolean
has_cursor (gpointer data)
{
  return e2e_account_cursor (data) != NULL;
}

static void
test_offline (Fixture *f, gconstpointer data)
{
  const char *texts[] = { "offline 1 (plugin)", "offline 2 (plugin)", "offline 3 (plugin)",
                          "offline 4 (server)", "offline 5 (server)", NULL };
  g_autofree char *thread = NULL;

  /* The first login stored a cursor. */
  g_assert_true (e2e_wait (has_cursor, f->alice, 5000));

  e2e_account_disconnect (f->alice);
  g_assert_false (e2e_account_is_connected (f->alice));

  for (guint i = 0; i < 3; i++)
    {
      e2e_account_send (f->bob, ALICE, texts[i]);
      g_assert_true (e2e_server_wait_body (f->server, ALICE, texts[i], 1, DELIVER_MS));
    }
  {
    const char *plugin_texts[] = { texts[0], texts[1], texts[2], NULL };
    g_assert_cmpuint (server_thread_count (f->server, BOB, BOB, plugin_texts, &thread), ==, 1);
  }
  for (guint i = 3; i < 5; i++)
    {
      g_autoptr(JsonNode) sent = amm_test_server_send (f->server, BOB, NULL, thread, texts[i]);
      g_assert_nonnull (sent);
    }

  e2e_account_clear (f->alice);
  g_assert_true (e2e_account_login (f->alice, LOGIN_MS));
  g_assert_true (wait_received_from (f->alice, BOB, 5, DELIVER_MS));
  e2e_run_for (SETTLE_MS * 2);

  g_assert_cmpuint (f->alice->received->len, ==, 5);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpstr (received_text (f->alice, BOB, i), ==, texts[i]);

  /* And once more: a reconnect with nothing new delivers nothing. */
  e2e_account_disconnect (f->alice);
  e2e_account_clear (f->alice);
  g_assert_true (e2e_account_login (f->alice, LOGIN_MS));
  e2e_run_for (SETTLE_MS * 2);
  g_assert_cmpuint (f->alice->received->len, ==, 0);
}

/* --- a message sent from another device --------------------------------------------------- */

static void
test_remote_send (Fixture *f, gconstpointer data)
{
  const char *text = "sent from my phone <3 & so on";
  const char *to[] = { ALICE, BOB, NULL };
  g_autoptr(JsonNode) sent = NULL;
  E2eMessage *m = NULL;

  sent = amm_test_server_send (f->server, ALICE, to, NULL, text);
  g_assert_nonnull (sent);

  g_assert_true (e2e_account_wait_written (f->alice, PURPLE_MESSAGE_REMOTE_SEND, 1, DELIVER_MS));
  g_assert_true (wait_received_from (f->bob, ALICE, 1, DELIVER_MS));
  e2e_run_for (SETTLE_MS);

  g_assert_cmpuint (e2e_count_received (f->alice, NULL, NULL), ==, 0);
  g_assert_cmpuint (e2e_count_written (f->alice, PURPLE_MESSAGE_REMOTE_SEND, NULL), ==, 1);
  for (guint i = 0; i < f->alice->written->len; i++)
    {
      E2eMessage *w = g_ptr_array_index (f->alice->written, i);
      if (w->flags & PURPLE_MESSAGE_REMOTE_SEND)
        m = w;
    }
  g_assert_nonnull (m);
  g_assert_cmpstr (m->text, ==, text);
  g_assert_true (m->flags & PURPLE_MESSAGE_SEND);
  g_assert_false (m->flags & PURPLE_MESSAGE_RECV);
  g_assert_cmpstr (m->conv_name, ==, BOB);
  g_assert_cmpuint (e2e_count_received (f->bob, ALICE, text), ==, 1);
}

/* --- a failed send ------------------------------------------------------------------------ */

static void
test_send_failure (gconstpointer data)
{
  const Mode *mode = data;
  g_autoptr(AmmTestServer) server = start_server (mode, "--max-text-length", "40");
  E2eAccount *alice = e2e_account_new (ALICE, "alice-pw", server, NULL);
  E2eAccount *bob = e2e_account_new (BOB, "bob-pw", server, NULL);
  const char *too_long = "This message is far too long for the server & <must> come back";
  const char *after = "short one, after";

  g_assert_true (e2e_account_login (alice, LOGIN_MS));
  g_assert_true (e2e_account_login (bob, LOGIN_MS));

  e2e_account_send (alice, BOB, too_long);
  e2e_account_send (alice, BOB, after);
  g_assert_true (e2e_account_wait_written (alice, PURPLE_MESSAGE_ERROR, 1, DELIVER_MS));
  g_assert_true (wait_received_from (bob, ALICE, 1, DELIVER_MS));
  e2e_run_for (SETTLE_MS);

  /* The error is in the conversation with Bob and carries the undelivered text. */
  g_assert_cmpuint (e2e_count_written (alice, PURPLE_MESSAGE_ERROR, too_long), ==, 1);
  g_assert_cmpuint (e2e_count_written (alice, PURPLE_MESSAGE_ERROR, "not delivered"), ==, 1);
  for (guint i = 0; i < alice->written->len; i++)
    {
      E2eMessage *w = g_ptr_array_index (alice->written, i);
      if (w->flags & PURPLE_MESSAGE_ERROR)
        g_assert_cmpstr (w->conv_name, ==, BOB);
    }
  /* The next message still went out, and only it. */
  g_assert_cmpuint (e2e_count_received (bob, ALICE, NULL), ==, 1);
  g_assert_cmpuint (e2e_count_received (bob, ALICE, after), ==, 1);
  g_assert_cmpuint (e2e_server_count_body (server, BOB, too_long), ==, 0);
  g_assert_true (e2e_account_is_connected (alice));

  e2e_account_free (alice);
  e2e_account_free (bob);
}

/* --- login errors ------------------------------------------------------------------------- */

/* What the server says to a wrong password, asked directly. */
static char *
server_auth_message (AmmTestServer *server)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *url = g_strconcat (amm_test_server_get_base_url (server), "/aem/resources", NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autofree char *cred = g_base64_encode ((const guchar *) ALICE ":nope", strlen (ALICE ":nope"));
  g_autofree char *auth = g_strconcat ("Basic ", cred, NULL);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *o;

  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Accept",
                                "application/vnd.avaya.aem.resources.v4+json, "
                                "application/vnd.avaya.aem.error.v1+json");
  body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 401);
  g_assert_true (json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
                                             g_bytes_get_size (body), &error));
  o = json_node_get_object (json_parser_get_root (parser));
  if (json_object_has_member (o, "error"))
    o = json_object_get_object_member (o, "error");
  if (json_object_has_member (o, "displayMsg"))
    return g_strdup (json_object_get_string_member (o, "displayMsg"));
  return g_strdup (json_object_get_string_member (o, "errorMsg"));
}

static void
test_wrong_password (gconstpointer data)
{
  const Mode *mode = data;
  g_autoptr(AmmTestServer) server = start_server (mode, NULL, NULL);
  g_autofree char *expected = server_auth_message (server);
  E2eAccount *alice = e2e_account_new (ALICE, "wrong-pw", server, NULL);

  e2e_account_connect (alice);
  g_assert_true (e2e_account_wait_error (alice, LOGIN_MS));
  g_assert_cmpint (alice->last_error, ==, PURPLE_CONNECTION_ERROR_AUTHENTICATION_FAILED);
  g_assert_nonnull (expected);
  g_assert_nonnull (strstr (alice->last_error_text, expected));
  g_assert_cmpuint (alice->signed_on, ==, 0);
  g_assert_true (purple_connection_error_is_fatal (alice->last_error));
  e2e_account_free (alice);
}

static void
test_server_down (gconstpointer data)
{
  const Mode *mode = data;
  g_autoptr(AmmTestServer) server = start_server (mode, NULL, NULL);
  E2eAccount *alice = e2e_account_new (ALICE, "alice-pw", server, NULL);
  const char *to[] = { BOB, ALICE, NULL };
  g_autoptr(JsonNode) sent = NULL;

  amm_test_server_stop (server);
  e2e_account_connect (alice);
  g_assert_true (e2e_account_wait_error (alice, LOGIN_MS));
  g_assert_cmpint (alice->last_error, ==, PURPLE_CONNECTION_ERROR_NETWORK_ERROR);
  g_assert_false (purple_connection_error_is_fatal (alice->last_error));
  g_assert_cmpuint (alice->signed_on, ==, 0);

  amm_test_server_restart (server);
  g_assert_true (e2e_account_login (alice, LOGIN_MS));

  /* And it works. */
  sent = amm_test_server_send (server, BOB, to, NULL, "back again");
  g_assert_true (wait_received_from (alice, BOB, 1, DELIVER_MS));
  g_assert_cmpuint (e2e_count_received (alice, BOB, "back again"), ==, 1);
  e2e_account_free (alice);
}

/* The server goes away under a connected account: the plugin reports a network error (so that
 * the UI reconnects), and a reconnect after the server is back works. */
static void
test_connection_lost (gconstpointer data)
{
  const Mode *mode = data;
  g_autoptr(AmmTestServer) server = NULL;
  E2eAccount *alice;
  const char *to[] = { BOB, ALICE, NULL };
  g_autoptr(JsonNode) sent = NULL;

  g_setenv ("AMM_TEST_BACKOFF", "50:200:3", TRUE);
  server = start_server (mode, NULL, NULL);
  alice = e2e_account_new (ALICE, "alice-pw", server, NULL);
  g_assert_true (e2e_account_login (alice, LOGIN_MS));
  e2e_run_for (200);  /* the channel / long-poll is up */

  amm_test_server_stop (server);
  g_assert_true (e2e_account_wait_error (alice, 10000));
  g_assert_cmpint (alice->last_error, ==, PURPLE_CONNECTION_ERROR_NETWORK_ERROR);
  g_assert_false (purple_connection_error_is_fatal (alice->last_error));
  g_assert_nonnull (alice->last_error_text);
  g_assert_cmpstr (alice->last_error_text, !=, "");

  amm_test_server_restart (server);
  g_assert_true (e2e_account_login (alice, LOGIN_MS));
  sent = amm_test_server_send (server, BOB, to, NULL, "after the outage");
  g_assert_true (wait_received_from (alice, BOB, 1, DELIVER_MS));
  g_assert_cmpuint (e2e_count_received (alice, BOB, "after the outage"), ==, 1);
  e2e_account_free (alice);
  g_unsetenv ("AMM_TEST_BACKOFF");
}

static void
test_invalid_settings (void)
{
  E2eAccountOptions no_server = { .host = "" };
  E2eAccountOptions bad_port = { .port = 70000 };
  E2eAccount *a;

  /* An address without a domain and no server. */
  a = e2e_account_new ("alice", "alice-pw", NULL, &no_server);
  e2e_account_connect (a);
  g_assert_true (e2e_account_wait_error (a, 2000));
  g_assert_cmpint (a->last_error, ==, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS);
  e2e_account_free (a);

  /* A port out of range. */
  a = e2e_account_new (ALICE, "alice-pw", NULL, &bad_port);
  e2e_account_connect (a);
  g_assert_true (e2e_account_wait_error (a, 2000));
  g_assert_cmpint (a->last_error, ==, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS);
  g_assert_nonnull (strstr (a->last_error_text, "70000"));
  e2e_account_free (a);

  /* An unreadable CA file. */
  a = e2e_account_new (ALICE, "alice-pw", NULL, NULL);
  purple_account_set_string (a->account, "ca-file", "/nonexistent/purple-amm/ca.pem");
  e2e_account_connect (a);
  g_assert_true (e2e_account_wait_error (a, 2000));
  g_assert_cmpint (a->last_error, ==, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS);
  g_assert_nonnull (strstr (a->last_error_text, "/nonexistent/purple-amm/ca.pem"));
  e2e_account_free (a);
}

/* --- TLS ---------------------------------------------------------------------------------- */

static void
test_tls_ca_file (void)
{
  g_autoptr(AmmTestServer) server = amm_test_server_start ("--tls", NULL);
  E2eAccount *alice = e2e_account_new (ALICE, "alice-pw", server, NULL);
  const char *to[] = { BOB, ALICE, NULL };
  g_autoptr(JsonNode) sent = NULL;

  g_assert_true (amm_test_server_is_tls (server));
  g_assert_true (e2e_account_login (alice, LOGIN_MS));
  sent = amm_test_server_send (server, BOB, to, NULL, "over TLS");
  g_assert_true (wait_received_from (alice, BOB, 1, DELIVER_MS));
  g_assert_cmpuint (e2e_count_received (alice, BOB, "over TLS"), ==, 1);
  e2e_account_free (alice);
}

static void
test_tls_untrusted (void)
{
  g_autoptr(AmmTestServer) server = amm_test_server_start ("--tls", NULL);
  E2eAccountOptions no_ca = { .no_ca_file = TRUE };
  E2eAccount *alice = e2e_account_new (ALICE, "alice-pw", server, &no_ca);

  e2e_account_connect (alice);
  g_assert_true (e2e_account_wait_error (alice, LOGIN_MS));
  g_assert_cmpint (alice->last_error, >=, PURPLE_CONNECTION_ERROR_CERT_NOT_PROVIDED);
  g_assert_cmpint (alice->last_error, <=, PURPLE_CONNECTION_ERROR_CERT_OTHER_ERROR);
  g_assert_nonnull (strstr (alice->last_error_text, "127.0.0.1"));
  g_assert_cmpuint (alice->signed_on, ==, 0);
  e2e_account_free (alice);
}

/* --- closing while requests are in flight ------------------------------------------------- */

static void
test_close_in_flight (gconstpointer data)
{
  const Mode *mode = data;
  g_autoptr(AmmTestServer) server = start_server (mode, NULL, NULL);
  E2eAccount *alice = e2e_account_new (ALICE, "alice-pw", server, NULL);
  E2eAccount *bob = e2e_account_new (BOB, "bob-pw", server, NULL);

  g_assert_true (e2e_account_login (bob, LOGIN_MS));

  /* Discovery in flight. */
  e2e_account_connect (alice);
  e2e_account_disconnect (alice);
  e2e_run_for (300);
  g_assert_cmpuint (alice->errors, ==, 0);
  g_assert_cmpuint (alice->signed_on, ==, 0);
  g_assert_false (e2e_account_is_connected (alice));

  /* The first sync in flight. */
  g_assert_true (e2e_account_login (alice, LOGIN_MS));
  e2e_account_disconnect (alice);
  e2e_run_for (300);
  g_assert_cmpuint (alice->errors, ==, 0);

  /* Two sends in flight (one started, one queued). */
  g_assert_true (e2e_account_login (alice, LOGIN_MS));
  e2e_account_send (alice, BOB, "in flight 1");
  e2e_account_send (alice, BOB, "in flight 2");
  e2e_account_disconnect (alice);
  e2e_run_for (300);
  g_assert_cmpuint (alice->errors, ==, 0);
  /* The queued one was never sent, and the user was told. */
  g_assert_cmpuint (e2e_server_count_body (server, BOB, "in flight 2"), ==, 0);
  g_assert_cmpuint (e2e_count_written (alice, PURPLE_MESSAGE_ERROR, "in flight 2"), ==, 1);

  /* Still usable afterwards. */
  g_assert_true (e2e_account_login (alice, LOGIN_MS));
  e2e_account_send (alice, BOB, "after the storm");
  g_assert_true (e2e_server_wait_body (server, BOB, "after the storm", 1, DELIVER_MS));
  g_assert_true (bob && e2e_account_is_connected (bob));

  e2e_account_free (alice);
  e2e_account_free (bob);
}

/* The first message to a new address waits for its validation when the account closes: the
 * cancelled validation still ends (its data freed) and the user is told, once, that the
 * typed text was not delivered, like the other queued messages. */
static void
test_close_while_validating (void)
{
  g_autoptr(AmmTestServer) server = start_server (&mode_ws, NULL, NULL);
  E2eAccount *alice = e2e_account_new (ALICE, "alice-pw", server, NULL);
  guint status = 0;
  JsonNode *n;

  g_assert_true (e2e_account_login (alice, LOGIN_MS));
  n = amm_test_server_control (server, "POST", "/control/fault",
                               "{\"name\":\"stall\",\"path\":\"/aem/services/validateAddresses\"}",
                               &status);
  g_assert_cmpuint (status, ==, 200);
  g_clear_pointer (&n, json_node_unref);
  e2e_account_send (alice, "newcomer@example.com", "typed before the close");
  e2e_run_for (300);               /* the validation is held by the server */
  g_assert_cmpuint (e2e_count_written (alice, PURPLE_MESSAGE_ERROR, "typed before the close"), ==, 0);
  e2e_account_disconnect (alice);
  e2e_run_for (300);
  n = amm_test_server_control (server, "DELETE", "/control/fault", NULL, &status);
  g_clear_pointer (&n, json_node_unref);
  e2e_run_for (300);
  g_assert_cmpuint (e2e_count_written (alice, PURPLE_MESSAGE_ERROR, "typed before the close"), ==, 1);
  g_assert_cmpuint (e2e_count_written (alice, PURPLE_MESSAGE_ERROR, "the account was disconnected"), ==, 1);
  g_assert_cmpuint (alice->errors, ==, 0);
  e2e_account_free (alice);
}

int
main (int argc, char **argv)
{
  const Mode *modes[] = { &mode_ws, &mode_lp };
  int ret;

  g_test_init (&argc, &argv, NULL);
  e2e_install_log_filter ();
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  e2e_init ();

  for (guint i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      const Mode *m = modes[i];
      g_autofree char *p1 = g_strdup_printf ("/e2e/%s/im/both-ways", m->name);
      g_autofree char *p2 = g_strdup_printf ("/e2e/%s/im/offline", m->name);
      g_autofree char *p3 = g_strdup_printf ("/e2e/%s/im/remote-send", m->name);
      g_autofree char *p4 = g_strdup_printf ("/e2e/%s/im/send-failure", m->name);
      g_autofree char *p5 = g_strdup_printf ("/e2e/%s/login/wrong-password", m->name);
      g_autofree char *p6 = g_strdup_printf ("/e2e/%s/login/server-down", m->name);
      g_autofree char *p7 = g_strdup_printf ("/e2e/%s/close/in-flight", m->name);
      g_autofree char *p8 = g_strdup_printf ("/e2e/%s/login/connection-lost", m->name);

      g_test_add (p1, Fixture, m, fixture_setup, test_both_ways, fixture_teardown);
      g_test_add (p2, Fixture, m, fixture_setup, test_offline, fixture_teardown);
      g_test_add (p3, Fixture, m, fixture_setup, test_remote_send, fixture_teardown);
      if (m == &mode_ws)
        {
          g_test_add ("/e2e/ws/im/markup-variants", Fixture, m, fixture_setup, test_markup_variants,
                      fixture_teardown);
          g_test_add ("/e2e/ws/im/group-ignored", Fixture, m, fixture_setup, test_group_ignored,
                      fixture_teardown);
        }
      g_test_add_data_func (p4, m, test_send_failure);
      g_test_add_data_func (p5, m, test_wrong_password);
      g_test_add_data_func (p6, m, test_server_down);
      g_test_add_data_func (p7, m, test_close_in_flight);
      g_test_add_data_func (p8, m, test_connection_lost);
    }
  g_test_add_func ("/e2e/login/invalid-settings", test_invalid_settings);
  g_test_add_func ("/e2e/tls/ca-file", test_tls_ca_file);
  g_test_add_func ("/e2e/tls/untrusted", test_tls_untrusted);
  g_test_add_func ("/e2e/ws/close/while-validating", test_close_while_validating);

  ret = g_test_run ();
  e2e_shutdown ();
  return ret;
}
