/* bench-transfer.c: a big attachment through the plugin versus curl, against the same server.
 *
 * Alice sends a file (default 1 GiB, a video so the server's limit can be raised) to Bob
 * through the plugin's send_file (a libpurple SEND transfer: multipart/related streamed from
 * disk by the core); Bob's headless "user" accepts the RECEIVE transfer, which downloads it
 * through the core. Both are timed from the start of the transfer to libpurple's "done".
 * Then, in the same run, curl uploads the same framing + file (read from disk) to the same
 * outbox and downloads the same media URL. The figures: throughput of each, the plugin/curl
 * ratio, and the growth of this process's peak RSS (VmHWM, reset through /proc/self/clear_refs)
 * during each plugin transfer. The received file is compared with the sent one (size and
 * SHA-256 of the first and last MiB) so a fast but wrong transfer does not count.
 *
 *   build/bench/bench-transfer [--mib N] [--rounds N] [--dir DIR]
 * Targets: plugin >= 80 % of curl's throughput, RSS growth <= 32 MB.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "harness.h"
#include "harness-xfer.h"

#define ALICE "alice@example.com"
#define BOB   "bob@example.com"
#define NAME  "bench.mp4"
#define TARGET_RATIO   0.80
#define TARGET_RSS_MB  32.0

static guint64
status_kb (const char *field)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL))
    return 0;
  const char *p = strstr (text, field);
  return p ? g_ascii_strtoull (p + strlen (field), NULL, 10) : 0;
}

/* Peak RSS from now on: VmHWM reset to the current RSS (Linux >= 4.0). */
static guint64
reset_peak (void)
{
  FILE *f = fopen ("/proc/self/clear_refs", "w");
  if (f) {
    fputs ("5", f);
    fclose (f);
  }
  return status_kb ("VmRSS:");
}

static void
write_file (const char *path, guint64 size)
{
  FILE *f = fopen (path, "wb");
  static guint8 buf[1 << 20];
  GRand *r = g_rand_new_with_seed (42);
  for (gsize i = 0; i < sizeof buf; i += 4) {
    guint32 v = g_rand_int (r);
    memcpy (buf + i, &v, 4);
  }
  g_rand_free (r);
  memcpy (buf, "\0\0\0\x18" "ftypmp42", 12);
  for (guint64 done = 0; done < size;) {
    gsize n = (gsize) MIN ((guint64) sizeof buf, size - done);
    buf[100] = (guint8) (done >> 20);  /* every MiB differs */
    if (fwrite (buf, 1, n, f) != n)
      g_error ("bench-transfer: cannot write %s", path);
    done += n;
  }
  fclose (f);
}

/* Size and SHA-256 of the first and last MiB. */
static char *
fingerprint (const char *path)
{
  FILE *f = fopen (path, "rb");
  static guint8 buf[1 << 20];
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  if (!f)
    return g_strdup ("(missing)");
  fseeko (f, 0, SEEK_END);
  off_t size = ftello (f);
  fseeko (f, 0, SEEK_SET);
  size_t n = fread (buf, 1, sizeof buf, f);
  g_checksum_update (sum, buf, n);
  if (size > (off_t) sizeof buf) {
    fseeko (f, size - (off_t) sizeof buf, SEEK_SET);
    n = fread (buf, 1, sizeof buf, f);
    g_checksum_update (sum, buf, n);
  }
  fclose (f);
  char *out = g_strdup_printf ("%lld:%s", (long long) size, g_checksum_get_string (sum));
  g_checksum_free (sum);
  return out;
}

static int
cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
median (GArray *a)
{
  g_array_sort (a, cmp_double);
  return g_array_index (a, double, a->len / 2);
}

static gboolean
run (const char *argv0, const char *const *cmd, double *seconds)
{
  g_autoptr (GError) error = NULL;
  int status = 0;
  gint64 t0 = g_get_monotonic_time ();
  if (!g_spawn_sync (NULL, (char **) cmd, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, &error)
      || !g_spawn_check_wait_status (status, &error)) {
    fprintf (stderr, "%s: %s failed: %s\n", argv0, cmd[0], error ? error->message : "?");
    return FALSE;
  }
  *seconds = (g_get_monotonic_time () - t0) / 1e6;
  return TRUE;
}

/* The newest media URL bob can see (from the server's control port). */
static char *
last_media_url (AmmTestServer *server)
{
  g_autoptr (JsonNode) msgs = amm_test_server_messages (server, BOB);
  JsonArray *a = json_node_get_array (msgs);
  for (guint i = json_array_get_length (a); i > 0; i--) {
    JsonObject *m = json_array_get_object_element (a, i - 1);
    JsonArray *parts = json_object_has_member (m, "parts") ? json_object_get_array_member (m, "parts") : NULL;
    if (parts && json_array_get_length (parts) > 0)
      return g_strdup (json_object_get_string_member (json_array_get_object_element (parts, 0), "media"));
  }
  return NULL;
}

int
main (int argc, char **argv)
{
  gint mib = 1024, rounds = 3;
  gboolean verbose = FALSE;
  g_autofree char *dir_opt = NULL;
  GOptionEntry entries[] = {
    { "mib", 0, 0, G_OPTION_ARG_INT, &mib, "File size in MiB (default 1024)", "N" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "Rounds, plugin and curl alternating (default 3)", "N" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print every round", NULL },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir_opt, "Directory for the files (default: a temp dir)", "DIR" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- attachment throughput, plugin vs curl");
  g_autoptr (GError) error = NULL;
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || mib < 1 || rounds < 1) {
    fprintf (stderr, "bench-transfer: %s\n", error ? error->message : "bad --mib");
    return 2;
  }
  if (!g_find_program_in_path ("curl")) {
    printf ("bench-transfer: curl not found; skipped\n");
    return 0;
  }
  guint64 size = (guint64) mib << 20;
  g_autofree char *dir = dir_opt ? g_strdup (dir_opt) : g_dir_make_tmp ("amm-bench-xfer-XXXXXX", NULL);
  g_autofree char *src = g_build_filename (dir, NAME, NULL);
  g_autofree char *save_dir = g_build_filename (dir, "received", NULL);
  g_autofree char *body = g_build_filename (dir, "curl-body", NULL);
  g_autofree char *curl_out = g_build_filename (dir, "curl-download", NULL);
  g_mkdir_with_parents (save_dir, 0700);

  e2e_install_log_filter ();
  e2e_init ();
  e2e_xfer_install ();
  e2e_xfer_set_policy (E2E_XFER_ACCEPT, save_dir);

  write_file (src, size);
  g_autofree char *want = fingerprint (src);
  /* curl's request body: the same framing around the same bytes, on disk */
  {
    const char *head =
      "--B\r\nContent-Type:application/vnd.avaya.aem.message.v2+json;\r\n\r\n"
      "{\"body\":\"\",\"subject\":\"\",\"flags\":{\"sensitivity\":\"NORMAL\"},"
      "\"to\":[{\"address\":\"" ALICE "\",\"type\":\"CONTACT\"},{\"address\":\"" BOB "\",\"type\":\"CONTACT\"}]}\r\n"
      "--B\r\nContent-Type:video/mp4\r\nContent-Transfer-Encoding:binary\r\n"
      "Content-Disposition:attachment; filename=\"" NAME "\"\r\n\r\n";
    FILE *out = fopen (body, "wb"), *in = fopen (src, "rb");
    static guint8 buf[1 << 20];
    size_t n;
    fwrite (head, 1, strlen (head), out);
    while ((n = fread (buf, 1, sizeof buf, in)) > 0)
      fwrite (buf, 1, n, out);
    fputs ("\r\n--B--\r\n", out);
    fclose (in);
    fclose (out);
  }

  /* Rounds. Each has a fresh server (the test server keeps every upload mapped until it
   * exits), and plugin and curl take turns going first. Writeback of earlier writes is flushed
   * (sync) before every timed transfer so that one does not pay for another. Medians. */
  g_autofree char *limit = g_strdup_printf ("%" G_GUINT64_FORMAT, size * 2);
  g_autoptr (GArray) p_up = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) p_down = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) c_up = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) c_down = g_array_new (FALSE, FALSE, sizeof (double));
  double rss_mb = 0;
  gboolean same = TRUE, curl_same = TRUE;
  for (int round = 0; round < rounds; round++) {
    AmmTestServer *server = amm_test_server_start ("--max-video-size", limit, NULL);
    E2eAccount *alice = e2e_account_new (ALICE, "alice-pw", server, NULL);
    E2eAccount *bob = e2e_account_new (BOB, "bob-pw", server, NULL);
    g_autofree char *url = g_strconcat (amm_test_server_get_base_url (server), "/aem/outbox", NULL);
    g_autofree char *name = g_strdup_printf ("bench-%d.mp4", round);
    g_autofree char *link_path = g_build_filename (dir, name, NULL);
    g_autofree char *saved_n = g_build_filename (save_dir, name, NULL);

    if (!e2e_account_login (alice, 10000) || !e2e_account_login (bob, 10000)) {
      fprintf (stderr, "bench-transfer: login failed\n");
      return 1;
    }
    /* warm-up: the conversation and the connections */
    {
      g_autofree char *wname = g_strdup_printf ("warm-%d.mp4", round);
      g_autofree char *small = g_build_filename (dir, wname, NULL);
      g_autofree char *wsaved = g_build_filename (save_dir, wname, NULL);
      write_file (small, 1 << 20);
      serv_send_file (purple_account_get_connection (alice->account), BOB, small);
      if (!e2e_xfer_wait_done (PURPLE_XFER_RECEIVE, wname, 30000)) {
        fprintf (stderr, "bench-transfer: warm-up transfer failed\n");
        return 1;
      }
      g_unlink (small);
      g_unlink (wsaved);
    }
    if (link (src, link_path) != 0)
      g_error ("bench-transfer: cannot link %s", link_path);

    for (int turn = 0; turn < 2; turn++) {
      if ((turn == 0) == (round % 2 == 0)) {
        /* the plugin: alice's upload, then bob's download (each timed from its acceptance
         * to libpurple's "done") */
        sync ();
        guint64 rss0 = reset_peak ();
        serv_send_file (purple_account_get_connection (alice->account), BOB, link_path);
        if (!e2e_xfer_wait_done (PURPLE_XFER_SEND, name, 600000)
            || !e2e_xfer_wait_done (PURPLE_XFER_RECEIVE, name, 600000)) {
          fprintf (stderr, "bench-transfer: the plugin transfer of %s did not complete\n", name);
          return 1;
        }
        rss_mb = MAX (rss_mb, ((double) status_kb ("VmHWM:") - (double) rss0) / 1024.0);
        E2eXfer *sx = e2e_xfer_find (PURPLE_XFER_SEND, name), *rx = e2e_xfer_find (PURPLE_XFER_RECEIVE, name);
        double up = (sx->ended_us - sx->started_us) / 1e6, down = (rx->ended_us - rx->started_us) / 1e6;
        g_array_append_val (p_up, up);
        g_array_append_val (p_down, down);
        if (verbose)
          printf ("  round %d plugin: upload %.2f s, download %.2f s\n", round, up, down);
        g_autofree char *got = fingerprint (saved_n);
        same = same && g_strcmp0 (want, got) == 0;
        g_unlink (saved_n);
      } else {
        /* curl: the same server, the same bytes; -T streams the body from the file */
        const char *up_cmd[] = { "curl", "-sS", "-f", "-X", "POST", "-u", ALICE ":alice-pw", "-H",
                                 "Content-Type: multipart/related;boundary=\"B\"", "-H", "Expect:",
                                 "-T", body, url, NULL };
        double cu = 0, cd = 0;
        sync ();
        if (!run (argv[0], up_cmd, &cu))
          return 1;
        g_autofree char *media = last_media_url (server);
        const char *down_cmd[] = { "curl", "-sS", "-f", "-u", BOB ":bob-pw", "-o", curl_out, media, NULL };
        sync ();
        if (!media || !run (argv[0], down_cmd, &cd))
          return 1;
        g_array_append_val (c_up, cu);
        g_array_append_val (c_down, cd);
        if (verbose)
          printf ("  round %d curl:   upload %.2f s, download %.2f s\n", round, cu, cd);
        g_autofree char *curl_got = fingerprint (curl_out);
        curl_same = curl_same && g_strcmp0 (want, curl_got) == 0;
        g_unlink (curl_out);
        e2e_run_for (200);  /* bob's offer of curl's upload: not taken */
      }
    }
    g_unlink (link_path);
    e2e_account_free (alice);
    e2e_account_free (bob);
    e2e_run_for (100);
    amm_test_server_free (server);
  }
  g_unlink (body);

  double up_s = median (p_up), down_s = median (p_down);
  double curl_up_s = median (c_up), curl_down_s = median (c_down);
  double mb = size / 1e6;
  double up_ratio = curl_up_s / up_s, down_ratio = curl_down_s / down_s;
  printf ("file: %d MiB (%" G_GUINT64_FORMAT " bytes), plain HTTP on loopback, %d rounds, medians\n",
          mib, size, rounds);
  printf ("upload    plugin %7.1f MB/s (%6.2f s)   curl %7.1f MB/s (%6.2f s)   plugin/curl %5.1f %%\n",
          mb / up_s, up_s, mb / curl_up_s, curl_up_s, 100 * up_ratio);
  printf ("download  plugin %7.1f MB/s (%6.2f s)   curl %7.1f MB/s (%6.2f s)   plugin/curl %5.1f %%\n",
          mb / down_s, down_s, mb / curl_down_s, curl_down_s, 100 * down_ratio);
  printf ("peak RSS growth of this process (libpurple + plugin), worst round: %.1f MB\n", rss_mb);
  printf ("received files identical: plugin %s, curl %s\n", same ? "yes" : "NO", curl_same ? "yes" : "NO");
  gboolean ok = same && up_ratio >= TARGET_RATIO && down_ratio >= TARGET_RATIO
                && rss_mb <= TARGET_RSS_MB;
  printf ("targets (>= %.0f %% of curl, <= %.0f MB RSS growth): %s\n", 100 * TARGET_RATIO,
          TARGET_RSS_MB, ok ? "met" : "NOT met");

  g_unlink (src);
  g_rmdir (save_dir);
  if (!dir_opt)
    g_rmdir (dir);
  e2e_shutdown ();
  return same ? 0 : 1;
}
