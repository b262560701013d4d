/* amm-fork.h: keep GLib's cross-thread wake-ups working in a process forked after the plugin
 * was loaded (Bitlbee's forking daemon, `bitlbee -F`).
 *
 * The cause: a forked child inherits the parent's default GMainContext, whose wake-up is an
 * eventfd. The fd table is copied but the eventfd is one kernel object shared by both
 * processes. When a GIO worker thread in the child finishes (a TLS handshake in
 * glib-networking, threaded DNS, a proxy lookup) it attaches the result to the child's main
 * context and writes that eventfd; the parent, which polls the same eventfd, can read the
 * wake-up first, and the child sleeps on until some other fd of its own (the next IRC line)
 * wakes it: replies seen 1–3 s late, or not at all while the user is idle.
 *
 * The cure, applied once per process at its first login (Bitlbee -F loads the plugin after the
 * fork, so "forked since load" cannot be detected): replace the default context's wake-up
 * eventfd with a fresh eventfd under the same fd number (dup3), so the process's wake-ups are its
 * own. The parent keeps the old one. For a process that was not forked (Pidgin, Finch,
 * `bitlbee -I`) only the fd's identity changes; nothing is done when the wake-up is not an
 * eventfd or the default context is not owned by the calling thread.
 * AMM_NO_FORK_GUARD=1 turns it off (for measurements). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Call at login, on the main thread. Returns TRUE when it replaced the wake-up fd now. */
gboolean amm_fork_guard_check (void);

/* The pid that loaded the plugin (for logs). */
int amm_fork_guard_loader_pid (void);

G_END_DECLS
