/* server-control.c: the loopback-only control interface (tests/amm-server/README.md).
 * Not part of AMM: lets tests act as other users and look inside the server. */
#include "server.h"

#include <string.h>

#define CONTROL_PREFIX "/control"

/* server-generate.c: POST /control/generate, POST/GET /control/burst (benchmarks) */
gboolean amm_generate_control (AmmServer *server, SoupServerMessage *msg, const char *path);

static char *
public_base (AmmServer *server)
{
  const char *host = server->opt.host;

  if (g_str_equal (host, "0.0.0.0") || g_str_equal (host, "::"))
    host = "127.0.0.1";
  return g_uri_join (G_URI_FLAGS_NONE, server->opt.tls ? "https" : "http", NULL, host,
                     server->port, "", NULL, NULL);
}

static AmmUser *
user_param (AmmServer *server, SoupServerMessage *msg, GHashTable *query)
{
  const char *address = query ? g_hash_table_lookup (query, "user") : NULL;
  AmmUser *u = amm_state_find_user (server->state, address);

  if (!u)
    amm_respond_error (msg, 404, "NOT_FOUND", "Unknown or missing ?user=", NULL);
  return u;
}

static void
control_send (AmmServer *server, SoupServerMessage *msg)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonNode) doc = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GStrvBuilder) tb = g_strv_builder_new ();
  g_auto (GStrv) to = NULL;
  g_autofree char *base = public_base (server);
  JsonObject *o = amm_parse_body_object (msg, &root);
  g_autoptr (GPtrArray) parts = NULL;   /* "attachments" */
  g_autoptr (GPtrArray) media = NULL;
  JsonNode *n;
  const char *from, *thread_id;
  AmmMessage *m;

  if (!o || !amm_media_control_attachments (msg, o, &parts, &media))  /* server-media.c */
    return;
  from = json_object_get_string_member_with_default (o, "from", NULL);
  if (!amm_state_find_user (server->state, from)) {
    amm_respond_error (msg, 400, "PARTICIPANT_ADDRESS_INVALID", "\"from\" is not a user", NULL);
    return;
  }
  n = json_object_get_member (o, "to");
  if (n && JSON_NODE_HOLDS_ARRAY (n)) {
    JsonArray *a = json_node_get_array (n);
    for (guint i = 0; i < json_array_get_length (a); i++) {
      JsonNode *e = json_array_get_element (a, i);
      if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING)
        g_strv_builder_add (tb, json_node_get_string (e));
      else if (JSON_NODE_HOLDS_OBJECT (e))
        g_strv_builder_add (tb, json_object_get_string_member_with_default (
                                    json_node_get_object (e), "address", ""));
    }
  }
  to = g_strv_builder_end (tb);
  thread_id = json_object_get_string_member_with_default (o, "threadId", NULL);
  if (thread_id && !*thread_id)
    thread_id = NULL;
  m = amm_state_send (server->state, from, (const char * const *) to, thread_id,
                      json_object_get_string_member_with_default (o, "subject", ""),
                      json_object_get_string_member_with_default (o, "body", NULL),
                      NULL, NULL, NULL, server->opt.max_text_length, parts, media, &error);
  if (!m) {
    amm_respond_fault (msg, error);
    return;
  }
  amm_server_changed (server, amm_state_find_conversation (server->state, m->thread_id), m, NULL);
  doc = amm_json_message (server->state, m, from, base);
  amm_respond_json (msg, 200, "application/json", doc);
}

static gint
compare_received (gconstpointer a, gconstpointer b)
{
  gint64 ta = (*(AmmMessage **) a)->received, tb = (*(AmmMessage **) b)->received;

  return ta < tb ? -1 : ta > tb ? 1 : 0;
}

static void
control_messages (AmmServer *server, SoupServerMessage *msg, GHashTable *query)
{
  AmmUser *u = user_param (server, msg, query);
  g_autoptr (GPtrArray) convs = NULL;
  g_autoptr (GPtrArray) all = g_ptr_array_new ();
  g_autofree char *base = public_base (server);
  JsonObject *o;
  JsonArray *a;
  g_autoptr (JsonNode) doc = json_node_new (JSON_NODE_OBJECT);

  if (!u)
    return;
  convs = amm_state_user_conversations (server->state, u->address);
  for (guint i = 0; i < convs->len; i++) {
    g_autoptr (GPtrArray) visible = amm_conversation_visible_messages (convs->pdata[i], u->address);
    for (guint j = 0; j < visible->len; j++)
      g_ptr_array_add (all, visible->pdata[j]);
  }
  g_ptr_array_sort (all, compare_received);
  o = json_object_new ();
  a = json_array_new ();
  for (guint i = 0; i < all->len; i++)
    json_array_add_element (a, amm_json_message (server->state, all->pdata[i], u->address, base));
  json_object_set_array_member (o, "messages", a);
  json_node_take_object (doc, o);
  amm_respond_json (msg, 200, "application/json", doc);
}

static void
control_conversations (AmmServer *server, SoupServerMessage *msg, GHashTable *query)
{
  AmmUser *u = user_param (server, msg, query);
  g_autoptr (GPtrArray) convs = NULL;
  g_autofree char *base = public_base (server);
  g_autoptr (JsonNode) doc = json_node_new (JSON_NODE_OBJECT);
  JsonObject *o;
  JsonArray *a;

  if (!u)
    return;
  convs = amm_state_user_conversations (server->state, u->address);
  o = json_object_new ();
  a = json_array_new ();
  for (guint i = 0; i < convs->len; i++) {
    g_autoptr (GPtrArray) newest = amm_conversation_newest (convs->pdata[i], u->address,
                                                            server->opt.max_message_count);
    json_array_add_element (a, amm_json_conversation (server->state, convs->pdata[i], u->address,
                                                      base, newest));
  }
  json_object_set_array_member (o, "conversations", a);
  json_node_take_object (doc, o);
  amm_respond_json (msg, 200, "application/json", doc);
}

static void
control_stats (AmmServer *server, SoupServerMessage *msg)
{
  g_autoptr (JsonNode) doc = json_node_new (JSON_NODE_OBJECT);
  JsonObject *o = json_object_new ();
  JsonObject *channels = json_object_new ();

  for (guint i = 0; i < server->state->users->len; i++) {
    AmmUser *u = server->state->users->pdata[i];
    guint n = amm_channel_count_for (server, u->address);
    if (n > 0)
      json_object_set_int_member (channels, u->address, n);
  }
  json_object_set_int_member (o, "requests", server->requests);
  json_object_set_object_member (o, "channels", channels);
  json_object_set_int_member (o, "longPolls", amm_long_poll_count (server));
  json_object_set_int_member (o, "markReadBatches", amm_conv_mark_batches ());
  json_node_take_object (doc, o);
  amm_respond_json (msg, 200, "application/json", doc);
}

static void
control_drop (AmmServer *server, SoupServerMessage *msg, GHashTable *query)
{
  AmmUser *u = user_param (server, msg, query);
  g_autoptr (JsonNode) doc = json_node_new (JSON_NODE_OBJECT);
  JsonObject *o;

  if (!u)
    return;
  o = json_object_new ();
  json_object_set_int_member (o, "dropped", amm_channel_drop_user (server, u->address));
  json_node_take_object (doc, o);
  amm_respond_json (msg, 200, "application/json", doc);
}

static gboolean
shutdown_idle (gpointer data)
{
  amm_server_shutdown (data);
  return G_SOURCE_REMOVE;
}

static gboolean
is_loopback (SoupServerMessage *msg)
{
  GSocketAddress *addr = soup_server_message_get_remote_address (msg);

  return G_IS_INET_SOCKET_ADDRESS (addr)
         && g_inet_address_get_is_loopback (
             g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (addr)));
}

static void
control_handler (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                 gpointer data)
{
  AmmServer *server = data;
  const char *method = soup_server_message_get_method (msg);
  gboolean get = g_str_equal (method, "GET"), post = g_str_equal (method, "POST");

  if (!is_loopback (msg)) {
    amm_respond_error (msg, 403, "FORBIDDEN", "The control interface is loopback-only", NULL);
    return;
  }
  if (post && g_str_equal (path, CONTROL_PREFIX "/send"))
    control_send (server, msg);
  else if (get && g_str_equal (path, CONTROL_PREFIX "/messages"))
    control_messages (server, msg, query);
  else if (get && g_str_equal (path, CONTROL_PREFIX "/conversations"))
    control_conversations (server, msg, query);
  else if (get && g_str_equal (path, CONTROL_PREFIX "/stats"))
    control_stats (server, msg);
  else if (post && g_str_equal (path, CONTROL_PREFIX "/drop-channels"))
    control_drop (server, msg, query);
  else if (amm_generate_control (server, msg, path))
    ;   /* generate, burst: server-generate.c */
  else if (amm_conv_control (server, msg, path))
    ;   /* leave, add-participants, subject, close, mark-read, typing: server-conversations.c */
  else if (amm_faults_control (server, msg, path, query))
    ;   /* GET/DELETE /control/fault, POST {"name":...}: server-faults.c */
  else if (post && g_str_equal (path, CONTROL_PREFIX "/fault"))
    amm_media_control_fault (server, msg);   /* server-media.c */
  else if (post && g_str_equal (path, CONTROL_PREFIX "/shutdown")) {
    soup_server_message_set_status (msg, 200, NULL);
    soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, "{}", 2);
    g_timeout_add (50, shutdown_idle, server);
  } else
    amm_respond_error (msg, 404, "NOT_FOUND", "Unknown control request", NULL);
}

gboolean
amm_control_listen (AmmServer *server, GError **error)
{
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = NULL;

  if (server->opt.control_port < 0)
    return TRUE;
  server->control = soup_server_new ("server-header", "amm-server-control ", NULL);
  soup_server_add_handler (server->control, CONTROL_PREFIX, control_handler, server, NULL);
  addr = g_inet_socket_address_new (lo, server->opt.control_port);
  if (!soup_server_listen (server->control, addr, 0, error))
    return FALSE;
  server->control_port = amm_listening_port (server->control);
  return TRUE;
}
