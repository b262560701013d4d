/* harness-xfer.c: the headless file-transfer "user" (see harness-xfer.h). */
#include "harness-xfer.h"

#include <string.h>
#include "harness.h"

static E2eXferPolicy policy = E2E_XFER_ACCEPT;
static char *save_dir;
static char *next_file;
static GPtrArray *xfers;     /* E2eXfer* */
static GPtrArray *errors;    /* char* */
static guint offers_answered;
static gboolean installed;

static void
e2e_xfer_free (E2eXfer *x)
{
  g_free (x->who);
  g_free (x->filename);
  g_free (x->local);
  g_free (x);
}

static E2eXfer *
record_for (PurpleXfer *xfer)
{
  for (guint i = xfers->len; i > 0; i--) {
    E2eXfer *x = xfers->pdata[i - 1];
    if (x->xfer == xfer)
      return x;
  }
  return NULL;
}

static void
refresh (PurpleXfer *xfer)
{
  E2eXfer *x = record_for (xfer);
  if (x == NULL)
    return;
  x->status = purple_xfer_get_status (xfer);
  if (purple_xfer_get_filename (xfer)) {
    g_free (x->filename);
    x->filename = g_strdup (purple_xfer_get_filename (xfer));
  }
  if (purple_xfer_get_local_filename (xfer)) {
    g_free (x->local);
    x->local = g_strdup (purple_xfer_get_local_filename (xfer));
  }
  x->size = purple_xfer_get_size (xfer);
  x->bytes = purple_xfer_get_bytes_sent (xfer);
  if (x->ended_us == 0 && (x->status == PURPLE_XFER_STATUS_DONE
                           || x->status == PURPLE_XFER_STATUS_CANCEL_LOCAL
                           || x->status == PURPLE_XFER_STATUS_CANCEL_REMOTE))
    x->ended_us = g_get_monotonic_time ();
}

/* ---- xfer ui ops ---- */

static void
ui_new_xfer (PurpleXfer *xfer)
{
  E2eXfer *x = g_new0 (E2eXfer, 1);
  x->xfer = xfer;
  x->type = purple_xfer_get_type (xfer);
  x->who = g_strdup (purple_xfer_get_remote_user (xfer));
  g_ptr_array_add (xfers, x);
  refresh (xfer);
}

static void
ui_destroy (PurpleXfer *xfer)
{
  E2eXfer *x = record_for (xfer);
  if (x == NULL)
    return;
  refresh (xfer);
  x->destroyed = TRUE;
  x->xfer = NULL;
}

static void
ui_update_progress (PurpleXfer *xfer, double percent)
{
  E2eXfer *x = record_for (xfer);
  refresh (xfer);
  if (x)
    x->progress_updates++;
}

static void
ui_changed (PurpleXfer *xfer)
{
  refresh (xfer);
}

static void
ui_add_xfer (PurpleXfer *xfer)
{
  E2eXfer *x = record_for (xfer);
  if (x && x->started_us == 0)
    x->started_us = g_get_monotonic_time ();
  refresh (xfer);
}

static PurpleXferUiOps xfer_ops = {
  .new_xfer = ui_new_xfer,
  .destroy = ui_destroy,
  .add_xfer = ui_add_xfer,
  .update_progress = ui_update_progress,
  .cancel_local = ui_changed,
  .cancel_remote = ui_changed,
};

/* ---- request ui ops ---- */

typedef struct {
  PurpleRequestType type;
  guint             idle_id;
  GCallback         cb;
  gpointer          user_data;
  int               index;      /* action */
  char             *path;       /* file */
  gboolean          answering;  /* inside the callback */
  gboolean          closed;     /* libpurple closed it meanwhile */
} Pending;

static void
pending_free (Pending *p)
{
  if (p->idle_id)
    g_source_remove (p->idle_id);
  g_free (p->path);
  g_free (p);
}

static gboolean
answer (gpointer data)
{
  Pending *p = data;
  p->idle_id = 0;
  p->answering = TRUE;
  if (p->cb) {
    if (p->type == PURPLE_REQUEST_ACTION)
      ((PurpleRequestActionCb) p->cb) (p->user_data, p->index);
    else
      ((void (*) (gpointer, const char *)) p->cb) (p->user_data, p->path);
  }
  p->answering = FALSE;
  if (p->closed)
    pending_free (p);
  else
    purple_request_close (p->type, p);  /* close_request frees p */
  return G_SOURCE_REMOVE;
}

static void *
action_answer (gpointer user_data, size_t action_count, va_list actions)
{
  Pending *p;
  int want;

  if (policy == E2E_XFER_IGNORE)
    return NULL;
  /* purple_xfer_ask_recv: "_Accept" (index 0), "_Cancel" (index 1) */
  want = policy == E2E_XFER_ACCEPT ? 0 : 1;
  p = g_new0 (Pending, 1);
  p->type = PURPLE_REQUEST_ACTION;
  p->user_data = user_data;
  for (size_t i = 0; i < action_count; i++) {
    va_arg (actions, const char *);
    GCallback cb = va_arg (actions, GCallback);
    if ((int) i == want) {
      p->cb = cb;
      p->index = (int) i;
    }
  }
  offers_answered++;
  p->idle_id = g_idle_add (answer, p);
  return p;
}

static void *
ui_request_action (const char *title, const char *primary, const char *secondary,
                   int default_action, PurpleAccount *account, const char *who,
                   PurpleConversation *conv, void *user_data, size_t action_count, va_list actions)
{
  return action_answer (user_data, action_count, actions);
}

static void *
ui_request_action_with_icon (const char *title, const char *primary, const char *secondary,
                             int default_action, PurpleAccount *account, const char *who,
                             PurpleConversation *conv, gconstpointer icon_data, gsize icon_size,
                             void *user_data, size_t action_count, va_list actions)
{
  return action_answer (user_data, action_count, actions);
}

static void *
ui_request_file (const char *title, const char *filename, gboolean savedialog, GCallback ok_cb,
                 GCallback cancel_cb, PurpleAccount *account, const char *who,
                 PurpleConversation *conv, void *user_data)
{
  Pending *p = g_new0 (Pending, 1);
  p->type = PURPLE_REQUEST_FILE;
  p->user_data = user_data;
  if (savedialog) {
    g_autofree char *base = g_path_get_basename (filename ? filename : "download");
    p->path = g_build_filename (save_dir ? save_dir : g_get_tmp_dir (), base, NULL);
    p->cb = ok_cb;
  } else if (next_file) {
    p->path = g_steal_pointer (&next_file);
    p->cb = ok_cb;
  } else {
    p->cb = cancel_cb;
  }
  p->idle_id = g_idle_add (answer, p);
  return p;
}

static void
ui_close_request (PurpleRequestType type, void *ui_handle)
{
  Pending *p = ui_handle;
  if (p->answering)
    p->closed = TRUE;
  else
    pending_free (p);
}

static PurpleRequestUiOps request_ops = {
  .request_action = ui_request_action,
  .request_file = ui_request_file,
  .close_request = ui_close_request,
  .request_action_with_icon = ui_request_action_with_icon,
};

/* ---- notify ui ops ---- */

static void *
ui_notify_message (PurpleNotifyMsgType type, const char *title, const char *primary,
                   const char *secondary)
{
  if (type == PURPLE_NOTIFY_MSG_ERROR)
    g_ptr_array_add (errors, g_strdup_printf ("%s: %s", primary ? primary : "",
                                              secondary ? secondary : ""));
  return NULL;
}

static PurpleNotifyUiOps notify_ops = {
  .notify_message = ui_notify_message,
};

/* ---- API ---- */

void
e2e_xfer_install (void)
{
  if (installed)
    return;
  installed = TRUE;
  xfers = g_ptr_array_new_with_free_func ((GDestroyNotify) e2e_xfer_free);
  errors = g_ptr_array_new_with_free_func (g_free);
  purple_xfers_set_ui_ops (&xfer_ops);
  purple_request_set_ui_ops (&request_ops);
  purple_notify_set_ui_ops (&notify_ops);
}

void
e2e_xfer_set_policy (E2eXferPolicy p, const char *dir)
{
  policy = p;
  g_free (save_dir);
  save_dir = g_strdup (dir);
}

void
e2e_xfer_set_next_file (const char *path)
{
  g_free (next_file);
  next_file = g_strdup (path);
}

GPtrArray *
e2e_xfers (void)
{
  return xfers;
}

void
e2e_xfers_clear (void)
{
  /* keep the records of live transfers: libpurple still reports on them */
  for (guint i = xfers->len; i > 0; i--)
    if (((E2eXfer *) xfers->pdata[i - 1])->destroyed)
      g_ptr_array_remove_index (xfers, i - 1);
  g_ptr_array_set_size (errors, 0);
  offers_answered = 0;
}

E2eXfer *
e2e_xfer_find (PurpleXferType type, const char *filename)
{
  for (guint i = xfers->len; i > 0; i--) {
    E2eXfer *x = xfers->pdata[i - 1];
    if (x->xfer)
      refresh (x->xfer);
    if (x->type == type && (filename == NULL || g_strcmp0 (x->filename, filename) == 0))
      return x;
  }
  return NULL;
}

typedef struct {
  PurpleXferType type;
  const char    *filename;
  guint64        bytes;
  int            what;  /* 0 done, 1 ended, 2 bytes */
} Cond;

static gboolean
cond_met (gpointer data)
{
  Cond *c = data;
  E2eXfer *x = e2e_xfer_find (c->type, c->filename);
  if (x == NULL)
    return FALSE;
  gboolean over = x->status == PURPLE_XFER_STATUS_DONE || x->status == PURPLE_XFER_STATUS_CANCEL_LOCAL
                  || x->status == PURPLE_XFER_STATUS_CANCEL_REMOTE;
  switch (c->what) {
  case 0:
    return over;
  case 1:
    return over || x->destroyed;
  default:
    return x->bytes >= c->bytes || over;
  }
}

gboolean
e2e_xfer_wait_done (PurpleXferType type, const char *filename, guint timeout_ms)
{
  Cond c = { type, filename, 0, 0 };
  E2eXfer *x;
  e2e_wait (cond_met, &c, timeout_ms);
  x = e2e_xfer_find (type, filename);
  return x && x->status == PURPLE_XFER_STATUS_DONE;
}

gboolean
e2e_xfer_wait_ended (PurpleXferType type, const char *filename, guint timeout_ms)
{
  Cond c = { type, filename, 0, 1 };
  return e2e_wait (cond_met, &c, timeout_ms);
}

gboolean
e2e_xfer_wait_bytes (PurpleXferType type, const char *filename, guint64 bytes, guint timeout_ms)
{
  Cond c = { type, filename, bytes, 2 };
  E2eXfer *x;
  e2e_wait (cond_met, &c, timeout_ms);
  x = e2e_xfer_find (type, filename);
  return x && x->bytes >= bytes;
}

GPtrArray *
e2e_notified_errors (void)
{
  return errors;
}

guint
e2e_xfer_offers_answered (void)
{
  return offers_answered;
}
