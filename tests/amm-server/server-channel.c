/* server-channel.c: the notification channel (docs/protocol.md §8, wire-capture.md §5):
 * WebSocket and Server-Sent Events, the commandURL, subscriptions and notifications. */
#include "server.h"

#include <string.h>

#include "amm-protocol.h"

#define PATH_WEBSOCKET "/aem/notifications/websocket"
#define PATH_SSE "/aem/notifications/sse"
#define PATH_COMMAND "/aem/notifications/command"
#define SUB_CONVERSATION "conversation"

struct _AmmChannel {
  AmmServer *server;
  char *id;
  char *user;
  SoupWebsocketConnection *ws;
  SoupServerMessage *sse;
  guint ping_id;
  GHashTable *subs;     /* key ("conversation" or "chatState:<id>") -> subscribed resource */
  gboolean closed;
};

static void
channel_free (AmmChannel *ch)
{
  if (ch->ping_id)
    g_source_remove (ch->ping_id);
  if (ch->ws) {
    g_signal_handlers_disconnect_by_data (ch->ws, ch);
    g_object_unref (ch->ws);
  }
  if (ch->sse) {
    g_signal_handlers_disconnect_by_data (ch->sse, ch);
    g_object_unref (ch->sse);
  }
  g_hash_table_unref (ch->subs);
  g_free (ch->id);
  g_free (ch->user);
  g_free (ch);
}

static AmmChannel *
channel_new (AmmServer *server, const char *user)
{
  AmmChannel *ch = g_new0 (AmmChannel, 1);
  g_autofree char *uuid = g_uuid_string_random ();
  g_auto (GStrv) parts = g_strsplit (uuid, "-", -1);

  ch->server = server;
  ch->id = g_strjoinv ("", parts);
  ch->user = g_strdup (user);
  ch->subs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert (server->channels, ch->id, ch);
  return ch;
}

static gboolean
remove_channel_idle (gpointer data)
{
  AmmChannel *ch = data;

  g_hash_table_remove (ch->server->channels, ch->id);
  return G_SOURCE_REMOVE;
}

/* Called when the channel is gone; frees it from an idle (never inside a signal of its own). */
static void
channel_gone (AmmChannel *ch)
{
  if (ch->closed)
    return;
  ch->closed = TRUE;
  if (ch->server->opt.verbose)
    amm_log ("channel %s of %s closed", ch->id, ch->user);
  g_idle_add (remove_channel_idle, ch);
}

static void
sse_write (AmmChannel *ch, const char *event, const char *data)
{
  g_autofree char *chunk = g_strdup_printf ("event: %s\ndata: %s\n\n", event, data);
  SoupMessageBody *body = soup_server_message_get_response_body (ch->sse);

  gsize len = strlen (chunk);

  soup_message_body_append (body, SOUP_MEMORY_TAKE, g_steal_pointer (&chunk), len);
  soup_server_message_unpause (ch->sse);
}

static void
channel_send (AmmChannel *ch, JsonNode *frame)
{
  g_autofree char *text = NULL;

  if (ch->closed)
    return;
  text = json_to_string (frame, FALSE);
  if (ch->ws) {
    if (soup_websocket_connection_get_state (ch->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_send_text (ch->ws, text);
  } else if (ch->sse) {
    sse_write (ch, AMM_SSE_EVENT_NOTIFICATION, text);
  }
}

/* {"<key>": inner} */
static JsonNode *
frame_new (const char *key, JsonObject *inner)
{
  JsonObject *o = json_object_new ();
  JsonNode *n = json_node_new (JSON_NODE_OBJECT);

  json_object_set_object_member (o, key, inner);
  json_node_take_object (n, o);
  return n;
}

static void
send_discovery (AmmChannel *ch, SoupServerMessage *msg)
{
  g_autofree char *base = amm_request_base (ch->server, msg, FALSE);
  g_autofree char *command = g_strconcat (base, PATH_COMMAND "/", ch->id, NULL);
  JsonObject *d = json_object_new ();
  JsonArray *apps = json_array_new ();
  g_autoptr (JsonNode) frame = NULL;

  json_array_add_string_element (apps, AMM_CHANNEL_APPLICATION);
  json_object_set_string_member (d, "version", AMM_CHANNEL_VERSION);
  json_object_set_array_member (d, "applications", apps);
  json_object_set_array_member (d, "capabilities", json_array_new ());
  json_object_set_object_member (d, "sessionManagement", json_object_new ());
  json_object_set_string_member (d, "commandURL", command);
  frame = frame_new ("discovery", d);
  channel_send (ch, frame);
}

/* ---- commands ---- */

static const char *
conversation_id_of (const char *resource)
{
  const char *slash = resource ? strrchr (resource, '/') : NULL;

  return slash ? slash + 1 : resource;
}

static char *
sub_key (const char *service, const char *resource)
{
  if (g_strcmp0 (service, AMM_CHANNEL_SERVICE_CONVERSATION) == 0)
    return g_strdup (SUB_CONVERSATION);
  if (g_strcmp0 (service, AMM_CHANNEL_SERVICE_CHAT_STATE) == 0 && resource)
    return g_strconcat (AMM_CHANNEL_SERVICE_CHAT_STATE ":", conversation_id_of (resource), NULL);
  return NULL;
}

static JsonObject *
results_object (JsonArray *successful, JsonArray *failed)
{
  JsonObject *results = json_object_new ();

  json_object_set_array_member (results, "successful", successful);
  if (failed && json_array_get_length (failed) > 0)
    json_object_set_array_member (results, "failed", failed);
  else if (failed)
    json_array_unref (failed);
  return results;
}

static JsonArray *
resources_of (JsonObject *cmd)
{
  JsonNode *n = json_object_get_member (cmd, "resources");

  return n && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
}

static void
cmd_subscribe (AmmChannel *ch, JsonObject *cmd, gboolean subscribe)
{
  JsonArray *resources = resources_of (cmd);
  JsonArray *ok = json_array_new ();
  JsonArray *failed = json_array_new ();
  JsonObject *reply = json_object_new ();
  g_autoptr (JsonNode) frame = NULL;

  for (guint i = 0; resources && i < json_array_get_length (resources); i++) {
    JsonNode *rn = json_array_get_element (resources, i);
    JsonObject *ro = JSON_NODE_HOLDS_OBJECT (rn) ? json_node_get_object (rn) : NULL;
    const char *service = ro ? json_object_get_string_member_with_default (ro, "service", NULL) : NULL;
    const char *resource = ro ? json_object_get_string_member_with_default (ro, "resource", NULL) : NULL;
    g_autofree char *key = sub_key (service, resource);

    if (!key) {
      json_array_add_element (failed, json_node_copy (rn));
      continue;
    }
    if (subscribe)
      g_hash_table_replace (ch->subs, g_steal_pointer (&key), g_strdup (resource ? resource : ""));
    else
      g_hash_table_remove (ch->subs, key);
    json_array_add_element (ok, json_node_copy (rn));
  }
  if (json_object_has_member (cmd, "requestId"))
    json_object_set_string_member (reply, "requestId",
                                   json_object_get_string_member_with_default (cmd, "requestId", ""));
  json_object_set_object_member (reply, "results", results_object (ok, failed));
  json_object_set_string_member (reply, "version", AMM_CHANNEL_VERSION);
  frame = frame_new (subscribe ? "subscribed" : "unsubscribed", reply);
  channel_send (ch, frame);
}

static void
cmd_ping (AmmChannel *ch, JsonObject *cmd)
{
  JsonObject *reply = json_object_new ();
  JsonNode *id = json_object_get_member (cmd, "requestId");
  g_autoptr (JsonNode) frame = NULL;

  if (id)
    json_object_set_member (reply, "requestId", json_node_copy (id));
  json_object_set_string_member (reply, "version", AMM_CHANNEL_VERSION);
  frame = frame_new ("pong", reply);
  channel_send (ch, frame);
}

static char *
entity_tag_of (AmmServer *server, const char *user)
{
  AmmUser *u = amm_state_find_user (server->state, user);

  return g_strdup_printf ("%" G_GUINT64_FORMAT, u ? u->entity_tag : 0);
}

static void
cmd_get_state (AmmChannel *ch, JsonObject *cmd)
{
  JsonArray *resources = resources_of (cmd);
  JsonArray *ok = json_array_new ();
  JsonObject *reply = json_object_new ();
  JsonNode *id = json_object_get_member (cmd, "requestId");
  g_autofree char *tag = entity_tag_of (ch->server, ch->user);
  g_autoptr (JsonNode) frame = NULL;

  for (guint i = 0; resources && i < json_array_get_length (resources); i++) {
    JsonNode *rn = json_array_get_element (resources, i);
    JsonNode *copy;
    JsonObject *state;

    if (!JSON_NODE_HOLDS_OBJECT (rn))
      continue;
    copy = json_node_copy (rn);
    state = json_object_new ();
    json_object_set_string_member (state, "entityTag", tag);
    json_object_set_object_member (json_node_get_object (copy), "state", state);
    json_array_add_element (ok, copy);
  }
  if (id)
    json_object_set_member (reply, "requestId", json_node_copy (id));
  json_object_set_object_member (reply, "results", results_object (ok, NULL));
  json_object_set_string_member (reply, "version", AMM_CHANNEL_VERSION);
  frame = frame_new ("resourceState", reply);
  channel_send (ch, frame);
}

static void
relay_chat_state (AmmChannel *from, AmmConversation *conv, JsonObject *notification)
{
  JsonNode *cn = json_object_get_member (notification, "contents");

  amm_channel_relay_chat_state (from->server, from->user, conv,
                                cn && JSON_NODE_HOLDS_OBJECT (cn) ? json_node_get_object (cn) : NULL);
}

guint
amm_channel_relay_chat_state (AmmServer *server, const char *user, AmmConversation *conv,
                              JsonObject *contents_in)
{
  g_autofree char *key = g_strconcat (AMM_CHANNEL_SERVICE_CHAT_STATE ":", conv->id, NULL);
  g_autofree char *now = amm_time_format (g_get_real_time () / 1000);
  AmmUser *sender = amm_state_find_user (server->state, user);
  GHashTableIter iter;
  gpointer value;
  guint sent = 0;

  g_hash_table_iter_init (&iter, server->channels);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    AmmChannel *ch = value;
    const char *resource;
    JsonObject *n, *contents;
    g_autoptr (JsonNode) frame = NULL;
    g_autoptr (JsonNode) copy = NULL;

    if (ch->closed || g_ascii_strcasecmp (ch->user, user) == 0
        || !amm_conversation_is_active_participant (conv, ch->user)
        || !(resource = g_hash_table_lookup (ch->subs, key)))
      continue;
    n = json_object_new ();
    if (contents_in) {
      g_autoptr (JsonNode) in = json_node_init_object (json_node_alloc (), contents_in);
      copy = json_node_copy (in);
      contents = json_object_ref (json_node_get_object (copy));
    } else {
      contents = json_object_new ();
    }
    json_object_set_string_member (contents, "address", sender ? sender->address : user);
    json_object_set_string_member (contents, "timestamp", now);
    json_object_set_string_member (n, "application", AMM_CHANNEL_APPLICATION);
    json_object_set_string_member (n, "service", AMM_CHANNEL_SERVICE_CHAT_STATE);
    json_object_set_string_member (n, "resource", resource);
    json_object_set_object_member (n, "contents", contents);
    json_object_set_string_member (n, "version", AMM_CHANNEL_VERSION);
    frame = frame_new ("notification", n);
    channel_send (ch, frame);
    sent++;
  }
  return sent;
}

static void
cmd_notify (AmmChannel *ch, JsonObject *cmd)
{
  JsonNode *nn = json_object_get_member (cmd, "notifications");
  JsonArray *list = nn && JSON_NODE_HOLDS_ARRAY (nn) ? json_node_get_array (nn) : NULL;
  JsonArray *ok = json_array_new ();
  JsonArray *failed = json_array_new ();
  JsonObject *reply = json_object_new ();
  JsonNode *id = json_object_get_member (cmd, "requestId");
  g_autoptr (JsonNode) frame = NULL;

  for (guint i = 0; list && i < json_array_get_length (list); i++) {
    JsonNode *en = json_array_get_element (list, i);
    JsonObject *eo = JSON_NODE_HOLDS_OBJECT (en) ? json_node_get_object (en) : NULL;
    const char *service = eo ? json_object_get_string_member_with_default (eo, "service", NULL) : NULL;
    const char *resource = eo ? json_object_get_string_member_with_default (eo, "resource", NULL) : NULL;
    AmmConversation *conv = amm_state_find_conversation (ch->server->state,
                                                         conversation_id_of (resource));

    if (g_strcmp0 (service, AMM_CHANNEL_SERVICE_CHAT_STATE) != 0 || !conv
        || !amm_conversation_is_active_participant (conv, ch->user)) {
      json_array_add_element (failed, json_node_copy (en));
      continue;
    }
    relay_chat_state (ch, conv, eo);
    json_array_add_element (ok, json_node_copy (en));
  }
  if (id)
    json_object_set_member (reply, "requestId", json_node_copy (id));
  json_object_set_object_member (reply, "results", results_object (ok, failed));
  json_object_set_string_member (reply, "version", AMM_CHANNEL_VERSION);
  frame = frame_new ("notified", reply);
  channel_send (ch, frame);
}

/* Returns FALSE when the text is not a command frame. */
static gboolean
channel_command (AmmChannel *ch, const char *text, gsize len)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *root;
  JsonNode *inner;
  const char *key;
  GList *members;

  if (!json_parser_load_from_data (parser, text, len, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return FALSE;
  root = json_node_get_object (json_parser_get_root (parser));
  members = json_object_get_members (root);
  key = members ? members->data : NULL;
  g_list_free (members);
  inner = key ? json_object_get_member (root, key) : NULL;
  if (!inner || !JSON_NODE_HOLDS_OBJECT (inner))
    return FALSE;
  if (ch->server->opt.verbose)
    amm_log ("channel %s of %s: %s", ch->id, ch->user, key);
  if (g_str_equal (key, "subscribe"))
    cmd_subscribe (ch, json_node_get_object (inner), TRUE);
  else if (g_str_equal (key, "unsubscribe"))
    cmd_subscribe (ch, json_node_get_object (inner), FALSE);
  else if (g_str_equal (key, "ping"))
    cmd_ping (ch, json_node_get_object (inner));
  else if (g_str_equal (key, "getState"))
    cmd_get_state (ch, json_node_get_object (inner));
  else if (g_str_equal (key, "notify"))
    cmd_notify (ch, json_node_get_object (inner));
  else
    return FALSE;
  return TRUE;
}

/* ---- WebSocket ---- */

static void
ws_message (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
  AmmChannel *ch = data;
  gsize len = 0;
  const char *text = g_bytes_get_data (message, &len);

  if (type != SOUP_WEBSOCKET_DATA_TEXT || !channel_command (ch, text, len))
    amm_log ("channel %s of %s: ignored a frame that is not a command", ch->id, ch->user);
}

static void
ws_closed (SoupWebsocketConnection *ws, gpointer data)
{
  channel_gone (data);
}

static void
ws_precheck (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
             gpointer data)
{
  AmmServer *server = data;
  AmmUser *user;

  if (server->opt.api == AMM_API_2_1) {
    amm_respond_error (msg, 404, "NOT_FOUND", "No notification channel in AMM 2.1", NULL);
    return;
  }
  if (server->opt.no_websocket || server->shutting_down) {
    amm_respond_error (msg, 403, "FORBIDDEN", "WebSocket connections are refused", NULL);
    return;
  }
  user = amm_authenticate (server, msg, NULL);
  if (!user) {
    amm_respond_unauthorized (msg);
    return;
  }
  amm_message_set_user (msg, user->address);
  /* no status set: libsoup completes the handshake and calls ws_opened */
}

static void
ws_opened (SoupServer *soup, SoupServerMessage *msg, const char *path,
           SoupWebsocketConnection *ws, gpointer data)
{
  AmmServer *server = data;
  AmmChannel *ch = channel_new (server, amm_message_user (msg));

  ch->ws = g_object_ref (ws);
  g_signal_connect (ws, "message", G_CALLBACK (ws_message), ch);
  g_signal_connect (ws, "closed", G_CALLBACK (ws_closed), ch);
  if (server->opt.verbose)
    amm_log ("WebSocket channel %s opened for %s", ch->id, ch->user);
  send_discovery (ch, msg);
}

/* ---- SSE ---- */

static gboolean
sse_ping (gpointer data)
{
  AmmChannel *ch = data;

  if (!ch->closed && ch->sse)
    sse_write (ch, AMM_SSE_EVENT_PING, "{}");
  return G_SOURCE_CONTINUE;
}

static void
sse_finished (SoupServerMessage *msg, gpointer data)
{
  channel_gone (data);
}

static void
sse_handler (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
             gpointer data)
{
  static const char * const types[] = { "text/event-stream", NULL };
  AmmServer *server = data;
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  AmmUser *user;
  AmmChannel *ch;

  if (server->opt.api == AMM_API_2_1) {
    amm_respond_error (msg, 404, "NOT_FOUND", "No notification channel in AMM 2.1", NULL);
    return;
  }
  if (g_strcmp0 (soup_server_message_get_method (msg), "GET") != 0) {
    amm_respond_error (msg, 405, "METHOD_NOT_ALLOWED", "Method not allowed", NULL);
    return;
  }
  if (!(user = amm_authenticate (server, msg, NULL))) {
    amm_respond_unauthorized (msg);
    return;
  }
  amm_message_set_user (msg, user->address);
  if (!amm_negotiate (msg, types))
    return;
  ch = channel_new (server, user->address);
  ch->sse = g_object_ref (msg);
  soup_server_message_set_status (msg, 200, NULL);
  soup_message_headers_set_content_type (resp, "text/event-stream", NULL);
  soup_message_headers_replace (resp, "Cache-Control", "no-cache");
  soup_message_headers_set_encoding (resp, SOUP_ENCODING_CHUNKED);
  soup_message_body_set_accumulate (soup_server_message_get_response_body (msg), FALSE);
  g_signal_connect (msg, "finished", G_CALLBACK (sse_finished), ch);
  g_signal_connect (msg, "disconnected", G_CALLBACK (sse_finished), ch);
  ch->ping_id = g_timeout_add_seconds (MAX (1, server->opt.ping_interval), sse_ping, ch);
  if (server->opt.verbose)
    amm_log ("SSE channel %s opened for %s", ch->id, ch->user);
  send_discovery (ch, msg);
}

static void
command_handler (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                 gpointer data)
{
  AmmServer *server = data;
  const char *id = g_str_has_prefix (path, PATH_COMMAND "/") ? path + strlen (PATH_COMMAND "/") : "";
  AmmChannel *ch = g_hash_table_lookup (server->channels, id);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = NULL;
  static const char * const json[] = { "application/json", NULL };
  AmmUser *user;
  gsize len = 0;
  const char *text;

  if (!(user = amm_authenticate (server, msg, NULL))) {
    amm_respond_unauthorized (msg);
    return;
  }
  amm_message_set_user (msg, user->address);
  if (!ch || ch->closed) {
    amm_respond_error (msg, 404, "NOT_FOUND", "No such channel", NULL);
    return;
  }
  if (g_ascii_strcasecmp (ch->user, user->address) != 0) {
    amm_respond_error (msg, 403, "FORBIDDEN", "Not your channel", NULL);
    return;
  }
  if (g_strcmp0 (soup_server_message_get_method (msg), "POST") != 0) {
    amm_respond_error (msg, 405, "METHOD_NOT_ALLOWED", "Method not allowed", NULL);
    return;
  }
  if (!amm_check_content_type (msg, json, NULL))
    return;
  bytes = soup_message_body_flatten (body);
  text = g_bytes_get_data (bytes, &len);
  if (!text || !channel_command (ch, text, len)) {
    amm_respond_error (msg, 400, "INVALID_PARAMETER", "Not a channel command", NULL);
    return;
  }
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, "{}", 2);
}

/* ---- server-wide ---- */

void
amm_channel_notify_conversation (AmmServer *server, const char *user)
{
  g_autofree char *tag = entity_tag_of (server, user);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, server->channels);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    AmmChannel *ch = value;
    const char *resource;
    JsonObject *n, *contents;
    g_autoptr (JsonNode) frame = NULL;

    if (ch->closed || g_ascii_strcasecmp (ch->user, user) != 0
        || !(resource = g_hash_table_lookup (ch->subs, SUB_CONVERSATION)))
      continue;
    n = json_object_new ();
    contents = json_object_new ();
    json_object_set_string_member (contents, "entityTag", tag);
    json_object_set_string_member (n, "application", AMM_CHANNEL_APPLICATION);
    json_object_set_string_member (n, "service", AMM_CHANNEL_SERVICE_CONVERSATION);
    json_object_set_string_member (n, "resource", resource);
    json_object_set_object_member (n, "contents", contents);
    json_object_set_string_member (n, "version", AMM_CHANNEL_VERSION);
    frame = frame_new ("notification", n);
    channel_send (ch, frame);
  }
}

static void
channel_close (AmmChannel *ch)
{
  if (ch->closed)
    return;
  if (ch->ws) {
    if (soup_websocket_connection_get_state (ch->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (ch->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "going away");
    else
      channel_gone (ch);
  } else if (ch->sse) {
    soup_message_body_complete (soup_server_message_get_response_body (ch->sse));
    soup_server_message_unpause (ch->sse);
    channel_gone (ch);
  }
}

guint
amm_channel_drop_user (AmmServer *server, const char *user)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, server->channels);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    AmmChannel *ch = value;
    if (!ch->closed && (!user || g_ascii_strcasecmp (ch->user, user) == 0)) {
      channel_close (ch);
      n++;
    }
  }
  return n;
}

void
amm_channel_close_all (AmmServer *server)
{
  amm_channel_drop_user (server, NULL);
}

guint
amm_channel_count_for (AmmServer *server, const char *user)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, server->channels);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    AmmChannel *ch = value;
    if (!ch->closed && g_ascii_strcasecmp (ch->user, user) == 0)
      n++;
  }
  return n;
}

void
amm_channel_install (AmmServer *server)
{
  server->channels = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                            (GDestroyNotify) channel_free);
  soup_server_add_handler (server->soup, PATH_WEBSOCKET, ws_precheck, server, NULL);
  soup_server_add_websocket_handler (server->soup, PATH_WEBSOCKET, NULL, NULL, ws_opened,
                                     server, NULL);
  soup_server_add_handler (server->soup, PATH_SSE, sse_handler, server, NULL);
  soup_server_add_handler (server->soup, PATH_COMMAND, command_handler, server, NULL);
}

/* Fault switches (server-faults.c): a raw frame, as it is, to `user`'s channels (all users
 * when NULL). WebSocket: a text or binary frame; SSE: a CASNotification event (binary frames
 * go as text). Returns how many channels got it. */
guint
amm_channel_send_raw (AmmServer *server, const char *user, gboolean binary, const char *data,
                      gsize len)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, server->channels);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    AmmChannel *ch = value;

    if (ch->closed || (user && g_ascii_strcasecmp (ch->user, user) != 0))
      continue;
    if (ch->ws && soup_websocket_connection_get_state (ch->ws) == SOUP_WEBSOCKET_STATE_OPEN) {
      if (binary)
        soup_websocket_connection_send_binary (ch->ws, data, len);
      else {
        g_autofree char *text = g_strndup (data, len);
        soup_websocket_connection_send_text (ch->ws, text);
      }
      n++;
    } else if (ch->sse) {
      g_autofree char *text = g_strndup (data, len);
      sse_write (ch, AMM_SSE_EVENT_NOTIFICATION, text);
      n++;
    }
  }
  return n;
}
