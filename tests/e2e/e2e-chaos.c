/* e2e-chaos.c: alice and bob (real libpurple accounts through the plugin) exchange messages in
 * an IM and in a group conversation with carol while the server is restarted (a real process
 * restart, state kept) and their WebSockets are dropped at random moments. Every message must
 * be shown exactly once, in order within its conversation (per sender), and the accounts must
 * come back each time within the back-off bound.
 *
 * Traffic: carol's group messages and some of bob's IMs go through the control port (fast);
 * the rest are sent by alice and bob through the plugin (purple_conv_im_send,
 * purple_conv_chat_send) as a user would. When the plugin reports a network error, the test
 * reconnects the account as Pidgin's auto-reconnect would, and measures how long that took.
 *
 * Knobs (environment): AMM_CHAOS_SEED (default: the time), AMM_CHAOS_MESSAGES (default 5000),
 * AMM_CHAOS_RESTARTS (default 20). The seed is printed: a failing run can be repeated.
 */
#include <string.h>
#include "harness.h"

#define ALICE "alice@example.com"
#define BOB   "bob@example.com"
#define CAROL "carol@example.com"
#define BACKOFF "50:400:6"          /* AMM_TEST_BACKOFF: base 50 ms, max 400 ms, 6 attempts */
#define BACKOFF_BOUND_MS 10000      /* a reconnect, or the recovery after a restart, within this */

/* --- what each account showed ----------------------------------------------------------- */

typedef struct {
  E2eAccount *a;
  GPtrArray  *chat_lines;   /* char*: texts written into the group chat, in order */
  guint       chat_errors;
  gint64      error_at;     /* a NETWORK_ERROR noticed, reconnect pending (monotonic µs) */
  guint       seen_errors;
  guint       seen_signons;
  GArray     *reconnect_ms; /* gint64 */
} Peer;

static Peer peers[2];
static char *group_thread;
static int handle;

static Peer *
peer_of (PurpleAccount *account)
{
  for (guint i = 0; i < G_N_ELEMENTS (peers); i++)
    if (peers[i].a && peers[i].a->account == account)
      return &peers[i];
  return NULL;
}

/* probes: the first carol message after each restart, and when each peer showed it */
typedef struct {
  char   *text;
  gint64  sent_at;
  gint64  shown_at[2];
} Probe;

static GPtrArray *probes;

static void
note_probe (Peer *p, const char *text)
{
  for (guint i = 0; probes && i < probes->len; i++) {
    Probe *pr = g_ptr_array_index (probes, i);
    if (pr->shown_at[p - peers] == 0 && g_strcmp0 (pr->text, text) == 0)
      pr->shown_at[p - peers] = g_get_monotonic_time ();
  }
}

static void
on_wrote_chat (PurpleAccount *account, const char *who, char *msg, PurpleConversation *conv,
               PurpleMessageFlags flags, gpointer data)
{
  Peer *p = peer_of (account);
  if (p == NULL || conv == NULL || g_strcmp0 (purple_conversation_get_name (conv), group_thread) != 0)
    return;
  if (flags & PURPLE_MESSAGE_ERROR) {
    p->chat_errors++;
    return;
  }
  char *text = e2e_html_to_text (msg);
  if (g_str_has_prefix (text, "g:")) {
    note_probe (p, text);
    g_ptr_array_add (p->chat_lines, text);
  } else {
    g_free (text);
  }
}

static void
on_received_chat (PurpleAccount *account, char *who, char *msg, PurpleConversation *conv,
                  PurpleMessageFlags flags, gpointer data)
{
}

/* --- expected traffic ------------------------------------------------------------------- */

typedef enum { S_CAROL, S_BOB_CONTROL, S_ALICE_IM, S_BOB_IM, S_ALICE_CHAT, S_BOB_CHAT, N_STREAMS } Stream;
static const char *const stream_tag[N_STREAMS] = { "g:carol", "i:bobc", "i:alice", "i:bob", "g:alice", "g:bob" };
static guint stream_count[N_STREAMS];

/* Every message sent, by conversation: "i:…" (the IM) and "g:…" (the group). */
static GPtrArray *expected_im, *expected_group;

static char *
next_text (Stream s)
{
  char *t = g_strdup_printf ("%s:%u", stream_tag[s], stream_count[s]++);
  g_ptr_array_add (s == S_BOB_CONTROL || s == S_ALICE_IM || s == S_BOB_IM ? expected_im : expected_group,
                   g_strdup (t));
  return t;
}

/* "i:bob:17" → stream index of "i:bob" and 17; FALSE if not ours */
static gboolean
parse_text (const char *text, int *stream, guint *seq)
{
  const char *colon = strrchr (text, ':');
  if (colon == NULL)
    return FALSE;
  for (int s = 0; s < N_STREAMS; s++)
    if (strlen (stream_tag[s]) == (gsize) (colon - text) && strncmp (text, stream_tag[s], colon - text) == 0) {
      *stream = s;
      *seq = (guint) g_ascii_strtoull (colon + 1, NULL, 10);
      return TRUE;
    }
  return FALSE;
}

typedef struct {
  guint lost, duplicated, reordered, extra;
} Tally;

/* Compare what one account showed in one conversation with what was sent there. */
static void
tally (GPtrArray *shown, GPtrArray *expected, Tally *t)
{
  g_autoptr (GHashTable) count = g_hash_table_new (g_str_hash, g_str_equal);
  gint64 last[N_STREAMS];
  for (int s = 0; s < N_STREAMS; s++)
    last[s] = -1;
  for (guint i = 0; i < shown->len; i++) {
    const char *text = g_ptr_array_index (shown, i);
    guint n = GPOINTER_TO_UINT (g_hash_table_lookup (count, text));
    g_hash_table_insert (count, (gpointer) text, GUINT_TO_POINTER (n + 1));
    if (n >= 1) {
      t->duplicated++;
      continue;
    }
    int s;
    guint seq;
    if (!parse_text (text, &s, &seq)) {
      t->extra++;
      continue;
    }
    if ((gint64) seq < last[s])
      t->reordered++;
    else
      last[s] = seq;
  }
  for (guint i = 0; i < expected->len; i++)
    if (!g_hash_table_contains (count, g_ptr_array_index (expected, i)))
      t->lost++;
}

/* The IM texts an account showed in its window with `peer`. */
static GPtrArray *
im_lines (E2eAccount *a, const char *peer, guint *errors, gboolean print)
{
  GPtrArray *out = g_ptr_array_new ();
  *errors = 0;
  for (guint i = 0; i < a->written->len; i++) {
    E2eMessage *m = g_ptr_array_index (a->written, i);
    if (g_strcmp0 (m->conv_name, peer) != 0)
      continue;
    if (m->flags & PURPLE_MESSAGE_ERROR) {
      (*errors)++;
      if (print)
        g_printerr ("# %s: error shown: %s\n", a->username, m->text);
    }
    else if (g_str_has_prefix (m->text, "i:"))
      g_ptr_array_add (out, m->text);
  }
  return out;
}

static guint
missing_for (Peer *p, const char *peer)
{
  guint errors;
  g_autoptr (GPtrArray) im = im_lines (p->a, peer, &errors, FALSE);
  Tally ti = { 0 }, tg = { 0 };
  tally (im, expected_im, &ti);
  tally (p->chat_lines, expected_group, &tg);
  return ti.lost + tg.lost;
}

static gboolean
all_shown (gpointer data)
{
  return missing_for (&peers[0], BOB) == 0 && missing_for (&peers[1], ALICE) == 0;
}

/* --- reconnecting like a UI ------------------------------------------------------------- */

static guint network_errors, other_errors;

/* A NETWORK_ERROR → reconnect (Pidgin's auto-reconnect, without its minutes of delay). */
static void
tend (Peer *p)
{
  E2eAccount *a = p->a;
  if (a->errors > p->seen_errors) {
    p->seen_errors = a->errors;
    if (a->last_error == PURPLE_CONNECTION_ERROR_NETWORK_ERROR)
      network_errors++;
    else {
      other_errors++;
      g_printerr ("# %s: connection error %d: %s\n", a->username, (int) a->last_error, a->last_error_text);
    }
    p->error_at = g_get_monotonic_time ();
    e2e_account_connect (a);
  }
  if (a->signed_on > p->seen_signons) {
    p->seen_signons = a->signed_on;
    if (p->error_at) {
      gint64 ms = (g_get_monotonic_time () - p->error_at) / 1000;
      g_array_append_val (p->reconnect_ms, ms);
      p->error_at = 0;
    }
  }
  /* a reconnect that itself failed leaves the account offline: try again */
  if (p->error_at && !e2e_account_is_connected (a)
      && purple_account_is_disconnected (a->account)
      && (g_get_monotonic_time () - p->error_at) > 2 * G_USEC_PER_SEC) {
    p->error_at = g_get_monotonic_time ();
    e2e_account_connect (a);
  }
}

static void
pump (guint iterations)
{
  for (guint i = 0; i < iterations; i++)
    g_main_context_iteration (NULL, FALSE);
  tend (&peers[0]);
  tend (&peers[1]);
}

/* --- sending ----------------------------------------------------------------------------- */

static void
control_send (AmmTestServer *server, const char *from, const char *thread, const char *text)
{
  for (int attempt = 0; attempt < 3; attempt++) {
    JsonNode *n = amm_test_server_send (server, from, NULL, thread, text);
    if (n) {
      json_node_unref (n);
      return;
    }
    g_usleep (50000);
  }
  g_error ("control send of %s failed", text);
}

static PurpleConversation *
joined_chat (E2eAccount *a)
{
  PurpleConversation *c = purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, group_thread, a->account);
  return c && !purple_conv_chat_has_left (PURPLE_CONV_CHAT (c)) ? c : NULL;
}

static gboolean
plugin_ready (E2eAccount *a)
{
  return e2e_account_is_connected (a);
}

/* --- bootstrap ---------------------------------------------------------------------------- */

typedef struct {
  E2eAccount *a;
} ChatWait;

static gboolean
both_in_chat (gpointer data)
{
  return joined_chat (peers[0].a) && joined_chat (peers[1].a);
}

static gboolean
have_cursors (gpointer data)
{
  return e2e_account_cursor (peers[0].a) != NULL && e2e_account_cursor (peers[1].a) != NULL;
}

static gint
cmp_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static void
print_times (const char *what, GArray *ms)
{
  if (ms->len == 0) {
    g_print ("# %s: none\n", what);
    return;
  }
  g_array_sort (ms, cmp_i64);
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < ms->len; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? " " : "", g_array_index (ms, gint64, i));
  g_print ("# %s (ms, n=%u): min %" G_GINT64_FORMAT " median %" G_GINT64_FORMAT " max %" G_GINT64_FORMAT
           " [%s]\n", what, ms->len, g_array_index (ms, gint64, 0), g_array_index (ms, gint64, ms->len / 2),
           g_array_index (ms, gint64, ms->len - 1), s->str);
  g_string_free (s, TRUE);
}

static guint
env_uint (const char *name, guint def)
{
  const char *v = g_getenv (name);
  return v && *v ? (guint) g_ascii_strtoull (v, NULL, 10) : def;
}

static void
test_chaos (void)
{
  guint64 seed = g_getenv ("AMM_CHAOS_SEED") ? g_ascii_strtoull (g_getenv ("AMM_CHAOS_SEED"), NULL, 10)
                                             : (guint64) g_get_real_time ();
  guint total = env_uint ("AMM_CHAOS_MESSAGES", 5000);
  guint restarts = env_uint ("AMM_CHAOS_RESTARTS", 20);
  g_print ("# chaos seed %" G_GUINT64_FORMAT " (AMM_CHAOS_SEED=%" G_GUINT64_FORMAT " repeats it), %u messages, "
           "%u restarts\n", seed, seed, total, restarts);
  GRand *rng = g_rand_new_with_seed ((guint32) seed);

  g_setenv ("AMM_TEST_BACKOFF", BACKOFF, TRUE);
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  expected_im = g_ptr_array_new_with_free_func (g_free);
  expected_group = g_ptr_array_new_with_free_func (g_free);
  probes = g_ptr_array_new ();
  purple_signal_connect (purple_conversations_get_handle (), "wrote-chat-msg", &handle,
                         PURPLE_CALLBACK (on_wrote_chat), NULL);
  purple_signal_connect (purple_conversations_get_handle (), "received-chat-msg", &handle,
                         PURPLE_CALLBACK (on_received_chat), NULL);
  const char *names[2] = { ALICE, BOB }, *passwords[2] = { "alice-pw", "bob-pw" };
  for (guint i = 0; i < 2; i++) {
    peers[i].a = e2e_account_new (names[i], passwords[i], server, NULL);
    peers[i].chat_lines = g_ptr_array_new_with_free_func (g_free);
    peers[i].reconnect_ms = g_array_new (FALSE, FALSE, sizeof (gint64));
    g_assert_true (e2e_account_login (peers[i].a, 15000));
    peers[i].seen_signons = peers[i].a->signed_on;
  }
  /* past the first login's listing (which shows only unread messages): everything is new now */
  g_assert_true (e2e_wait (have_cursors, NULL, 15000));
  /* the IM thread (bob → alice) and the group (carol → alice, bob) */
  const char *to_alice[] = { ALICE, NULL }, *to_both[] = { ALICE, BOB, NULL };
  g_autofree char *t0 = next_text (S_BOB_CONTROL);
  JsonNode *n = amm_test_server_send (server, BOB, to_alice, NULL, t0);
  g_assert_nonnull (n);
  json_node_unref (n);
  g_autofree char *g0 = next_text (S_CAROL);
  n = amm_test_server_send (server, CAROL, to_both, NULL, g0);
  g_assert_nonnull (n);
  group_thread = g_strdup (json_object_get_string_member (json_node_get_object (n), "threadId"));
  json_node_unref (n);
  g_assert_true (e2e_wait (both_in_chat, NULL, 15000));
  if (!e2e_wait (all_shown, NULL, 15000))
    for (guint i = 0; i < 2; i++) {
      for (guint j = 0; j < peers[i].a->written->len; j++) {
        E2eMessage *m = g_ptr_array_index (peers[i].a->written, j);
        g_printerr ("# %s wrote [%s] %s flags %x\n", peers[i].a->username, m->conv_name, m->text, m->flags);
      }
      for (guint j = 0; j < peers[i].chat_lines->len; j++)
        g_printerr ("# %s chat %s\n", peers[i].a->username, (char *) g_ptr_array_index (peers[i].chat_lines, j));
    }
  g_assert_true (all_shown (NULL));
  /* bob's plugin knows the IM thread only once it has shown it */
  JsonNode *msgs = amm_test_server_messages (server, ALICE);
  const char *im_thread = NULL;
  JsonArray *arr = json_node_get_array (msgs);
  for (guint i = 0; i < json_array_get_length (arr); i++) {
    JsonObject *o = json_array_get_object_element (arr, i);
    if (g_strcmp0 (json_object_get_string_member_with_default (o, "body", ""), t0) == 0)
      im_thread = json_object_get_string_member (o, "threadId");
  }
  g_assert_nonnull (im_thread);
  g_autofree char *im = g_strdup (im_thread);
  json_node_unref (msgs);

  /* when to restart and when to drop a WebSocket */
  g_autoptr (GHashTable) restart_at = g_hash_table_new (NULL, NULL);
  for (guint k = 1; k <= restarts; k++) {
    guint span = total / (restarts + 1);
    guint at = k * span + g_rand_int_range (rng, -(gint) span / 3, (gint) span / 3 + 1);
    g_hash_table_add (restart_at, GUINT_TO_POINTER (at));
  }
  guint drops = 0, restarted = 0, plugin_sends = 0, control_sends = 0;
  gint64 started = g_get_monotonic_time ();
  gboolean probe_next = FALSE;
  for (guint step = 2; step < total; step++) {
    if (g_hash_table_contains (restart_at, GUINT_TO_POINTER (step))) {
      amm_test_server_restart (server);
      restarted++;
      probe_next = TRUE;
    }
    if (g_rand_int_range (rng, 0, 1000) < 8) {   /* ~0.8% of the steps: a dropped WebSocket */
      g_autofree char *path = g_strdup_printf ("/control/drop-channels?user=%s", g_rand_boolean (rng) ? ALICE : BOB);
      JsonNode *d = amm_test_server_control (server, "POST", path, NULL, NULL);
      g_clear_pointer (&d, json_node_unref);
      drops++;
    }
    int r = g_rand_int_range (rng, 0, 100);
    Stream s = r < 45 ? S_CAROL : r < 62 ? S_BOB_CONTROL : r < 76 ? S_ALICE_IM : r < 90 ? S_BOB_IM
             : r < 95 ? S_ALICE_CHAT : S_BOB_CHAT;
    E2eAccount *sender = s == S_ALICE_IM || s == S_ALICE_CHAT ? peers[0].a
                       : s == S_BOB_IM || s == S_BOB_CHAT ? peers[1].a : NULL;
    PurpleConversation *chat = NULL;
    if (sender && (!plugin_ready (sender)
                   || ((s == S_ALICE_CHAT || s == S_BOB_CHAT) && !(chat = joined_chat (sender)))))
      s = S_CAROL, sender = NULL;   /* offline: the traffic goes on without it */
    if (probe_next)
      s = S_CAROL, sender = NULL;
    g_autofree char *text = next_text (s);
    if (sender == NULL) {
      if (probe_next) {
        Probe *pr = g_new0 (Probe, 1);
        pr->text = g_strdup (text);
        pr->sent_at = g_get_monotonic_time ();
        g_ptr_array_add (probes, pr);
        probe_next = FALSE;
      }
      control_send (server, s == S_CAROL ? CAROL : BOB, s == S_CAROL ? group_thread : im, text);
      control_sends++;
    } else if (chat) {
      g_autofree char *html = e2e_text_to_html (text);
      purple_conv_chat_send (PURPLE_CONV_CHAT (chat), html);
      plugin_sends++;
    } else {
      e2e_account_send (sender, s == S_ALICE_IM ? BOB : ALICE, text);
      plugin_sends++;
    }
    pump (step % 16 == 0 ? 64 : 4);
    if (step % 64 == 0)
      e2e_run_for (5);
  }
  gint64 traffic_ms = (g_get_monotonic_time () - started) / 1000;
  /* let everything arrive (and offline accounts come back) */
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (!all_shown (NULL) && g_get_monotonic_time () < deadline) {
    e2e_run_for (100);
    pump (16);
  }
  e2e_run_for (1000);   /* a late duplicate would show now */
  pump (16);
  gint64 total_ms = (g_get_monotonic_time () - started) / 1000;

  /* --- the figures --- */
  Tally sum = { 0 };
  guint send_errors = 0;
  const char *peer_of_name[2] = { BOB, ALICE };
  for (guint i = 0; i < 2; i++) {
    guint im_errors;
    g_autoptr (GPtrArray) iml = im_lines (peers[i].a, peer_of_name[i], &im_errors, TRUE);
    Tally ti = { 0 }, tg = { 0 };
    tally (iml, expected_im, &ti);
    tally (peers[i].chat_lines, expected_group, &tg);
    g_print ("# %s: IM shown %u of %u (lost %u, duplicated %u, reordered %u, unexpected %u, errors %u); "
             "group shown %u of %u (lost %u, duplicated %u, reordered %u, unexpected %u, errors %u)\n",
             peers[i].a->username, iml->len, expected_im->len, ti.lost, ti.duplicated, ti.reordered, ti.extra,
             im_errors, peers[i].chat_lines->len, expected_group->len, tg.lost, tg.duplicated, tg.reordered,
             tg.extra, peers[i].chat_errors);
    sum.lost += ti.lost + tg.lost;
    sum.duplicated += ti.duplicated + tg.duplicated;
    sum.reordered += ti.reordered + tg.reordered;
    sum.extra += ti.extra + tg.extra;
    send_errors += im_errors + peers[i].chat_errors;
  }
  g_print ("# chaos: %u messages (%u through the plugin, %u through the control port) in %" G_GINT64_FORMAT
           " ms (traffic %" G_GINT64_FORMAT " ms); %u server restarts, %u WebSocket drops; "
           "%u network errors reported (reconnected), %u other errors\n",
           expected_im->len + expected_group->len, plugin_sends, control_sends + 2, total_ms, traffic_ms,
           restarted, drops, network_errors, other_errors);
  g_print ("# chaos result: lost %u, duplicated %u, reordered %u, unexpected %u, send errors shown %u\n",
           sum.lost, sum.duplicated, sum.reordered, sum.extra, send_errors);
  g_autoptr (GArray) reconnects = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < 2; i++)
    g_array_append_vals (reconnects, peers[i].reconnect_ms->data, peers[i].reconnect_ms->len);
  print_times ("account reconnects after a network error", reconnects);
  g_autoptr (GArray) recovery = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < probes->len; i++) {
    Probe *pr = g_ptr_array_index (probes, i);
    for (guint j = 0; j < 2; j++) {
      gint64 ms = pr->shown_at[j] ? (pr->shown_at[j] - pr->sent_at) / 1000 : -1;
      g_array_append_val (recovery, ms);
    }
  }
  print_times ("first message shown after a restart (per account)", recovery);

  g_assert_cmpuint (sum.lost, ==, 0);
  g_assert_cmpuint (sum.duplicated, ==, 0);
  g_assert_cmpuint (sum.reordered, ==, 0);
  g_assert_cmpuint (sum.extra, ==, 0);
  g_assert_cmpuint (send_errors, ==, 0);
  g_assert_cmpuint (other_errors, ==, 0);
  for (guint i = 0; i < reconnects->len; i++)
    g_assert_cmpint (g_array_index (reconnects, gint64, i), <, BACKOFF_BOUND_MS);
  for (guint i = 0; i < recovery->len; i++) {
    g_assert_cmpint (g_array_index (recovery, gint64, i), >=, 0);
    g_assert_cmpint (g_array_index (recovery, gint64, i), <, BACKOFF_BOUND_MS);
  }

  purple_signals_disconnect_by_handle (&handle);
  for (guint i = 0; i < 2; i++) {
    e2e_account_free (peers[i].a);
    peers[i].a = NULL;
    g_ptr_array_unref (peers[i].chat_lines);
    g_array_unref (peers[i].reconnect_ms);
  }
  for (guint i = 0; i < probes->len; i++) {
    Probe *pr = g_ptr_array_index (probes, i);
    g_free (pr->text);
    g_free (pr);
  }
  g_ptr_array_unref (probes);
  g_ptr_array_unref (expected_im);
  g_ptr_array_unref (expected_group);
  g_clear_pointer (&group_thread, g_free);
  g_rand_free (rng);
  g_unsetenv ("AMM_TEST_BACKOFF");
}

/* A 503 (or a proxy's HTML 502) at login is a network error: the UI reconnects. */
static void
check_login_fault (const char *json)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  guint status = 0;
  JsonNode *n = amm_test_server_control (server, "POST", "/control/fault", json, &status);
  g_assert_cmpuint (status, ==, 200);
  g_clear_pointer (&n, json_node_unref);
  E2eAccount *a = e2e_account_new (ALICE, "alice-pw", server, NULL);
  e2e_account_connect (a);
  g_assert_true (e2e_account_wait_error (a, 15000));
  g_assert_cmpint (a->last_error, ==, PURPLE_CONNECTION_ERROR_NETWORK_ERROR);
  g_test_message ("login error: %s", a->last_error_text);
  g_assert_null (strstr (a->last_error_text, "<html"));
  g_assert_true (e2e_account_login (a, 15000));
  e2e_account_free (a);
}

static void
test_login_503 (void)
{
  check_login_fault ("{\"name\":\"status\",\"status\":503,\"retryAfter\":3,\"path\":\"/aem/resources\",\"count\":1}");
}

static void
test_login_html_502 (void)
{
  check_login_fault ("{\"name\":\"html\",\"status\":502,\"path\":\"/aem/resources\",\"count\":1}");
}

/* An IM whose connection dies after the server stored it is shown once on both sides, and
 * no error is written. */
static void
test_im_store_then_reset (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  E2eAccount *alice = e2e_account_new (ALICE, "alice-pw", server, NULL);
  E2eAccount *bob = e2e_account_new (BOB, "bob-pw", server, NULL);
  g_assert_true (e2e_account_login (alice, 15000));
  g_assert_true (e2e_account_login (bob, 15000));
  e2e_account_send (alice, BOB, "warm up");
  g_assert_true (e2e_account_wait_received (bob, 1, 15000));
  guint status = 0;
  JsonNode *n = amm_test_server_control (server, "POST", "/control/fault",
                                         "{\"name\":\"store-reset\",\"path\":\"/aem/outbox\",\"count\":1}", &status);
  g_assert_cmpuint (status, ==, 200);
  g_clear_pointer (&n, json_node_unref);
  e2e_account_send (alice, BOB, "exactly once please");
  e2e_account_send (alice, BOB, "and then this");
  g_assert_true (e2e_account_wait_received (bob, 3, 15000));
  e2e_run_for (800);
  g_assert_cmpuint (e2e_count_received (bob, ALICE, "exactly once please"), ==, 1);
  g_assert_cmpuint (e2e_count_received (bob, ALICE, "and then this"), ==, 1);
  g_assert_cmpuint (e2e_server_count_body (server, ALICE, "exactly once please"), ==, 1);
  g_assert_cmpuint (e2e_count_written (alice, PURPLE_MESSAGE_ERROR, NULL), ==, 0);
  g_assert_cmpuint (e2e_count_written (alice, 0, "exactly once please"), ==, 1);
  e2e_account_free (bob);
  e2e_account_free (alice);
}

/* Quitting mid-sync: bob's messages wait while alice is offline; her next sign-on hangs in a
 * page request (stall) and she signs off; the one after shows everything, once. */
static void
test_quit_mid_sync (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--max-message-count", "5", NULL);
  E2eAccount *alice = e2e_account_new (ALICE, "alice-pw", server, NULL);
  g_assert_true (e2e_account_login (alice, 15000));
  const char *to[] = { ALICE, NULL };
  JsonNode *n = amm_test_server_send (server, BOB, to, NULL, "q0");
  g_autofree char *thread = g_strdup (json_object_get_string_member (json_node_get_object (n), "threadId"));
  json_node_unref (n);
  g_assert_true (e2e_account_wait_received (alice, 1, 15000));
  e2e_run_for (300);
  e2e_account_disconnect (alice);
  for (guint i = 1; i <= 17; i++) {
    g_autofree char *body = g_strdup_printf ("q%u", i);
    n = amm_test_server_send (server, BOB, NULL, thread, body);
    json_node_unref (n);
  }
  guint status = 0;
  n = amm_test_server_control (server, "POST", "/control/fault",
                               "{\"name\":\"stall\",\"path\":\"/aem/conversations/\",\"method\":\"GET\"}", &status);
  g_assert_cmpuint (status, ==, 200);
  g_clear_pointer (&n, json_node_unref);
  g_assert_true (e2e_account_login (alice, 15000));
  e2e_run_for (800);   /* the listing came, its page hangs */
  guint shown_mid = e2e_count_received (alice, BOB, NULL);
  e2e_account_disconnect (alice);   /* quit mid-sync */
  n = amm_test_server_control (server, "DELETE", "/control/fault", NULL, &status);
  g_clear_pointer (&n, json_node_unref);
  g_assert_true (e2e_account_login (alice, 15000));
  g_assert_true (e2e_account_wait_received (alice, 18, 15000));
  e2e_run_for (800);
  g_test_message ("shown before quitting: %u (of 18 in all)", shown_mid);
  g_assert_cmpuint (e2e_count_received (alice, BOB, NULL), ==, 18);
  for (guint i = 0; i <= 17; i++) {
    g_autofree char *body = g_strdup_printf ("q%u", i);
    g_assert_cmpuint (e2e_count_received (alice, BOB, body), ==, 1);
  }
  e2e_account_free (alice);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  e2e_install_log_filter ();
  e2e_init ();
  g_test_add_func ("/e2e/faults/login-503", test_login_503);
  g_test_add_func ("/e2e/faults/login-html-502", test_login_html_502);
  g_test_add_func ("/e2e/faults/im-store-then-reset", test_im_store_then_reset);
  g_test_add_func ("/e2e/faults/quit-mid-sync", test_quit_mid_sync);
  g_test_add_func ("/e2e/chaos", test_chaos);
  int rc = g_test_run ();
  e2e_shutdown ();
  return rc;
}
