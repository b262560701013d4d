/* server-generate.c: bulk seeding and timed bursts for benchmarks (control port only).
 *
 *   POST /control/generate {"user", "conversations":N, "messages":M, "groupEvery":K,
 *                           "senders":[addr…]?, "notify":false}
 *     N conversations of `user`, each with M messages from the senders (unread for `user`).
 *     Conversation i is 1:1 with senders[i % S], or, when K > 0 and i % K == K-1, a group of
 *     `user` + senders[i % S] + senders[(i+1) % S] whose messages alternate between the two.
 *     Bodies: "gen <i>/<j>". No notification unless "notify" (then one per conversation).
 *     Answer: {"threads":[id…], "messages":N*M}.
 *
 *   POST /control/burst {"user", "threads":[id…], "messages":N, "rate":R, "tickMs":T}
 *     Stores N messages round-robin over `threads` (sent by a participant other than `user`,
 *     rotating), R per second, in batches every T ms (default 10); after each batch the
 *     participants' entity tags go up once per touched conversation and `user`'s channels and
 *     long polls are notified once. Bodies: "burst <seq> c<k> t<monotonic µs when stored>".
 *     Answered at once: {"scheduled":N}; GET /control/burst → {"stored":n,"total":N,"done":b}.
 *
 * Users come from the seed: a benchmark that needs more senders passes its own --seed.
 */
#include "server.h"

#include <string.h>

#define GEN_PREFIX "/control/"

typedef struct {
  AmmServer *server;
  char      *user;
  GPtrArray *threads;   /* char* */
  guint      total;
  guint      stored;
  guint      rate;
  guint      tick_ms;
  gint64     start_us;
  guint      source;
} Burst;

static Burst *current_burst;

static void
burst_free (Burst *b)
{
  if (b->source)
    g_source_remove (b->source);
  g_ptr_array_unref (b->threads);
  g_free (b->user);
  g_free (b);
}

static char **
senders_of (AmmServer *server, JsonObject *o, const char *user)
{
  g_autoptr (GStrvBuilder) sb = g_strv_builder_new ();
  JsonNode *n = json_object_get_member (o, "senders");

  if (n && JSON_NODE_HOLDS_ARRAY (n)) {
    JsonArray *a = json_node_get_array (n);
    for (guint i = 0; i < json_array_get_length (a); i++) {
      const char *s = json_array_get_string_element (a, i);
      if (s && amm_state_find_user (server->state, s) && g_ascii_strcasecmp (s, user) != 0)
        g_strv_builder_add (sb, s);
    }
  } else {
    for (guint i = 0; i < server->state->users->len; i++) {
      AmmUser *u = server->state->users->pdata[i];
      if (g_ascii_strcasecmp (u->address, user) != 0)
        g_strv_builder_add (sb, u->address);
    }
  }
  return g_strv_builder_end (sb);
}

static void
control_generate (AmmServer *server, SoupServerMessage *msg)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonNode) doc = json_node_new (JSON_NODE_OBJECT);
  g_autoptr (GError) error = NULL;
  JsonObject *o = amm_parse_body_object (msg, &root);
  JsonObject *out;
  JsonArray *threads;
  const char *user;
  g_auto (GStrv) senders = NULL;
  guint ns, nconv, nmsg, group_every;
  gboolean notify;

  if (!o)
    return;
  user = json_object_get_string_member_with_default (o, "user", NULL);
  if (!amm_state_find_user (server->state, user)) {
    amm_respond_error (msg, 400, "PARTICIPANT_ADDRESS_INVALID", "\"user\" is not a user", NULL);
    return;
  }
  senders = senders_of (server, o, user);
  ns = g_strv_length (senders);
  nconv = (guint) json_object_get_int_member_with_default (o, "conversations", 1);
  nmsg = (guint) json_object_get_int_member_with_default (o, "messages", 1);
  group_every = (guint) json_object_get_int_member_with_default (o, "groupEvery", 0);
  notify = json_object_get_boolean_member_with_default (o, "notify", FALSE);
  if (ns == 0 || nmsg == 0 || nconv > 1000000 || nmsg > 100000) {
    amm_respond_error (msg, 400, "INVALID_PARAMETER", "No senders, or a bad count", NULL);
    return;
  }
  out = json_object_new ();
  threads = json_array_new ();
  for (guint i = 0; i < nconv; i++) {
    gboolean group = ns > 1 && group_every > 0 && i % group_every == group_every - 1;
    const char *s1 = senders[i % ns], *s2 = senders[(i + 1) % ns];
    const char *to[] = { user, group ? s2 : NULL, NULL };
    AmmConversation *conv = NULL;

    for (guint j = 0; j < nmsg; j++) {
      g_autofree char *body = g_strdup_printf ("gen %u/%u", i, j);
      const char *from = group && (j & 1) ? s2 : s1;
      AmmMessage *m = amm_state_send (server->state, from, to, conv ? conv->id : NULL, "", body,
                                      NULL, NULL, NULL, 0, NULL, NULL, &error);
      if (!m) {
        json_object_unref (out);
        json_array_unref (threads);
        amm_respond_fault (msg, error);
        return;
      }
      conv = amm_state_find_conversation (server->state, m->thread_id);
    }
    json_array_add_string_element (threads, conv->id);
    if (notify)
      amm_server_changed (server, conv, NULL, NULL);
  }
  amm_state_schedule_save (server->state);
  json_object_set_array_member (out, "threads", threads);
  json_object_set_int_member (out, "messages", (gint64) nconv * nmsg);
  json_node_take_object (doc, out);
  amm_respond_json (msg, 200, "application/json", doc);
}

/* One batch of the burst. */
static gboolean
burst_tick (gpointer data)
{
  Burst *b = data;
  AmmServer *server = b->server;
  gint64 now = g_get_monotonic_time ();
  /* as many as the rate allows by now (catches up after a late tick) */
  guint due = (guint) MIN ((guint64) b->total, (guint64) ((now - b->start_us) * b->rate / 1000000) + 1);
  g_autoptr (GHashTable) touched = g_hash_table_new (g_direct_hash, g_direct_equal);
  GHashTableIter it;
  gpointer key;

  while (b->stored < due) {
    guint k = b->stored % b->threads->len;
    AmmConversation *conv = amm_state_find_conversation (server->state, b->threads->pdata[k]);
    const char *from = NULL;
    guint others = 0, pick;

    if (!conv) {
      b->stored++;
      continue;
    }
    for (guint i = 0; i < conv->participants->len; i++) {
      AmmParticipant *p = conv->participants->pdata[i];
      if (p->active && g_ascii_strcasecmp (p->address, b->user) != 0)
        others++;
    }
    pick = others ? (b->stored / b->threads->len) % others : 0;
    for (guint i = 0; i < conv->participants->len && !from; i++) {
      AmmParticipant *p = conv->participants->pdata[i];
      if (p->active && g_ascii_strcasecmp (p->address, b->user) != 0 && pick-- == 0)
        from = p->address;
    }
    if (from) {
      g_autofree char *body = g_strdup_printf ("burst %u c%u t%" G_GINT64_FORMAT, b->stored, k,
                                               g_get_monotonic_time ());
      if (amm_state_send (server->state, from, NULL, conv->id, "", body, NULL, NULL, NULL, 0,
                          NULL, NULL, NULL))
        g_hash_table_add (touched, conv);
    }
    b->stored++;
  }
  g_hash_table_iter_init (&it, touched);
  while (g_hash_table_iter_next (&it, &key, NULL)) {
    AmmConversation *conv = key;
    for (guint i = 0; i < conv->participants->len; i++) {
      AmmParticipant *p = conv->participants->pdata[i];
      AmmUser *u = p->active ? amm_state_find_user (server->state, p->address) : NULL;
      if (u)
        u->entity_tag++;
    }
  }
  if (g_hash_table_size (touched) > 0) {
    amm_state_schedule_save (server->state);
    amm_channel_notify_conversation (server, b->user);
    amm_long_poll_wake (server, b->user);
  }
  if (b->stored >= b->total) {
    b->source = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
control_burst (AmmServer *server, SoupServerMessage *msg)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonNode) doc = json_node_new (JSON_NODE_OBJECT);
  JsonObject *o = amm_parse_body_object (msg, &root);
  JsonObject *out;
  JsonNode *n;
  const char *user;
  Burst *b;

  if (!o)
    return;
  user = json_object_get_string_member_with_default (o, "user", NULL);
  n = json_object_get_member (o, "threads");
  if (!amm_state_find_user (server->state, user) || !n || !JSON_NODE_HOLDS_ARRAY (n)
      || json_array_get_length (json_node_get_array (n)) == 0) {
    amm_respond_error (msg, 400, "INVALID_PARAMETER", "\"user\" and \"threads\" are needed", NULL);
    return;
  }
  b = g_new0 (Burst, 1);
  b->server = server;
  b->user = g_strdup (amm_state_find_user (server->state, user)->address);
  b->threads = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < json_array_get_length (json_node_get_array (n)); i++)
    g_ptr_array_add (b->threads, g_strdup (json_array_get_string_element (json_node_get_array (n), i)));
  b->total = (guint) json_object_get_int_member_with_default (o, "messages", 1000);
  b->rate = (guint) MAX (1, json_object_get_int_member_with_default (o, "rate", 5000));
  b->tick_ms = (guint) CLAMP (json_object_get_int_member_with_default (o, "tickMs", 10), 1, 1000);
  b->start_us = g_get_monotonic_time ();
  if (current_burst)
    burst_free (current_burst);
  current_burst = b;
  b->source = g_timeout_add (b->tick_ms, burst_tick, b);
  out = json_object_new ();
  json_object_set_int_member (out, "scheduled", b->total);
  json_node_take_object (doc, out);
  amm_respond_json (msg, 200, "application/json", doc);
}

static void
control_burst_state (AmmServer *server, SoupServerMessage *msg)
{
  g_autoptr (JsonNode) doc = json_node_new (JSON_NODE_OBJECT);
  JsonObject *out = json_object_new ();

  json_object_set_int_member (out, "stored", current_burst ? current_burst->stored : 0);
  json_object_set_int_member (out, "total", current_burst ? current_burst->total : 0);
  json_object_set_boolean_member (out, "done",
                                  !current_burst || current_burst->stored >= current_burst->total);
  json_node_take_object (doc, out);
  amm_respond_json (msg, 200, "application/json", doc);
}

gboolean
amm_generate_control (AmmServer *server, SoupServerMessage *msg, const char *path)
{
  const char *method = soup_server_message_get_method (msg);

  if (g_str_equal (method, "POST") && g_str_equal (path, GEN_PREFIX "generate"))
    control_generate (server, msg);
  else if (g_str_equal (method, "POST") && g_str_equal (path, GEN_PREFIX "burst"))
    control_burst (server, msg);
  else if (g_str_equal (method, "GET") && g_str_equal (path, GEN_PREFIX "burst"))
    control_burst_state (server, msg);
  else
    return FALSE;
  return TRUE;
}
