/* server-conversations.c: conversation rules beyond sending (docs/protocol.md §6, §12–§16):
 * closing (POST C/{id}/flags), the reader-only change after read marks, the 2.1 subject
 * change through the outbox, and the control requests that act on conversations as a user. */
#include "server.h"

#include <string.h>

#include "amm-protocol.h"

#define CONTROL_PREFIX "/control"

static guint64 mark_batches;   /* markAsReadBatch requests served (GET /control/stats) */

void
amm_conv_note_mark_batch (void)
{
  mark_batches++;
}

guint64
amm_conv_mark_batches (void)
{
  return mark_batches;
}

gboolean
amm_conv_message_visible (AmmConversation *conv, AmmMessage *msg, const char *user)
{
  AmmParticipant *p = amm_conversation_find_participant (conv, user);

  return p && (p->active || msg->received <= p->left_at);
}

void
amm_server_reader_changed (AmmServer *server, const char *user)
{
  AmmUser *u = amm_state_find_user (server->state, user);

  amm_state_schedule_save (server->state);
  if (!u)
    return;
  u->entity_tag++;
  amm_channel_notify_conversation (server, u->address);
  amm_long_poll_wake (server, u->address);
}

static JsonNode *
flags_document (AmmConversation *conv, const char *base)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *href = g_strdup_printf ("%s/aem/conversations/%s/flags", base, conv->id);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "closed");
  json_builder_add_boolean_value (b, conv->closed);
  json_builder_set_member_name (b, "href");
  json_builder_add_string_value (b, href);
  json_builder_set_member_name (b, "sensitivity");
  json_builder_add_string_value (b, "NORMAL");
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

void
amm_conv_handle_flags (AmmServer *server, SoupServerMessage *msg, AmmUser *user,
                       AmmConversation *conv, const char *base)
{
  static const char * const types[] = { AMM_TYPE_CONVERSATION_FLAGS, NULL };
  const char *method = soup_server_message_get_method (msg);
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonNode) doc = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *o;
  JsonNode *n;
  AmmMessage *m;

  if (g_str_equal (method, "GET")) {
    if (!amm_negotiate (msg, types))
      return;
    doc = flags_document (conv, base);
    amm_respond_json (msg, 200, AMM_TYPE_CONVERSATION_FLAGS, doc);
    return;
  }
  if (!g_str_equal (method, "POST")) {
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
                                  "GET, POST, OPTIONS");
    amm_respond_error (msg, 405, "METHOD_NOT_ALLOWED", "Method not allowed", NULL);
    return;
  }
  if (!amm_check_content_type (msg, types, NULL) || !(o = amm_parse_body_object (msg, &root)))
    return;
  n = json_object_get_member (o, "closed");
  if (!n || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN) {
    amm_respond_error (msg, 400, "INVALID_PARAMETER", "\"closed\" (a boolean) missing", NULL);
    return;
  }
  if (!json_node_get_boolean (n)) {
    if (conv->closed) {
      amm_respond_error (msg, 400, "INVALID_PARAMETER", "A closed conversation cannot be reopened",
                         NULL);
      return;
    }
  } else {
    m = amm_state_close (server->state, conv, user->address, &error);
    if (error) {
      amm_respond_fault (msg, error);
      return;
    }
    if (m)
      amm_server_changed (server, conv, m, NULL);
  }
  doc = flags_document (conv, base);
  amm_respond_json (msg, 200, AMM_TYPE_CONVERSATION_FLAGS, doc);
}

gboolean
amm_conv_outbox_event (AmmServer *server, SoupServerMessage *msg, AmmUser *user, JsonObject *doc,
                       const char *thread_id, const char *type, const char *base)
{
  JsonNode *en = json_object_get_member (doc, "event");
  JsonObject *eo = en && JSON_NODE_HOLDS_OBJECT (en) ? json_node_get_object (en) : NULL;
  const char *event = eo ? json_object_get_string_member_with_default (eo, "type", NULL) : NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) reply = NULL;
  AmmConversation *conv;
  AmmMessage *m;

  if (!event || g_str_equal (event, "MESSAGE"))
    return FALSE;
  if (!g_str_equal (event, "SUBJECT_CHANGE")) {
    amm_respond_error (msg, 400, "INVALID_PARAMETER", "Only SUBJECT_CHANGE events can be posted", NULL);
    return TRUE;
  }
  if (!thread_id) {
    amm_respond_error (msg, 400, "INVALID_PARAMETER", "A SUBJECT_CHANGE needs a \"threadId\"", NULL);
    return TRUE;
  }
  conv = amm_state_find_conversation (server->state, thread_id);
  if (!conv) {
    amm_respond_error (msg, 404, "CONVERSATION_NOT_FOUND", "No such conversation", NULL);
    return TRUE;
  }
  m = amm_state_set_subject (server->state, conv, user->address,
                             json_object_get_string_member_with_default (doc, "subject", ""), &error);
  if (!m) {
    amm_respond_fault (msg, error);
    return TRUE;
  }
  amm_server_changed (server, conv, m, NULL);
  reply = amm_json_message (server->state, m, user->address, base);
  amm_respond_json (msg, 201, type, reply);
  return TRUE;
}

/* ---- control requests ---- */

static char *
control_base (AmmServer *server)
{
  const char *host = server->opt.host;

  if (g_str_equal (host, "0.0.0.0") || g_str_equal (host, "::"))
    host = "127.0.0.1";
  return g_uri_join (G_URI_FLAGS_NONE, server->opt.tls ? "https" : "http", NULL, host,
                     server->port, "", NULL, NULL);
}

/* The body's "user" and (when want_conv) "threadId"; answers the error and FALSE otherwise. */
static gboolean
control_target (AmmServer *server, SoupServerMessage *msg, JsonObject *o, gboolean want_conv,
                AmmUser **user, AmmConversation **conv)
{
  *user = amm_state_find_user (server->state,
                               json_object_get_string_member_with_default (o, "user", NULL));
  if (!*user) {
    amm_respond_error (msg, 400, "PARTICIPANT_ADDRESS_INVALID", "\"user\" is not a user", NULL);
    return FALSE;
  }
  if (!want_conv)
    return TRUE;
  *conv = amm_state_find_conversation (server->state,
                                       json_object_get_string_member_with_default (o, "threadId", NULL));
  if (!*conv) {
    amm_respond_error (msg, 404, "CONVERSATION_NOT_FOUND", "Unknown or missing \"threadId\"", NULL);
    return FALSE;
  }
  if (!amm_conversation_find_participant (*conv, (*user)->address)) {
    amm_respond_error (msg, 403, "FORBIDDEN", "Not a participant of this conversation", NULL);
    return FALSE;
  }
  return TRUE;
}

static char **
string_array (JsonObject *o, const char *member)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  JsonNode *n = json_object_get_member (o, member);
  JsonArray *a = n && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;

  if (!a)
    return NULL;
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *e = json_array_get_element (a, i);
    if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING)
      g_strv_builder_add (b, json_node_get_string (e));
    else if (JSON_NODE_HOLDS_OBJECT (e))
      g_strv_builder_add (b, json_object_get_string_member_with_default (json_node_get_object (e),
                                                                         "address", ""));
  }
  return g_strv_builder_end (b);
}

static void respond_object (SoupServerMessage *msg, JsonObject *o);

static void
respond_event (AmmServer *server, SoupServerMessage *msg, AmmMessage *m, const char *viewer)
{
  g_autofree char *base = control_base (server);
  g_autoptr (JsonNode) doc = NULL;

  if (!m) {   /* nothing changed */
    respond_object (msg, json_object_new ());
    return;
  }
  doc = amm_json_message (server->state, m, viewer, base);
  amm_respond_json (msg, 200, "application/json", doc);
}

static void
respond_object (SoupServerMessage *msg, JsonObject *o)
{
  g_autoptr (JsonNode) doc = json_node_new (JSON_NODE_OBJECT);

  json_node_take_object (doc, o);
  amm_respond_json (msg, 200, "application/json", doc);
}

static void
control_leave (AmmServer *server, SoupServerMessage *msg, JsonObject *o)
{
  g_autoptr (GError) error = NULL;
  AmmUser *u;
  AmmConversation *c;
  AmmMessage *m;

  if (!control_target (server, msg, o, TRUE, &u, &c))
    return;
  if (!(m = amm_state_leave (server->state, c, u->address, &error))) {
    amm_respond_fault (msg, error);
    return;
  }
  amm_server_changed (server, c, m, u->address);
  respond_event (server, msg, m, u->address);
}

static void
control_add (AmmServer *server, SoupServerMessage *msg, JsonObject *o)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) addrs = string_array (o, "addresses");
  g_autoptr (GPtrArray) added = g_ptr_array_new ();
  JsonArray *a;
  JsonObject *reply;
  AmmUser *u;
  AmmConversation *c;
  AmmMessage *m;

  if (!control_target (server, msg, o, TRUE, &u, &c))
    return;
  if (!addrs) {
    amm_respond_error (msg, 400, "INVALID_PARAMETER", "\"addresses\" missing", NULL);
    return;
  }
  m = amm_state_add_participants (server->state, c, u->address, (const char * const *) addrs,
                                  added, &error);
  if (error) {
    amm_respond_fault (msg, error);
    return;
  }
  if (m)
    amm_server_changed (server, c, m, NULL);
  reply = json_object_new ();
  a = json_array_new ();
  for (guint i = 0; i < added->len; i++)
    json_array_add_element (a, amm_json_entity (server->state, ((AmmUser *) added->pdata[i])->address,
                                                TRUE));
  json_object_set_array_member (reply, "participants", a);
  respond_object (msg, reply);
}

static void
control_subject (AmmServer *server, SoupServerMessage *msg, JsonObject *o)
{
  g_autoptr (GError) error = NULL;
  AmmUser *u;
  AmmConversation *c;
  AmmMessage *m;

  if (!control_target (server, msg, o, TRUE, &u, &c))
    return;
  m = amm_state_set_subject (server->state, c, u->address,
                             json_object_get_string_member_with_default (o, "subject", NULL), &error);
  if (!m) {
    amm_respond_fault (msg, error);
    return;
  }
  amm_server_changed (server, c, m, NULL);
  respond_event (server, msg, m, u->address);
}

static void
control_close (AmmServer *server, SoupServerMessage *msg, JsonObject *o)
{
  g_autoptr (GError) error = NULL;
  AmmUser *u;
  AmmConversation *c;
  AmmMessage *m;

  if (!control_target (server, msg, o, TRUE, &u, &c))
    return;
  m = amm_state_close (server->state, c, u->address, &error);
  if (error) {
    amm_respond_fault (msg, error);
    return;
  }
  if (m)
    amm_server_changed (server, c, m, NULL);
  respond_event (server, msg, m, u->address);
}

static void
control_mark_read (AmmServer *server, SoupServerMessage *msg, JsonObject *o)
{
  g_auto (GStrv) ids = string_array (o, "messageIds");
  JsonObject *reply;
  AmmUser *u;
  guint marked = 0;

  if (!control_target (server, msg, o, FALSE, &u, NULL))
    return;
  if (!ids) {
    amm_respond_error (msg, 400, "INVALID_PARAMETER", "\"messageIds\" missing", NULL);
    return;
  }
  for (guint i = 0; ids[i]; i++) {
    AmmMessage *m = amm_state_find_message (server->state, ids[i]);
    AmmConversation *c = m ? amm_state_find_conversation (server->state, m->thread_id) : NULL;
    if (c && amm_conv_message_visible (c, m, u->address)
        && amm_state_mark_read (server->state, m, u->address))
      marked++;
  }
  if (marked)
    amm_server_reader_changed (server, u->address);
  reply = json_object_new ();
  json_object_set_int_member (reply, "marked", marked);
  respond_object (msg, reply);
}

static void
control_typing (AmmServer *server, SoupServerMessage *msg, JsonObject *o)
{
  JsonObject *contents, *reply;
  AmmUser *u;
  AmmConversation *c;
  guint sent;

  if (!control_target (server, msg, o, TRUE, &u, &c))
    return;
  if (!amm_conversation_is_active_participant (c, u->address)) {
    amm_respond_error (msg, 403, "FORBIDDEN", "Not an active participant", NULL);
    return;
  }
  contents = json_object_new ();
  json_object_set_string_member (contents, "action", "typing");
  json_object_set_string_member (contents, "state",
                                 json_object_get_string_member_with_default (o, "state", "composing"));
  sent = amm_channel_relay_chat_state (server, u->address, c, contents);
  json_object_unref (contents);
  reply = json_object_new ();
  json_object_set_int_member (reply, "relayed", sent);
  respond_object (msg, reply);
}

gboolean
amm_conv_control (AmmServer *server, SoupServerMessage *msg, const char *path)
{
  static const struct {
    const char *path;
    void (*handle) (AmmServer *, SoupServerMessage *, JsonObject *);
  } table[] = {
    { CONTROL_PREFIX "/leave", control_leave },
    { CONTROL_PREFIX "/add-participants", control_add },
    { CONTROL_PREFIX "/subject", control_subject },
    { CONTROL_PREFIX "/close", control_close },
    { CONTROL_PREFIX "/mark-read", control_mark_read },
    { CONTROL_PREFIX "/typing", control_typing },
  };
  g_autoptr (JsonNode) root = NULL;
  JsonObject *o;

  for (guint i = 0; i < G_N_ELEMENTS (table); i++) {
    if (!g_str_equal (path, table[i].path))
      continue;
    if (!g_str_equal (soup_server_message_get_method (msg), "POST")) {
      amm_respond_error (msg, 405, "METHOD_NOT_ALLOWED", "POST only", NULL);
      return TRUE;
    }
    if ((o = amm_parse_body_object (msg, &root)))
      table[i].handle (server, msg, o);
    return TRUE;
  }
  return FALSE;
}
