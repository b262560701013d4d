/* amm-test-loop.c: waiting on the default main context with a deadline (GLib only). */
#include "amm-test-loop.h"

gboolean
amm_test_wake (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

gboolean
amm_test_wait_for (AmmTestPred pred, gpointer data, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint tick = g_timeout_add (20, amm_test_wake, NULL);
  gboolean ok;
  while (!(ok = pred (data)) && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  return ok;
}

gboolean
amm_test_never (gpointer data)
{
  return FALSE;
}

void
amm_test_spin (guint ms)
{
  amm_test_wait_for (amm_test_never, NULL, ms);
}
