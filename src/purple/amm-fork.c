/* amm-fork.c: a private main-context wake-up fd for a forked child (see amm-fork.h). */
#include "amm-fork.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <debug.h>

static int loader_pid;      /* set when the plugin is loaded (dlopen) */
static int fixed_pid;       /* the process in which the wake-up fd was made private */

__attribute__ ((constructor)) static void
record_loader_pid (void)
{
  loader_pid = (int) getpid ();
}

int
amm_fork_guard_loader_pid (void)
{
  return loader_pid;
}

static gboolean
is_eventfd (int fd)
{
  char path[64];
  char target[128];
  ssize_t n;

  g_snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  n = readlink (path, target, sizeof target - 1);
  if (n <= 0)
    return FALSE;
  target[n] = '\0';
  return strcmp (target, "anon_inode:[eventfd]") == 0;
}

/* The default context's wake-up fd: the first eventfd among the fds it polls. GLib registers
 * the wake-up record when the context is created, at priority 0, before any source's fds of
 * the same priority. */
static int
find_wakeup_fd (GMainContext *ctx)
{
  GPollFD fds[64];
  gint timeout = 0;
  gint n;
  int found = -1;

  n = g_main_context_query (ctx, G_MAXINT, &timeout, fds, G_N_ELEMENTS (fds));
  for (gint i = 0; i < n && i < (gint) G_N_ELEMENTS (fds); i++)
    if (fds[i].fd >= 0 && is_eventfd (fds[i].fd))
      {
        found = fds[i].fd;
        break;
      }
  return found;
}

gboolean
amm_fork_guard_check (void)
{
  int pid = (int) getpid ();
  int wake, fresh;
  GMainContext *ctx = g_main_context_default ();

  /* Bitlbee -F loads the plugin in the forked child, after the fork, while the default main
   * context (and its wake-up fd) was made by the parent: the loader pid cannot tell a forked
   * child. So the swap is done once in every process, at its first login; in a process that
   * was not forked it changes nothing but the fd's identity. It runs in the loop's own thread
   * between poll()s, and the wake-up below covers a signal that raced with the swap. */
  if (pid == fixed_pid)
    return FALSE;
  fixed_pid = pid;
  /* For measurements (docs/performance.md): the behaviour without the guard. */
  if (g_getenv ("AMM_NO_FORK_GUARD") != NULL)
    {
      purple_debug_info ("amm", "process %d: AMM_NO_FORK_GUARD set, wake-up fd left as it is\n", pid);
      return FALSE;
    }

  /* Only the thread that owns the default context may look at it: Bitlbee's and Pidgin's
   * loop dispatching this login, or nobody yet (Finch logs in before its loop runs). */
  if (!g_main_context_acquire (ctx))
    {
      purple_debug_info ("amm", "process %d: the main context is owned by another thread; "
                         "will look at its wake-up fd at the next login\n", pid);
      fixed_pid = 0;
      return FALSE;
    }
  wake = find_wakeup_fd (ctx);
  if (wake < 0)
    {
      g_main_context_release (ctx);
      purple_debug_info ("amm", "process %d: no eventfd wake-up found; nothing to do\n", pid);
      return FALSE;
    }
  fresh = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fresh < 0)
    {
      g_main_context_release (ctx);
      purple_debug_warning ("amm", "process %d: eventfd: %s\n", pid, g_strerror (errno));
      return FALSE;
    }
  if (dup3 (fresh, wake, O_CLOEXEC) < 0)
    {
      g_main_context_release (ctx);
      purple_debug_warning ("amm", "process %d: dup3: %s\n", pid, g_strerror (errno));
      close (fresh);
      return FALSE;
    }
  close (fresh);
  g_main_context_release (ctx);
  /* Anything signalled before the swap went to the shared fd: make sure the loop looks again. */
  g_main_context_wakeup (ctx);
  purple_debug_info ("amm", "process %d (plugin loaded by %d): the main loop's wake-up fd %d is now "
                     "private to this process (a forked Bitlbee child must not share it)\n",
                     pid, loader_pid, wake);
  return TRUE;
}
