/* test-client.c: AmmClient against the real test server (tests/amm-server via the fixture).
 *
 * Run: AMM_SERVER=build/amm-server AMM_TLS_DIR=build/tls build/tests/test-client
 * Every wait has a deadline: a test fails, it never hangs.
 */
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>
#include "amm-client.h"
#include "amm-protocol.h"
#include "amm-test-server.h"
#include "amm-backoff.h"
#include "amm-http.h"
#include "amm-test-loop.h"

#define ALICE "alice@example.com"
#define BOB   "bob@example.com"
#define WAIT_MS 15000

typedef struct {
  char    *thread_id;
  char    *id;
  char    *body;
  char    *from;
  gboolean from_self;
  AmmEventType event;
} Received;

typedef struct {
  AmmClient *client;
  GPtrArray *received;        /* Received*, MESSAGE events only */
  char      *cursor;
  guint      cursor_changes;
  AmmChannelKind up_kind;
  guint      ups, downs;
  GError    *lost;
  guint      signals_after_shutdown;
  gboolean   shut;
} Watch;

static void
received_free (Received *r)
{
  g_free (r->thread_id);
  g_free (r->id);
  g_free (r->body);
  g_free (r->from);
  g_free (r);
}

/* --- client helpers ------------------------------------------------------------------------- */

static AmmSettings *
settings_for (AmmTestServer *server, const char *user, const char *password)
{
  AmmSettings *s = amm_settings_new ();
  s->username = g_strdup (user);
  s->password = g_strdup (password);
  s->host = g_strdup ("127.0.0.1");
  s->port = amm_test_server_get_port (server);
  s->use_tls = amm_test_server_is_tls (server);
  if (s->use_tls)
    s->ca_file = g_strdup (amm_test_server_get_ca_file (server));
  return s;
}

typedef struct {
  gboolean done;
  gboolean ok;
  GError  *error;
  gpointer result;
} Op;

static gboolean
op_done (gpointer data)
{
  return ((Op *) data)->done;
}

static void
on_connect (GObject *src, GAsyncResult *res, gpointer data)
{
  Op *op = data;
  op->ok = amm_client_connect_finish (AMM_CLIENT (src), res, &op->error);
  op->done = TRUE;
}

static gboolean
connect_client (AmmClient *client, GError **error)
{
  Op op = { 0 };
  amm_client_connect_async (client, NULL, on_connect, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
  if (!op.ok)
    g_propagate_error (error, op.error);
  return op.ok;
}

static AmmClient *
new_client (AmmSettings *s)
{
  g_autoptr (GError) error = NULL;
  AmmClient *c = amm_client_new (s, &error);
  g_assert_no_error (error);
  amm_client_set_backoff (c, 50, 400, 5);
  return c;
}

static AmmClient *
connected_client (AmmTestServer *server, const char *user, const char *password, AmmSettings **out)
{
  AmmSettings *s = settings_for (server, user, password);
  AmmClient *c = new_client (s);
  g_autoptr (GError) error = NULL;
  connect_client (c, &error);
  g_assert_no_error (error);
  if (out)
    *out = s;
  else
    amm_settings_free (s);
  return c;
}

static void
on_message (AmmClient *c, AmmConversation *conv, AmmMessage *msg, gboolean from_self, gpointer data)
{
  Watch *w = data;
  if (w->shut)
    w->signals_after_shutdown++;
  g_assert_nonnull (conv);
  g_assert_nonnull (msg);
  g_assert_cmpint (msg->event_type, !=, AMM_EVENT_START);
  if (msg->event_type != AMM_EVENT_MESSAGE)
    return;
  Received *r = g_new0 (Received, 1);
  r->thread_id = g_strdup (msg->thread_id);
  r->id = g_strdup (msg->id);
  r->body = g_strdup (msg->body);
  r->from = g_strdup (msg->from ? msg->from->address : NULL);
  r->from_self = from_self;
  r->event = msg->event_type;
  g_ptr_array_add (w->received, r);
}

static void
on_cursor (AmmClient *c, const char *cursor, gpointer data)
{
  Watch *w = data;
  if (w->shut)
    w->signals_after_shutdown++;
  g_assert_nonnull (cursor);
  g_free (w->cursor);
  w->cursor = g_strdup (cursor);
  w->cursor_changes++;
}

static void
on_channel (AmmClient *c, guint kind, gboolean up, gpointer data)
{
  Watch *w = data;
  if (w->shut)
    w->signals_after_shutdown++;
  if (up) {
    w->up_kind = kind;
    w->ups++;
  } else {
    w->downs++;
  }
}

static void
on_lost (AmmClient *c, GError *error, gpointer data)
{
  Watch *w = data;
  if (w->shut)
    w->signals_after_shutdown++;
  g_clear_error (&w->lost);
  w->lost = g_error_copy (error);
}

static Watch *
watch (AmmClient *client)
{
  Watch *w = g_new0 (Watch, 1);
  w->client = client;
  w->received = g_ptr_array_new_with_free_func ((GDestroyNotify) received_free);
  g_signal_connect (client, "message-received", G_CALLBACK (on_message), w);
  g_signal_connect (client, "cursor-changed", G_CALLBACK (on_cursor), w);
  g_signal_connect (client, "channel-changed", G_CALLBACK (on_channel), w);
  g_signal_connect (client, "connection-lost", G_CALLBACK (on_lost), w);
  return w;
}

/* Shut the client down, check that nothing fires afterwards, free everything. */
static void
finish (Watch *w)
{
  amm_client_shutdown (w->client);
  w->shut = TRUE;
  amm_test_spin (100);
  g_assert_cmpuint (w->signals_after_shutdown, ==, 0);
  g_signal_handlers_disconnect_by_data (w->client, w);
  g_object_unref (w->client);
  g_ptr_array_unref (w->received);
  g_free (w->cursor);
  g_clear_error (&w->lost);
  g_free (w);
}

static gboolean
is_up (gpointer data)
{
  Watch *w = data;
  return amm_client_get_channel_kind (w->client) != AMM_CHANNEL_NONE && w->cursor != NULL;
}

typedef struct {
  Watch *w;
  guint  n;
} Count;

static gboolean
has_n (gpointer data)
{
  Count *c = data;
  return c->w->received->len >= c->n;
}

static void
wait_received (Watch *w, guint n)
{
  Count c = { w, n };
  if (!amm_test_wait_for (has_n, &c, WAIT_MS))
    g_error ("waited for %u messages, got %u", n, w->received->len);
}

static Received *
got (Watch *w, guint i)
{
  return g_ptr_array_index (w->received, i);
}

static void
send_as (AmmTestServer *s, const char *from, const char *to, const char *thread_id, const char *body)
{
  const char *tos[] = { to, NULL };
  JsonNode *n = amm_test_server_send (s, from, thread_id ? NULL : tos, thread_id, body);
  g_assert_nonnull (n);
  json_node_unref (n);
}

static void
on_sent (GObject *src, GAsyncResult *res, gpointer data)
{
  Op *op = data;
  op->result = amm_client_send_text_finish (AMM_CLIENT (src), res, &op->error);
  op->done = TRUE;
}

static AmmMessage *
send_text (AmmClient *c, const char *thread_id, const char *to, const char *body)
{
  Op op = { 0 };
  const char *tos[] = { to, NULL };
  amm_client_send_text_async (c, thread_id, to ? tos : NULL, body, NULL, on_sent, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
  g_assert_no_error (op.error);
  return op.result;
}

/* --- connect ------------------------------------------------------------------------------- */

static void
check_connect_version (const char *api, AmmVersion expected)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--api", api, NULL);
  AmmClient *c = connected_client (server, ALICE, "alice-pw", NULL);
  g_assert_cmpint (amm_client_get_version (c), ==, expected);
  g_assert_cmpstr (amm_client_get_self_address (c), ==, ALICE);
  g_assert_nonnull (amm_client_get_resources (c)->conversations_href);
  g_object_unref (c);
}

static void test_connect_32 (void) { check_connect_version ("3.2", AMM_VERSION_3_2); }
static void test_connect_3 (void) { check_connect_version ("3", AMM_VERSION_3); }
static void test_connect_21 (void) { check_connect_version ("2.1", AMM_VERSION_2_1); }

static void
check_forced (const char *api, AmmVersion forced, gboolean ok)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--api", api, NULL);
  g_autoptr (AmmSettings) s = settings_for (server, ALICE, "alice-pw");
  s->version = forced;
  AmmClient *c = new_client (s);
  g_autoptr (GError) error = NULL;
  gboolean r = connect_client (c, &error);
  if (ok) {
    g_assert_no_error (error);
    g_assert_true (r);
    g_assert_cmpint (amm_client_get_version (c), ==, forced);
  } else {
    g_assert_error (error, AMM_ERROR, AMM_ERROR_UNSUPPORTED);
  }
  g_object_unref (c);
}

static void
test_connect_forced (void)
{
  check_forced ("3", AMM_VERSION_3_2, FALSE);   /* no 3.2 request types */
  check_forced ("2.1", AMM_VERSION_3, FALSE);   /* resources.v4 → 406 */
  check_forced ("3.2", AMM_VERSION_3, TRUE);    /* a 3.2 server speaks 3 */
  check_forced ("3.2", AMM_VERSION_2_1, TRUE);  /* and 2.1 */
}

static void
test_connect_wrong_password (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start (NULL, NULL);
  g_autoptr (AmmSettings) s = settings_for (server, ALICE, "not-the-password");
  AmmClient *c = new_client (s);
  g_autoptr (GError) error = NULL;
  g_assert_false (connect_client (c, &error));
  g_assert_error (error, AMM_ERROR, AMM_ERROR_AUTH);
  g_assert_cmpstr (error->message, ==, "Wrong user name or password.");
  g_object_unref (c);
}

static void
test_connect_no_server (void)
{
  /* a port nobody listens on: bind, read the port, close */
  g_autoptr (GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (sock, any, FALSE, NULL));
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (sock, NULL);
  guint16 port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (sock, NULL);

  g_autoptr (AmmSettings) s = amm_settings_new ();
  s->username = g_strdup (ALICE);
  s->password = g_strdup ("x");
  s->host = g_strdup ("127.0.0.1");
  s->port = port;
  s->use_tls = FALSE;
  AmmClient *c = new_client (s);
  g_autoptr (GError) error = NULL;
  g_assert_false (connect_client (c, &error));
  g_assert_error (error, AMM_ERROR, AMM_ERROR_NETWORK);
  g_object_unref (c);
}

static void
test_invalid_settings (void)
{
  g_autoptr (AmmSettings) s = amm_settings_new ();
  s->username = g_strdup (ALICE);
  s->host = g_strdup ("");
  g_autoptr (GError) error = NULL;
  g_assert_null (amm_client_new (s, &error));
  g_assert_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS);
  g_clear_error (&error);
  g_free (s->host);
  s->host = g_strdup ("127.0.0.1");
  s->ca_file = g_strdup ("/nonexistent/ca.pem");
  g_assert_null (amm_client_new (s, &error));
  g_assert_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS);
}

static void
test_tls_ca_file (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--tls", NULL);
  g_assert_true (amm_test_server_is_tls (server));
  AmmSettings *s = NULL;
  AmmClient *c = connected_client (server, ALICE, "alice-pw", &s);
  g_assert_cmpint (amm_client_get_version (c), ==, AMM_VERSION_3_2);
  /* and the wss:// channel works through the same trust store */
  Watch *w = watch (c);
  amm_client_start_sync (c, NULL);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));
  g_assert_cmpint (amm_client_get_channel_kind (c), ==, AMM_CHANNEL_WEBSOCKET);
  send_as (server, BOB, ALICE, NULL, "over tls");
  wait_received (w, 1);
  g_assert_cmpstr (got (w, 0)->body, ==, "over tls");
  finish (w);
  amm_settings_free (s);
}

static void
test_tls_untrusted (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--tls", NULL);
  g_autoptr (AmmSettings) s = settings_for (server, ALICE, "alice-pw");
  g_clear_pointer (&s->ca_file, g_free);
  AmmClient *c = new_client (s);
  g_autoptr (GError) error = NULL;
  g_assert_false (connect_client (c, &error));
  g_assert_error (error, AMM_ERROR, AMM_ERROR_TLS);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
  g_assert_nonnull (strstr (error->message, "unknown issuer"));
  g_object_unref (c);
}

/* --- sync ------------------------------------------------------------------------------------ */

static void
check_delivery (const char *first_arg, const char *second_arg, guint poll_seconds, AmmChannelKind expected)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start (first_arg, second_arg, NULL);
  g_autoptr (AmmSettings) s = settings_for (server, ALICE, "alice-pw");
  s->poll_seconds_for_tests = poll_seconds;
  AmmClient *c = new_client (s);
  g_autoptr (GError) error = NULL;
  connect_client (c, &error);
  g_assert_no_error (error);
  Watch *w = watch (c);
  amm_client_start_sync (c, NULL);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));
  g_assert_cmpint (amm_client_get_channel_kind (c), ==, expected);
  g_assert_cmpint (w->up_kind, ==, expected);
  g_autofree char *first_cursor = g_strdup (w->cursor);

  send_as (server, BOB, ALICE, NULL, "hello alice");
  wait_received (w, 1);
  amm_test_spin (poll_seconds ? poll_seconds * 1000 + 500 : 500); /* a second delivery would show now */
  g_assert_cmpuint (w->received->len, ==, 1);
  g_assert_cmpstr (got (w, 0)->body, ==, "hello alice");
  g_assert_cmpstr (got (w, 0)->from, ==, BOB);
  g_assert_false (got (w, 0)->from_self);
  g_assert_cmpstr (w->cursor, !=, first_cursor);

  /* and a reply in the same conversation */
  send_as (server, BOB, NULL, got (w, 0)->thread_id, "second");
  wait_received (w, 2);
  amm_test_spin (poll_seconds ? poll_seconds * 1000 + 500 : 300);
  g_assert_cmpuint (w->received->len, ==, 2);
  g_assert_cmpstr (got (w, 1)->body, ==, "second");
  g_assert_null (w->lost);
  finish (w);
}

static void test_sync_websocket (void) { check_delivery (NULL, NULL, 0, AMM_CHANNEL_WEBSOCKET); }
static void test_sync_api3 (void) { check_delivery ("--api", "3", 0, AMM_CHANNEL_WEBSOCKET); }
static void test_sync_sse (void) { check_delivery ("--no-websocket", NULL, 0, AMM_CHANNEL_SSE); }
static void test_sync_long_poll (void) { check_delivery ("--api", "2.1", 0, AMM_CHANNEL_LONG_POLL); }
static void test_sync_poll (void) { check_delivery (NULL, NULL, 1, AMM_CHANNEL_POLL); }

static void
test_sync_first_login (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start (NULL, NULL);
  /* history before alice's first login: unread from bob is delivered, her own is not */
  send_as (server, BOB, ALICE, NULL, "while you were out");
  send_as (server, ALICE, "carol@example.com", NULL, "alice elsewhere");
  AmmClient *c = connected_client (server, ALICE, "alice-pw", NULL);
  Watch *w = watch (c);
  amm_client_start_sync (c, NULL);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));
  amm_test_spin (300);
  g_assert_cmpuint (w->received->len, ==, 1);
  g_assert_cmpstr (got (w, 0)->body, ==, "while you were out");
  finish (w);
}

static void
test_sync_resume (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start (NULL, NULL);
  AmmClient *c = connected_client (server, ALICE, "alice-pw", NULL);
  Watch *w = watch (c);
  amm_client_start_sync (c, NULL);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));
  send_as (server, BOB, ALICE, NULL, "before");
  wait_received (w, 1);
  amm_test_spin (200);
  g_autofree char *cursor = g_strdup (w->cursor);
  g_autofree char *thread = g_strdup (got (w, 0)->thread_id);
  finish (w);

  send_as (server, BOB, NULL, thread, "one");
  send_as (server, BOB, NULL, thread, "two");
  send_as (server, BOB, ALICE, NULL, "three"); /* a new conversation */

  c = connected_client (server, ALICE, "alice-pw", NULL);
  w = watch (c);
  amm_client_start_sync (c, cursor);
  wait_received (w, 3);
  amm_test_spin (500);
  g_assert_cmpuint (w->received->len, ==, 3);
  g_assert_cmpstr (got (w, 0)->body, ==, "one");
  g_assert_cmpstr (got (w, 1)->body, ==, "two");
  g_assert_cmpstr (got (w, 2)->body, ==, "three");
  g_assert_cmpstr (w->cursor, !=, cursor);
  finish (w);
}

static void
test_sync_paging (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--max-message-count", "5", NULL);
  AmmClient *c = connected_client (server, ALICE, "alice-pw", NULL);
  Watch *w = watch (c);
  amm_client_start_sync (c, NULL);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));
  send_as (server, BOB, ALICE, NULL, "start");
  wait_received (w, 1);
  amm_test_spin (200);
  g_autofree char *cursor = g_strdup (w->cursor);
  g_autofree char *thread = g_strdup (got (w, 0)->thread_id);
  finish (w);

  for (int i = 1; i <= 12; i++) {
    g_autofree char *body = g_strdup_printf ("m%d", i);
    send_as (server, BOB, NULL, thread, body);
  }
  c = connected_client (server, ALICE, "alice-pw", NULL);
  w = watch (c);
  amm_client_start_sync (c, cursor);
  wait_received (w, 12);
  amm_test_spin (500);
  g_assert_cmpuint (w->received->len, ==, 12);
  for (guint i = 0; i < 12; i++) {
    g_autofree char *body = g_strdup_printf ("m%u", i + 1);
    g_assert_cmpstr (got (w, i)->body, ==, body);
  }
  finish (w);
}

/* --- large listings: ids, then chunks (docs/protocol.md §6 "Large listings") ------------------- */

#define BIG_CAP (64 * 1024) /* the client's answer cap in these tests */

/* `convs` new conversations of alice with `msgs` unread messages each ("gen <i>/<j>"). */
static void
generate_for_alice (AmmTestServer *server, guint convs, guint msgs)
{
  g_autofree char *body = g_strdup_printf (
      "{\"user\":\"" ALICE "\",\"conversations\":%u,\"messages\":%u,\"groupEvery\":4,"
      "\"senders\":[\"" BOB "\",\"carol@example.com\"]}", convs, msgs);
  guint status = 0;
  JsonNode *n = amm_test_server_control (server, "POST", "/control/generate", body, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_nonnull (n);
  json_node_unref (n);
}

/* Every delivery once; within each conversation "gen <i>/<j>" with j = first, first+1, … in
 * order; `per_conv` of them in each of `convs` conversations. */
static void
check_generated (Watch *w, guint convs, guint first, guint per_conv)
{
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) next = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, NULL);
  g_assert_cmpuint (w->received->len, ==, convs * per_conv);
  for (guint k = 0; k < w->received->len; k++) {
    Received *r = got (w, k);
    g_assert_false (g_hash_table_contains (ids, r->id));
    g_hash_table_add (ids, r->id);
    guint i = 0, j = 0;
    g_assert_cmpint (sscanf (r->body, "gen %u/%u", &i, &j), ==, 2);
    guint expect = GPOINTER_TO_UINT (g_hash_table_lookup (next, r->thread_id));
    if (!g_hash_table_contains (next, r->thread_id))
      expect = first;
    g_assert_cmpuint (j, ==, expect);
    g_hash_table_insert (next, r->thread_id, GUINT_TO_POINTER (j + 1));
  }
  g_assert_cmpuint (g_hash_table_size (next), ==, convs);
}

/* Across chunks, deliveries follow the ids document's order, newest change first: generated
 * conversation i of `convs` ("gen <i>/<j>") is in chunk (convs - 1 - i) / `chunk`, and no
 * delivery of a chunk comes after one of a later chunk (chunks are fetched ahead of their turn,
 * and delivered in turn). */
static void
check_chunk_order (Watch *w, guint convs, guint chunk)
{
  guint last = 0;
  for (guint k = 0; k < w->received->len; k++) {
    guint i = 0, j = 0;
    g_assert_cmpint (sscanf (got (w, k)->body, "gen %u/%u", &i, &j), ==, 2);
    g_assert_cmpuint (i, <, convs);
    guint c = (convs - 1 - i) / chunk;
    g_assert_cmpuint (c, >=, last);
    last = c;
  }
  g_assert_cmpuint (last, ==, (convs - 1) / chunk);
}

/* alice logs in with a 64 KiB answer cap (BIG_CAP) and syncs from the cursor (NULL: first login). */
static Watch *
big_sync_watch (AmmTestServer *server, const char *cursor)
{
  AmmClient *c = connected_client (server, ALICE, "alice-pw", NULL);
  amm_client_set_max_response_bytes (c, BIG_CAP);
  Watch *w = watch (c);
  amm_client_start_sync (c, cursor);
  return w;
}

/* 60 conversations × 5 messages, 5 embedded: the single listing (~190 KB) is over the 64 KiB
 * cap; ids and chunks of 10 (maxIdsLimit) get everything, once, in order. Then 40 more
 * conversations × 8 messages while alice is away: the incremental listing is over the cap
 * too, so it goes by ids (after=) and chunks, paging back to the cursor; a third login with
 * the cursor gets nothing. */
static void
check_big_sync (const char *api)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--api", api, "--max-message-count", "5",
                                                            "--max-ids-limit", "10", NULL);
  generate_for_alice (server, 60, 5);
  Watch *w = big_sync_watch (server, NULL);
  wait_received (w, 300);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));
  amm_test_spin (300);
  check_generated (w, 60, 0, 5);
  check_chunk_order (w, 60, 10);
  g_assert_cmpuint (w->cursor_changes, ==, 1); /* committed once, after the last chunk */
  g_autofree char *cursor = g_strdup (w->cursor);
  finish (w);

  generate_for_alice (server, 40, 8);
  w = big_sync_watch (server, cursor);
  wait_received (w, 320);
  amm_test_spin (500);
  check_generated (w, 40, 0, 8);
  check_chunk_order (w, 40, 10);
  g_assert_nonnull (w->cursor);
  g_assert_cmpstr (w->cursor, !=, cursor);
  g_autofree char *cursor2 = g_strdup (w->cursor);
  finish (w);

  w = big_sync_watch (server, cursor2);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS) || w->received->len == 0);
  amm_test_spin (500);
  g_assert_cmpuint (w->received->len, ==, 0);
  finish (w);
}

static void test_big_sync_32 (void) { check_big_sync ("3.2"); }
static void test_big_sync_3 (void) { check_big_sync ("3"); }
static void test_big_sync_21 (void) { check_big_sync ("2.1"); }

static gint64
fault_hits (AmmTestServer *server, const char *name)
{
  g_autoptr (JsonNode) n = amm_test_server_control (server, "GET", "/control/fault", NULL, NULL);
  g_assert_nonnull (n);
  JsonArray *a = json_object_get_array_member (json_node_get_object (n), "faults");
  gint64 hits = 0;
  for (guint i = 0; a && i < json_array_get_length (a); i++) {
    JsonObject *f = json_array_get_object_element (a, i);
    if (g_strcmp0 (json_object_get_string_member_with_default (f, "name", NULL), name) == 0)
      hits += json_object_get_int_member_with_default (f, "hits", 0);
  }
  return hits;
}

/* A fault switch (tests/amm-server/README.md), set or the test fails. */
static void
add_fault (AmmTestServer *server, const char *json)
{
  guint status = 0;
  g_autoptr (JsonNode) n = amm_test_server_control (server, "POST", "/control/fault", json, &status);
  g_assert_cmpuint (status, ==, 200);
}

/* Every page request of the conversation answers 503: fault_hits (server, "status") counts them. */
static void
fail_pages (AmmTestServer *server, const char *thread)
{
  g_autofree char *fault = g_strdup_printf ("{\"name\":\"status\",\"status\":503,"
                                            "\"path\":\"/aem/conversations/%s\",\"method\":\"GET\"}", thread);
  add_fault (server, fault);
}

/* With an incremental listing that embeds only what changed, the anchor (docs/protocol.md §6)
 * spares the client a page request: a resumed sync with two new messages in a conversation
 * with a longer history delivers them from the listing alone. Page requests fail here (503),
 * and none is made. */
static void
test_sync_no_needless_paging (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--max-message-count", "5", NULL);
  AmmClient *c = connected_client (server, ALICE, "alice-pw", NULL);
  Watch *w = watch (c);
  amm_client_start_sync (c, NULL);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));
  send_as (server, BOB, ALICE, NULL, "start");
  wait_received (w, 1);
  g_autofree char *thread = g_strdup (got (w, 0)->thread_id);
  for (int i = 1; i <= 8; i++) {
    g_autofree char *body = g_strdup_printf ("h%d", i);
    send_as (server, BOB, NULL, thread, body);
  }
  wait_received (w, 9);
  amm_test_spin (200);
  g_autofree char *cursor = g_strdup (w->cursor);
  finish (w);

  fail_pages (server, thread);
  send_as (server, BOB, NULL, thread, "m1");
  send_as (server, BOB, NULL, thread, "m2");
  c = connected_client (server, ALICE, "alice-pw", NULL);
  w = watch (c);
  amm_client_start_sync (c, cursor);
  wait_received (w, 2);
  amm_test_spin (300);
  g_assert_cmpuint (w->received->len, ==, 2);
  g_assert_cmpstr (got (w, 0)->body, ==, "m1");
  g_assert_cmpstr (got (w, 1)->body, ==, "m2");
  g_assert_cmpint (fault_hits (server, "status"), ==, 0);
  finish (w);
}

/* AMM 2.1 long polls: after a poll that brought nothing new the next asks from the cursor + 1 ms,
 * and its answer's anchor is the message at exactly the cursor's instant, which the cursor
 * covers: nothing older can be missing, so no page is fetched (a 503 on pages would count). */
static void
test_sync_no_paging_at_cursor (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--api", "2.1", "--max-message-count", "5", NULL);
  AmmClient *c = connected_client (server, ALICE, "alice-pw", NULL);
  Watch *w = watch (c);
  amm_client_start_sync (c, NULL);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));
  send_as (server, BOB, ALICE, NULL, "start");
  wait_received (w, 1);
  g_autofree char *thread = g_strdup (got (w, 0)->thread_id);
  amm_test_spin (500); /* the poll after the productive one brings nothing: the next is exclusive */
  fail_pages (server, thread);
  for (int i = 1; i <= 3; i++) {
    g_autofree char *body = g_strdup_printf ("m%d", i);
    send_as (server, BOB, NULL, thread, body);
    wait_received (w, 1 + i);
    amm_test_spin (300);
  }
  g_assert_cmpuint (w->received->len, ==, 4);
  g_assert_cmpstr (got (w, 3)->body, ==, "m3");
  g_assert_cmpint (fault_hits (server, "status"), ==, 0);
  finish (w);
}

/* The third chunk fails once (503) while the ones around it are requested ahead: the listing
 * resumes at that chunk, and everything comes once, in the ids document's order, with the
 * cursor committed once, after the last chunk. */
static void
test_big_sync_chunk_fails (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--max-message-count", "5", "--max-ids-limit", "10",
                                                            NULL);
  generate_for_alice (server, 60, 5);
  add_fault (server, "{\"name\":\"status\",\"status\":503,\"path\":\"/aem/conversations\","
                     "\"method\":\"POST\",\"skip\":2,\"count\":1}");
  Watch *w = big_sync_watch (server, NULL);
  wait_received (w, 300);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));
  amm_test_spin (300);
  g_assert_cmpint (fault_hits (server, "status"), ==, 1);
  check_generated (w, 60, 0, 5);
  check_chunk_order (w, 60, 10);
  g_assert_cmpuint (w->cursor_changes, ==, 1);
  finish (w);
}

/* Chunks over the cap (20 embedded messages of 10 conversations: ~120 KB) are fetched again in
 * halves, the chunks requested ahead with them: everything once, in order within each
 * conversation, the cursor committed once. */
static void
test_big_sync_chunk_halves (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--max-message-count", "20", "--max-ids-limit", "10",
                                                            NULL);
  generate_for_alice (server, 30, 20);
  Watch *w = big_sync_watch (server, NULL);
  wait_received (w, 600);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));
  amm_test_spin (300);
  check_generated (w, 30, 0, 20);
  g_assert_cmpuint (w->cursor_changes, ==, 1);
  finish (w);
}

/* The cache keeps a conversation's newest AMM_CLIENT_CACHED_MESSAGES of the 30 the listing
 * embeds (all of them delivered): its participants still come from the newest. */
static void
test_cache_newest_only (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start (NULL, NULL);
  g_autofree char *body = g_strdup_printf ("{\"user\":\"" ALICE "\",\"conversations\":1,\"messages\":30,"
                                           "\"senders\":[\"" BOB "\"]}");
  guint status = 0;
  g_autoptr (JsonNode) n = amm_test_server_control (server, "POST", "/control/generate", body, &status);
  g_assert_cmpuint (status, ==, 200);
  const char *thread = json_array_get_string_element (
      json_object_get_array_member (json_node_get_object (n), "threads"), 0);
  AmmClient *c = connected_client (server, ALICE, "alice-pw", NULL);
  Watch *w = watch (c);
  amm_client_start_sync (c, NULL);
  wait_received (w, 30);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));
  check_generated (w, 1, 0, 30);
  AmmConversation *cached = amm_client_lookup_conversation (c, thread);
  g_assert_nonnull (cached);
  g_assert_cmpuint (cached->messages->len, ==, AMM_CLIENT_CACHED_MESSAGES);
  g_assert_cmpstr (((AmmMessage *) g_ptr_array_index (cached->messages, 0))->body, ==, "gen 0/29");
  g_autofree char *oldest = g_strdup_printf ("gen 0/%u", 30 - AMM_CLIENT_CACHED_MESSAGES);
  g_assert_cmpstr (((AmmMessage *) g_ptr_array_index (cached->messages, AMM_CLIENT_CACHED_MESSAGES - 1))->body,
                   ==, oldest);
  g_autoptr (GPtrArray) parts = amm_client_conversation_participants (c, thread);
  g_assert_cmpuint (parts->len, ==, 2);
  g_assert_true (amm_client_find_direct_conversation (c, BOB) == cached);
  finish (w);
}

/* A server without conversations.ids.v1 answers the ids request 406: the client lists in one
 * request, as before, and still gets everything once. */
static void
test_big_sync_no_ids (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--no-conversation-ids", "--max-message-count", "5",
                                                            NULL);
  generate_for_alice (server, 12, 3);
  AmmClient *c = connected_client (server, ALICE, "alice-pw", NULL);
  Watch *w = watch (c);
  amm_client_start_sync (c, NULL);
  wait_received (w, 36);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));
  amm_test_spin (300);
  check_generated (w, 12, 0, 3);
  g_autofree char *cursor = g_strdup (w->cursor);
  finish (w);

  generate_for_alice (server, 3, 2);
  c = connected_client (server, ALICE, "alice-pw", NULL);
  w = watch (c);
  amm_client_start_sync (c, cursor);
  wait_received (w, 6);
  amm_test_spin (300);
  check_generated (w, 3, 0, 2);
  finish (w);
}

static void
test_send_and_reuse (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start (NULL, NULL);
  AmmClient *c = connected_client (server, ALICE, "alice-pw", NULL);
  Watch *w = watch (c);
  amm_client_start_sync (c, NULL);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));

  g_assert_null (amm_client_find_direct_conversation (c, BOB));
  AmmMessage *m1 = send_text (c, NULL, BOB, "first from alice");
  g_assert_nonnull (m1->id);
  g_assert_nonnull (m1->thread_id);
  g_assert_cmpstr (m1->body, ==, "first from alice");
  AmmConversation *conv = amm_client_find_direct_conversation (c, "BOB@example.com");
  g_assert_nonnull (conv);
  g_assert_cmpstr (conv->id, ==, m1->thread_id);
  g_autoptr (GPtrArray) parts = amm_client_conversation_participants (c, m1->thread_id);
  g_assert_cmpuint (parts->len, ==, 2);

  AmmMessage *m2 = send_text (c, conv->id, NULL, "second from alice");
  g_assert_cmpstr (m2->thread_id, ==, m1->thread_id);
  g_assert_cmpstr (m2->id, !=, m1->id);

  /* the server stored both in one conversation, and our own echo was not delivered */
  amm_test_spin (700);
  g_assert_cmpuint (w->received->len, ==, 0);
  send_as (server, BOB, NULL, m1->thread_id, "reply");
  wait_received (w, 1);
  amm_test_spin (300);
  g_assert_cmpuint (w->received->len, ==, 1);
  g_assert_cmpstr (got (w, 0)->body, ==, "reply");
  g_assert_cmpstr (got (w, 0)->thread_id, ==, m1->thread_id);
  amm_message_unref (m1);
  amm_message_unref (m2);
  finish (w);
}

static void
test_from_self_other_device (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start (NULL, NULL);
  AmmClient *c = connected_client (server, ALICE, "alice-pw", NULL);
  Watch *w = watch (c);
  amm_client_start_sync (c, NULL);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));
  /* alice on another device */
  send_as (server, ALICE, BOB, NULL, "from my phone");
  wait_received (w, 1);
  g_assert_true (got (w, 0)->from_self);
  g_assert_cmpstr (got (w, 0)->from, ==, ALICE);

  /* and alice's second client, a real AmmClient */
  AmmClient *other = connected_client (server, ALICE, "alice-pw", NULL);
  AmmMessage *m = send_text (other, got (w, 0)->thread_id, NULL, "from my laptop");
  wait_received (w, 2);
  g_assert_true (got (w, 1)->from_self);
  g_assert_cmpstr (got (w, 1)->id, ==, m->id);
  amm_message_unref (m);
  g_object_unref (other);
  amm_test_spin (300);
  g_assert_cmpuint (w->received->len, ==, 2);
  finish (w);
}

static gboolean
reup (gpointer d)
{
  Watch *w = d;
  return w->downs >= 1 && w->ups >= 2;
}

static void
check_reconnect (const char *arg)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start (arg, NULL, NULL);
  AmmClient *c = connected_client (server, ALICE, "alice-pw", NULL);
  Watch *w = watch (c);
  amm_client_start_sync (c, NULL);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));
  AmmChannelKind kind = amm_client_get_channel_kind (c);
  guint status = 0;
  JsonNode *n = amm_test_server_control (server, "POST", "/control/drop-channels?user=" ALICE, NULL, &status);
  g_clear_pointer (&n, json_node_unref);
  g_assert_cmpuint (status, ==, 200);
  /* a message sent while the channel is down still arrives */
  send_as (server, BOB, ALICE, NULL, "while reconnecting");
  wait_received (w, 1);
  g_assert_cmpstr (got (w, 0)->body, ==, "while reconnecting");
  g_assert_true (amm_test_wait_for (reup, w, WAIT_MS));
  g_assert_cmpint (amm_client_get_channel_kind (c), ==, kind);
  send_as (server, BOB, NULL, got (w, 0)->thread_id, "after reconnect");
  wait_received (w, 2);
  amm_test_spin (300);
  g_assert_cmpuint (w->received->len, ==, 2);
  g_assert_cmpstr (got (w, 1)->body, ==, "after reconnect");
  g_assert_null (w->lost);
  finish (w);
}

static void test_reconnect_websocket (void) { check_reconnect (NULL); }
static void test_reconnect_sse (void) { check_reconnect ("--no-websocket"); }

static gboolean
is_lost (gpointer data)
{
  return ((Watch *) data)->lost != NULL;
}

static void
test_connection_lost (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start (NULL, NULL);
  AmmClient *c = connected_client (server, ALICE, "alice-pw", NULL);
  amm_client_set_backoff (c, 20, 100, 3);
  Watch *w = watch (c);
  amm_client_start_sync (c, NULL);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));
  amm_test_server_stop (server);
  g_assert_true (amm_test_wait_for (is_lost, w, WAIT_MS));
  g_assert_error (w->lost, AMM_ERROR, AMM_ERROR_CONNECTION_LOST);
  g_assert_cmpuint (w->downs, >=, 1);
  finish (w);
}

static void
on_connect_after_shutdown (GObject *src, GAsyncResult *res, gpointer data)
{
  Op *op = data;
  op->ok = amm_client_connect_finish (AMM_CLIENT (src), res, &op->error);
  op->done = TRUE;
}

static void
test_shutdown_mid_request (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start (NULL, NULL);
  g_autoptr (AmmSettings) s = settings_for (server, ALICE, "alice-pw");

  /* shutdown during connect: the GIO contract holds (CANCELLED), nothing else happens */
  AmmClient *c = new_client (s);
  Watch *w = watch (c);
  Op op = { 0 };
  amm_client_connect_async (c, NULL, on_connect_after_shutdown, &op);
  amm_client_shutdown (c);
  w->shut = TRUE;
  g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
  g_assert_error (op.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&op.error);
  finish (w);

  /* shutdown with a listing and the channel handshake in flight, then drop the client at once */
  c = connected_client (server, ALICE, "alice-pw", NULL);
  w = watch (c);
  send_as (server, BOB, ALICE, NULL, "never seen");
  amm_client_start_sync (c, NULL);
  amm_client_shutdown (c);
  w->shut = TRUE;
  g_signal_handlers_disconnect_by_data (c, w);
  g_object_unref (c); /* freed now: pending callbacks must not touch it */
  amm_test_spin (500);
  g_assert_cmpuint (w->received->len, ==, 0);
  g_ptr_array_unref (w->received);
  g_free (w->cursor);
  g_free (w);

  /* unref without an explicit shutdown: dispose shuts down */
  c = connected_client (server, ALICE, "alice-pw", NULL);
  amm_client_start_sync (c, NULL);
  amm_test_spin (50);
  g_object_unref (c);
  amm_test_spin (300);
}

/* --- pure helpers ------------------------------------------------------------------------------ */

static void
check_status (guint status, const char *body, gint code, const char *message_part)
{
  g_autoptr (GBytes) b = body ? g_bytes_new_static (body, strlen (body)) : NULL;
  g_autoptr (GError) e = amm_http_status_error (status, NULL, b);
  g_assert_error (e, AMM_ERROR, code);
  if (message_part)
    g_assert_nonnull (strstr (e->message, message_part));
  g_assert_null (strstr (e->message, "<html"));
}

static void
test_http_status_errors (void)
{
  const char *err = "{\"errorCode\":\"X\",\"errorMsg\":\"internal\",\"displayMsg\":\"Shown to the user\"}";
  const char *wrapped = "{\"error\":{\"errorMsg\":\"only errorMsg\"}}";
  const char *html = "<html><body>502 Bad Gateway from a proxy</body></html>";
  check_status (401, err, AMM_ERROR_AUTH, "Shown to the user");
  check_status (401, wrapped, AMM_ERROR_AUTH, "only errorMsg");
  check_status (403, NULL, AMM_ERROR_FORBIDDEN, "403");
  check_status (404, html, AMM_ERROR_NOT_FOUND, "404");
  check_status (406, NULL, AMM_ERROR_NOT_ACCEPTABLE, NULL);
  check_status (413, err, AMM_ERROR_TOO_LARGE, "Shown to the user");
  check_status (429, NULL, AMM_ERROR_RATE_LIMITED, "429");
  check_status (400, html, AMM_ERROR_REJECTED, "400");
  check_status (502, html, AMM_ERROR_SERVER, "502");
  check_status (503, NULL, AMM_ERROR_SERVER, "503");

  g_autoptr (GError) e = NULL;
  g_autoptr (GBytes) b = g_bytes_new_static (html, strlen (html));
  g_assert_null (amm_http_parse_json (b, &e));
  g_assert_error (e, AMM_ERROR, AMM_ERROR_MALFORMED);
  g_assert_null (strstr (e->message, "<html"));

  g_autofree char *auth = amm_http_basic_auth ("alice@example.com", "alice-pw");
  g_assert_cmpstr (auth, ==, "Basic YWxpY2VAZXhhbXBsZS5jb206YWxpY2UtcHc=");
  g_autofree char *u = amm_http_uri_add_query ("https://h:8443/aem/conversations", "after", "2026-11-27T07:45:40.728Z");
  g_assert_cmpstr (u, ==, "https://h:8443/aem/conversations?after=2026-11-27T07%3A45%3A40.728Z");
  g_autofree char *u2 = amm_http_uri_add_query ("https://h/c?x=1", "after", "a b");
  g_assert_cmpstr (u2, ==, "https://h/c?x=1&after=a%20b");
}

static void
test_backoff (void)
{
  AmmBackoff b;
  amm_backoff_init (&b, 1000, 60000, 5);
  for (int i = 0; i < 100; i++) {
    guint d = amm_backoff_delay_ms (&b, 0);
    g_assert_cmpuint (d, >=, 500);
    g_assert_cmpuint (d, <=, 1000);
  }
  g_assert_false (amm_backoff_fail (&b)); /* 1 */
  guint d = amm_backoff_delay_ms (&b, 0);
  g_assert_cmpuint (d, >=, 1000);
  g_assert_cmpuint (d, <=, 2000);
  g_assert_cmpuint (amm_backoff_delay_ms (&b, 5000), >=, 5000); /* Retry-After wins */
  g_assert_false (amm_backoff_fail (&b));
  g_assert_false (amm_backoff_fail (&b));
  g_assert_false (amm_backoff_fail (&b));
  g_assert_true (amm_backoff_fail (&b)); /* 5 */
  amm_backoff_init (&b, 1000, 60000, 0);
  for (int i = 0; i < 30; i++)
    g_assert_false (amm_backoff_fail (&b));
  g_assert_cmpuint (amm_backoff_delay_ms (&b, 0), <=, 60000);
  g_assert_cmpuint (amm_backoff_delay_ms (&b, 0), >=, 30000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/client/http/status-errors", test_http_status_errors);
  g_test_add_func ("/client/backoff", test_backoff);
  g_test_add_func ("/client/connect/3.2", test_connect_32);
  g_test_add_func ("/client/connect/3", test_connect_3);
  g_test_add_func ("/client/connect/2.1", test_connect_21);
  g_test_add_func ("/client/connect/forced-version", test_connect_forced);
  g_test_add_func ("/client/connect/wrong-password", test_connect_wrong_password);
  g_test_add_func ("/client/connect/no-server", test_connect_no_server);
  g_test_add_func ("/client/connect/invalid-settings", test_invalid_settings);
  g_test_add_func ("/client/tls/ca-file", test_tls_ca_file);
  g_test_add_func ("/client/tls/untrusted", test_tls_untrusted);
  g_test_add_func ("/client/sync/websocket", test_sync_websocket);
  g_test_add_func ("/client/sync/api3", test_sync_api3);
  g_test_add_func ("/client/sync/sse", test_sync_sse);
  g_test_add_func ("/client/sync/long-poll", test_sync_long_poll);
  g_test_add_func ("/client/sync/poll", test_sync_poll);
  g_test_add_func ("/client/sync/first-login", test_sync_first_login);
  g_test_add_func ("/client/sync/resume", test_sync_resume);
  g_test_add_func ("/client/sync/paging", test_sync_paging);
  g_test_add_func ("/client/sync/no-needless-paging", test_sync_no_needless_paging);
  g_test_add_func ("/client/sync/no-paging-at-cursor", test_sync_no_paging_at_cursor);
  g_test_add_func ("/client/sync/big/3.2", test_big_sync_32);
  g_test_add_func ("/client/sync/big/3", test_big_sync_3);
  g_test_add_func ("/client/sync/big/2.1", test_big_sync_21);
  g_test_add_func ("/client/sync/big/no-ids", test_big_sync_no_ids);
  g_test_add_func ("/client/sync/big/chunk-fails", test_big_sync_chunk_fails);
  g_test_add_func ("/client/sync/big/chunk-halves", test_big_sync_chunk_halves);
  g_test_add_func ("/client/sync/cache-newest-only", test_cache_newest_only);
  g_test_add_func ("/client/send/new-then-reuse", test_send_and_reuse);
  g_test_add_func ("/client/sync/from-self", test_from_self_other_device);
  g_test_add_func ("/client/reconnect/websocket", test_reconnect_websocket);
  g_test_add_func ("/client/reconnect/sse", test_reconnect_sse);
  g_test_add_func ("/client/reconnect/lost", test_connection_lost);
  g_test_add_func ("/client/shutdown/mid-request", test_shutdown_mid_request);
  return g_test_run ();
}
