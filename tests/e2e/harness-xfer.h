/* harness-xfer.h: a headless file-transfer "user" for the e2e tests and benchmarks.
 *
 * e2e_xfer_install() (after e2e_init) sets libpurple request, notify and xfer UI ops:
 *   - "X wants to send you F": accepted (saved under the save directory, as F) or declined,
 *     as the policy says;
 *   - a "choose a file to send" dialog (e.g. the chat's "Send file…"): answered with the path
 *     given to e2e_xfer_set_next_file();
 *   - every transfer libpurple shows is recorded (E2eXfer), with its progress updates and how
 *     it ended; error notifications are recorded too.
 * Nothing here is installed unless e2e_xfer_install() is called.
 */
#pragma once

#include <glib.h>
#include <purple.h>

G_BEGIN_DECLS

typedef enum {
  E2E_XFER_ACCEPT,   /* save offered files under the save directory */
  E2E_XFER_DECLINE,  /* refuse offered files */
  E2E_XFER_IGNORE,   /* leave the offer unanswered */
} E2eXferPolicy;

typedef struct {
  PurpleXfer          *xfer;      /* NULL once libpurple destroyed it */
  PurpleXferType       type;
  char                *who;
  char                *filename;  /* as offered / sent */
  char                *local;     /* the local file (nullable) */
  guint64              size;
  guint64              bytes;     /* bytes done at the last progress update */
  guint                progress_updates;
  PurpleXferStatusType status;    /* the last known status */
  gboolean             destroyed;
  gint64               started_us; /* g_get_monotonic_time () when it was accepted (0: not) */
  gint64               ended_us;   /* … when it was first seen done or cancelled (0: not) */
} E2eXfer;

void e2e_xfer_install (void);
/* save_dir: where accepted files go (kept, not copied). */
void e2e_xfer_set_policy (E2eXferPolicy policy, const char *save_dir);
/* The answer to the next "choose a file to send" dialog. */
void e2e_xfer_set_next_file (const char *path);

/* Every transfer seen since the last clear, in creation order. */
GPtrArray *e2e_xfers (void);
void       e2e_xfers_clear (void);
/* The newest transfer of `type` whose filename is `filename` (NULL: any), or NULL. */
E2eXfer   *e2e_xfer_find (PurpleXferType type, const char *filename);
/* Wait until that transfer exists and is done (TRUE) or cancelled / timed out (FALSE). */
gboolean   e2e_xfer_wait_done (PurpleXferType type, const char *filename, guint timeout_ms);
/* Wait until it exists and has ended in any way (completed or cancelled). */
gboolean   e2e_xfer_wait_ended (PurpleXferType type, const char *filename, guint timeout_ms);
/* Wait until it exists and has moved at least `bytes`. */
gboolean   e2e_xfer_wait_bytes (PurpleXferType type, const char *filename, guint64 bytes,
                                guint timeout_ms);

/* Error notifications (purple_notify_error / purple_xfer_error), "primary: secondary". */
GPtrArray *e2e_notified_errors (void);
/* Offers that were answered (accepted or declined). */
guint      e2e_xfer_offers_answered (void);

G_END_DECLS
