/* bench-latency.c: delivery latency from bob's send to alice's UI.
 *
 * For each notification mode (WebSocket on a 3.2 server, long polling on a 2.1 server), bob sends
 * N messages one after another through the server's control port; each is timed from just before
 * the send to the moment libpurple's "received-im-msg" fires in alice's headless client. The
 * baseline, measured in the same run, is the bare round trip of that send request, so the ratio
 * shows what the notification path adds on top of one HTTP exchange with the server.
 *
 *   build/bench/bench-latency [--count N]
 */
#include <stdio.h>
#include <stdlib.h>
#include "harness.h"

static int
cmp_gint64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return (x > y) - (x < y);
}

static double
percentile_ms (GArray *samples, double p)
{
  g_array_sort (samples, cmp_gint64);
  guint idx = (guint) (p * (samples->len - 1) + 0.5);
  return g_array_index (samples, gint64, idx) / 1000.0;
}

static gboolean
run_mode (const char *label, const char *api, guint count)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--api", api, NULL);
  E2eAccountOptions opts = { .api_version = api };
  E2eAccount *alice = e2e_account_new ("alice@example.com", "alice-pw", server, &opts);
  if (!e2e_account_login (alice, 10000))
    {
      fprintf (stderr, "bench-latency: alice could not log in (%s)\n", label);
      return FALSE;
    }
  const char *to[] = { "alice@example.com", NULL };
  /* warm up: create the conversation and the connections */
  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *body = g_strdup_printf ("warm-up %u", i);
      json_node_unref (amm_test_server_send (server, "bob@example.com", to, NULL, body));
      if (!e2e_account_wait_received (alice, i + 1, 10000))
        return FALSE;
    }
  e2e_account_clear (alice);

  g_autoptr (GArray) latency = g_array_sized_new (FALSE, FALSE, sizeof (gint64), count);
  g_autoptr (GArray) baseline = g_array_sized_new (FALSE, FALSE, sizeof (gint64), count);
  gint64 start = g_get_monotonic_time ();
  for (guint i = 0; i < count; i++)
    {
      g_autofree char *body = g_strdup_printf ("latency probe %u", i);
      gint64 t0 = g_get_monotonic_time ();
      json_node_unref (amm_test_server_send (server, "bob@example.com", to, NULL, body));
      gint64 t1 = g_get_monotonic_time ();
      if (!e2e_account_wait_received (alice, i + 1, 10000))
        {
          fprintf (stderr, "bench-latency: message %u never arrived (%s)\n", i, label);
          return FALSE;
        }
      E2eMessage *m = g_ptr_array_index (alice->received, i);
      gint64 lat = m->arrival_us - t0, base = t1 - t0;
      g_array_append_val (latency, lat);
      g_array_append_val (baseline, base);
    }
  double total_s = (g_get_monotonic_time () - start) / 1e6;
  guint dup = alice->received->len - count;
  double p50 = percentile_ms (latency, 0.50), p99 = percentile_ms (latency, 0.99);
  double b50 = percentile_ms (baseline, 0.50), b99 = percentile_ms (baseline, 0.99);
  printf ("%-10s n=%u  latency p50 %.2f ms  p99 %.2f ms  max %.2f ms | baseline (send round trip) "
          "p50 %.2f ms p99 %.2f ms | ratio p50 %.2fx | %.0f msg/s | duplicates %u\n",
          label, count, p50, p99, g_array_index (latency, gint64, count - 1) / 1000.0, b50, b99,
          b50 > 0 ? p50 / b50 : 0.0, count / total_s, dup);
  e2e_account_free (alice);
  return dup == 0;
}

int
main (int argc, char **argv)
{
  guint count = 1000;
  for (int i = 1; i + 1 < argc; i++)
    if (g_str_equal (argv[i], "--count"))
      count = (guint) g_ascii_strtoull (argv[i + 1], NULL, 10);
  if (count < 2)
    count = 2;
  e2e_init ();
  printf ("bench-latency: bob sends %u messages one at a time; time until alice's received-im-msg\n", count);
  gboolean ok = run_mode ("websocket", "3.2", count);
  ok = run_mode ("long-poll", "2.1", count) && ok;
  e2e_shutdown ();
  return ok ? 0 : 1;
}
