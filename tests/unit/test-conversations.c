/* test-conversations.c: amm-conversations.h against the real test server.
 *
 * Run: AMM_SERVER=build/amm-server AMM_TLS_DIR=build/tls build/tests/test-conversations
 * Every wait has a deadline: a test fails, it never hangs.
 */
#include <gio/gio.h>
#include <string.h>
#include "amm-client.h"
#include "amm-conversations.h"
#include "amm-protocol.h"
#include "amm-test-server.h"
#include "amm-test-loop.h"

#define ALICE "alice@example.com"
#define BOB   "bob@example.com"
#define CAROL "carol@example.com"
#define DAVE  "dave@example.com"
#define WAIT_MS 15000

/* --- a client and what it saw ----------------------------------------------------------------- */

typedef struct {
  char        *thread_id;
  char        *id;
  char        *from;
  char        *body;
  AmmEventType event;
} Got;

typedef struct {
  char     *thread_id;
  char     *address;
  guint     state;
} Typing;

typedef struct {
  AmmClient *client;
  GPtrArray *messages;   /* Got* (events included) */
  GPtrArray *changed;    /* char* "thread|subject|active|closed|n-participants" */
  GPtrArray *read;       /* char* message ids */
  GPtrArray *typing;     /* Typing* */
  char      *cursor;
  gboolean   shut;
  guint      after_shutdown;
} Watch;

static void
got_free (Got *g)
{
  g_free (g->thread_id);
  g_free (g->id);
  g_free (g->from);
  g_free (g->body);
  g_free (g);
}

static void
typing_free (Typing *t)
{
  g_free (t->thread_id);
  g_free (t->address);
  g_free (t);
}

static void
on_message (AmmClient *c, AmmConversation *conv, AmmMessage *msg, gboolean from_self, gpointer data)
{
  Watch *w = data;
  w->after_shutdown += w->shut;
  Got *g = g_new0 (Got, 1);
  g->thread_id = g_strdup (msg->thread_id);
  g->id = g_strdup (msg->id);
  g->from = g_strdup (msg->from ? msg->from->address : NULL);
  g->body = g_strdup (msg->body);
  g->event = msg->event_type;
  g_ptr_array_add (w->messages, g);
}

static void
on_changed (AmmClient *c, AmmConversation *conv, gpointer data)
{
  Watch *w = data;
  w->after_shutdown += w->shut;
  g_assert_nonnull (conv);
  g_autoptr (GPtrArray) people = amm_client_get_participants (c, conv->id);
  g_ptr_array_add (w->changed, g_strdup_printf ("%s|%s|%d|%d|%u", conv->id, conv->subject, conv->active,
                                                conv->closed, people ? people->len : 0));
}

static void
on_read (AmmClient *c, AmmConversation *conv, AmmMessage *msg, gpointer data)
{
  Watch *w = data;
  w->after_shutdown += w->shut;
  g_assert_nonnull (conv);
  g_ptr_array_add (w->read, g_strdup (msg->id));
}

static void
on_typing (AmmClient *c, const char *thread_id, const char *address, guint state, gpointer data)
{
  Watch *w = data;
  w->after_shutdown += w->shut;
  Typing *t = g_new0 (Typing, 1);
  t->thread_id = g_strdup (thread_id);
  t->address = g_strdup (address);
  t->state = state;
  g_ptr_array_add (w->typing, t);
}

static void
on_cursor (AmmClient *c, const char *cursor, gpointer data)
{
  Watch *w = data;
  g_free (w->cursor);
  w->cursor = g_strdup (cursor);
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

static const char *
password_of (const char *user)
{
  if (g_str_equal (user, ALICE)) return "alice-pw";
  if (g_str_equal (user, BOB)) return "bob-pw";
  if (g_str_equal (user, CAROL)) return "carol-pw";
  return "dave-pw";
}

static AmmClient *
connected (AmmTestServer *server, const char *user, gboolean sse)
{
  g_autoptr (AmmSettings) s = amm_settings_new ();
  s->username = g_strdup (user);
  s->password = g_strdup (password_of (user));
  s->host = g_strdup ("127.0.0.1");
  s->port = amm_test_server_get_port (server);
  s->use_tls = amm_test_server_is_tls (server);
  s->disable_websocket = sse;
  if (s->use_tls)
    s->ca_file = g_strdup (amm_test_server_get_ca_file (server));
  g_autoptr (GError) error = NULL;
  AmmClient *c = amm_client_new (s, &error);
  g_assert_no_error (error);
  amm_client_set_backoff (c, 50, 400, 5);
  Op op = { 0 };
  amm_client_connect_async (c, NULL, on_connect, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
  g_assert_no_error (op.error);
  return c;
}

static Watch *
watch (AmmClient *c)
{
  Watch *w = g_new0 (Watch, 1);
  w->client = c;
  w->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) got_free);
  w->changed = g_ptr_array_new_with_free_func (g_free);
  w->read = g_ptr_array_new_with_free_func (g_free);
  w->typing = g_ptr_array_new_with_free_func ((GDestroyNotify) typing_free);
  g_signal_connect (c, "message-received", G_CALLBACK (on_message), w);
  g_signal_connect (c, "conversation-changed", G_CALLBACK (on_changed), w);
  g_signal_connect (c, "message-read", G_CALLBACK (on_read), w);
  g_signal_connect (c, "typing", G_CALLBACK (on_typing), w);
  g_signal_connect (c, "cursor-changed", G_CALLBACK (on_cursor), w);
  return w;
}

static gboolean
is_up (gpointer data)
{
  Watch *w = data;
  return amm_client_get_channel_kind (w->client) != AMM_CHANNEL_NONE
         && (w->cursor != NULL || amm_client_get_cursor (w->client) != NULL);
}

/* A connected client syncing from `cursor` (NULL: first login), channel up. */
static Watch *
syncing (AmmTestServer *server, const char *user, const char *cursor, gboolean sse)
{
  Watch *w = watch (connected (server, user, sse));
  amm_client_start_sync (w->client, cursor);
  if (!amm_test_wait_for (is_up, w, WAIT_MS))
    g_error ("%s never came up: channel %s, cursor %s", user,
             amm_channel_kind_to_string (amm_client_get_channel_kind (w->client)), w->cursor);
  return w;
}

static void
finish (Watch *w)
{
  amm_client_shutdown (w->client);
  w->shut = TRUE;
  amm_test_spin (100);
  g_assert_cmpuint (w->after_shutdown, ==, 0);
  g_signal_handlers_disconnect_by_data (w->client, w);
  g_object_unref (w->client);
  g_ptr_array_unref (w->messages);
  g_ptr_array_unref (w->changed);
  g_ptr_array_unref (w->read);
  g_ptr_array_unref (w->typing);
  g_free (w->cursor);
  g_free (w);
}

typedef struct {
  Watch       *w;
  AmmEventType event;
  const char  *body;      /* nullable */
} MsgPred;

static gboolean
has_message (gpointer data)
{
  MsgPred *p = data;
  for (guint i = 0; i < p->w->messages->len; i++) {
    Got *g = g_ptr_array_index (p->w->messages, i);
    if (g->event == p->event && (p->body == NULL || g_strcmp0 (g->body, p->body) == 0))
      return TRUE;
  }
  return FALSE;
}

static void
wait_message (Watch *w, AmmEventType event, const char *body)
{
  MsgPred p = { w, event, body };
  if (!amm_test_wait_for (has_message, &p, WAIT_MS))
    g_error ("no %s message \"%s\" arrived", amm_event_type_to_string (event), body ? body : "*");
}

static guint
count_messages (Watch *w, const char *body)
{
  guint n = 0;
  for (guint i = 0; i < w->messages->len; i++)
    n += g_strcmp0 (((Got *) g_ptr_array_index (w->messages, i))->body, body) == 0;
  return n;
}

typedef struct {
  Watch      *w;
  const char *text;
} ChangedPred;

static gboolean
has_changed (gpointer data)
{
  ChangedPred *p = data;
  for (guint i = 0; i < p->w->changed->len; i++)
    if (g_strcmp0 (g_ptr_array_index (p->w->changed, i), p->text) == 0)
      return TRUE;
  return FALSE;
}

static void
wait_changed (Watch *w, const char *text)
{
  ChangedPred p = { w, text };
  if (!amm_test_wait_for (has_changed, &p, WAIT_MS)) {
    for (guint i = 0; i < w->changed->len; i++)
      g_printerr ("# changed: %s\n", (char *) g_ptr_array_index (w->changed, i));
    g_error ("no conversation-changed \"%s\"", text);
  }
}

/* --- operations ------------------------------------------------------------------------------- */

static void
on_validated (GObject *src, GAsyncResult *res, gpointer data)
{
  Op *op = data;
  op->result = amm_client_validate_addresses_finish (AMM_CLIENT (src), res, &op->error);
  op->done = TRUE;
}

static GPtrArray *
validate (AmmClient *c, const char * const *addresses)
{
  Op op = { 0 };
  amm_client_validate_addresses_async (c, addresses, NULL, on_validated, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
  g_assert_no_error (op.error);
  return op.result;
}

static void
on_started (GObject *src, GAsyncResult *res, gpointer data)
{
  Op *op = data;
  op->result = amm_client_start_conversation_finish (AMM_CLIENT (src), res, &op->error);
  op->done = TRUE;
}

static AmmMessage *
start (AmmClient *c, const char * const *to, const char *subject, const char *body, GError **error)
{
  Op op = { 0 };
  amm_client_start_conversation_async (c, to, subject, body, NULL, on_started, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
  if (op.error)
    g_propagate_error (error, op.error);
  return op.result;
}

static void
on_sent (GObject *src, GAsyncResult *res, gpointer data)
{
  Op *op = data;
  op->result = amm_client_send_text_finish (AMM_CLIENT (src), res, &op->error);
  op->done = TRUE;
}

static AmmMessage *
send_in (AmmClient *c, const char *thread_id, const char *body, GError **error)
{
  Op op = { 0 };
  amm_client_send_text_async (c, thread_id, NULL, body, NULL, on_sent, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
  if (op.error)
    g_propagate_error (error, op.error);
  return op.result;
}

static void
on_people (GObject *src, GAsyncResult *res, gpointer data)
{
  Op *op = data;
  if (g_async_result_is_tagged (res, amm_client_list_participants_async))
    op->result = amm_client_list_participants_finish (AMM_CLIENT (src), res, &op->error);
  else
    op->result = amm_client_add_participants_finish (AMM_CLIENT (src), res, &op->error);
  op->done = TRUE;
}

static GPtrArray *
list_people (AmmClient *c, const char *thread_id)
{
  Op op = { 0 };
  amm_client_list_participants_async (c, thread_id, NULL, on_people, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
  g_assert_no_error (op.error);
  return op.result;
}

static GPtrArray *
add_people (AmmClient *c, const char *thread_id, const char * const *addresses, GError **error)
{
  Op op = { 0 };
  amm_client_add_participants_async (c, thread_id, addresses, NULL, on_people, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
  if (op.error)
    g_propagate_error (error, op.error);
  return op.result;
}

static void
on_bool (GObject *src, GAsyncResult *res, gpointer data)
{
  Op *op = data;
  if (g_async_result_is_tagged (res, amm_client_leave_async))
    op->ok = amm_client_leave_finish (AMM_CLIENT (src), res, &op->error);
  else
    op->ok = amm_client_set_subject_finish (AMM_CLIENT (src), res, &op->error);
  op->done = TRUE;
}

static gboolean
leave (AmmClient *c, const char *thread_id, GError **error)
{
  Op op = { 0 };
  amm_client_leave_async (c, thread_id, NULL, on_bool, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
  if (op.error)
    g_propagate_error (error, op.error);
  return op.ok;
}

static gboolean
set_subject (AmmClient *c, const char *thread_id, const char *subject, GError **error)
{
  Op op = { 0 };
  amm_client_set_subject_async (c, thread_id, subject, NULL, on_bool, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
  if (op.error)
    g_propagate_error (error, op.error);
  return op.ok;
}

static gint64
stat_of (AmmTestServer *server, const char *member)
{
  g_autoptr (JsonNode) n = amm_test_server_control (server, "GET", "/control/stats", NULL, NULL);
  return json_object_get_int_member (json_node_get_object (n), member);
}

static void
control_ok (AmmTestServer *server, const char *path, const char *json)
{
  guint status = 0;
  g_autoptr (JsonNode) n = amm_test_server_control (server, "POST", path, json, &status);
  if (status != 200)
    g_error ("%s %s: HTTP %u", path, json, status);
}

/* The conversation `thread_id` as `user` sees it (control listing). */
static JsonObject *
server_conversation (AmmTestServer *server, const char *user, const char *thread_id, JsonNode **keep)
{
  g_autofree char *path = g_strdup_printf ("/control/conversations?user=%s", user);
  *keep = amm_test_server_control (server, "GET", path, NULL, NULL);
  JsonArray *a = json_object_get_array_member (json_node_get_object (*keep), "conversations");
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonObject *o = json_array_get_object_element (a, i);
    if (g_strcmp0 (json_object_get_string_member (o, "id"), thread_id) == 0)
      return o;
  }
  return NULL;
}

static gboolean
server_read (AmmTestServer *server, const char *user, const char *message_id)
{
  g_autoptr (JsonNode) all = amm_test_server_messages (server, user);
  JsonArray *a = json_node_get_array (all);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonObject *m = json_array_get_object_element (a, i);
    if (g_strcmp0 (json_object_get_string_member (m, "id"), message_id) == 0)
      return json_object_get_boolean_member (json_object_get_object_member (m, "flags"), "read");
  }
  g_error ("message %s not visible to %s", message_id, user);
  return FALSE;
}

/* A conversation alice ↔ (others) started by the control port; returns its id. */
static char *
control_start (AmmTestServer *server, const char *from, const char * const *to, const char *body)
{
  g_autoptr (JsonNode) m = amm_test_server_send (server, from, to, NULL, body);
  g_assert_nonnull (m);
  return g_strdup (json_object_get_string_member (json_node_get_object (m), "threadId"));
}

/* --- tests: limits and validation ----------------------------------------------------------------- */

static void
check_validation (const char *api)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--api", api, NULL);
  AmmClient *c = connected (server, ALICE, FALSE);
  g_autoptr (GError) error = NULL;

  g_assert_true (amm_client_check_address (c, BOB, NULL));
  g_assert_false (amm_client_check_address (c, "bob@elsewhere.org", &error));
  g_assert_error (error, AMM_ERROR, AMM_ERROR_REJECTED);
  g_assert_nonnull (strstr (error->message, "bob@elsewhere.org"));
  g_clear_error (&error);
  g_assert_false (amm_client_check_address (c, "not-an-address", NULL));

  /* valid and invalid: the server answers, in the caller's order */
  const char *addrs[] = { "zed@example.com", BOB, "carol@EXAMPLE.com", NULL };
  g_autoptr (GPtrArray) r = validate (c, addrs);
  g_assert_cmpuint (r->len, ==, 3);
  AmmValidation *v0 = g_ptr_array_index (r, 0), *v1 = g_ptr_array_index (r, 1), *v2 = g_ptr_array_index (r, 2);
  g_assert_cmpstr (v0->query, ==, "zed@example.com");
  g_assert_null (v0->entity);
  g_assert_nonnull (v1->entity);
  g_assert_cmpstr (v1->entity->address, ==, BOB);
  g_assert_cmpstr (v1->entity->given_name, ==, "Bob");
  g_assert_nonnull (v2->entity);
  g_assert_cmpstr (v2->entity->address, ==, CAROL);   /* the canonical address */

  /* the pre-check fails: reported invalid without asking the server */
  amm_test_spin (300); /* let listings triggered by earlier changes finish */
  gint64 before = stat_of (server, "requests");
  const char *foreign[] = { "bob@elsewhere.org", "junk", NULL };
  g_autoptr (GPtrArray) r2 = validate (c, foreign);
  g_assert_cmpuint (r2->len, ==, 2);
  g_assert_null (((AmmValidation *) g_ptr_array_index (r2, 0))->entity);
  g_assert_null (((AmmValidation *) g_ptr_array_index (r2, 1))->entity);
  g_assert_cmpint (stat_of (server, "requests"), ==, before);
  g_object_unref (c);
}

static void test_validate_32 (void) { check_validation ("3.2"); }
static void test_validate_3 (void) { check_validation ("3"); }

static void
test_text_limit (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--max-text-length", "20", NULL);
  AmmClient *c = connected (server, ALICE, FALSE);
  g_autoptr (GError) error = NULL;
  GString *s = g_string_new (NULL);
  for (int i = 0; i < 20; i++)
    g_string_append (s, "é");            /* 20 characters, 40 bytes: characters count */
  g_assert_true (amm_client_check_text (c, s->str, NULL));
  g_string_append (s, "é");
  g_assert_false (amm_client_check_text (c, s->str, &error));
  g_assert_error (error, AMM_ERROR, AMM_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "21 characters"));
  g_assert_nonnull (strstr (error->message, "at most 20"));
  g_clear_error (&error);

  /* start_conversation checks first: nothing reaches the server */
  amm_test_spin (300); /* let listings triggered by earlier changes finish */
  gint64 before = stat_of (server, "requests");
  const char *to[] = { BOB, NULL };
  g_autoptr (AmmMessage) m = start (c, to, "", s->str, &error);
  g_assert_null (m);
  g_assert_error (error, AMM_ERROR, AMM_ERROR_TOO_LARGE);
  g_assert_cmpint (stat_of (server, "requests"), ==, before);
  g_string_free (s, TRUE);
  g_object_unref (c);
}

/* --- tests: conversations ------------------------------------------------------------------------ */

static void
test_start_group (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  Watch *bob = syncing (server, BOB, NULL, FALSE);
  AmmClient *c = connected (server, ALICE, FALSE);
  const char *to[] = { BOB, CAROL, NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (AmmMessage) m = start (c, to, "Plans", "hello all", &error);
  g_assert_no_error (error);
  g_assert_nonnull (m->thread_id);
  AmmConversation *cached = amm_client_lookup_conversation (c, m->thread_id);
  g_assert_nonnull (cached);
  g_assert_cmpstr (cached->subject, ==, "Plans");
  g_autoptr (GPtrArray) mine = amm_client_get_participants (c, m->thread_id);
  g_assert_cmpuint (mine->len, ==, 3);

  /* bob sees the new conversation, with its subject and three participants */
  wait_message (bob, AMM_EVENT_MESSAGE, "hello all");
  g_autofree char *expect = g_strdup_printf ("%s|Plans|1|0|3", m->thread_id);
  wait_changed (bob, expect);

  /* the participants listing: three, with names */
  g_autoptr (GPtrArray) people = list_people (c, m->thread_id);
  g_assert_cmpuint (people->len, ==, 3);
  gboolean carol = FALSE;
  for (guint i = 0; i < people->len; i++) {
    AmmEntity *e = g_ptr_array_index (people, i);
    if (g_strcmp0 (e->address, CAROL) == 0) {
      carol = TRUE;
      g_assert_cmpstr (e->given_name, ==, "Carol");
      g_assert_cmpstr (e->surname, ==, "Danvers");
    }
  }
  g_assert_true (carol);

  /* a subject over the limit is refused locally */
  g_autofree char *long_subject = g_strnfill (AMM_MAX_SUBJECT_LENGTH + 1, 'x');
  g_autoptr (AmmMessage) none = start (c, to, long_subject, "hi", &error);
  g_assert_null (none);
  g_assert_error (error, AMM_ERROR, AMM_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "50"));
  finish (bob);
  g_object_unref (c);
}

static void
test_add_participant (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  const char *to[] = { ALICE, NULL };
  g_autofree char *thread = control_start (server, BOB, to, "just us");
  Watch *alice = syncing (server, ALICE, NULL, FALSE);
  Watch *bob = syncing (server, BOB, NULL, FALSE);
  wait_message (alice, AMM_EVENT_MESSAGE, "just us");

  const char *add[] = { CAROL, NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) added = add_people (alice->client, thread, add, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (added->len, ==, 1);
  g_assert_cmpstr (((AmmEntity *) g_ptr_array_index (added, 0))->address, ==, CAROL);

  /* bob sees the JOINED event and a conversation that now has three participants */
  wait_message (bob, AMM_EVENT_JOINED, NULL);
  g_autofree char *expect = g_strdup_printf ("%s||1|0|3", thread);
  wait_changed (bob, expect);
  g_autoptr (GPtrArray) people = amm_client_get_participants (bob->client, thread);
  gboolean has_carol = FALSE;
  for (guint i = 0; i < people->len; i++)
    has_carol |= g_strcmp0 (((AmmEntity *) g_ptr_array_index (people, i))->address, CAROL) == 0;
  g_assert_true (has_carol);

  /* an unknown address is refused by the server */
  const char *bad[] = { "zed@example.com", NULL };
  g_autoptr (GPtrArray) none = add_people (alice->client, thread, bad, &error);
  g_assert_null (none);
  g_assert_error (error, AMM_ERROR, AMM_ERROR_REJECTED);
  g_clear_error (&error);
  /* and one outside the routable domains never leaves the client */
  const char *foreign[] = { "zed@elsewhere.org", NULL };
  g_autoptr (GPtrArray) none2 = add_people (alice->client, thread, foreign, &error);
  g_assert_null (none2);
  g_assert_error (error, AMM_ERROR, AMM_ERROR_REJECTED);
  finish (alice);
  finish (bob);
}

static void
test_leave (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  const char *to[] = { BOB, CAROL, NULL };
  g_autofree char *thread = control_start (server, ALICE, to, "group");
  Watch *alice = syncing (server, ALICE, NULL, FALSE);
  Watch *bob = syncing (server, BOB, NULL, FALSE);
  wait_message (bob, AMM_EVENT_MESSAGE, "group");

  g_autoptr (GError) error = NULL;
  g_assert_true (leave (bob->client, thread, &error));
  g_assert_no_error (error);

  /* the others see LEFT, and the conversation with two participants */
  wait_message (alice, AMM_EVENT_LEFT, NULL);
  g_autofree char *expect = g_strdup_printf ("%s||1|0|2", thread);
  wait_changed (alice, expect);
  /* the leaver sees the conversation inactive */
  g_autofree char *inactive = g_strdup_printf ("%s||0|0|2", thread);
  wait_changed (bob, inactive);

  /* the leaver cannot post */
  g_autoptr (AmmMessage) m = send_in (bob->client, thread, "still here?", &error);
  g_assert_null (m);
  g_assert_error (error, AMM_ERROR, AMM_ERROR_FORBIDDEN);
  g_clear_error (&error);

  /* nor read what is said after */
  g_autoptr (AmmMessage) m2 = send_in (alice->client, thread, "after bob left", &error);
  g_assert_no_error (error);
  amm_test_spin (500);
  g_assert_cmpuint (count_messages (bob, "after bob left"), ==, 0);
  finish (alice);
  finish (bob);
}

static void
test_subject (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  const char *to[] = { BOB, NULL };
  g_autofree char *thread = control_start (server, ALICE, to, "topic?");
  Watch *alice = syncing (server, ALICE, NULL, FALSE);
  Watch *bob = syncing (server, BOB, NULL, FALSE);
  wait_message (bob, AMM_EVENT_MESSAGE, "topic?");
  g_autoptr (GError) error = NULL;

  /* this client → the other */
  g_assert_true (set_subject (alice->client, thread, "Lunch", &error));
  g_assert_no_error (error);
  wait_message (bob, AMM_EVENT_SUBJECT_CHANGE, NULL);
  g_autofree char *e1 = g_strdup_printf ("%s|Lunch|1|0|2", thread);
  wait_changed (bob, e1);

  /* the other → this client */
  g_autofree char *body = g_strdup_printf ("{\"user\":\"%s\",\"threadId\":\"%s\",\"subject\":\"Dinner\"}", BOB, thread);
  control_ok (server, "/control/subject", body);
  g_autofree char *e2 = g_strdup_printf ("%s|Dinner|1|0|2", thread);
  wait_changed (alice, e2);

  /* too long: refused locally, naming the limit */
  amm_test_spin (300); /* let listings triggered by earlier changes finish */
  gint64 before = stat_of (server, "requests");
  g_autofree char *long_subject = g_strnfill (AMM_MAX_SUBJECT_LENGTH + 1, 'y');
  g_assert_false (set_subject (alice->client, thread, long_subject, &error));
  g_assert_error (error, AMM_ERROR, AMM_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "at most 50"));
  g_assert_cmpint (stat_of (server, "requests"), ==, before);
  finish (alice);
  finish (bob);
}

static void
test_subject_21 (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--api", "2.1", NULL);
  const char *to[] = { BOB, NULL };
  g_autofree char *thread = control_start (server, ALICE, to, "old server");
  AmmClient *c = connected (server, ALICE, FALSE);
  g_assert_cmpint (amm_client_get_version (c), ==, AMM_VERSION_2_1);
  g_autoptr (GError) error = NULL;
  g_assert_true (set_subject (c, thread, "Via the outbox", &error));
  g_assert_no_error (error);
  g_autoptr (JsonNode) keep = NULL;
  JsonObject *conv = server_conversation (server, BOB, thread, &keep);
  g_assert_nonnull (conv);
  g_assert_cmpstr (json_object_get_string_member (conv, "subject"), ==, "Via the outbox");
  g_object_unref (c);
}

static void
test_closed (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  const char *to[] = { ALICE, NULL };
  g_autofree char *thread = control_start (server, BOB, to, "closing soon");
  Watch *alice = syncing (server, ALICE, NULL, FALSE);
  wait_message (alice, AMM_EVENT_MESSAGE, "closing soon");

  g_autofree char *body = g_strdup_printf ("{\"user\":\"%s\",\"threadId\":\"%s\"}", BOB, thread);
  control_ok (server, "/control/close", body);
  wait_message (alice, AMM_EVENT_CLOSED, NULL);
  g_autofree char *expect = g_strdup_printf ("%s||0|1|2", thread);
  wait_changed (alice, expect);

  g_autoptr (GError) error = NULL;
  g_autoptr (AmmMessage) m = send_in (alice->client, thread, "anyone?", &error);
  g_assert_null (m);
  g_assert_error (error, AMM_ERROR, AMM_ERROR_FORBIDDEN);
  g_assert_nonnull (strstr (error->message, "closed"));
  finish (alice);
}

/* --- tests: read state ------------------------------------------------------------------------------ */

static gboolean
read_n (gpointer data)
{
  Watch *w = data;
  return w->read->len >= 2;
}

static void
test_read_marks (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  const char *to[] = { ALICE, NULL };
  g_autofree char *thread = control_start (server, BOB, to, "first");
  Watch *a1 = syncing (server, ALICE, NULL, FALSE);   /* marks */
  Watch *a2 = syncing (server, ALICE, NULL, FALSE);   /* another device of alice */
  const char *bob_says[] = { NULL };
  g_autoptr (JsonNode) n2 = amm_test_server_send (server, BOB, bob_says, thread, "second");
  wait_message (a1, AMM_EVENT_MESSAGE, "second");
  wait_message (a2, AMM_EVENT_MESSAGE, "second");
  Got *first = NULL, *second = NULL;
  for (guint i = 0; i < a1->messages->len; i++) {
    Got *g = g_ptr_array_index (a1->messages, i);
    if (g_strcmp0 (g->body, "first") == 0) first = g;
    if (g_strcmp0 (g->body, "second") == 0) second = g;
  }
  g_assert_nonnull (first);
  g_assert_nonnull (second);

  gint64 batches = stat_of (server, "markReadBatches");
  amm_client_mark_read (a1->client, thread, first->id);
  amm_client_mark_read (a1->client, thread, second->id);
  amm_client_mark_read (a1->client, thread, second->id);   /* twice: still one id */
  amm_test_spin (1000);
  g_assert_cmpint (stat_of (server, "markReadBatches"), ==, batches);   /* batched: not yet */
  g_assert_false (server_read (server, ALICE, first->id));

  /* the other device learns both are read now, once each */
  g_assert_true (amm_test_wait_for (read_n, a2, WAIT_MS));
  g_assert_cmpint (stat_of (server, "markReadBatches"), ==, batches + 1);   /* one request */
  g_assert_true (server_read (server, ALICE, first->id));
  g_assert_true (server_read (server, ALICE, second->id));
  g_assert_cmpuint (a2->read->len, ==, 2);
  /* the marking client itself does not report its own marks */
  g_assert_cmpuint (a1->read->len, ==, 0);
  /* and nothing was delivered twice */
  g_assert_cmpuint (count_messages (a2, "first"), ==, 1);
  g_assert_cmpuint (count_messages (a2, "second"), ==, 1);

  /* marks by "another device" through the control port: reported once */
  g_autoptr (JsonNode) n3 = amm_test_server_send (server, BOB, bob_says, thread, "third");
  wait_message (a2, AMM_EVENT_MESSAGE, "third");
  const char *third_id = ((Got *) g_ptr_array_index (a2->messages, a2->messages->len - 1))->id;
  g_autofree char *body = g_strdup_printf ("{\"user\":\"%s\",\"messageIds\":[\"%s\"]}", ALICE, third_id);
  control_ok (server, "/control/mark-read", body);
  Watch *w = a2;
  gboolean ok = FALSE;
  for (int i = 0; i < 100 && !ok; i++) {
    amm_test_spin (50);
    ok = w->read->len == 3;
  }
  g_assert_true (ok);
  g_assert_cmpstr (g_ptr_array_index (a2->read, 2), ==, third_id);
  finish (a1);
  finish (a2);
}

/* A UI without a notion of focus (Bitlbee, a headless core) marks a message read from within
 * "message-received", before the client has recorded the delivery. The listing that later shows
 * it read must not report it as "read on another device"; the user's other device still learns
 * of it. */
static void
mark_on_receive (AmmClient *c, AmmConversation *conv, AmmMessage *msg, gboolean from_self, gpointer data)
{
  if (!from_self && msg->event_type == AMM_EVENT_MESSAGE && !msg->read)
    amm_client_mark_read (c, msg->thread_id, msg->id);
}

typedef struct {
  AmmTestServer *server;
  const char    *id;
} ServerReadPred;

static gboolean
is_server_read (gpointer data)
{
  ServerReadPred *p = data;
  return server_read (p->server, ALICE, p->id);
}

static gboolean
read_1 (gpointer data)
{
  return ((Watch *) data)->read->len >= 1;
}

static void
test_read_own_mark_not_reported (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  const char *to[] = { ALICE, NULL };
  g_autofree char *thread = control_start (server, BOB, to, "hello");
  Watch *a1 = syncing (server, ALICE, NULL, FALSE);   /* marks as it receives */
  Watch *a2 = syncing (server, ALICE, NULL, FALSE);   /* another device of alice */
  wait_message (a1, AMM_EVENT_MESSAGE, "hello");
  wait_message (a2, AMM_EVENT_MESSAGE, "hello");
  g_signal_connect (a1->client, "message-received", G_CALLBACK (mark_on_receive), NULL);

  const char *none[] = { NULL };
  g_autoptr (JsonNode) n = amm_test_server_send (server, BOB, none, thread, "read at once");
  const char *id = json_object_get_string_member (json_node_get_object (n), "id");
  wait_message (a1, AMM_EVENT_MESSAGE, "read at once");
  /* the batch goes out (≤ 2 s) and the server notifies both of alice's channels */
  ServerReadPred p = { server, id };
  g_assert_true (amm_test_wait_for (is_server_read, &p, WAIT_MS));
  /* the other device reports it read elsewhere … */
  g_assert_true (amm_test_wait_for (read_1, a2, WAIT_MS));
  g_assert_cmpstr (g_ptr_array_index (a2->read, 0), ==, id);
  /* … and a later listing on the marking client still does not */
  g_autoptr (JsonNode) n2 = amm_test_server_send (server, BOB, none, thread, "one more");
  wait_message (a1, AMM_EVENT_MESSAGE, "one more");
  amm_test_spin (500);
  for (guint i = 0; i < a1->read->len; i++)
    g_printerr ("# a1 message-read %s\n", (char *) g_ptr_array_index (a1->read, i));
  g_assert_cmpuint (a1->read->len, ==, 0);
  g_signal_handlers_disconnect_by_func (a1->client, mark_on_receive, NULL);
  finish (a1);
  finish (a2);
}

typedef struct {
  AmmTestServer *server;
  gint64         batches;
} BatchesPred;

static gboolean
has_batches (gpointer data)
{
  BatchesPred *p = data;
  return stat_of (p->server, "markReadBatches") >= p->batches;
}

/* 250 marks are three batches (maxBatchSize 100), sent one at a time: while the server holds
 * the answer to the first, the second is not sent (the listings keep a connection); once it
 * is answered, the rest follow without waiting for the next 2 s flush. */
static void
test_read_marks_one_batch_at_a_time (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  control_ok (server, "/control/generate",
              "{\"user\":\"" ALICE "\",\"conversations\":1,\"messages\":250,\"senders\":[\"" BOB "\"]}");
  g_autoptr (JsonNode) all = amm_test_server_messages (server, ALICE);
  JsonArray *every = json_node_get_array (all);
  g_autoptr (GPtrArray) a = g_ptr_array_new (); /* JsonObject*: the messages, not the START event */
  for (guint i = 0; i < json_array_get_length (every); i++) {
    JsonObject *m = json_array_get_object_element (every, i);
    JsonObject *event = json_object_get_object_member (m, "event");
    if (g_strcmp0 (json_object_get_string_member (event, "type"), "MESSAGE") == 0)
      g_ptr_array_add (a, m);
  }
  g_assert_cmpuint (a->len, ==, 250);
  Watch *w = syncing (server, ALICE, NULL, FALSE);
  control_ok (server, "/control/fault",
              "{\"name\":\"stall\",\"path\":\"/aem/services/markAsReadBatch\",\"count\":1}");
  gint64 batches = stat_of (server, "markReadBatches");
  for (guint i = 0; i < 250; i++) {
    JsonObject *m = g_ptr_array_index (a, i);
    amm_client_mark_read (w->client, json_object_get_string_member (m, "threadId"),
                          json_object_get_string_member (m, "id"));
  }
  amm_client_flush_read (w->client);
  amm_test_spin (700);
  const char *first = json_object_get_string_member (g_ptr_array_index (a, 0), "id");
  const char *second = json_object_get_string_member (g_ptr_array_index (a, 100), "id");
  const char *last = json_object_get_string_member (g_ptr_array_index (a, 249), "id");
  g_assert_cmpint (stat_of (server, "markReadBatches"), ==, batches + 1);
  g_assert_true (server_read (server, ALICE, first));    /* stored; its answer is held */
  g_assert_false (server_read (server, ALICE, second));  /* the next batch waits for it */

  guint status = 0;
  g_autoptr (JsonNode) cleared = amm_test_server_control (server, "DELETE", "/control/fault", NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  /* polled through the small stats document: a listing of 250 messages per poll would hold
   * this loop (and so the client) in synchronous calls to a slow (sanitized) server */
  BatchesPred p = { server, batches + 3 };
  g_assert_true (amm_test_wait_for (has_batches, &p, WAIT_MS));
  g_assert_true (server_read (server, ALICE, second));
  g_assert_true (server_read (server, ALICE, last));
  g_assert_cmpint (stat_of (server, "markReadBatches"), ==, batches + 3);
  finish (w);
}

/* --- tests: typing ---------------------------------------------------------------------------------- */

typedef struct {
  Watch *w;
  guint  n;
} TypingPred;

static gboolean
typing_n (gpointer data)
{
  TypingPred *p = data;
  return p->w->typing->len >= p->n;
}

static Typing *
wait_typing (Watch *w, guint n)
{
  TypingPred p = { w, n };
  if (!amm_test_wait_for (typing_n, &p, WAIT_MS))
    g_error ("waited for %u typing notifications, got %u", n, w->typing->len);
  return g_ptr_array_index (w->typing, n - 1);
}

static gboolean
resubscribed (gpointer data)
{
  Watch *w = data;
  return amm_client_get_channel_kind (w->client) != AMM_CHANNEL_NONE;
}

static void
check_typing (gboolean sse)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  const char *to[] = { BOB, NULL };
  g_autofree char *thread = control_start (server, ALICE, to, "type to me");
  Watch *alice = syncing (server, ALICE, NULL, sse);
  Watch *bob = syncing (server, BOB, NULL, sse);
  g_assert_cmpint (amm_client_get_channel_kind (bob->client), ==, sse ? AMM_CHANNEL_SSE : AMM_CHANNEL_WEBSOCKET);
  amm_client_watch_typing (bob->client, thread, TRUE);
  amm_client_set_typing_expiry (bob->client, 400);
  amm_test_spin (300);   /* the subscription reaches the server */

  amm_client_send_typing (alice->client, thread, AMM_TYPING_COMPOSING);
  Typing *t = wait_typing (bob, 1);
  g_assert_cmpstr (t->thread_id, ==, thread);
  g_assert_cmpstr (t->address, ==, ALICE);
  g_assert_cmpuint (t->state, ==, AMM_TYPING_COMPOSING);
  /* composing again at once is throttled */
  amm_client_send_typing (alice->client, thread, AMM_TYPING_COMPOSING);
  amm_test_spin (200);
  g_assert_cmpuint (bob->typing->len, ==, 1);
  /* paused goes out at once */
  amm_client_send_typing (alice->client, thread, AMM_TYPING_PAUSED);
  t = wait_typing (bob, 2);
  g_assert_cmpuint (t->state, ==, AMM_TYPING_PAUSED);
  /* paused again: nothing new to say */
  amm_client_send_typing (alice->client, thread, AMM_TYPING_NONE);
  /* an unrefreshed state expires to NONE */
  t = wait_typing (bob, 3);
  g_assert_cmpuint (t->state, ==, AMM_TYPING_NONE);
  g_assert_cmpstr (t->address, ==, ALICE);

  /* composing by the control port (as if alice's other device), then expiry */
  g_autofree char *body = g_strdup_printf ("{\"user\":\"%s\",\"threadId\":\"%s\",\"state\":\"composing\"}", ALICE, thread);
  control_ok (server, "/control/typing", body);
  t = wait_typing (bob, 4);
  g_assert_cmpuint (t->state, ==, AMM_TYPING_COMPOSING);
  t = wait_typing (bob, 5);
  g_assert_cmpuint (t->state, ==, AMM_TYPING_NONE);

  /* the subscription is renewed after a reconnect */
  g_autofree char *drop = g_strdup_printf ("/control/drop-channels?user=%s", BOB);
  g_autoptr (JsonNode) dropped = amm_test_server_control (server, "POST", drop, NULL, NULL);
  amm_test_spin (200);
  g_assert_true (amm_test_wait_for (resubscribed, bob, WAIT_MS));
  amm_test_spin (300);
  control_ok (server, "/control/typing", body);
  t = wait_typing (bob, 6);
  g_assert_cmpuint (t->state, ==, AMM_TYPING_COMPOSING);

  /* unwatched: nothing more arrives */
  amm_client_watch_typing (bob->client, thread, FALSE);
  amm_test_spin (800);   /* the pending expiry fires */
  guint n = bob->typing->len;
  control_ok (server, "/control/typing", body);
  amm_test_spin (500);
  g_assert_cmpuint (bob->typing->len, ==, n);
  finish (alice);
  finish (bob);
}

/* The UI reports composing and then nothing (no PAUSED/NONE): after the local inactivity delay
 * (15 s; 500 ms here) the client sends paused by itself. Composing reports that keep coming
 * (throttled on the wire) are activity and keep it composing. */
static void
test_typing_idle_pause (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  const char *to[] = { BOB, NULL };
  g_autofree char *thread = control_start (server, ALICE, to, "idle typing");
  Watch *alice = syncing (server, ALICE, NULL, FALSE);
  Watch *bob = syncing (server, BOB, NULL, FALSE);
  amm_client_watch_typing (bob->client, thread, TRUE);
  amm_client_set_typing_idle (alice->client, 500);
  amm_test_spin (300);   /* the subscription reaches the server */

  amm_client_send_typing (alice->client, thread, AMM_TYPING_COMPOSING);
  Typing *t = wait_typing (bob, 1);
  g_assert_cmpuint (t->state, ==, AMM_TYPING_COMPOSING);
  /* still typing: reports every 200 ms for 1.2 s (throttled: nothing new on the wire) */
  for (int i = 0; i < 6; i++) {
    amm_test_spin (200);
    amm_client_send_typing (alice->client, thread, AMM_TYPING_COMPOSING);
  }
  amm_test_spin (150);
  g_assert_cmpuint (bob->typing->len, ==, 1);
  /* then quiet: paused by itself, once */
  t = wait_typing (bob, 2);
  g_assert_cmpstr (t->address, ==, ALICE);
  g_assert_cmpuint (t->state, ==, AMM_TYPING_PAUSED);
  amm_test_spin (800);
  g_assert_cmpuint (bob->typing->len, ==, 2);

  /* a pause the UI reports itself stops the timer: nothing more afterwards */
  amm_client_send_typing (alice->client, thread, AMM_TYPING_COMPOSING);
  t = wait_typing (bob, 3);
  g_assert_cmpuint (t->state, ==, AMM_TYPING_COMPOSING);
  amm_client_send_typing (alice->client, thread, AMM_TYPING_PAUSED);
  t = wait_typing (bob, 4);
  g_assert_cmpuint (t->state, ==, AMM_TYPING_PAUSED);
  amm_test_spin (900);
  g_assert_cmpuint (bob->typing->len, ==, 4);

  /* shutdown with a timer armed: no paused sent after it, no crash */
  amm_client_send_typing (alice->client, thread, AMM_TYPING_COMPOSING);
  wait_typing (bob, 5);
  finish (alice);
  amm_test_spin (700);
  finish (bob);
}

static void test_typing_websocket (void) { check_typing (FALSE); }
static void test_typing_sse (void) { check_typing (TRUE); }

/* --- tests: the sync cursor ------------------------------------------------------------------------- */

static void
test_resume_exact (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  const char *to[] = { ALICE, NULL };
  g_autoptr (JsonNode) m1 = amm_test_server_send (server, BOB, to, NULL, "at the cursor");
  JsonObject *o1 = json_node_get_object (m1);
  const char *t1 = json_object_get_string_member (o1, "receivedDate");
  const char *id1 = json_object_get_string_member (o1, "id");

  /* a cursor naming the message stamped at its instant: that one was delivered */
  g_autofree char *covered = g_strdup_printf ("%s ids=%s", t1, id1);
  Watch *a = syncing (server, ALICE, covered, FALSE);
  amm_test_spin (300);
  g_assert_cmpuint (count_messages (a, "at the cursor"), ==, 0);
  finish (a);

  /* the same instant without that id: stored after the listing, so it is delivered */
  g_autofree char *not_covered = g_strdup_printf ("%s ids=", t1);
  a = syncing (server, ALICE, not_covered, FALSE);
  wait_message (a, AMM_EVENT_MESSAGE, "at the cursor");
  amm_test_spin (300);
  g_assert_cmpuint (count_messages (a, "at the cursor"), ==, 1);
  finish (a);

  /* an old plain cursor: the instant was covered */
  a = syncing (server, ALICE, t1, FALSE);
  amm_test_spin (300);
  g_assert_cmpuint (count_messages (a, "at the cursor"), ==, 0);
  finish (a);

  /* a message read elsewhere after it was delivered is not delivered again after a restart */
  a = syncing (server, ALICE, NULL, FALSE);
  const char *none[] = { NULL };
  g_autoptr (JsonNode) m2 = amm_test_server_send (server, BOB, none, json_object_get_string_member (o1, "threadId"),
                                                  "read later");
  wait_message (a, AMM_EVENT_MESSAGE, "read later");
  amm_test_spin (300);
  g_autofree char *stored = g_strdup (a->cursor);
  g_assert_nonnull (strstr (stored, " ids="));
  finish (a);
  g_autofree char *body = g_strdup_printf ("{\"user\":\"%s\",\"messageIds\":[\"%s\"]}", ALICE,
                                           json_object_get_string_member (json_node_get_object (m2), "id"));
  control_ok (server, "/control/mark-read", body);
  a = syncing (server, ALICE, stored, FALSE);
  g_autoptr (JsonNode) m3 = amm_test_server_send (server, BOB, none, json_object_get_string_member (o1, "threadId"),
                                                  "new one");
  wait_message (a, AMM_EVENT_MESSAGE, "new one");
  amm_test_spin (300);
  g_assert_cmpuint (count_messages (a, "read later"), ==, 0);
  g_assert_cmpuint (count_messages (a, "new one"), ==, 1);
  finish (a);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/conversations/validate/3.2", test_validate_32);
  g_test_add_func ("/conversations/validate/3", test_validate_3);
  g_test_add_func ("/conversations/limits/text", test_text_limit);
  g_test_add_func ("/conversations/start-group", test_start_group);
  g_test_add_func ("/conversations/add-participant", test_add_participant);
  g_test_add_func ("/conversations/leave", test_leave);
  g_test_add_func ("/conversations/subject", test_subject);
  g_test_add_func ("/conversations/subject-2.1", test_subject_21);
  g_test_add_func ("/conversations/closed", test_closed);
  g_test_add_func ("/conversations/read-marks", test_read_marks);
  g_test_add_func ("/conversations/read-own-mark-not-reported", test_read_own_mark_not_reported);
  g_test_add_func ("/conversations/read-marks/one-batch-at-a-time", test_read_marks_one_batch_at_a_time);
  g_test_add_func ("/conversations/typing/websocket", test_typing_websocket);
  g_test_add_func ("/conversations/typing/sse", test_typing_sse);
  g_test_add_func ("/conversations/typing/idle-pause", test_typing_idle_pause);
  g_test_add_func ("/conversations/resume-exact", test_resume_exact);
  return g_test_run ();
}
