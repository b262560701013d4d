/* e2e-groups.c: group conversations, participants, typing, read state and address validation,
 * end to end: libpurple + the AMM plugin + the test AMM server, with alice, bob and carol. */
#include <string.h>

#include "harness.h"

#define ALICE "alice@example.com"
#define BOB   "bob@example.com"
#define CAROL "carol@example.com"
#define DAVE  "dave@example.com"
#define NOBODY "nobody@example.com"
#define LOGIN_MS 10000
#define WAIT_MS  8000

typedef struct {
  AmmTestServer *server;
  E2eAccount    *alice, *bob, *carol;
} Fixture;

/* --- recording chat writes and notifications ---------------------------------------------- */

typedef struct {
  PurpleAccount     *account;
  char              *conv;
  char              *who;
  char              *text;
  PurpleMessageFlags flags;
  gboolean           received;
} ChatLine;

static GPtrArray *lines;       /* of ChatLine* */
static GPtrArray *notices;     /* of char*: notify_message primary + secondary */
static GPtrArray *unseen;      /* of char*: names of conversations whose unseen-count became 0 */
static int handle;

static void
line_free (ChatLine *l)
{
  g_free (l->conv);
  g_free (l->who);
  g_free (l->text);
  g_free (l);
}

static void
record (PurpleAccount *account, const char *who, const char *msg, PurpleConversation *conv,
        PurpleMessageFlags flags, gboolean received)
{
  ChatLine *l = g_new0 (ChatLine, 1);
  l->account = account;
  l->conv = g_strdup (conv ? purple_conversation_get_name (conv) : "");
  l->who = g_strdup (who ? who : "");
  l->text = e2e_html_to_text (msg);
  l->flags = flags;
  l->received = received;
  g_ptr_array_add (lines, l);
}

static void
on_wrote_chat (PurpleAccount *account, const char *who, char *msg, PurpleConversation *conv,
               PurpleMessageFlags flags, gpointer d)
{
  record (account, who, msg, conv, flags, FALSE);
}

static void
on_received_chat (PurpleAccount *account, char *who, char *msg, PurpleConversation *conv,
                  PurpleMessageFlags flags, gpointer d)
{
  record (account, who, msg, conv, flags, TRUE);
}

static void
on_conv_updated (PurpleConversation *conv, PurpleConvUpdateType type, gpointer d)
{
  if (type == PURPLE_CONV_UPDATE_UNSEEN
      && GPOINTER_TO_INT (purple_conversation_get_data (conv, "unseen-count")) == 0)
    g_ptr_array_add (unseen, g_strdup (purple_conversation_get_name (conv)));
}

static void *
notify_message (PurpleNotifyMsgType type, const char *title, const char *primary,
                const char *secondary)
{
  g_ptr_array_add (notices, g_strdup_printf ("%s: %s", primary ? primary : "", secondary ? secondary : ""));
  return NULL;
}

/* get_info: the last userinfo shown, as "label=value" lines (values unescaped). */
static GPtrArray *userinfo;    /* of char* */
static char *userinfo_who;

static void *
notify_userinfo (PurpleConnection *gc, const char *who, PurpleNotifyUserInfo *info)
{
  g_ptr_array_set_size (userinfo, 0);
  g_free (userinfo_who);
  userinfo_who = g_strdup (who);
  for (GList *l = purple_notify_user_info_get_entries (info); l; l = l->next)
    {
      PurpleNotifyUserInfoEntry *e = l->data;
      const char *label = purple_notify_user_info_entry_get_label (e);
      g_autofree char *value = e2e_html_to_text (purple_notify_user_info_entry_get_value (e));
      g_ptr_array_add (userinfo, g_strdup_printf ("%s=%s", label ? label : "", value ? value : ""));
    }
  return NULL;
}

static PurpleNotifyUiOps notify_ops = { .notify_message = notify_message,
                                        .notify_userinfo = notify_userinfo };

/* Lines in `a`'s conversations containing `needle` with all of `flags`. received: only
 * received-chat-msg (else only writes). */
static guint
count_lines (E2eAccount *a, const char *needle, PurpleMessageFlags flags, gboolean received)
{
  guint n = 0;
  for (guint i = 0; i < lines->len; i++)
    {
      ChatLine *l = g_ptr_array_index (lines, i);
      if (l->account == a->account && l->received == received && (l->flags & flags) == flags
          && (needle == NULL || strstr (l->text, needle)))
        n++;
    }
  return n;
}

typedef struct {
  E2eAccount        *a;
  const char        *needle;
  PurpleMessageFlags flags;
  gboolean           received;
} LineWait;

static gboolean
has_line (gpointer data)
{
  LineWait *w = data;
  return count_lines (w->a, w->needle, w->flags, w->received) > 0;
}

static gboolean
wait_line (E2eAccount *a, const char *needle, PurpleMessageFlags flags, gboolean received)
{
  LineWait w = { a, needle, flags, received };
  return e2e_wait (has_line, &w, WAIT_MS);
}

/* --- fixture ------------------------------------------------------------------------------ */

static void
setup_api (Fixture *f, const char *api, const char *max_text)
{
  if (lines == NULL)
    {
      lines = g_ptr_array_new_with_free_func ((GDestroyNotify) line_free);
      notices = g_ptr_array_new_with_free_func (g_free);
      unseen = g_ptr_array_new_with_free_func (g_free);
      userinfo = g_ptr_array_new_with_free_func (g_free);
      e2e_init ();
      purple_signal_connect (purple_conversations_get_handle (), "wrote-chat-msg", &handle,
                             PURPLE_CALLBACK (on_wrote_chat), NULL);
      purple_signal_connect (purple_conversations_get_handle (), "received-chat-msg", &handle,
                             PURPLE_CALLBACK (on_received_chat), NULL);
      purple_signal_connect (purple_conversations_get_handle (), "conversation-updated", &handle,
                             PURPLE_CALLBACK (on_conv_updated), NULL);
      purple_notify_set_ui_ops (&notify_ops);
    }
  g_ptr_array_set_size (lines, 0);
  g_ptr_array_set_size (notices, 0);
  g_ptr_array_set_size (unseen, 0);
  g_ptr_array_set_size (userinfo, 0);
  g_clear_pointer (&userinfo_who, g_free);
  f->server = amm_test_server_start ("--api", api, "--max-text-length", max_text, NULL);
  f->alice = e2e_account_new (ALICE, "alice-pw", f->server, NULL);
  f->bob = e2e_account_new (BOB, "bob-pw", f->server, NULL);
  f->carol = e2e_account_new (CAROL, "carol-pw", f->server, NULL);
}

static void
setup_with (Fixture *f, const char *max_text)
{
  setup_api (f, "3.2", max_text);
}

static void
login_all (Fixture *f)
{
  g_assert_true (e2e_account_login (f->alice, LOGIN_MS));
  g_assert_true (e2e_account_login (f->bob, LOGIN_MS));
  g_assert_true (e2e_account_login (f->carol, LOGIN_MS));
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  setup_with (f, "10000");
  login_all (f);
}

static void
fixture_setup_short (Fixture *f, gconstpointer data)
{
  setup_with (f, "40");
  login_all (f);
}

/* An AMM 2.1 server: no notification channel, the client long-polls. */
static void
fixture_setup_21 (Fixture *f, gconstpointer data)
{
  setup_api (f, "2.1", "10000");
  login_all (f);   /* the plugin negotiates down to 2.1 (the server offers nothing else) */
}

static void
fixture_setup_no_login (Fixture *f, gconstpointer data)
{
  setup_with (f, "10000");
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  purple_conversations_set_ui_ops (NULL);
  g_clear_pointer (&f->alice, e2e_account_free);
  g_clear_pointer (&f->bob, e2e_account_free);
  g_clear_pointer (&f->carol, e2e_account_free);
  g_clear_pointer (&f->server, amm_test_server_free);
}

/* --- helpers ------------------------------------------------------------------------------ */

static PurpleConnection *
gc_of (E2eAccount *a)
{
  return purple_account_get_connection (a->account);
}

static JsonNode *
control (Fixture *f, const char *path, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static JsonNode *
control (Fixture *f, const char *path, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *body = NULL;
  guint status = 0;
  JsonNode *node;

  va_start (ap, fmt);
  body = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  node = amm_test_server_control (f->server, "POST", path, body, &status);
  if (status != 200)
    g_printerr ("# POST %s %s → %u\n", path, body, status);
  g_assert_cmpuint (status, ==, 200);
  return node;
}

/* bob starts a conversation with alice and carol; returns its thread id. */
static char *
bob_starts_group (Fixture *f, const char *body)
{
  const char *to[] = { ALICE, CAROL, BOB, NULL };
  g_autoptr(JsonNode) m = amm_test_server_send (f->server, BOB, to, NULL, body);
  return g_strdup (json_object_get_string_member (json_node_get_object (m), "threadId"));
}

static void
bob_says (Fixture *f, const char *thread, const char *body)
{
  g_autoptr(JsonNode) m = amm_test_server_send (f->server, BOB, NULL, thread, body);
  g_assert_nonnull (m);
}

typedef struct {
  E2eAccount *a;
  const char *name;
} ChatWait;

static gboolean
chat_open (gpointer data)
{
  ChatWait *w = data;
  PurpleConversation *c = purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, w->name,
                                                                 w->a->account);
  return c && !purple_conv_chat_has_left (PURPLE_CONV_CHAT (c));
}

static PurpleConversation *
wait_chat (E2eAccount *a, const char *thread)
{
  ChatWait w = { a, thread };
  if (!e2e_wait (chat_open, &w, WAIT_MS))
    return NULL;
  return purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, thread, a->account);
}

/* The server's view of `user`'s conversation `thread`, or NULL. */
static JsonObject *
server_conversation (Fixture *f, const char *user, const char *thread, JsonNode **keep)
{
  g_autofree char *path = g_strdup_printf ("/control/conversations?user=%s", user);
  JsonNode *node = amm_test_server_control (f->server, "GET", path, NULL, NULL);
  JsonArray *arr;

  *keep = node;
  if (node == NULL)
    return NULL;
  arr = json_object_get_array_member (json_node_get_object (node), "conversations");
  for (guint i = 0; arr && i < json_array_get_length (arr); i++)
    {
      JsonObject *o = json_array_get_object_element (arr, i);
      if (g_strcmp0 (json_object_get_string_member_with_default (o, "id", ""), thread) == 0)
        return o;
    }
  return NULL;
}

static gboolean
server_active (Fixture *f, const char *user, const char *thread)
{
  g_autoptr(JsonNode) keep = NULL;
  JsonObject *o = server_conversation (f, user, thread, &keep);
  JsonObject *flags = o ? json_object_get_object_member (o, "flags") : NULL;
  return flags && json_object_get_boolean_member_with_default (flags, "active", FALSE);
}

static char *
server_subject (Fixture *f, const char *user, const char *thread)
{
  g_autoptr(JsonNode) keep = NULL;
  JsonObject *o = server_conversation (f, user, thread, &keep);
  return o ? g_strdup (json_object_get_string_member_with_default (o, "subject", "")) : NULL;
}

/* The read flag of `user`'s server message with `body`: 1 read, 0 unread, -1 none. */
static int
server_read (Fixture *f, const char *user, const char *body, char **id)
{
  g_autoptr(JsonNode) node = amm_test_server_messages (f->server, user);
  JsonArray *arr = json_node_get_array (node);

  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonObject *o = json_array_get_object_element (arr, i);
      if (g_strcmp0 (json_object_get_string_member_with_default (o, "body", ""), body) == 0)
        {
          JsonObject *fl = json_object_get_object_member (o, "flags");
          if (id)
            *id = g_strdup (json_object_get_string_member (o, "id"));
          return fl && json_object_get_boolean_member_with_default (fl, "read", FALSE) ? 1 : 0;
        }
    }
  return -1;
}

typedef struct {
  Fixture    *f;
  const char *user, *body;
  int         want;
  gint64      next;
  gboolean    last;
} ReadWait;

static gboolean
read_is (gpointer data)
{
  ReadWait *w = data;
  gint64 now = g_get_monotonic_time ();
  if (now < w->next)
    return w->last;  /* e2e_wait asks again right after a success */
  w->next = now + 50 * 1000;
  w->last = server_read (w->f, w->user, w->body, NULL) == w->want;
  return w->last;
}

static gboolean
wait_server_read (Fixture *f, const char *user, const char *body, int want, guint ms)
{
  ReadWait w = { f, user, body, want, 0, FALSE };
  return e2e_wait (read_is, &w, ms);
}

/* Lines of `a` in the conversation named `conv` containing `needle` (received ones only). */
static guint
count_lines_in (E2eAccount *a, const char *conv, const char *needle)
{
  guint n = 0;
  for (guint i = 0; i < lines->len; i++)
    {
      ChatLine *l = g_ptr_array_index (lines, i);
      if (l->account == a->account && l->received && g_strcmp0 (l->conv, conv) == 0
          && strstr (l->text, needle))
        n++;
    }
  return n;
}

/* --- tests -------------------------------------------------------------------------------- */

/* A conversation started by others appears on its own, as a chat, with its message and its
 * participants shown by display name. */
static void
test_started_by_others (Fixture *f, gconstpointer data)
{
  g_autofree char *thread = bob_starts_group (f, "hello group");
  PurpleConversation *c = wait_chat (f->alice, thread);
  PurpleConvChatBuddy *cb;

  g_assert_nonnull (c);
  g_assert_true (wait_line (f->alice, "hello group", 0, TRUE));
  g_assert_cmpuint (e2e_count_received (f->alice, NULL, "hello group"), ==, 0); /* not an IM */
  g_assert_true (purple_conv_chat_find_user (PURPLE_CONV_CHAT (c), BOB));
  g_assert_true (purple_conv_chat_find_user (PURPLE_CONV_CHAT (c), CAROL));
  cb = purple_conv_chat_cb_find (PURPLE_CONV_CHAT (c), BOB);
  g_assert_nonnull (cb);
  g_assert_cmpstr (cb->alias, ==, "Bob Builder");
  /* carol got it too */
  g_assert_nonnull (wait_chat (f->carol, thread));
}

/* alice's group window stays (left) across a reconnect: chat ids of the new connection never
 * collide with it, so a new thread's first message and the old thread's next one each land in
 * their own window, once. */
static void
test_after_reconnect (Fixture *f, gconstpointer data)
{
  g_autofree char *first = bob_starts_group (f, "before the reconnect");
  g_autofree char *second = NULL;
  PurpleConversation *c;

  g_assert_nonnull (wait_chat (f->alice, first));
  g_assert_true (wait_line (f->alice, "before the reconnect", 0, TRUE));
  e2e_account_disconnect (f->alice);
  c = purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, first, f->alice->account);
  g_assert_nonnull (c);
  g_assert_true (purple_conv_chat_has_left (PURPLE_CONV_CHAT (c)));
  g_assert_true (e2e_account_login (f->alice, LOGIN_MS));

  second = bob_starts_group (f, "a new thread");
  g_assert_nonnull (wait_chat (f->alice, second));
  g_assert_true (wait_line (f->alice, "a new thread", 0, TRUE));
  bob_says (f, first, "the old thread again");
  g_assert_nonnull (wait_chat (f->alice, first));
  g_assert_true (wait_line (f->alice, "the old thread again", 0, TRUE));
  e2e_run_for (400);
  g_assert_cmpuint (count_lines_in (f->alice, second, "a new thread"), ==, 1);
  g_assert_cmpuint (count_lines_in (f->alice, first, "a new thread"), ==, 0);
  g_assert_cmpuint (count_lines_in (f->alice, first, "the old thread again"), ==, 1);
  g_assert_cmpuint (count_lines_in (f->alice, second, "the old thread again"), ==, 0);
}

static gboolean
chat_named (gpointer data)
{
  return !g_str_has_prefix (purple_conversation_get_name (data), "amm-new-");
}

/* Starting one: join_chat with participants opens a draft; the first message creates it. */
static void
test_start_group (Fixture *f, gconstpointer data)
{
  GHashTable *comp = g_hash_table_new (g_str_hash, g_str_equal);
  PurpleConversation *c = NULL;
  g_autofree char *thread = NULL;
  g_autofree char *subject = NULL;

  g_hash_table_insert (comp, "participants", BOB ", " CAROL);
  g_hash_table_insert (comp, "subject", "Plans");
  serv_join_chat (gc_of (f->alice), comp);
  g_hash_table_destroy (comp);
  for (int i = 0; i < 400 && c == NULL; i++)
    {
      GList *chats = purple_get_chats ();
      for (GList *l = chats; l; l = l->next)
        if (purple_conversation_get_account (l->data) == f->alice->account)
          c = l->data;
      if (c == NULL)
        e2e_run_for (20);
    }
  g_assert_nonnull (c);
  g_assert_cmpstr (purple_conv_chat_get_topic (PURPLE_CONV_CHAT (c)), ==, "Plans");
  g_assert_true (purple_conv_chat_find_user (PURPLE_CONV_CHAT (c), CAROL));
  purple_conv_chat_send (PURPLE_CONV_CHAT (c), "first words");
  g_assert_true (e2e_server_wait_body (f->server, CAROL, "first words", 1, WAIT_MS));
  g_assert_true (wait_line (f->bob, "first words", 0, TRUE));
  g_assert_true (wait_line (f->carol, "first words", 0, TRUE));
  /* the chat is now named by its thread (once alice's send is answered: bob and carol may
   * have it first) */
  g_assert_true (e2e_wait (chat_named, c, WAIT_MS));
  thread = g_strdup (purple_conversation_get_name (c));
  subject = server_subject (f, BOB, thread);
  g_assert_cmpstr (subject, ==, "Plans");
  purple_conv_chat_send (PURPLE_CONV_CHAT (c), "second words");
  g_assert_true (e2e_server_wait_body (f->server, CAROL, "second words", 1, WAIT_MS));
  g_assert_cmpuint (e2e_server_count_body (f->server, CAROL, "second words"), ==, 1);
}

/* Invite: an invalid address is refused by name; a valid one joins (live join line); a leave
 * by another participant writes a live line. */
static void
test_invite_join_leave (Fixture *f, gconstpointer data)
{
  g_autofree char *thread = bob_starts_group (f, "invite test");
  PurpleConversation *c = wait_chat (f->alice, thread);
  int id;

  g_assert_nonnull (c);
  id = purple_conv_chat_get_id (PURPLE_CONV_CHAT (c));
  serv_chat_invite (gc_of (f->alice), id, NULL, NOBODY);
  g_assert_true (wait_line (f->alice, NOBODY, PURPLE_MESSAGE_ERROR, FALSE));
  g_assert_false (purple_conv_chat_find_user (PURPLE_CONV_CHAT (c), NOBODY));
  g_assert_cmpuint (notices->len, >, 0);
  g_assert_nonnull (strstr (g_ptr_array_index (notices, 0), NOBODY));

  serv_chat_invite (gc_of (f->alice), id, NULL, DAVE);
  g_assert_true (wait_line (f->alice, "Dave", PURPLE_MESSAGE_SYSTEM, FALSE));
  g_assert_nonnull (strstr (((ChatLine *) g_ptr_array_index (lines, lines->len - 1))->text, "joined"));
  g_assert_true (purple_conv_chat_find_user (PURPLE_CONV_CHAT (c), DAVE));
  g_assert_true (server_active (f, DAVE, thread));
  g_assert_true (wait_line (f->bob, "joined", PURPLE_MESSAGE_SYSTEM, FALSE));

  g_autoptr(JsonNode) r = control (f, "/control/leave", "{\"user\":\"%s\",\"threadId\":\"%s\"}",
                                   CAROL, thread);
  g_assert_true (wait_line (f->alice, "left", PURPLE_MESSAGE_SYSTEM, FALSE));
  g_assert_cmpuint (count_lines (f->alice, "Carol", PURPLE_MESSAGE_SYSTEM, FALSE), >, 0);
  g_assert_false (purple_conv_chat_find_user (PURPLE_CONV_CHAT (c), CAROL));
}

static gboolean
chat_gone (gpointer data)
{
  return !chat_open (data);
}

/* Closing a window does not leave; /leave does. */
static void
test_close_versus_leave (Fixture *f, gconstpointer data)
{
  g_autofree char *thread = bob_starts_group (f, "close test");
  PurpleConversation *c = wait_chat (f->alice, thread);
  g_autofree char *err = NULL;
  ChatWait w = { f->alice, thread };

  g_assert_nonnull (c);
  purple_conversation_destroy (c);
  g_assert_null (purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, thread, f->alice->account));
  g_assert_true (server_active (f, ALICE, thread));
  bob_says (f, thread, "are you there");
  c = wait_chat (f->alice, thread);
  g_assert_nonnull (c);
  g_assert_true (wait_line (f->alice, "are you there", 0, TRUE));

  g_assert_cmpint (purple_cmd_do_command (c, "leave", "leave", &err), ==, PURPLE_CMD_STATUS_OK);
  g_assert_true (e2e_wait (chat_gone, &w, WAIT_MS));
  g_assert_true (wait_line (f->alice, "You left", PURPLE_MESSAGE_SYSTEM, FALSE));
  g_assert_false (server_active (f, ALICE, thread));
  bob_says (f, thread, "gone now?");
  e2e_server_wait_body (f->server, BOB, "gone now?", 1, WAIT_MS);
  e2e_run_for (1000);
  g_assert_cmpuint (count_lines (f->alice, "gone now?", 0, TRUE), ==, 0);
  g_assert_false (chat_open (&w));
}

typedef struct {
  PurpleConversation *c;
  const char         *topic;
} TopicWait;

static gboolean
topic_is (gpointer data)
{
  TopicWait *w = data;
  return g_strcmp0 (purple_conv_chat_get_topic (PURPLE_CONV_CHAT (w->c)), w->topic) == 0;
}

/* Subject <-> topic both ways, and the subject limit. */
static void
test_topic (Fixture *f, gconstpointer data)
{
  g_autofree char *thread = bob_starts_group (f, "topic test");
  PurpleConversation *ca = wait_chat (f->alice, thread);
  PurpleConversation *cb = wait_chat (f->bob, thread);
  PurplePluginProtocolInfo *prpl = PURPLE_PLUGIN_PROTOCOL_INFO (purple_find_prpl ("prpl-amm"));
  const char *too_long = "This subject is much too long for an AMM server to accept it";
  g_autofree char *s1 = NULL;
  g_autofree char *s2 = NULL;

  g_assert_nonnull (ca);
  g_assert_nonnull (cb);
  prpl->set_chat_topic (gc_of (f->alice), purple_conv_chat_get_id (PURPLE_CONV_CHAT (ca)), "Lunch");
  {
    TopicWait w = { cb, "Lunch" };
    g_assert_true (e2e_wait (topic_is, &w, WAIT_MS));
  }
  g_assert_true (wait_line (f->bob, "Lunch", PURPLE_MESSAGE_SYSTEM, FALSE));
  s1 = server_subject (f, CAROL, thread);
  g_assert_cmpstr (s1, ==, "Lunch");

  g_autoptr(JsonNode) r = control (f, "/control/subject",
                                   "{\"user\":\"%s\",\"threadId\":\"%s\",\"subject\":\"Dinner\"}",
                                   CAROL, thread);
  {
    TopicWait w = { ca, "Dinner" };
    g_assert_true (e2e_wait (topic_is, &w, WAIT_MS));
  }
  g_assert_true (wait_line (f->alice, "Dinner", PURPLE_MESSAGE_SYSTEM, FALSE));

  prpl->set_chat_topic (gc_of (f->alice), purple_conv_chat_get_id (PURPLE_CONV_CHAT (ca)), too_long);
  g_assert_true (wait_line (f->alice, too_long, PURPLE_MESSAGE_ERROR, FALSE));
  /* refused by the client's own check, which names the limit (the server's 400 does not say
   * "at most"): a server rejection alone would not pass here */
  for (guint i = 0; i < lines->len; i++)
    {
      ChatLine *l = g_ptr_array_index (lines, i);
      if (l->account == f->alice->account && (l->flags & PURPLE_MESSAGE_ERROR) && strstr (l->text, too_long)
          && strstr (l->text, "at most 50") == NULL)
        g_error ("the subject was not refused locally: \"%s\"", l->text);
    }
  e2e_run_for (300);
  s2 = server_subject (f, CAROL, thread);
  g_assert_cmpstr (s2, ==, "Dinner");
}

typedef struct {
  PurpleConversation *c;
  const char         *who;
  gboolean            typing;
} FlagWait;

static gboolean
flag_is (gpointer data)
{
  FlagWait *w = data;
  PurpleConvChatBuddy *cb = purple_conv_chat_cb_find (PURPLE_CONV_CHAT (w->c), w->who);
  return cb && (((cb->flags & PURPLE_CBFLAGS_TYPING) != 0) == w->typing);
}

typedef struct {
  E2eAccount        *a;
  const char        *peer;
  PurpleTypingState  state;
} ImTypingWait;

static gboolean
im_typing_is (gpointer data)
{
  ImTypingWait *w = data;
  PurpleConversation *c = purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, w->peer,
                                                                 w->a->account);
  /* AMM has no "stopped" on the wire: NOT_TYPING is sent as paused (shown as TYPED) */
  if (w->state == PURPLE_NOT_TYPING)
    return c && purple_conv_im_get_typing_state (PURPLE_CONV_IM (c)) != PURPLE_TYPING;
  return c && purple_conv_im_get_typing_state (PURPLE_CONV_IM (c)) == w->state;
}

/* Typing both ways, in an IM and in a chat. */
static void
test_typing (Fixture *f, gconstpointer data)
{
  g_autofree char *thread = NULL;
  PurpleConversation *ca, *cb;

  /* IM: a conversation exists both ways, then each types to the other */
  e2e_account_send (f->alice, BOB, "typing test");
  g_assert_true (e2e_account_wait_received (f->bob, 1, WAIT_MS));
  e2e_account_send (f->bob, ALICE, "ok");
  g_assert_true (e2e_account_wait_received (f->alice, 1, WAIT_MS));
  e2e_run_for (300); /* chatState subscriptions */
  serv_send_typing (gc_of (f->alice), BOB, PURPLE_TYPING);
  {
    ImTypingWait w = { f->bob, ALICE, PURPLE_TYPING };
    g_assert_true (e2e_wait (im_typing_is, &w, WAIT_MS));
  }
  serv_send_typing (gc_of (f->alice), BOB, PURPLE_NOT_TYPING);
  {
    ImTypingWait w = { f->bob, ALICE, PURPLE_NOT_TYPING };
    g_assert_true (e2e_wait (im_typing_is, &w, WAIT_MS));
  }
  serv_send_typing (gc_of (f->bob), ALICE, PURPLE_TYPING);
  {
    ImTypingWait w = { f->alice, BOB, PURPLE_TYPING };
    g_assert_true (e2e_wait (im_typing_is, &w, WAIT_MS));
  }

  /* chat: alice's chat-typing signal → bob sees alice typing; carol (server) → alice */
  thread = bob_starts_group (f, "chat typing");
  ca = wait_chat (f->alice, thread);
  cb = wait_chat (f->bob, thread);
  g_assert_nonnull (ca);
  g_assert_nonnull (cb);
  e2e_run_for (300);
  purple_signal_emit_return_1 (purple_conversations_get_handle (), "chat-conversation-typing", ca,
                               PURPLE_TYPING);
  {
    FlagWait w = { cb, ALICE, TRUE };
    g_assert_true (e2e_wait (flag_is, &w, WAIT_MS));
  }
  purple_signal_emit_return_1 (purple_conversations_get_handle (), "chat-conversation-typing", ca,
                               PURPLE_NOT_TYPING);
  {
    FlagWait w = { cb, ALICE, FALSE };
    g_assert_true (e2e_wait (flag_is, &w, WAIT_MS));
  }
  g_autoptr(JsonNode) r = control (f, "/control/typing",
                                   "{\"user\":\"%s\",\"threadId\":\"%s\",\"state\":\"composing\"}",
                                   CAROL, thread);
  {
    FlagWait w = { ca, CAROL, TRUE };
    g_assert_true (e2e_wait (flag_is, &w, WAIT_MS));
  }
}

/* A UI with focus (Pidgin, Finch): unfocused conversations keep their messages unread until
 * the UI clears the unseen state. */
static gboolean focused;
static gboolean has_focus (PurpleConversation *conv) { return focused; }
static PurpleConversationUiOps focus_ops = { .has_focus = has_focus };

static void
test_read_delivered (Fixture *f, gconstpointer data)
{
  /* headless (like Bitlbee): delivered = seen */
  e2e_account_send (f->bob, ALICE, "read me");
  g_assert_true (e2e_account_wait_received (f->alice, 1, WAIT_MS));
  g_assert_true (wait_server_read (f, ALICE, "read me", 1, WAIT_MS));
}

static void
test_read_focus_and_other_device (Fixture *f, gconstpointer data)
{
  g_autofree char *id = NULL;
  PurpleConversation *c;

  purple_conversations_set_ui_ops (&focus_ops);
  focused = FALSE;
  e2e_account_send (f->bob, ALICE, "not seen yet");
  g_assert_true (e2e_account_wait_received (f->alice, 1, WAIT_MS));
  e2e_run_for (2600); /* longer than the core's batching */
  g_assert_cmpint (server_read (f, ALICE, "not seen yet", NULL), ==, 0);
  /* the user looks at it (Pidgin/Finch focus) */
  c = purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, BOB, f->alice->account);
  g_assert_nonnull (c);
  purple_conversation_set_data (c, "unseen-count", GINT_TO_POINTER (0));
  purple_conversation_update (c, PURPLE_CONV_UPDATE_UNSEEN);
  g_assert_true (wait_server_read (f, ALICE, "not seen yet", 1, WAIT_MS));

  /* read on alice's other device: the unseen state is cleared here */
  e2e_account_send (f->bob, ALICE, "read elsewhere");
  g_assert_true (e2e_account_wait_received (f->alice, 2, WAIT_MS));
  g_ptr_array_set_size (unseen, 0);
  g_assert_cmpint (server_read (f, ALICE, "read elsewhere", &id), ==, 0);
  g_autoptr(JsonNode) r = control (f, "/control/mark-read",
                                   "{\"user\":\"%s\",\"messageIds\":[\"%s\"]}", ALICE, id);
  for (int i = 0; i < 400 && unseen->len == 0; i++)
    e2e_run_for (20);
  g_assert_cmpuint (unseen->len, >, 0);
  g_assert_cmpstr (g_ptr_array_index (unseen, 0), ==, BOB);
}

static void
test_read_reporting_off (Fixture *f, gconstpointer data)
{
  purple_account_set_bool (f->alice->account, "report-read", FALSE);
  login_all (f);
  e2e_account_send (f->bob, ALICE, "keep unread");
  g_assert_true (e2e_account_wait_received (f->alice, 1, WAIT_MS));
  e2e_run_for (3000);
  g_assert_cmpint (server_read (f, ALICE, "keep unread", NULL), ==, 0);
}

static gboolean
buddy_gone (gpointer data)
{
  return purple_find_buddy (((E2eAccount *) data)->account, NOBODY) == NULL;
}

static gboolean
bob_aliased (gpointer data)
{
  PurpleBuddy *b = purple_find_buddy (((E2eAccount *) data)->account, BOB);
  return b && g_strcmp0 (purple_buddy_get_server_alias (b), "Bob Builder") == 0
         && PURPLE_BUDDY_IS_ONLINE (b);
}

/* Invalid addresses are refused by name: add_buddy and the first IM. */
static void
test_invalid_address (Fixture *f, gconstpointer data)
{
  PurpleBuddy *bad = purple_buddy_new (f->alice->account, NOBODY, NULL);
  PurpleBuddy *good = purple_buddy_new (f->alice->account, BOB, NULL);

  purple_blist_add_buddy (bad, NULL, NULL, NULL);
  purple_account_add_buddy (f->alice->account, bad);
  g_assert_true (e2e_wait (buddy_gone, f->alice, WAIT_MS));
  g_assert_cmpuint (notices->len, >, 0);
  g_assert_nonnull (strstr (g_ptr_array_index (notices, 0), NOBODY));

  purple_blist_add_buddy (good, NULL, NULL, NULL);
  purple_account_add_buddy (f->alice->account, good);
  g_assert_true (e2e_wait (bob_aliased, f->alice, WAIT_MS));

  e2e_account_send (f->alice, "someone@elsewhere.org", "hello stranger");
  g_assert_true (e2e_account_wait_written (f->alice, PURPLE_MESSAGE_ERROR, 1, WAIT_MS));
  g_assert_cmpuint (e2e_count_written (f->alice, PURPLE_MESSAGE_ERROR, "someone@elsewhere.org"), ==, 1);
  g_assert_cmpuint (e2e_count_written (f->alice, PURPLE_MESSAGE_ERROR, "hello stranger"), ==, 1);
  e2e_account_send (f->alice, NOBODY, "hello nobody");
  g_assert_true (e2e_account_wait_written (f->alice, PURPLE_MESSAGE_ERROR, 2, WAIT_MS));
  g_assert_cmpuint (e2e_count_written (f->alice, PURPLE_MESSAGE_ERROR, "hello nobody"), ==, 1);
  g_assert_cmpuint (e2e_server_count_body (f->server, ALICE, "hello nobody"), ==, 0);
}

static gboolean
userinfo_for (gpointer data)
{
  return g_strcmp0 (userinfo_who, data) == 0 && userinfo->len > 0;
}

static gboolean
userinfo_has (const char *line)
{
  for (guint i = 0; i < userinfo->len; i++)
    if (g_strcmp0 (g_ptr_array_index (userinfo, i), line) == 0)
      return TRUE;
  return FALSE;
}

static void
dump_userinfo (void)
{
  for (guint i = 0; i < userinfo->len; i++)
    g_printerr ("# userinfo %s: %s\n", userinfo_who, (char *) g_ptr_array_index (userinfo, i));
}

/* get_info: name, address and phone numbers with their type (seed: bob's WORK number). */
static void
test_get_info (Fixture *f, gconstpointer data)
{
  serv_get_info (gc_of (f->alice), BOB);
  g_assert_true (e2e_wait (userinfo_for, (gpointer) BOB, WAIT_MS));
  dump_userinfo ();
  g_assert_true (userinfo_has ("Name=Bob Builder"));
  g_assert_true (userinfo_has ("Address=" BOB));
  g_assert_true (userinfo_has ("Work phone=+1 555 0102"));

  /* an address the server does not know: said so, no phone */
  serv_get_info (gc_of (f->alice), NOBODY);
  g_assert_true (e2e_wait (userinfo_for, (gpointer) NOBODY, WAIT_MS));
  g_assert_true (userinfo_has ("Address=" NOBODY));
  g_assert_true (userinfo_has ("Status=Not a valid AMM address"));
  for (guint i = 0; i < userinfo->len; i++)
    g_assert_null (strstr (g_ptr_array_index (userinfo, i), "phone"));
}

/* Too long: refused before sending, the text written back (IM and chat). */
static void
test_too_long (Fixture *f, gconstpointer data)
{
  const char *text = "This message is longer than the forty characters allowed.";
  g_autofree char *thread = bob_starts_group (f, "short");
  PurpleConversation *c = wait_chat (f->alice, thread);

  e2e_account_send (f->alice, BOB, text);
  g_assert_true (e2e_account_wait_written (f->alice, PURPLE_MESSAGE_ERROR, 1, WAIT_MS));
  g_assert_cmpuint (e2e_count_written (f->alice, PURPLE_MESSAGE_ERROR, text), ==, 1);
  g_assert_cmpuint (e2e_count_written (f->alice, PURPLE_MESSAGE_ERROR, "40"), ==, 1);
  g_assert_nonnull (c);
  purple_conv_chat_send (PURPLE_CONV_CHAT (c), text);
  g_assert_true (wait_line (f->alice, text, PURPLE_MESSAGE_ERROR, FALSE));
  e2e_run_for (300);
  g_assert_cmpuint (e2e_server_count_body (f->server, ALICE, text), ==, 0);
}

/* Closed on the server: read-only with a clear line; a send is refused with its text. */
static void
test_closed (Fixture *f, gconstpointer data)
{
  g_autofree char *thread = bob_starts_group (f, "about to close");
  PurpleConversation *c = wait_chat (f->alice, thread);

  g_assert_nonnull (c);
  g_autoptr(JsonNode) r = control (f, "/control/close", "{\"user\":\"%s\",\"threadId\":\"%s\"}",
                                   BOB, thread);
  g_assert_true (wait_line (f->alice, "closed", PURPLE_MESSAGE_SYSTEM, FALSE));
  purple_conv_chat_send (PURPLE_CONV_CHAT (c), "still there?");
  g_assert_true (wait_line (f->alice, "still there?", PURPLE_MESSAGE_ERROR, FALSE));
  e2e_run_for (300);
  g_assert_cmpuint (e2e_server_count_body (f->server, ALICE, "still there?"), ==, 0);
}

static gboolean
list_done (gpointer data)
{
  return !purple_roomlist_get_in_progress (data);
}

/* The room list shows the active conversations; picking one opens it. */
static void
test_roomlist (Fixture *f, gconstpointer data)
{
  g_autofree char *thread = bob_starts_group (f, "listed");
  PurpleConversation *c = wait_chat (f->alice, thread);
  PurpleRoomlist *list;
  PurpleRoomlistRoom *room = NULL;

  g_assert_nonnull (c);
  purple_conversation_destroy (c);
  list = purple_roomlist_get_list (gc_of (f->alice));
  g_assert_nonnull (list);
  g_assert_true (e2e_wait (list_done, list, WAIT_MS));
  for (GList *l = list->rooms; l; l = l->next)
    {
      PurpleRoomlistRoom *r = l->data;
      GList *fields = purple_roomlist_room_get_fields (r);
      if (g_strcmp0 (fields->data, thread) == 0)
        {
          room = r;
          g_assert_nonnull (strstr (g_list_nth_data (fields, 2), "Carol"));
        }
    }
  g_assert_nonnull (room);
  purple_roomlist_room_join (list, room);
  g_assert_nonnull (wait_chat (f->alice, thread));
  purple_roomlist_unref (list);
}

/* Reopening a known conversation shows its recent history, also when the listings since it
 * was first listed embedded only what changed (docs/protocol.md §6): the oldest line here was
 * in none of them. */
static void
test_reopen_history (Fixture *f, gconstpointer data)
{
  g_autofree char *thread = bob_starts_group (f, "history 0");
  PurpleConversation *c = wait_chat (f->alice, thread);
  GHashTable *comp;

  g_assert_nonnull (c);
  g_assert_true (wait_line (f->alice, "history 0", 0, TRUE));
  for (int i = 1; i < 4; i++)
    {
      g_autofree char *text = g_strdup_printf ("history %d", i);
      bob_says (f, thread, text);
      g_assert_true (wait_line (f->alice, text, 0, TRUE));
    }
  e2e_run_for (300); /* the listings that follow the read marks */
  purple_conversation_destroy (c);
  g_ptr_array_set_size (lines, 0);
  comp = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (comp, "thread", thread);
  serv_join_chat (gc_of (f->alice), comp);
  g_hash_table_destroy (comp);
  g_assert_nonnull (wait_chat (f->alice, thread));
  g_assert_true (wait_line (f->alice, "history 0", PURPLE_MESSAGE_DELAYED, FALSE));
  g_assert_true (wait_line (f->alice, "history 3", PURPLE_MESSAGE_DELAYED, FALSE));
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  e2e_install_log_filter ();
#define ADD(name, setup, fn) g_test_add ("/groups/" name, Fixture, NULL, setup, fn, fixture_teardown)
  ADD ("started-by-others", fixture_setup, test_started_by_others);
  ADD ("after-reconnect", fixture_setup, test_after_reconnect);
  ADD ("start", fixture_setup, test_start_group);
  ADD ("invite-join-leave", fixture_setup, test_invite_join_leave);
  ADD ("close-versus-leave", fixture_setup, test_close_versus_leave);
  ADD ("topic", fixture_setup, test_topic);
  ADD ("typing", fixture_setup, test_typing);
  ADD ("read/delivered", fixture_setup, test_read_delivered);
  ADD ("read/focus-and-other-device", fixture_setup, test_read_focus_and_other_device);
  ADD ("read/reporting-off", fixture_setup_no_login, test_read_reporting_off);
  ADD ("invalid-address", fixture_setup, test_invalid_address);
  ADD ("too-long", fixture_setup_short, test_too_long);
  ADD ("closed", fixture_setup, test_closed);
  ADD ("roomlist", fixture_setup, test_roomlist);
  ADD ("reopen-history", fixture_setup, test_reopen_history);
  ADD ("get-info", fixture_setup, test_get_info);
  /* The same conversation features against an AMM 2.1 server (long polling, no channel; the
   * subject goes out as a SUBJECT_CHANGE message). Typing is not run here: chatState needs a
   * notification channel, which 2.1 does not have (3.x only, see /groups/typing). */
  ADD ("2.1/started-by-others", fixture_setup_21, test_started_by_others);
  ADD ("2.1/start", fixture_setup_21, test_start_group);
  ADD ("2.1/invite-join-leave", fixture_setup_21, test_invite_join_leave);
  ADD ("2.1/close-versus-leave", fixture_setup_21, test_close_versus_leave);
  ADD ("2.1/topic", fixture_setup_21, test_topic);
  rc = g_test_run ();
  e2e_shutdown ();
  return rc;
}
