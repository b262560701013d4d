/* bench-scale.c: big accounts, bursts and idle cost (docs/performance.md "Scale").
 *
 *   sync    alice has N conversations × M messages (unread; every 5th a group) and logs in: time
 *           from connect to the last message shown, peak RSS (VmHWM), heap in use. Two meanings
 *           of "initial sync": first login (no cursor: the unread messages the full listing embeds,
 *           ≤ maxMessageCount per conversation) and a stored cursor older than everything (all
 *           messages, paging back). Baseline: the same documents fetched with a plain SoupSession.
 *   growth  the first-login sync at 10, 100, 1,000 and 5,000 conversations; gnuplot → PNG.
 *   burst   10,000 messages from 20 senders over 100 conversations, stored by the server at a
 *           fixed rate with one notification per 10 ms batch: throughput, latency from storage
 *           to libpurple's received-*-msg, duplicates, order within each conversation.
 *   memory  heap per conversation after the sync and after 1,000 more messages.
 *   idle    main-loop wake-ups (poll() returns) and CPU time over --idle-seconds with only the
 *           channel's keep-alive on the wire.
 *
 *   first   (--only first) the first-login sync alone, in a fresh process: its RSS is libpurple's
 *           and the plugin's only (the benchmark does not record the shown messages, it counts them).
 *
 *   build/bench/bench-scale [--only sync|first|growth|burst|idle] [--conversations N] [--messages M]
 *                           [--embed N] [--burst N] [--rate R] [--idle-seconds S] [--plot FILE.png]
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include "harness.h"

#define SENDERS 20
#define PW_SUFFIX "-pw"

static char *seed_path;
static guint received_count;      /* received-im-msg + received-chat-msg */
static GArray *latencies;         /* gint64 µs, burst only */
static GHashTable *seen_bodies;   /* burst: body -> 1 */
static GHashTable *last_seq;      /* burst: "c<k>" -> last seq + 1 */
static guint duplicates, disorder;
static gint64 first_arrival, last_arrival;
static gboolean burst_mode;

/* --- measurements ---------------------------------------------------------------------------- */

static long
proc_status_kb (const char *field)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL))
    return -1;
  const char *p = strstr (text, field);
  return p ? strtol (p + strlen (field) + 1, NULL, 10) : -1;
}

static void
reset_peak_rss (void)
{
  FILE *f = fopen ("/proc/self/clear_refs", "w"); /* in place: no temp file and rename */
  if (f) {
    fputs ("5", f);
    fclose (f);
  }
}

static double
heap_mb (void)
{
  malloc_trim (0);
  struct mallinfo2 mi = mallinfo2 ();
  return (mi.uordblks + mi.hblkhd) / 1048576.0;
}

static double
cpu_seconds (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* CPU time of the child processes still running (the server), from /proc: -1 if unknown. */
static double
children_cpu_seconds (void)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/task/%d/children", (int) getpid ());
  g_autofree char *pids = NULL;
  if (!g_file_get_contents (path, &pids, NULL, NULL))
    return -1;
  double total = 0;
  g_auto (GStrv) list = g_strsplit (g_strstrip (pids), " ", -1);
  for (guint i = 0; list[i]; i++) {
    if (*list[i] == '\0')
      continue;
    g_autofree char *stat_path = g_strdup_printf ("/proc/%s/stat", list[i]);
    g_autofree char *stat = NULL;
    if (!g_file_get_contents (stat_path, &stat, NULL, NULL))
      continue;
    const char *p = strrchr (stat, ')'); /* fields after the command name: 14 utime, 15 stime */
    unsigned long ut = 0, st = 0;
    if (p && sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
      total += (double) (ut + st) / sysconf (_SC_CLK_TCK);
  }
  return total;
}

static int
cmp_gint64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return (x > y) - (x < y);
}

static double
pct_ms (GArray *s, double p)
{
  if (s->len == 0)
    return 0;
  g_array_sort (s, cmp_gint64);
  return g_array_index (s, gint64, (guint) (p * (s->len - 1) + 0.5)) / 1000.0;
}

/* --- what libpurple shows ---------------------------------------------------------------------- */

static void
count_message (const char *message)
{
  gint64 now = g_get_monotonic_time ();
  received_count++;
  if (first_arrival == 0)
    first_arrival = now;
  last_arrival = now;
  if (!burst_mode || message == NULL)
    return;
  /* "burst <seq> c<k> t<µs>" */
  guint seq = 0, k = 0;
  gint64 t = 0;
  const char *p = strstr (message, "burst ");
  if (p == NULL || sscanf (p, "burst %u c%u t%" G_GINT64_FORMAT, &seq, &k, &t) != 3)
    return;
  g_autofree char *key = g_strdup_printf ("%u", seq);
  if (!g_hash_table_add (seen_bodies, g_steal_pointer (&key)))
    duplicates++;
  gpointer prev = g_hash_table_lookup (last_seq, GUINT_TO_POINTER (k + 1));
  if (prev && GPOINTER_TO_UINT (prev) > seq + 1)
    disorder++;
  g_hash_table_insert (last_seq, GUINT_TO_POINTER (k + 1), GUINT_TO_POINTER (seq + 1));
  gint64 lat = now - t;
  g_array_append_val (latencies, lat);
}

static void
on_im (PurpleAccount *account, char *sender, char *message, PurpleConversation *conv,
       PurpleMessageFlags flags, gpointer data)
{
  count_message (message);
}

static void
on_chat (PurpleAccount *account, char *sender, char *message, PurpleConversation *conv,
         PurpleMessageFlags flags, gpointer data)
{
  count_message (message);
}

static void
reset_counts (void)
{
  received_count = 0;
  first_arrival = last_arrival = 0;
  duplicates = disorder = 0;
  g_array_set_size (latencies, 0);
  g_hash_table_remove_all (seen_bodies);
  g_hash_table_remove_all (last_seq);
}

static gboolean
count_reached (gpointer data)
{
  return received_count >= GPOINTER_TO_UINT (data);
}

/* --- the server -------------------------------------------------------------------------------- */

static char *
sender_address (guint i)
{
  return g_strdup_printf ("u%02u@example.com", i + 1);
}

static void
write_seed (void)
{
  GString *s = g_string_new ("{\"domains\":[\"example.com\"],\"users\":[");
  g_string_append (s, "{\"address\":\"alice@example.com\",\"password\":\"alice-pw\","
                      "\"givenName\":\"Alice\",\"surname\":\"Liddell\"}");
  for (guint i = 0; i < SENDERS; i++)
    g_string_append_printf (s, ",{\"address\":\"u%02u@example.com\",\"password\":\"u%02u-pw\","
                               "\"givenName\":\"User%u\",\"surname\":\"Sender\"}", i + 1, i + 1, i + 1);
  g_string_append (s, "]}");
  g_autoptr (GError) error = NULL;
  int fd = g_file_open_tmp ("amm-bench-seed-XXXXXX.json", &seed_path, &error);
  g_assert_no_error (error);
  close (fd);
  g_file_set_contents (seed_path, s->str, -1, &error);
  g_assert_no_error (error);
  g_string_free (s, TRUE);
}

static guint embed = 50;   /* the server's maxMessageCount (--embed; the server's default) */

static AmmTestServer *
start_server (void)
{
  g_autofree char *mmc = g_strdup_printf ("%u", embed);
  return amm_test_server_start ("--seed", seed_path, "--no-state", "--max-message-count", mmc, NULL);
}

static char *
senders_json (void)
{
  GString *s = g_string_new ("[");
  for (guint i = 0; i < SENDERS; i++) {
    g_autofree char *a = sender_address (i);
    g_string_append_printf (s, "%s\"%s\"", i ? "," : "", a);
  }
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* Returns the thread ids (owned). */
static GPtrArray *
generate (AmmTestServer *server, guint convs, guint msgs, double *seconds)
{
  g_autofree char *senders = senders_json ();
  g_autofree char *body = g_strdup_printf (
      "{\"user\":\"alice@example.com\",\"conversations\":%u,\"messages\":%u,\"groupEvery\":5,"
      "\"senders\":%s}", convs, msgs, senders);
  guint status = 0;
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (JsonNode) doc = amm_test_server_control (server, "POST", "/control/generate", body, &status);
  if (seconds)
    *seconds = (g_get_monotonic_time () - t0) / 1e6;
  if (status != 200 || !doc)
    g_error ("bench-scale: /control/generate failed (%u)", status);
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  JsonArray *a = json_object_get_array_member (json_node_get_object (doc), "threads");
  for (guint i = 0; i < json_array_get_length (a); i++)
    g_ptr_array_add (ids, g_strdup (json_array_get_string_element (a, i)));
  return ids;
}

/* --- baseline: a plain SoupSession fetching the same documents ----------------------------------- */

static GBytes *
fetch (SoupSession *session, const char *method, const char *url, const char *ctype,
       const char *accept, const char *body, guint *status)
{
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autofree char *cred = g_base64_encode ((const guchar *) "alice@example.com:alice-pw", 26);
  g_autofree char *auth = g_strdup_printf ("Basic %s", cred);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Accept", accept);
  if (body) {
    g_autoptr (GBytes) b = g_bytes_new (body, strlen (body));
    soup_message_set_request_body_from_bytes (msg, ctype, b);
  }
  GBytes *out = soup_session_send_and_read (session, msg, NULL, NULL);
  *status = soup_message_get_status (msg);
  return out;
}

/* The full listing, plus (with_pages) one page before the oldest embedded message of each
 * conversation whose listing did not reach its START: what the client needs with an old cursor.
 * Returns seconds; *bytes gets the bytes read. */
static double
baseline (AmmTestServer *server, gboolean with_pages, guint64 *bytes)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  const char *base = amm_test_server_get_base_url (server);
  g_autofree char *url = g_strdup_printf ("%s/aem/conversations", base);
  guint status = 0;
  *bytes = 0;
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (GBytes) list = fetch (session, "POST", url,
                                   "application/vnd.avaya.aem.conversationsFilter.v1+json",
                                   "application/vnd.avaya.aem.conversations.v2+json", "{}", &status);
  if (list == NULL || status != 200)
    g_error ("bench-scale: baseline listing failed (%u)", status);
  *bytes += g_bytes_get_size (list);
  if (with_pages) {
    g_autoptr (JsonParser) p = json_parser_new_immutable ();
    json_parser_load_from_data (p, g_bytes_get_data (list, NULL), g_bytes_get_size (list), NULL);
    JsonArray *convs = json_object_get_array_member (json_node_get_object (json_parser_get_root (p)),
                                                     "conversations");
    for (guint i = 0; i < json_array_get_length (convs); i++) {
      JsonObject *c = json_array_get_object_element (convs, i);
      JsonArray *ms = json_object_get_array_member (c, "messages");
      g_autofree char *before = NULL;
      g_autoptr (JsonParser) pp = NULL;
      /* page back until the START event, as the client does with an old cursor */
      while (ms && json_array_get_length (ms) > 0) {
        JsonObject *oldest = json_array_get_object_element (ms, json_array_get_length (ms) - 1);
        const char *type = json_object_get_string_member (json_object_get_object_member (oldest, "event"), "type");
        if (g_strcmp0 (type, "START") == 0)
          break;
        g_free (before);
        before = g_strdup (json_object_get_string_member (oldest, "id"));
        g_autofree char *purl = g_strdup_printf ("%s/aem/conversations/%s?messageCount=%u&beforeId=%s", base,
                                                 json_object_get_string_member (c, "id"), embed, before);
        g_autoptr (GBytes) page = fetch (session, "GET", purl, NULL,
                                         "application/vnd.avaya.aem.conversation.v2+json", NULL, &status);
        if (page == NULL || status != 200)
          break;
        *bytes += g_bytes_get_size (page);
        g_clear_object (&pp);
        pp = json_parser_new_immutable ();
        if (!json_parser_load_from_data (pp, g_bytes_get_data (page, NULL), g_bytes_get_size (page), NULL))
          break;
        ms = json_object_get_array_member (json_node_get_object (json_parser_get_root (pp)), "messages");
      }
    }
  }
  return (g_get_monotonic_time () - t0) / 1e6;
}

/* --- scenarios ------------------------------------------------------------------------------------- */

typedef struct {
  guint  convs, msgs;
  guint  expected, shown;
  double seconds, baseline_s, generate_s;
  guint64 baseline_bytes;
  double peak_mb, rss_mb, heap_before, heap_after;
  double client_cpu, server_cpu;   /* over the login; server_cpu < 0: unknown */
} SyncResult;

static gboolean
sync_run (guint convs, guint msgs, gboolean old_cursor, SyncResult *r, AmmTestServer **keep_server,
          E2eAccount **keep_account, GPtrArray **keep_threads)
{
  memset (r, 0, sizeof *r);
  r->convs = convs;
  r->msgs = msgs;
  AmmTestServer *server = start_server ();
  GPtrArray *threads = generate (server, convs, msgs, &r->generate_s);
  r->baseline_s = baseline (server, old_cursor, &r->baseline_bytes);
  r->expected = convs * (old_cursor ? msgs : MIN (msgs, embed));

  E2eAccount *alice = e2e_account_new ("alice@example.com", "alice-pw", server, NULL);
  if (old_cursor)
    purple_account_set_string (alice->account, "amm-cursor", "2000-01-01T00:00:00.000Z");
  reset_counts ();
  r->heap_before = heap_mb ();
  double rss_before = proc_status_kb ("VmRSS:") / 1024.0;
  reset_peak_rss ();
  double cpu0 = cpu_seconds (), server0 = children_cpu_seconds ();
  gint64 t0 = g_get_monotonic_time ();
  e2e_account_connect (alice);
  gboolean ok = e2e_wait (count_reached, GUINT_TO_POINTER (r->expected), 120000);
  r->seconds = ((ok ? last_arrival : g_get_monotonic_time ()) - t0) / 1e6;
  r->client_cpu = cpu_seconds () - cpu0;
  r->server_cpu = server0 >= 0 ? children_cpu_seconds () - server0 : -1;
  r->shown = received_count;
  e2e_run_for (200); /* anything extra would show now */
  r->shown = received_count;
  r->peak_mb = proc_status_kb ("VmHWM:") / 1024.0;
  r->rss_mb = proc_status_kb ("VmRSS:") / 1024.0;
  r->heap_after = heap_mb ();
  printf ("sync %-10s %5u conv × %3u msg: %6u/%6u shown in %.3f s | baseline %.3f s (%.1f MB) ratio %.2fx | "
          "RSS before %.1f MB, peak %.1f MB (+%.1f), after %.1f MB, heap +%.1f MB (%.1f KB/conversation) | "
          "CPU client %.2f s, server %.2f s | seeding %.2f s\n",
          old_cursor ? "old-cursor" : "first", convs, msgs, r->shown, r->expected, r->seconds,
          r->baseline_s, r->baseline_bytes / 1e6, r->baseline_s > 0 ? r->seconds / r->baseline_s : 0,
          rss_before, r->peak_mb, r->peak_mb - rss_before, r->rss_mb, r->heap_after - r->heap_before,
          (r->heap_after - r->heap_before) * 1024 / convs, r->client_cpu, r->server_cpu, r->generate_s);
  fflush (stdout);
  ok = ok && r->shown == r->expected;
  if (keep_server) {
    *keep_server = server;
    *keep_account = alice;
    *keep_threads = threads;
  } else {
    e2e_account_free (alice);
    amm_test_server_free (server);
    g_ptr_array_unref (threads);
  }
  return ok;
}

static gboolean
burst_run (AmmTestServer *server, E2eAccount *alice, GPtrArray *threads, guint count, guint rate,
           const char *label)
{
  GString *ids = g_string_new ("[");
  for (guint i = 0; i < threads->len; i++)
    g_string_append_printf (ids, "%s\"%s\"", i ? "," : "", (char *) threads->pdata[i]);
  g_string_append_c (ids, ']');
  g_autofree char *body = g_strdup_printf (
      "{\"user\":\"alice@example.com\",\"threads\":%s,\"messages\":%u,\"rate\":%u,\"tickMs\":10}",
      ids->str, count, rate);
  g_string_free (ids, TRUE);
  reset_counts ();
  burst_mode = TRUE;
  double cpu0 = cpu_seconds ();
  gint64 t0 = g_get_monotonic_time ();
  guint status = 0;
  json_node_unref (amm_test_server_control (server, "POST", "/control/burst", body, &status));
  gboolean ok = status == 200 && e2e_wait (count_reached, GUINT_TO_POINTER (count), 60000);
  double span = (last_arrival - t0) / 1e6;
  e2e_run_for (300);
  burst_mode = FALSE;
  double cpu = cpu_seconds () - cpu0;
  guint unique = g_hash_table_size (seen_bodies);
  printf ("%s: %u messages offered at %u msg/s over %u conversations: %u shown (%u unique, %u duplicates, "
          "%u out of order) in %.3f s = %.0f msg/s | latency p50 %.1f ms p90 %.1f ms p99 %.1f ms max %.1f ms "
          "| client CPU %.2f s\n",
          label, count, rate, threads->len, received_count, unique, duplicates, disorder, span,
          span > 0 ? received_count / span : 0, pct_ms (latencies, 0.5), pct_ms (latencies, 0.9),
          pct_ms (latencies, 0.99), pct_ms (latencies, 1.0), cpu);
  fflush (stdout);
  return ok && duplicates == 0 && disorder == 0 && unique == count;
}

/* --- idle ------------------------------------------------------------------------------------------ */

static guint poll_calls;
static GPollFunc default_poll;

static gint
counting_poll (GPollFD *fds, guint nfds, gint timeout)
{
  poll_calls++;
  return default_poll (fds, nfds, timeout);
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
idle_run (AmmTestServer *server, E2eAccount *alice, guint seconds)
{
  GMainContext *ctx = g_main_context_default ();
  default_poll = g_main_context_get_poll_func (ctx);
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (JsonNode) st0 = amm_test_server_control (server, "GET", "/control/stats", NULL, NULL);
  gint64 req0 = json_object_get_int_member (json_node_get_object (st0), "requests");
  poll_calls = 0;
  g_main_context_set_poll_func (ctx, counting_poll);
  double cpu0 = cpu_seconds ();
  g_timeout_add_seconds (seconds, quit_loop, loop);
  g_main_loop_run (loop);
  double cpu = cpu_seconds () - cpu0;
  g_main_context_set_poll_func (ctx, default_poll);
  g_autoptr (JsonNode) st1 = amm_test_server_control (server, "GET", "/control/stats", NULL, NULL);
  gint64 req1 = json_object_get_int_member (json_node_get_object (st1), "requests");
  double per_min = poll_calls * 60.0 / seconds;
  printf ("idle %u s (connected: %s): %u main-loop wake-ups = %.1f/min = %.0f/h | CPU %.3f s = %.2f ms/min = "
          "%.1f ms/h | server requests/frames seen %" G_GINT64_FORMAT "\n",
          seconds, e2e_account_is_connected (alice) ? "yes" : "no", poll_calls, per_min, per_min * 60,
          cpu, cpu * 1000 * 60 / seconds, cpu * 1000 * 3600 / seconds, req1 - req0);
  fflush (stdout);
}

/* --- growth plot ------------------------------------------------------------------------------------ */

static void
plot (GArray *results, const char *png)
{
  g_autofree char *dat = NULL;
  int fd = g_file_open_tmp ("amm-growth-XXXXXX.dat", &dat, NULL);
  if (fd < 0)
    return;
  close (fd);
  GString *s = g_string_new ("# conversations seconds baseline_seconds peak_rss_mb heap_mb\n");
  for (guint i = 0; i < results->len; i++) {
    SyncResult *r = &g_array_index (results, SyncResult, i);
    g_string_append_printf (s, "%u %.4f %.4f %.2f %.2f\n", r->convs, r->seconds, r->baseline_s, r->peak_mb,
                            r->heap_after - r->heap_before);
  }
  g_file_set_contents (dat, s->str, -1, NULL);
  g_string_free (s, TRUE);
  g_autofree char *script = g_strdup_printf (
      "set terminal png size 900,500\nset output '%s'\nset multiplot layout 1,2 title "
      "'purple-amm first-login sync, unread messages per conversation: %u'\n"
      "set xlabel 'conversations'\nset ylabel 'seconds'\nset key left top\nset grid\n"
      "plot '%s' using 1:2 with linespoints title 'plugin: login to last message', "
      "'%s' using 1:3 with linespoints title 'baseline: SoupSession fetch'\n"
      "set ylabel 'MB'\nplot '%s' using 1:4 with linespoints title 'peak RSS', "
      "'%s' using 1:5 with linespoints title 'heap growth'\nunset multiplot\n",
      png, g_array_index (results, SyncResult, 0).msgs, dat, dat, dat, dat);
  g_autofree char *gp = NULL;
  fd = g_file_open_tmp ("amm-growth-XXXXXX.gp", &gp, NULL);
  close (fd);
  g_file_set_contents (gp, script, -1, NULL);
  const char *argv[] = { "gnuplot", gp, NULL };
  int wait_status = 0;
  g_autoptr (GError) error = NULL;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &wait_status, &error)
      || !g_spawn_check_wait_status (wait_status, NULL))
    printf ("growth: gnuplot failed (%s); data in %s\n", error ? error->message : "exit status", dat);
  else
    printf ("growth: plot written to %s\n", png);
  g_remove (gp);
}

int
main (int argc, char **argv)
{
  guint convs = 1000, msgs = 50, burst = 10000, rate = 10000, idle_s = 60, growth_msgs = 3;
  const char *only = NULL;
  g_autofree char *png = NULL;
  for (int i = 1; i + 1 < argc; i++) {
    const char *v = argv[i + 1];
    if (g_str_equal (argv[i], "--conversations"))
      convs = (guint) g_ascii_strtoull (v, NULL, 10);
    else if (g_str_equal (argv[i], "--messages"))
      msgs = (guint) g_ascii_strtoull (v, NULL, 10);
    else if (g_str_equal (argv[i], "--burst"))
      burst = (guint) g_ascii_strtoull (v, NULL, 10);
    else if (g_str_equal (argv[i], "--rate"))
      rate = (guint) g_ascii_strtoull (v, NULL, 10);
    else if (g_str_equal (argv[i], "--idle-seconds"))
      idle_s = (guint) g_ascii_strtoull (v, NULL, 10);
    else if (g_str_equal (argv[i], "--embed"))
      embed = (guint) g_ascii_strtoull (v, NULL, 10);
    else if (g_str_equal (argv[i], "--growth-messages"))
      growth_msgs = (guint) g_ascii_strtoull (v, NULL, 10);
    else if (g_str_equal (argv[i], "--only"))
      only = v;
    else if (g_str_equal (argv[i], "--plot"))
      png = g_strdup (v);
  }
  if (png == NULL) {
    const char *src = g_getenv ("AMM_SOURCE_DIR");
    png = g_build_filename (src && *src ? src : AMM_SOURCE_DIR, "docs", "growth.png", NULL);
  }
  printf ("bench-scale: server maxMessageCount %u (--embed); full listings go by ids and chunks "
          "(docs/protocol.md §6), each answer under the 16 MiB cap\n", embed);
  e2e_init ();
  e2e_set_recording (FALSE); /* counted here: the harness's own records are not the plugin's */
  latencies = g_array_new (FALSE, FALSE, sizeof (gint64));
  seen_bodies = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  last_seq = g_hash_table_new (g_direct_hash, g_direct_equal);
  purple_signal_connect (purple_conversations_get_handle (), "received-im-msg", &received_count,
                         PURPLE_CALLBACK (on_im), NULL);
  purple_signal_connect (purple_conversations_get_handle (), "received-chat-msg", &received_count,
                         PURPLE_CALLBACK (on_chat), NULL);
  write_seed ();
  gboolean ok = TRUE;
  SyncResult r;

  if (!only || g_str_equal (only, "sync")) {
    printf ("== initial sync (targets: ≤ 2 s, ≤ 2× baseline, peak RSS ≤ 60 MB) ==\n");
    AmmTestServer *server = NULL;
    E2eAccount *alice = NULL;
    GPtrArray *threads = NULL;
    ok = sync_run (convs, msgs, TRUE, &r, NULL, NULL, NULL) && ok;
    ok = sync_run (convs, msgs, FALSE, &r, &server, &alice, &threads) && ok;
    /* memory after 1,000 more messages */
    double h0 = heap_mb ();
    g_autoptr (GPtrArray) some = g_ptr_array_new ();
    for (guint i = 0; i < threads->len && i < 100; i++)
      g_ptr_array_add (some, threads->pdata[i]);
    ok = burst_run (server, alice, some, 1000, 2000, "memory: 1,000 more") && ok;
    double h1 = heap_mb ();
    printf ("memory: heap %.1f MB after the sync (%.1f KB/conversation over the login), %.1f MB after 1,000 "
            "more messages (+%.1f MB), RSS %.1f MB\n",
            h0, (h0 - r.heap_before) * 1024 / convs, h1, h1 - h0, proc_status_kb ("VmRSS:") / 1024.0);
    e2e_account_free (alice);
    amm_test_server_free (server);
    g_ptr_array_unref (threads);
  }
  if (only && g_str_equal (only, "first")) {
    /* the first login alone, in this fresh process: its RSS is libpurple + the plugin */
    printf ("== first login in a fresh process (targets: ≤ 2 s, ≤ 2× baseline, peak RSS ≤ 60 MB) ==\n");
    ok = sync_run (convs, msgs, FALSE, &r, NULL, NULL, NULL) && ok;
  }
  if (!only || g_str_equal (only, "burst") || g_str_equal (only, "idle")) {
    AmmTestServer *server = start_server ();
    g_autoptr (GPtrArray) threads = generate (server, 100, 1, NULL);
    E2eAccount *alice = e2e_account_new ("alice@example.com", "alice-pw", server, NULL);
    reset_counts ();
    e2e_account_connect (alice);
    if (!e2e_wait (count_reached, GUINT_TO_POINTER (100), 30000))
      g_error ("bench-scale: burst setup: first login showed %u of 100", received_count);
    e2e_run_for (300);
    if (!only || g_str_equal (only, "burst")) {
      printf ("== burst (targets: ≥ 5,000 msg/s, p99 ≤ 100 ms, each shown once, in order) ==\n");
      ok = burst_run (server, alice, threads, burst, rate, "burst") && ok;
    }
    if (!only || g_str_equal (only, "idle")) {
      printf ("== idle (keep-alive only) ==\n");
      e2e_run_for (1000);
      idle_run (server, alice, idle_s);
    }
    e2e_account_free (alice);
    amm_test_server_free (server);
  }
  if (!only || g_str_equal (only, "growth")) {
    printf ("== growth (first login, %u unread messages per conversation; time and memory must grow linearly) ==\n",
            growth_msgs);
    g_autoptr (GArray) results = g_array_new (FALSE, FALSE, sizeof (SyncResult));
    const guint sizes[] = { 10, 100, 1000, 5000 };
    for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
      ok = sync_run (sizes[i], growth_msgs, FALSE, &r, NULL, NULL, NULL) && ok;
      g_array_append_val (results, r);
    }
    plot (results, png);
  }
  g_remove (seed_path);
  e2e_shutdown ();
  return ok ? 0 : 1;
}
