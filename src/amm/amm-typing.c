/* amm-typing.c: typing notifications (chatState over the notification channel;
 * docs/protocol.md §8, wire-capture.md §5).
 *
 * Subscriptions: {"subscribe":{"resources":[{"application":"AMM","service":"chatState",
 * "resource":"<C>/<id>"}]}} (and "unsubscribe"), renewed whenever the channel comes up.
 * Own state: {"notify":{"requestId":…,"notifications":[{…,"contents":{"action":"typing",
 * "state":"composing"|"paused"}}]}}; composing at most once per 5 s; after 15 s without
 * local activity (no COMPOSING report) a composing state falls back to paused by itself
 * (docs/protocol.md §16: the SDK pauses after 15 s of local inactivity), for UIs that never report the pause.
 * Others' state: chatState notifications → "typing"; a state not refreshed expires to NONE
 * after 60 s.
 */
#include "amm-conv-private.h"

#include <string.h>
#include "amm-channel.h"
#include "amm-protocol.h"

#define TYPING_THROTTLE_US (5 * G_USEC_PER_SEC)
#define TYPING_EXPIRY_MS   60000
#define TYPING_IDLE_MS     15000

typedef struct {
  AmmClient     *client;     /* plain: the timer is removed at shutdown/finalize */
  char          *thread_id;
  AmmTypingState last_sent;
  gint64         last_composing_us;
  guint          idle_timer; /* COMPOSING → PAUSED after local inactivity */
} TypingOut;

static void
typing_out_free (TypingOut *out)
{
  if (out->idle_timer)
    g_source_remove (out->idle_timer);
  g_free (out->thread_id);
  g_free (out);
}

typedef struct {
  AmmClient *client;    /* plain: the timer is removed at shutdown/finalize */
  char      *thread_id;
  char      *address;
  guint      timer;
} TypingIn;

static void
typing_in_free (TypingIn *ti)
{
  if (ti->timer)
    g_source_remove (ti->timer);
  g_free (ti->thread_id);
  g_free (ti->address);
  g_free (ti);
}

void
amm_typing_init (AmmConvState *st)
{
  st->typing_watched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  st->typing_out = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) typing_out_free);
  st->typing_in = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) typing_in_free);
  st->typing_expiry_ms = TYPING_EXPIRY_MS;
  st->typing_idle_ms = TYPING_IDLE_MS;
}

void
amm_typing_stop (AmmConvState *st)
{
  g_hash_table_remove_all (st->typing_in);  /* removes the expiry timers */
  g_hash_table_remove_all (st->typing_out); /* and the inactivity timers */
}

void
amm_typing_clear (AmmConvState *st)
{
  g_hash_table_destroy (st->typing_in);
  g_hash_table_destroy (st->typing_out);
  g_hash_table_destroy (st->typing_watched);
}

void
amm_client_set_typing_expiry (AmmClient *self, guint ms)
{
  amm_client_get_conv_state (self)->typing_expiry_ms = ms ? ms : TYPING_EXPIRY_MS;
}

void
amm_client_set_typing_idle (AmmClient *self, guint ms)
{
  amm_client_get_conv_state (self)->typing_idle_ms = ms ? ms : TYPING_IDLE_MS;
}

/* "<C>/<id>" */
static char *
chat_state_resource (AmmClient *self, const char *thread_id)
{
  const char *c = amm_client_get_resources (self)->conversations_href;
  g_autofree char *escaped = g_uri_escape_string (thread_id, NULL, FALSE);
  return g_strconcat (c, g_str_has_suffix (c, "/") ? "" : "/", escaped, NULL);
}

static char *
thread_of_resource (AmmClient *self, const char *resource)
{
  if (resource == NULL)
    return NULL;
  const char *c = amm_client_get_resources (self)->conversations_href;
  const char *rest = NULL;
  if (g_str_has_prefix (resource, c)) {
    rest = resource + strlen (c);
    while (*rest == '/')
      rest++;
  } else {
    const char *slash = strrchr (resource, '/');
    rest = slash ? slash + 1 : resource;
  }
  if (*rest == '\0' || strchr (rest, '/'))
    return NULL;
  return g_uri_unescape_string (rest, NULL);
}

static void
add_resource (JsonBuilder *b, const char *resource)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "application");
  json_builder_add_string_value (b, AMM_CHANNEL_APPLICATION);
  json_builder_set_member_name (b, "service");
  json_builder_add_string_value (b, AMM_CHANNEL_SERVICE_CHAT_STATE);
  json_builder_set_member_name (b, "resource");
  json_builder_add_string_value (b, resource);
}

static void
send_subscription (AmmClient *self, AmmChannel *ch, const char *thread_id, gboolean subscribe)
{
  g_autofree char *resource = chat_state_resource (self, thread_id);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, subscribe ? "subscribe" : "unsubscribe");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "resources");
  json_builder_begin_array (b);
  add_resource (b, resource);
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) frame = json_builder_get_root (b);
  amm_channel_send (ch, frame);
}

void
amm_client_watch_typing (AmmClient *self, const char *thread_id, gboolean watch)
{
  AmmConvState *st = amm_client_get_conv_state (self);
  if (thread_id == NULL || amm_client_is_shut_down (self))
    return;
  gboolean had = g_hash_table_contains (st->typing_watched, thread_id);
  if (watch == had)
    return;
  if (watch)
    g_hash_table_add (st->typing_watched, g_strdup (thread_id));
  else
    g_hash_table_remove (st->typing_watched, thread_id);
  AmmChannel *ch = amm_client_get_live_channel (self);
  if (ch)
    send_subscription (self, ch, thread_id, watch);
}

void
amm_conv_on_channel_up (AmmClient *self)
{
  AmmConvState *st = amm_client_get_conv_state (self);
  AmmChannel *ch = amm_client_get_live_channel (self);
  if (ch == NULL)
    return;
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, st->typing_watched);
  while (g_hash_table_iter_next (&it, &key, NULL))
    send_subscription (self, ch, key, TRUE);
  /* a new channel: our own next state goes out unthrottled */
  g_hash_table_remove_all (st->typing_out);
}

static void
send_state (AmmClient *self, AmmChannel *ch, const char *thread_id, const char *state)
{
  g_autofree char *resource = chat_state_resource (self, thread_id);
  g_autofree char *request_id = amm_channel_new_request_id ();
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "notify");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "requestId");
  json_builder_add_string_value (b, request_id);
  json_builder_set_member_name (b, "notifications");
  json_builder_begin_array (b);
  add_resource (b, resource);
  json_builder_set_member_name (b, "contents");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "action");
  json_builder_add_string_value (b, "typing");
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, state);
  json_builder_end_object (b);
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) frame = json_builder_get_root (b);
  amm_channel_send (ch, frame);
}

/* Local inactivity: the user stopped typing without the UI saying so. */
static gboolean
on_typing_idle (gpointer data)
{
  TypingOut *out = data;
  AmmClient *self = out->client;
  out->idle_timer = 0;
  if (out->last_sent != AMM_TYPING_COMPOSING || amm_client_is_shut_down (self))
    return G_SOURCE_REMOVE;
  AmmChannel *ch = amm_client_get_live_channel (self);
  if (ch)
    send_state (self, ch, out->thread_id, "paused");
  out->last_sent = AMM_TYPING_PAUSED;
  return G_SOURCE_REMOVE;
}

void
amm_client_send_typing (AmmClient *self, const char *thread_id, AmmTypingState state)
{
  AmmConvState *st = amm_client_get_conv_state (self);
  AmmChannel *ch = thread_id && !amm_client_is_shut_down (self) ? amm_client_get_live_channel (self) : NULL;
  if (ch == NULL)
    return;
  TypingOut *out = g_hash_table_lookup (st->typing_out, thread_id);
  if (out == NULL) {
    out = g_new0 (TypingOut, 1);
    out->client = self;
    out->thread_id = g_strdup (thread_id);
    out->last_sent = AMM_TYPING_NONE;
    g_hash_table_replace (st->typing_out, g_strdup (thread_id), out);
  }
  gint64 now = g_get_monotonic_time ();
  if (state == AMM_TYPING_COMPOSING) {
    /* local activity, sent or throttled: the inactivity delay starts again */
    if (out->idle_timer)
      g_source_remove (out->idle_timer);
    out->idle_timer = g_timeout_add (st->typing_idle_ms, on_typing_idle, out);
    if (out->last_sent == AMM_TYPING_COMPOSING && now - out->last_composing_us < TYPING_THROTTLE_US)
      return;
    send_state (self, ch, thread_id, "composing");
    out->last_sent = AMM_TYPING_COMPOSING;
    out->last_composing_us = now;
  } else {
    if (out->idle_timer) {
      g_source_remove (out->idle_timer);
      out->idle_timer = 0;
    }
    if (out->last_sent == AMM_TYPING_COMPOSING) {
      send_state (self, ch, thread_id, "paused");
      out->last_sent = AMM_TYPING_PAUSED;
    }
  }
}

/* ---- others' typing --------------------------------------------------------------------------- */

static char *
typing_key (const char *thread_id, const char *address)
{
  g_autofree char *lower = g_ascii_strdown (address, -1);
  return g_strconcat (thread_id, "\n", lower, NULL);
}

static void
emit_typing (AmmClient *self, const char *thread_id, const char *address, AmmTypingState state)
{
  if (amm_client_can_emit (self))
    g_signal_emit_by_name (self, "typing", thread_id, address, (guint) state);
}

static gboolean
on_typing_expired (gpointer data)
{
  TypingIn *ti = data;
  AmmClient *self = ti->client;
  ti->timer = 0;
  g_autofree char *thread_id = g_strdup (ti->thread_id);
  g_autofree char *address = g_strdup (ti->address);
  g_autofree char *key = typing_key (thread_id, address);
  g_hash_table_remove (amm_client_get_conv_state (self)->typing_in, key); /* frees ti */
  emit_typing (self, thread_id, address, AMM_TYPING_NONE);
  return G_SOURCE_REMOVE;
}

static void
remote_state (AmmClient *self, const char *thread_id, const char *address, AmmTypingState state)
{
  AmmConvState *st = amm_client_get_conv_state (self);
  g_autofree char *key = typing_key (thread_id, address);
  if (state == AMM_TYPING_NONE) {
    g_hash_table_remove (st->typing_in, key);
  } else {
    TypingIn *ti = g_hash_table_lookup (st->typing_in, key);
    if (ti == NULL) {
      ti = g_new0 (TypingIn, 1);
      ti->client = self;
      ti->thread_id = g_strdup (thread_id);
      ti->address = g_strdup (address);
      g_hash_table_replace (st->typing_in, g_strdup (key), ti);
    }
    if (ti->timer)
      g_source_remove (ti->timer);
    ti->timer = g_timeout_add (st->typing_expiry_ms, on_typing_expired, ti);
  }
  emit_typing (self, thread_id, address, state);
}

void
amm_typing_message_arrived (AmmClient *self, const char *thread_id, const char *address)
{
  AmmConvState *st = amm_client_get_conv_state (self);
  g_autofree char *key = typing_key (thread_id, address);
  if (g_hash_table_remove (st->typing_in, key))
    emit_typing (self, thread_id, address, AMM_TYPING_NONE);
}

void
amm_conv_on_frame (AmmClient *self, AmmFrame *frame)
{
  if (frame->type != AMM_FRAME_NOTIFICATION || g_strcmp0 (frame->service, AMM_CHANNEL_SERVICE_CHAT_STATE) != 0
      || frame->contents == NULL || !JSON_NODE_HOLDS_OBJECT (frame->contents) || !amm_client_can_emit (self))
    return;
  JsonObject *c = json_node_get_object (frame->contents);
  JsonNode *an = json_object_get_member (c, "address");
  JsonNode *sn = json_object_get_member (c, "state");
  const char *address = an && JSON_NODE_HOLDS_VALUE (an) && json_node_get_value_type (an) == G_TYPE_STRING
                        ? json_node_get_string (an) : NULL;
  const char *state = sn && JSON_NODE_HOLDS_VALUE (sn) && json_node_get_value_type (sn) == G_TYPE_STRING
                      ? json_node_get_string (sn) : NULL;
  g_autofree char *thread_id = thread_of_resource (self, frame->resource);
  if (address == NULL || *address == '\0' || thread_id == NULL
      || g_ascii_strcasecmp (address, amm_client_get_self_address (self)) == 0)
    return;
  AmmTypingState s = g_strcmp0 (state, "composing") == 0 ? AMM_TYPING_COMPOSING
                     : g_strcmp0 (state, "paused") == 0  ? AMM_TYPING_PAUSED
                                                         : AMM_TYPING_NONE;
  remote_state (self, thread_id, address, s);
}
