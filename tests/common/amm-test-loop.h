/* amm-test-loop.h: waiting on the default main context with a deadline (GLib only).
 *
 * Shared by the unit tests and the e2e tests: no AmmClient or other src/amm symbols here.
 * Every wait has a deadline: a test fails, it never hangs.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef gboolean (*AmmTestPred) (gpointer data);

/* A do-nothing timeout callback that keeps firing: wakes g_main_context_iteration (). */
gboolean amm_test_wake (gpointer data);

/* Iterate the default main loop until pred(data) or the deadline (a 20 ms tick wakes it).
 * Returns the last value of pred(data). */
gboolean amm_test_wait_for (AmmTestPred pred, gpointer data, guint timeout_ms);

/* A predicate that is never true. */
gboolean amm_test_never (gpointer data);

/* Iterate the default main loop for ms milliseconds: amm_test_wait_for (amm_test_never, …). */
void amm_test_spin (guint ms);

G_END_DECLS
