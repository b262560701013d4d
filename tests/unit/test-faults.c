/* test-faults.c: the client core against the test server's fault switches
 * (tests/amm-server/README.md "Fault switches", docs/reliability.md "Faults").
 *
 * Every fault must end in a clear AMM_ERROR or be ridden out, and lose nothing: listings are
 * retried (honouring Retry-After) without advancing the cursor, garbage on the channel never
 * crashes it, a hung answer hits the request timeout, a failed send is reported, and a send
 * whose outcome is unknown is neither lost nor stored twice.
 *
 * Run: AMM_SERVER=build/amm-server build/tests/test-faults
 */
#include <gio/gio.h>
#include <string.h>
#include "amm-client.h"
#include "amm-protocol.h"
#include "amm-send.h"
#include "amm-test-server.h"
#include "amm-test-loop.h"

#define ALICE "alice@example.com"
#define BOB   "bob@example.com"
#define CAROL "carol@example.com"
#define WAIT_MS 15000

/* --- the server's fault switches ----------------------------------------------------------- */

static void
fault (AmmTestServer *s, const char *json)
{
  guint status = 0;
  JsonNode *n = amm_test_server_control (s, "POST", "/control/fault", json, &status);
  g_assert_cmpuint (status, ==, 200);
  g_clear_pointer (&n, json_node_unref);
}

static void
clear_faults (AmmTestServer *s)
{
  guint status = 0;
  JsonNode *n = amm_test_server_control (s, "DELETE", "/control/fault", NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_clear_pointer (&n, json_node_unref);
}

/* Hits of every fault so far. */
static gint64
fault_hits (AmmTestServer *s)
{
  guint status = 0;
  JsonNode *n = amm_test_server_control (s, "GET", "/control/fault", NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  JsonArray *a = json_object_get_array_member (json_node_get_object (n), "faults");
  gint64 hits = 0;
  for (guint i = 0; i < json_array_get_length (a); i++)
    hits += json_object_get_int_member (json_array_get_object_element (a, i), "hits");
  json_node_unref (n);
  return hits;
}

typedef struct {
  AmmTestServer *s;
  gint64 n;
} Hits;

static gboolean
has_hits (gpointer data)
{
  Hits *h = data;
  return fault_hits (h->s) >= h->n;
}

static void
wait_hits (AmmTestServer *s, gint64 n)
{
  Hits h = { s, n };
  g_assert_true (amm_test_wait_for (has_hits, &h, WAIT_MS));
}

static guint
server_count_body (AmmTestServer *s, const char *user, const char *body)
{
  JsonNode *n = amm_test_server_messages (s, user);
  JsonArray *a = json_node_get_array (n);
  guint count = 0;
  for (guint i = 0; i < json_array_get_length (a); i++)
    if (g_strcmp0 (json_object_get_string_member_with_default (json_array_get_object_element (a, i), "body", ""),
                   body) == 0)
      count++;
  json_node_unref (n);
  return count;
}

/* --- a watched client ------------------------------------------------------------------------ */

typedef struct {
  AmmClient *client;
  GPtrArray *bodies;     /* char*: MESSAGE bodies delivered, in order */
  guint      from_self;  /* of them, flagged as sent from another device */
  char      *thread_id;  /* of the last delivery */
  char      *cursor;
  guint      ups, downs;
  GError    *lost;
} Watch;

static void
on_message (AmmClient *c, AmmConversation *conv, AmmMessage *msg, gboolean from_self, gpointer data)
{
  Watch *w = data;
  if (msg->event_type != AMM_EVENT_MESSAGE)
    return;
  g_ptr_array_add (w->bodies, g_strdup (msg->body));
  if (from_self)
    w->from_self++;
  g_free (w->thread_id);
  w->thread_id = g_strdup (msg->thread_id);
}

static void
on_cursor (AmmClient *c, const char *cursor, gpointer data)
{
  Watch *w = data;
  g_free (w->cursor);
  w->cursor = g_strdup (cursor);
}

static void
on_channel (AmmClient *c, guint kind, gboolean up, gpointer data)
{
  Watch *w = data;
  if (up)
    w->ups++;
  else
    w->downs++;
}

static void
on_lost (AmmClient *c, GError *error, gpointer data)
{
  Watch *w = data;
  g_clear_error (&w->lost);
  w->lost = g_error_copy (error);
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

static AmmClient *
new_client (AmmTestServer *server, const char *user, const char *password)
{
  g_autoptr (AmmSettings) s = amm_settings_new ();
  s->username = g_strdup (user);
  s->password = g_strdup (password);
  s->host = g_strdup ("127.0.0.1");
  s->port = amm_test_server_get_port (server);
  s->use_tls = FALSE;
  g_autoptr (GError) error = NULL;
  AmmClient *c = amm_client_new (s, &error);
  g_assert_no_error (error);
  amm_client_set_backoff (c, 50, 400, 8);
  return c;
}

static AmmClient *
connected_client (AmmTestServer *server, const char *user, const char *password)
{
  AmmClient *c = new_client (server, user, password);
  Op op = { 0 };
  amm_client_connect_async (c, NULL, on_connect, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
  g_assert_no_error (op.error);
  return c;
}

static gboolean
is_up (gpointer data)
{
  Watch *w = data;
  return amm_client_get_channel_kind (w->client) != AMM_CHANNEL_NONE && w->cursor != NULL;
}

/* alice, syncing from `cursor` (NULL: first login), channel up. */
static Watch *
watch_alice (AmmTestServer *server, const char *cursor)
{
  Watch *w = g_new0 (Watch, 1);
  w->client = connected_client (server, ALICE, "alice-pw");
  w->bodies = g_ptr_array_new_with_free_func (g_free);
  w->cursor = g_strdup (cursor);
  g_signal_connect (w->client, "message-received", G_CALLBACK (on_message), w);
  g_signal_connect (w->client, "cursor-changed", G_CALLBACK (on_cursor), w);
  g_signal_connect (w->client, "channel-changed", G_CALLBACK (on_channel), w);
  g_signal_connect (w->client, "connection-lost", G_CALLBACK (on_lost), w);
  amm_client_start_sync (w->client, cursor);
  g_assert_true (amm_test_wait_for (is_up, w, WAIT_MS));
  return w;
}

static void
unwatch (Watch *w)
{
  amm_client_shutdown (w->client);
  g_signal_handlers_disconnect_by_data (w->client, w);
  g_object_unref (w->client);
  g_ptr_array_unref (w->bodies);
  g_free (w->thread_id);
  g_free (w->cursor);
  g_clear_error (&w->lost);
  g_free (w);
}

typedef struct {
  Watch *w;
  guint  n;
} Count;

static gboolean
has_n (gpointer data)
{
  Count *c = data;
  return c->w->bodies->len >= c->n;
}

static gboolean
wait_bodies (Watch *w, guint n, guint timeout_ms)
{
  Count c = { w, n };
  return amm_test_wait_for (has_n, &c, timeout_ms);
}

static guint
count_body (Watch *w, const char *body)
{
  guint n = 0;
  for (guint i = 0; i < w->bodies->len; i++)
    if (g_strcmp0 (g_ptr_array_index (w->bodies, i), body) == 0)
      n++;
  return n;
}

static char *
send_as (AmmTestServer *s, const char *from, const char *to, const char *thread_id, const char *body)
{
  const char *tos[] = { to, NULL };
  JsonNode *n = amm_test_server_send (s, from, thread_id ? NULL : tos, thread_id, body);
  g_assert_nonnull (n);
  char *tid = g_strdup (json_object_get_string_member (json_node_get_object (n), "threadId"));
  json_node_unref (n);
  return tid;
}

static void
on_list (GObject *src, GAsyncResult *res, gpointer data)
{
  Op *op = data;
  op->result = amm_client_list_conversations_finish (AMM_CLIENT (src), res, &op->error);
  op->done = TRUE;
}

/* One direct listing; its error (NULL on success). */
static GError *
list_once (AmmClient *c, gint64 *elapsed_ms)
{
  Op op = { 0 };
  gint64 t0 = g_get_monotonic_time ();
  amm_client_list_conversations_async (c, NULL, NULL, on_list, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, 30000));
  if (elapsed_ms)
    *elapsed_ms = (g_get_monotonic_time () - t0) / 1000;
  g_clear_pointer ((AmmConversationList **) &op.result, amm_conversation_list_unref);
  return op.error;
}

static void
on_sent (GObject *src, GAsyncResult *res, gpointer data)
{
  Op *op = data;
  op->result = amm_client_send_text_finish (AMM_CLIENT (src), res, &op->error);
  op->done = TRUE;
}

/* Send as the client; the stored message (or NULL and *error). */
static AmmMessage *
send_text (AmmClient *c, const char *thread_id, const char *to, const char *body, GError **error)
{
  Op op = { 0 };
  const char *tos[] = { to, NULL };
  amm_client_send_text_async (c, thread_id, to ? tos : NULL, body, NULL, on_sent, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, 60000));
  if (op.error)
    g_propagate_error (error, op.error);
  return op.result;
}

/* --- listings: 5xx and 429 ------------------------------------------------------------------- */

/* The incremental listing (3.2: POST C) fails `count` times with `json`; the message sent
 * meanwhile arrives once afterwards, the cursor did not move while the listing failed, and
 * the retries waited at least `min_ms` in all. */
static void
check_listing_fault (const char *json, guint count, gint64 min_ms)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  Watch *w = watch_alice (server, NULL);
  g_autofree char *cursor = g_strdup (w->cursor);
  fault (server, json);
  gint64 t0 = g_get_monotonic_time ();
  g_autofree char *tid = send_as (server, BOB, ALICE, NULL, "through the fault");
  wait_hits (server, 1);
  g_assert_cmpuint (w->bodies->len, ==, 0);
  g_assert_cmpstr (w->cursor, ==, cursor);   /* a failed listing never advances the cursor */
  g_assert_true (wait_bodies (w, 1, WAIT_MS));
  gint64 took_ms = (g_get_monotonic_time () - t0) / 1000;
  g_test_message ("delivered %" G_GINT64_FORMAT " ms after the send (%u failures)", took_ms, count);
  g_assert_cmpint (fault_hits (server), ==, count);
  g_assert_cmpint (took_ms, >=, min_ms);
  amm_test_spin (300);
  g_assert_cmpuint (count_body (w, "through the fault"), ==, 1);
  g_assert_cmpstr (w->cursor, !=, cursor);
  g_assert_null (w->lost);
  unwatch (w);
}

static void
test_listing_503_retry_after (void)
{
  check_listing_fault ("{\"name\":\"status\",\"status\":503,\"retryAfter\":1,\"count\":2,"
                       "\"path\":\"/aem/conversations\",\"method\":\"POST\"}", 2, 1900);
}

static void
test_listing_429_retry_after (void)
{
  check_listing_fault ("{\"name\":\"status\",\"status\":429,\"retryAfter\":2,\"count\":1,"
                       "\"path\":\"/aem/conversations\",\"method\":\"POST\"}", 1, 1900);
}

static void
test_listing_500 (void)
{
  check_listing_fault ("{\"name\":\"status\",\"status\":500,\"count\":3,"
                       "\"path\":\"/aem/conversations\",\"method\":\"POST\"}", 3, 0);
}

/* Faulted until cleared: nothing is delivered and the cursor stays; after the clear the
 * message comes, once. */
static void
test_listing_until_cleared (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  Watch *w = watch_alice (server, NULL);
  g_autofree char *cursor = g_strdup (w->cursor);
  fault (server, "{\"name\":\"status\",\"status\":503,\"path\":\"/aem/conversations\",\"method\":\"POST\"}");
  g_autofree char *tid = send_as (server, BOB, ALICE, NULL, "held back");
  wait_hits (server, 4);   /* retried with back-off, again and again */
  g_assert_cmpuint (w->bodies->len, ==, 0);
  g_assert_cmpstr (w->cursor, ==, cursor);
  g_assert_null (w->lost);  /* a failing listing never gives up the connection */
  clear_faults (server);
  g_assert_true (wait_bodies (w, 1, WAIT_MS));
  amm_test_spin (300);
  g_assert_cmpuint (count_body (w, "held back"), ==, 1);
  unwatch (w);
}

/* --- answers that are not AMM documents ----------------------------------------------------- */

/* A direct listing under `json` fails with `code`; the error text contains `needle`; then the
 * same fault (`count` times) during sync is ridden out. */
static void
check_bad_answer (const char *json, AmmErrorCode code, const char *needle)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  AmmClient *c = connected_client (server, ALICE, "alice-pw");
  g_autofree char *once = g_strdup_printf ("{%s,\"count\":1}", json);
  fault (server, once);
  GError *error = list_once (c, NULL);
  g_assert_error (error, AMM_ERROR, (gint) code);
  g_test_message ("error: %s", error->message);
  g_assert_nonnull (strstr (error->message, needle));
  g_assert_null (strstr (error->message, "<html"));   /* never the page itself */
  g_assert_null (strstr (error->message, "<!DOCTYPE"));
  g_clear_error (&error);
  g_assert_null (list_once (c, NULL));   /* the next one is fine */
  g_object_unref (c);

  /* during sync: retried later, nothing lost or repeated */
  Watch *w = watch_alice (server, NULL);
  g_autofree char *twice = g_strdup_printf ("{%s,\"count\":2}", json);
  fault (server, twice);
  gint64 hits = fault_hits (server);
  g_autofree char *tid = send_as (server, BOB, ALICE, NULL, "after a bad answer");
  wait_hits (server, hits + 2);
  g_assert_true (wait_bodies (w, 1, WAIT_MS));
  amm_test_spin (300);
  g_assert_cmpuint (count_body (w, "after a bad answer"), ==, 1);
  g_assert_cmpuint (w->bodies->len, ==, 1);
  g_assert_null (w->lost);
  unwatch (w);
}

#define LISTING "\"path\":\"/aem/conversations\",\"method\":\"POST\""

static void
test_truncated_body (void)
{
  check_bad_answer ("\"name\":\"truncate\"," LISTING, AMM_ERROR_NETWORK, "127.0.0.1");
}

static void
test_html_200 (void)
{
  check_bad_answer ("\"name\":\"html\",\"status\":200," LISTING, AMM_ERROR_MALFORMED, "HTML page");
}

static void
test_html_502 (void)
{
  check_bad_answer ("\"name\":\"html\",\"status\":502," LISTING, AMM_ERROR_SERVER, "HTTP 502");
}

static void
test_wrong_content_type (void)
{
  check_bad_answer ("\"name\":\"content-type\",\"contentType\":\"text/plain\"," LISTING, AMM_ERROR_MALFORMED,
                    "text/plain");
}

static void
test_malformed_json (void)
{
  check_bad_answer ("\"name\":\"bad-json\"," LISTING, AMM_ERROR_MALFORMED, "not valid JSON");
}

/* --- timeouts ------------------------------------------------------------------------------------ */

static void
check_timeout (const char *json)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  AmmClient *c = connected_client (server, ALICE, "alice-pw");
  amm_client_set_request_timeout (c, 1000);
  fault (server, json);
  gint64 ms = 0;
  GError *error = list_once (c, &ms);
  g_assert_error (error, AMM_ERROR, AMM_ERROR_TIMEOUT);
  g_test_message ("timed out after %" G_GINT64_FORMAT " ms: %s", ms, error->message);
  g_assert_cmpint (ms, >=, 900);
  g_assert_cmpint (ms, <, 5000);
  g_clear_error (&error);
  clear_faults (server);
  g_assert_null (list_once (c, NULL));
  g_object_unref (c);
}

static void
test_trickle_timeout (void)
{
  check_timeout ("{\"name\":\"trickle\",\"bytesPerSecond\":1," LISTING "}");
}

static void
test_stall_timeout (void)
{
  check_timeout ("{\"name\":\"stall\"," LISTING "}");
}

/* --- the notification channel ---------------------------------------------------------------- */

static void
garbage (AmmTestServer *s, const char *frame, guint size)
{
  g_autofree char *json = g_strdup_printf ("{\"name\":\"ws-garbage\",\"frame\":\"%s\",\"user\":\"" ALICE
                                           "\",\"count\":3,\"size\":%u}", frame, size);
  guint status = 0;
  JsonNode *n = amm_test_server_control (s, "POST", "/control/fault", json, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (n), "sent"), ==, 3);
  json_node_unref (n);
}

static gboolean
reconnected (gpointer data)
{
  Watch *w = data;
  return w->downs >= 1 && w->ups >= 2;
}

static void
check_garbage (gboolean sse)
{
  g_autoptr (AmmTestServer) server = sse ? amm_test_server_start ("--no-websocket", NULL)
                                         : amm_test_server_startv (NULL);
  Watch *w = watch_alice (server, NULL);
  const char *frames[] = { "text", "binary", "unknown-key", "truncated-json" };
  for (guint i = 0; i < G_N_ELEMENTS (frames); i++)
    garbage (server, frames[i], 0);
  amm_test_spin (300);
  g_assert_cmpuint (w->downs, ==, 0);   /* ignored: the channel stays */
  g_autofree char *tid = send_as (server, BOB, ALICE, NULL, "after garbage");
  g_assert_true (wait_bodies (w, 1, WAIT_MS));
  /* a frame over the client's cap (1 MiB) closes the channel; it is reopened */
  garbage (server, "huge", 2 << 20);
  if (!sse)
    g_assert_true (amm_test_wait_for (reconnected, w, WAIT_MS));
  g_free (send_as (server, BOB, NULL, tid, "after a huge frame"));
  g_assert_true (wait_bodies (w, 2, WAIT_MS));
  amm_test_spin (300);
  g_assert_cmpuint (w->bodies->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (w->bodies, 1), ==, "after a huge frame");
  g_assert_null (w->lost);
  unwatch (w);
}

static void test_garbage_websocket (void) { check_garbage (FALSE); }
static void test_garbage_sse (void) { check_garbage (TRUE); }

/* --- login -------------------------------------------------------------------------------------- */

static void
test_login_503 (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  fault (server, "{\"name\":\"status\",\"status\":503,\"retryAfter\":5,\"path\":\"/aem/resources\",\"count\":1}");
  AmmClient *c = new_client (server, ALICE, "alice-pw");
  Op op = { 0 };
  amm_client_connect_async (c, NULL, on_connect, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
  g_assert_error (op.error, AMM_ERROR, AMM_ERROR_SERVER);
  g_assert_true (amm_error_is_transient (op.error));   /* the plugin reports a network error */
  g_clear_error (&op.error);
  /* and the next attempt works */
  Op op2 = { 0 };
  amm_client_connect_async (c, NULL, on_connect, &op2);
  g_assert_true (amm_test_wait_for (op_done, &op2, WAIT_MS));
  g_assert_no_error (op2.error);
  g_object_unref (c);
}

static void
test_login_html (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  fault (server, "{\"name\":\"html\",\"status\":502,\"path\":\"/aem/resources\",\"count\":1}");
  AmmClient *c = new_client (server, ALICE, "alice-pw");
  Op op = { 0 };
  amm_client_connect_async (c, NULL, on_connect, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
  g_assert_error (op.error, AMM_ERROR, AMM_ERROR_SERVER);
  g_assert_true (amm_error_is_transient (op.error));
  g_clear_error (&op.error);
  g_object_unref (c);
}

/* --- sends ---------------------------------------------------------------------------------------- */

#define OUTBOX "\"path\":\"/aem/outbox\""

/* A 5xx answer is a definite failure: reported to the caller, not resent, nothing stored. */
static void
check_send_status (guint status)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  Watch *w = watch_alice (server, NULL);
  g_autofree char *tid = send_as (server, BOB, ALICE, NULL, "hi");
  g_assert_true (wait_bodies (w, 1, WAIT_MS));
  g_autofree char *json = g_strdup_printf ("{\"name\":\"status\",\"status\":%u,\"count\":1," OUTBOX "}", status);
  fault (server, json);
  GError *error = NULL;
  AmmMessage *m = send_text (w->client, tid, NULL, "refused", &error);
  g_assert_null (m);
  g_assert_error (error, AMM_ERROR, AMM_ERROR_SERVER);
  g_test_message ("send error: %s", error->message);
  g_clear_error (&error);
  g_assert_cmpint (fault_hits (server), ==, 1);   /* not resent */
  g_assert_cmpuint (server_count_body (server, ALICE, "refused"), ==, 0);
  /* the next send goes through */
  m = send_text (w->client, tid, NULL, "accepted", &error);
  g_assert_no_error (error);
  amm_message_unref (m);
  unwatch (w);
}

static void test_send_500 (void) { check_send_status (500); }
static void test_send_502 (void) { check_send_status (502); }

/* 503 and 429 say "not processed, come back later": posted again after Retry-After, stored
 * once; when they go on, the caller gets the error after AMM_SEND_MAX_POSTS posts. */
static void
check_send_come_back (guint status)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  Watch *w = watch_alice (server, NULL);
  g_autofree char *tid = send_as (server, BOB, ALICE, NULL, "hi");
  g_assert_true (wait_bodies (w, 1, WAIT_MS));
  g_autofree char *once = g_strdup_printf ("{\"name\":\"status\",\"status\":%u,\"retryAfter\":1,\"count\":1," OUTBOX "}",
                                           status);
  fault (server, once);
  GError *error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  AmmMessage *m = send_text (w->client, tid, NULL, "later", &error);
  g_assert_no_error (error);
  g_assert_cmpint ((g_get_monotonic_time () - t0) / 1000, >=, 950);   /* Retry-After honoured */
  amm_message_unref (m);
  g_assert_cmpuint (server_count_body (server, ALICE, "later"), ==, 1);
  clear_faults (server);
  g_autofree char *always = g_strdup_printf ("{\"name\":\"status\",\"status\":%u," OUTBOX "}", status);
  fault (server, always);
  m = send_text (w->client, tid, NULL, "refused", &error);
  g_assert_null (m);
  gint want = status == 429 ? (gint) AMM_ERROR_RATE_LIMITED : (gint) AMM_ERROR_SERVER;
  g_assert_error (error, AMM_ERROR, want);
  g_test_message ("send error: %s", error->message);
  g_clear_error (&error);
  g_assert_cmpint (fault_hits (server), ==, AMM_SEND_MAX_POSTS);   /* the first fault was cleared */
  g_assert_cmpuint (server_count_body (server, ALICE, "refused"), ==, 0);
  unwatch (w);
}

static void test_send_503 (void) { check_send_come_back (503); }
static void test_send_429 (void) { check_send_come_back (429); }

/* amm_client_shutdown() while a send waits out a 503's Retry-After: the send completes at
 * once (from an idle, not inside the shutdown) with G_IO_ERROR_CANCELLED, and the retry
 * timer never fires afterwards. */
static void
test_send_shutdown_in_retry_after (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  Watch *w = watch_alice (server, NULL);
  g_autofree char *tid = send_as (server, BOB, ALICE, NULL, "hi");
  g_assert_true (wait_bodies (w, 1, WAIT_MS));
  fault (server, "{\"name\":\"status\",\"status\":503,\"retryAfter\":3,\"count\":1," OUTBOX "}");
  Op op = { 0 };
  amm_client_send_text_async (w->client, tid, NULL, "never posted again", NULL, on_sent, &op);
  wait_hits (server, 1);
  amm_test_spin (300);                      /* the 503 is in: the retry timer waits */
  g_assert_false (op.done);
  gint64 t0 = g_get_monotonic_time ();
  amm_client_shutdown (w->client);
  g_assert_false (op.done);        /* never completed from inside the cancel */
  g_assert_true (amm_test_wait_for (op_done, &op, 1000));
  g_assert_cmpint ((g_get_monotonic_time () - t0) / 1000, <, 1000);
  g_assert_null (op.result);
  g_assert_error (op.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&op.error);
  amm_test_spin (3500);                     /* past Retry-After: no timer fires (it would use op) */
  g_assert_cmpint (fault_hits (server), ==, 1);
  g_assert_cmpuint (server_count_body (server, ALICE, "never posted again"), ==, 0);
  unwatch (w);
}

/* The connection dies after the server stored the message (store-reset) or before (reset),
 * or the answer is held past the timeout (stall): the send completes, the message is stored
 * exactly once, and alice's own listing does not show it back to her. `new_conv`: a send that
 * starts a conversation (no threadId to look in). */
static void
check_unknown_outcome (const char *json, gboolean new_conv, guint timeout_ms)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  Watch *w = watch_alice (server, NULL);
  g_autofree char *tid = send_as (server, BOB, ALICE, NULL, "hello");
  g_assert_true (wait_bodies (w, 1, WAIT_MS));
  if (timeout_ms)
    amm_client_set_request_timeout (w->client, timeout_ms);
  const char *body = new_conv ? "first words" : "maybe twice?";
  fault (server, json);
  GError *error = NULL;
  AmmMessage *m = send_text (w->client, new_conv ? NULL : tid, new_conv ? CAROL : NULL, body, &error);
  g_assert_no_error (error);
  g_assert_nonnull (m);
  g_assert_nonnull (m->id);
  g_assert_cmpstr (m->body, ==, body);
  g_assert_cmpint (fault_hits (server), ==, 1);
  amm_client_set_request_timeout (w->client, 0);
  clear_faults (server);
  g_assert_cmpuint (server_count_body (server, ALICE, body), ==, 1);
  /* a message from bob afterwards arrives; alice's own send is not delivered back to her */
  g_free (send_as (server, BOB, NULL, tid, "next"));
  g_assert_true (wait_bodies (w, 2, WAIT_MS));
  amm_test_spin (300);
  g_assert_cmpuint (count_body (w, body), ==, 0);
  g_assert_cmpuint (w->from_self, ==, 0);
  g_assert_cmpuint (w->bodies->len, ==, 2);
  /* and the new conversation is known, for the next IM to carol to reuse */
  if (new_conv) {
    AmmConversation *direct = amm_client_find_direct_conversation (w->client, CAROL);
    g_assert_nonnull (direct);
    g_assert_cmpstr (direct->id, ==, m->thread_id);
  }
  amm_message_unref (m);
  unwatch (w);
}

static void
test_send_store_then_reset (void)
{
  check_unknown_outcome ("{\"name\":\"store-reset\",\"count\":1," OUTBOX "}", FALSE, 0);
}

static void
test_send_reset_before_store (void)
{
  check_unknown_outcome ("{\"name\":\"reset\",\"count\":1," OUTBOX "}", FALSE, 0);
}

static void
test_send_store_then_reset_new (void)
{
  check_unknown_outcome ("{\"name\":\"store-reset\",\"count\":1," OUTBOX "}", TRUE, 0);
}

static void
test_send_reset_before_store_new (void)
{
  check_unknown_outcome ("{\"name\":\"reset\",\"count\":1," OUTBOX "}", TRUE, 0);
}

static void
test_send_stall_timeout (void)
{
  check_unknown_outcome ("{\"name\":\"stall\",\"ms\":4000,\"count\":1," OUTBOX "}", FALSE, 1000);
}

static void
test_send_truncated_answer (void)
{
  check_unknown_outcome ("{\"name\":\"truncate\",\"count\":1," OUTBOX "}", FALSE, 0);
}

/* The same text twice in a row, the second one's outcome unknown: found is the second, not
 * the first (already claimed), so nothing is lost. */
static void
test_send_same_text_twice (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  Watch *w = watch_alice (server, NULL);
  g_autofree char *tid = send_as (server, BOB, ALICE, NULL, "hello");
  g_assert_true (wait_bodies (w, 1, WAIT_MS));
  GError *error = NULL;
  g_autoptr (AmmMessage) first = send_text (w->client, tid, NULL, "ok", &error);
  g_assert_no_error (error);
  fault (server, "{\"name\":\"reset\",\"count\":1," OUTBOX "}");
  g_autoptr (AmmMessage) second = send_text (w->client, tid, NULL, "ok", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (first->id, !=, second->id);
  g_assert_cmpuint (server_count_body (server, ALICE, "ok"), ==, 2);
  unwatch (w);
}

/* Every attempt dies before storing: after AMM_SEND_MAX_POSTS posts the caller gets an error
 * that says so, and nothing was stored. */
static void
test_send_resend_fails_too (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  Watch *w = watch_alice (server, NULL);
  g_autofree char *tid = send_as (server, BOB, ALICE, NULL, "hello");
  g_assert_true (wait_bodies (w, 1, WAIT_MS));
  fault (server, "{\"name\":\"reset\"," OUTBOX "}");
  GError *error = NULL;
  AmmMessage *m = send_text (w->client, tid, NULL, "never", &error);
  g_assert_null (m);
  g_assert_error (error, AMM_ERROR, AMM_ERROR_NETWORK);
  g_test_message ("send error: %s", error->message);
  g_assert_nonnull (strstr (error->message, "could not be sent"));
  g_clear_error (&error);
  g_assert_cmpint (fault_hits (server), ==, AMM_SEND_MAX_POSTS);
  g_assert_cmpuint (server_count_body (server, ALICE, "never"), ==, 0);
  unwatch (w);
}

/* The server goes away during the send: the message was stored, its answer held, then the
 * server restarts (state kept) and is away for 1.5 s. The client keeps asking until it is back,
 * finds the stored message and does not send it again. */
static void
test_send_across_restart (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  Watch *w = watch_alice (server, NULL);
  g_autofree char *tid = send_as (server, BOB, ALICE, NULL, "hello");
  g_assert_true (wait_bodies (w, 1, WAIT_MS));
  fault (server, "{\"name\":\"stall\",\"count\":1," OUTBOX "}");
  Op op = { 0 };
  amm_client_send_text_async (w->client, tid, NULL, "across a restart", NULL, on_sent, &op);
  wait_hits (server, 1);
  fault (server, "{\"name\":\"restart\",\"downMs\":1500}");
  g_assert_true (amm_test_wait_for (op_done, &op, 30000));
  g_assert_no_error (op.error);
  amm_message_unref (op.result);
  g_assert_cmpuint (server_count_body (server, ALICE, "across a restart"), ==, 1);
  unwatch (w);
}

/* --- quitting mid-sync --------------------------------------------------------------------- */

/* The page requests of a resumed sync hang; the client is shut down mid-sync; a new client
 * from the stored cursor delivers everything once: the cursor was not saved early. */
static void
test_quit_mid_sync (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--max-message-count", "5", NULL);
  Watch *w = watch_alice (server, NULL);
  g_autofree char *tid = send_as (server, BOB, ALICE, NULL, "m0");
  g_assert_true (wait_bodies (w, 1, WAIT_MS));
  amm_test_spin (200);
  g_autofree char *cursor = g_strdup (w->cursor);
  unwatch (w);

  for (guint i = 1; i <= 23; i++) {
    g_autofree char *body = g_strdup_printf ("m%u", i);
    g_free (send_as (server, BOB, NULL, tid, body));
  }
  /* a page request (GET C/{id}?beforeId=…) hangs until cleared */
  fault (server, "{\"name\":\"stall\",\"path\":\"/aem/conversations/\",\"method\":\"GET\"}");
  Watch *w1 = g_new0 (Watch, 1);
  w1->client = connected_client (server, ALICE, "alice-pw");
  w1->bodies = g_ptr_array_new_with_free_func (g_free);
  w1->cursor = g_strdup (cursor);
  g_signal_connect (w1->client, "message-received", G_CALLBACK (on_message), w1);
  g_signal_connect (w1->client, "cursor-changed", G_CALLBACK (on_cursor), w1);
  amm_client_start_sync (w1->client, cursor);
  wait_hits (server, 1);
  amm_test_spin (300);
  g_assert_cmpstr (w1->cursor, ==, cursor);   /* nothing covered yet, nothing saved */
  g_autofree char *saved = g_strdup (w1->cursor);
  guint shown_before = w1->bodies->len;
  unwatch (w1);   /* quit mid-sync */
  clear_faults (server);

  Watch *w2 = watch_alice (server, saved);
  g_assert_true (wait_bodies (w2, 23 - shown_before, WAIT_MS));
  amm_test_spin (300);
  g_assert_cmpuint (shown_before + w2->bodies->len, ==, 23);
  for (guint i = 0; i < w2->bodies->len; i++) {
    g_autofree char *want = g_strdup_printf ("m%u", i + 1 + shown_before);
    g_assert_cmpstr (g_ptr_array_index (w2->bodies, i), ==, want);
  }
  unwatch (w2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/faults/listing/503-retry-after", test_listing_503_retry_after);
  g_test_add_func ("/faults/listing/429-retry-after", test_listing_429_retry_after);
  g_test_add_func ("/faults/listing/500", test_listing_500);
  g_test_add_func ("/faults/listing/until-cleared", test_listing_until_cleared);
  g_test_add_func ("/faults/answer/truncated", test_truncated_body);
  g_test_add_func ("/faults/answer/html-200", test_html_200);
  g_test_add_func ("/faults/answer/html-502", test_html_502);
  g_test_add_func ("/faults/answer/wrong-content-type", test_wrong_content_type);
  g_test_add_func ("/faults/answer/malformed-json", test_malformed_json);
  g_test_add_func ("/faults/timeout/trickle", test_trickle_timeout);
  g_test_add_func ("/faults/timeout/stall", test_stall_timeout);
  g_test_add_func ("/faults/channel/garbage-websocket", test_garbage_websocket);
  g_test_add_func ("/faults/channel/garbage-sse", test_garbage_sse);
  g_test_add_func ("/faults/login/503", test_login_503);
  g_test_add_func ("/faults/login/html-502", test_login_html);
  g_test_add_func ("/faults/send/500", test_send_500);
  g_test_add_func ("/faults/send/502", test_send_502);
  g_test_add_func ("/faults/send/503-retry-after", test_send_503);
  g_test_add_func ("/faults/send/429-retry-after", test_send_429);
  g_test_add_func ("/faults/send/shutdown-in-retry-after", test_send_shutdown_in_retry_after);
  g_test_add_func ("/faults/send/store-then-reset", test_send_store_then_reset);
  g_test_add_func ("/faults/send/reset-before-store", test_send_reset_before_store);
  g_test_add_func ("/faults/send/store-then-reset-new-conversation", test_send_store_then_reset_new);
  g_test_add_func ("/faults/send/reset-before-store-new-conversation", test_send_reset_before_store_new);
  g_test_add_func ("/faults/send/stall-past-timeout", test_send_stall_timeout);
  g_test_add_func ("/faults/send/truncated-answer", test_send_truncated_answer);
  g_test_add_func ("/faults/send/same-text-twice", test_send_same_text_twice);
  g_test_add_func ("/faults/send/resend-fails-too", test_send_resend_fails_too);
  g_test_add_func ("/faults/send/across-restart", test_send_across_restart);
  g_test_add_func ("/faults/sync/quit-mid-sync", test_quit_mid_sync);
  return g_test_run ();
}
