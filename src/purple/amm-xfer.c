/* amm-xfer.c: attachments as libpurple file transfers (see amm-xfer.h). */
#include "amm-xfer.h"

#include <string.h>
#include <glib/gstdio.h>

#include <account.h>
#include <conversation.h>
#include <debug.h>
#include <imgstore.h>
#include <request.h>
#include <util.h>

#include "amm-attachments.h"
#include "amm-chat.h"
#include "amm-errors.h"

/* progress bar updates at most this often (the core reports every chunk) */
#define PROGRESS_INTERVAL_US (100 * 1000)

/* The plugin's state of one transfer. Reference counted: the xfer holds one reference until
 * it ends (end / cancel / denied), each operation in flight holds one. */
typedef struct {
  gint              ref_count;
  AmmPurpleAccount *pa;
  PurpleXfer       *xfer;        /* valid while an operation holds a ref (purple_xfer_ref) */
  GCancellable     *cancellable;
  char             *thread_id;   /* send: the conversation (NULL: 1:1 with who) */
  AmmPart          *part;        /* receive */
  gint64            last_progress_us;
  gboolean          released;    /* the xfer's own reference was dropped */
} XferData;

static XferData *
xd_ref (XferData *xd)
{
  xd->ref_count++;
  return xd;
}

static void
xd_unref (XferData *xd)
{
  if (--xd->ref_count > 0)
    return;
  g_clear_object (&xd->cancellable);
  g_free (xd->thread_id);
  if (xd->part)
    amm_part_unref (xd->part);
  amm_purple_account_unref (xd->pa);
  g_free (xd);
}

static XferData *
xd_new (AmmPurpleAccount *pa, PurpleXfer *xfer)
{
  XferData *xd = g_new0 (XferData, 1);
  xd->ref_count = 1;
  xd->pa = amm_purple_account_ref (pa);
  xd->xfer = xfer;
  xd->cancellable = g_cancellable_new ();
  xfer->data = xd;
  return xd;
}

/* The xfer is over (ended, cancelled or denied): drop its reference. */
static void
xd_release (PurpleXfer *xfer)
{
  XferData *xd = xfer->data;
  if (xd == NULL || xd->released)
    return;
  xd->released = TRUE;
  xfer->data = NULL;
  xd_unref (xd);
}

static gboolean
xfer_is_over (PurpleXfer *xfer)
{
  return purple_xfer_is_canceled (xfer) || purple_xfer_is_completed (xfer);
}

static void
on_progress (guint64 done, guint64 total, gpointer data)
{
  XferData *xd = data;
  gint64 now = g_get_monotonic_time ();
  if (xd->xfer == NULL || xfer_is_over (xd->xfer))
    return;
  purple_xfer_set_bytes_sent (xd->xfer, (size_t) done);
  if (done == total || now - xd->last_progress_us >= PROGRESS_INTERVAL_US) {
    xd->last_progress_us = now;
    purple_xfer_update_progress (xd->xfer);
  }
}

/* An error of a running transfer: tell the user why, then cancel it. */
static void
xfer_failed (PurpleXfer *xfer, const GError *error, const char *host)
{
  g_autofree char *why = amm_purple_error_text (error, host);
  g_autofree char *line = g_strdup_printf ("%s: %s", purple_xfer_get_filename (xfer)
                                           ? purple_xfer_get_filename (xfer) : "The file", why);
  purple_debug_warning ("amm", "file transfer of %s failed: %s\n",
                        purple_xfer_get_filename (xfer) ? purple_xfer_get_filename (xfer) : "?", why);
  purple_xfer_conversation_write (xfer, line, TRUE);
  purple_xfer_error (purple_xfer_get_type (xfer), purple_xfer_get_account (xfer),
                     purple_xfer_get_remote_user (xfer), line);
  purple_xfer_cancel_local (xfer);
}

static void
xfer_succeeded (PurpleXfer *xfer)
{
  purple_xfer_set_bytes_sent (xfer, purple_xfer_get_size (xfer));
  purple_xfer_update_progress (xfer);
  purple_xfer_set_completed (xfer, TRUE);
  purple_xfer_end (xfer);
}

static void
xfer_cancel (PurpleXfer *xfer)
{
  XferData *xd = xfer->data;
  if (xd)
    g_cancellable_cancel (xd->cancellable);
  xd_release (xfer);
}

/* ---- sending ---- */

static const char *
thread_for_peer (AmmPurpleAccount *pa, const char *who)
{
  g_autofree char *key = amm_purple_normalize_address (who);
  const char *thread = g_hash_table_lookup (pa->direct_threads, key);
  AmmConversation *conv;

  if (thread)
    return thread;
  conv = amm_client_find_direct_conversation (pa->client, who);
  return conv ? conv->id : NULL;
}

static void
send_done (GObject *src, GAsyncResult *res, gpointer data)
{
  XferData *xd = data;
  PurpleXfer *xfer = xd->xfer;
  g_autoptr (GError) error = NULL;
  g_autoptr (AmmMessage) msg = amm_client_send_file_finish (AMM_CLIENT (src), res, &error);

  if (!amm_purple_account_is_closed (xd->pa) && !xfer_is_over (xfer)) {
    if (msg) {
      const char *who = purple_xfer_get_remote_user (xfer);
      if (xd->thread_id == NULL && msg->thread_id && who) /* the next IM reuses the conversation */
        g_hash_table_insert (xd->pa->direct_threads, amm_purple_normalize_address (who),
                             g_strdup (msg->thread_id));
      xfer_succeeded (xfer);
    } else {
      xfer_failed (xfer, error, xd->pa->host);
    }
  } else if (!xfer_is_over (xfer)) {
    purple_xfer_cancel_local (xfer);  /* the account went away */
  }
  xd->xfer = NULL;
  purple_xfer_unref (xfer);
  xd_unref (xd);
}

static void
send_start (PurpleXfer *xfer)
{
  XferData *xd = xfer->data;
  const char *who = purple_xfer_get_remote_user (xfer);
  const char *thread;

  if (xd == NULL || amm_purple_account_is_closed (xd->pa)) {
    purple_xfer_cancel_local (xfer);
    return;
  }
  thread = xd->thread_id ? xd->thread_id : thread_for_peer (xd->pa, who);
  {
    const char *to[] = { xd->pa->self_address, who, NULL };
    purple_debug_info ("amm", "%s: sending file %s (%" G_GSIZE_FORMAT " bytes) in %s\n",
                       xd->pa->self_address, purple_xfer_get_filename (xfer),
                       (gsize) purple_xfer_get_size (xfer), thread ? thread : "a new conversation");
    purple_xfer_ref (xfer);
    amm_client_send_file_async (xd->pa->client, thread, thread ? NULL : to, "",
                                purple_xfer_get_local_filename (xfer), purple_xfer_get_filename (xfer),
                                on_progress, xd, xd->cancellable, send_done, xd_ref (xd));
  }
}

/* After the file was chosen: every check before a byte is sent, then start. */
static void
send_init (PurpleXfer *xfer)
{
  XferData *xd = xfer->data;
  g_autoptr (GError) error = NULL;

  if (xd == NULL || amm_purple_account_is_closed (xd->pa) || xd->pa->client == NULL) {
    purple_xfer_cancel_local (xfer);
    return;
  }
  if (!amm_client_check_file (xd->pa->client, purple_xfer_get_local_filename (xfer),
                              purple_xfer_get_filename (xfer), NULL, NULL, &error)) {
    xfer_failed (xfer, error, xd->pa->host);
    return;
  }
  purple_xfer_start (xfer, -1, NULL, 0);
}

static PurpleXfer *
new_send_xfer (AmmPurpleAccount *pa, const char *who, const char *thread_id)
{
  PurpleXfer *xfer = purple_xfer_new (pa->account, PURPLE_XFER_SEND, who);
  XferData *xd = xd_new (pa, xfer);

  xd->thread_id = g_strdup (thread_id);
  purple_xfer_set_init_fnc (xfer, send_init);
  purple_xfer_set_start_fnc (xfer, send_start);
  purple_xfer_set_cancel_send_fnc (xfer, xfer_cancel);
  purple_xfer_set_request_denied_fnc (xfer, xfer_cancel);
  purple_xfer_set_end_fnc (xfer, xd_release);
  return xfer;
}

gboolean
amm_xfer_can_receive (PurpleConnection *gc, const char *who)
{
  return TRUE;
}

PurpleXfer *
amm_xfer_new_xfer (PurpleConnection *gc, const char *who)
{
  AmmPurpleAccount *pa = amm_purple_account_from_gc (gc);

  if (pa == NULL || amm_purple_account_is_closed (pa))
    return NULL;
  return new_send_xfer (pa, who, NULL);
}

void
amm_xfer_send_file (PurpleConnection *gc, const char *who, const char *file)
{
  PurpleXfer *xfer = amm_xfer_new_xfer (gc, who);

  if (xfer == NULL)
    return;
  if (file && *file)
    purple_xfer_request_accepted (xfer, file);
  else
    purple_xfer_request (xfer);
}

void
amm_xfer_send_to_thread (AmmPurpleAccount *pa, const char *thread_id, const char *path)
{
  PurpleConversation *c;
  const char *who;

  if (amm_purple_account_is_closed (pa) || thread_id == NULL || path == NULL)
    return;
  /* the chat window's name, so that libpurple writes the transfer's lines into it */
  c = amm_chat_find_open (pa, thread_id);
  who = c ? purple_conversation_get_name (c) : thread_id;
  purple_xfer_request_accepted (new_send_xfer (pa, who, thread_id), path);
}

/* ---- the chat menu ---- */

/* No reference on the account state: libpurple closes request dialogs at disconnect
 * without calling either callback; the state is looked up again when a file is chosen. */
typedef struct {
  PurpleAccount *account;
  char          *thread_id;
} MenuSend;

static void
menu_send_free (MenuSend *ms)
{
  g_free (ms->thread_id);
  g_free (ms);
}

static void
menu_file_chosen (gpointer data, const char *path)
{
  MenuSend *ms = data;
  PurpleConnection *gc = purple_account_get_connection (ms->account);
  AmmPurpleAccount *pa = gc ? amm_purple_account_from_gc (gc) : NULL;

  if (pa && !amm_purple_account_is_closed (pa))
    amm_xfer_send_to_thread (pa, ms->thread_id, path);
  menu_send_free (ms);
}

static void
menu_file_cancelled (gpointer data, const char *path)
{
  menu_send_free (data);
}

static void
menu_send_file_cb (PurpleBlistNode *node, gpointer data)
{
  PurpleChat *pchat = (PurpleChat *) node;
  PurpleAccount *account = purple_chat_get_account (pchat);
  PurpleConnection *gc = purple_account_get_connection (account);
  AmmPurpleAccount *pa = gc ? amm_purple_account_from_gc (gc) : NULL;
  const char *thread = g_hash_table_lookup (purple_chat_get_components (pchat), "thread");
  MenuSend *ms;

  if (pa == NULL || amm_purple_account_is_closed (pa) || thread == NULL || *thread == '\0')
    return;
  ms = g_new0 (MenuSend, 1);
  ms->account = account;
  ms->thread_id = g_strdup (thread);
  purple_request_file (gc, "Send a file to the conversation", NULL, FALSE,
                       G_CALLBACK (menu_file_chosen), G_CALLBACK (menu_file_cancelled),
                       account, NULL, NULL, ms);
}

GList *
amm_xfer_blist_node_menu (PurpleBlistNode *node)
{
  const char *thread;

  if (!PURPLE_BLIST_NODE_IS_CHAT (node))
    return NULL;
  thread = g_hash_table_lookup (purple_chat_get_components ((PurpleChat *) node), "thread");
  if (thread == NULL || *thread == '\0')
    return NULL;
  return g_list_append (NULL, purple_menu_action_new ("Send file\xe2\x80\xa6",
                                                      PURPLE_CALLBACK (menu_send_file_cb), NULL, NULL));
}

/* ---- receiving ---- */

static void
recv_done (GObject *src, GAsyncResult *res, gpointer data)
{
  XferData *xd = data;
  PurpleXfer *xfer = xd->xfer;
  g_autoptr (GError) error = NULL;
  gboolean ok = amm_client_download_finish (AMM_CLIENT (src), res, &error);

  if (!amm_purple_account_is_closed (xd->pa) && !xfer_is_over (xfer)) {
    if (ok) {
      xfer_succeeded (xfer);
    } else {
      g_autofree char *local = g_strdup (purple_xfer_get_local_filename (xfer));
      xfer_failed (xfer, error, xd->pa->host);
      if (local)
        g_unlink (local);  /* libpurple created it; nothing valid is in it */
    }
  } else if (ok && !xfer_is_over (xfer)) {
    xfer_succeeded (xfer);  /* finished as the account closed: the file is complete */
  } else if (!ok && purple_xfer_get_local_filename (xfer)) {
    if (!xfer_is_over (xfer))
      purple_xfer_cancel_local (xfer);
    g_unlink (purple_xfer_get_local_filename (xfer));
  } else if (!xfer_is_over (xfer)) {
    purple_xfer_cancel_local (xfer);
  }
  xd->xfer = NULL;
  purple_xfer_unref (xfer);
  xd_unref (xd);
}

static void
recv_start (PurpleXfer *xfer)
{
  XferData *xd = xfer->data;

  if (xd == NULL || amm_purple_account_is_closed (xd->pa)) {
    /* accepted after a disconnect: libpurple already created the (empty) file */
    g_autofree char *local = g_strdup (purple_xfer_get_local_filename (xfer));
    purple_xfer_cancel_local (xfer);
    if (local)
      g_unlink (local);
    return;
  }
  purple_xfer_ref (xfer);
  amm_client_download_async (xd->pa->client, xd->part, purple_xfer_get_local_filename (xfer),
                             on_progress, xd, xd->cancellable, recv_done, xd_ref (xd));
}

static void
recv_init (PurpleXfer *xfer)
{
  purple_xfer_start (xfer, -1, NULL, 0);
}

static void
offer (AmmPurpleAccount *pa, const char *who, AmmAttachment *a)
{
  PurpleXfer *xfer = purple_xfer_new (pa->account, PURPLE_XFER_RECEIVE, who);
  XferData *xd = xd_new (pa, xfer);

  xd->part = amm_part_ref (a->part);
  purple_xfer_set_filename (xfer, a->filename);
  if (a->part->size >= 0)
    purple_xfer_set_size (xfer, (size_t) a->part->size);
  purple_xfer_set_init_fnc (xfer, recv_init);
  purple_xfer_set_start_fnc (xfer, recv_start);
  purple_xfer_set_cancel_recv_fnc (xfer, xfer_cancel);
  purple_xfer_set_request_denied_fnc (xfer, xfer_cancel);
  purple_xfer_set_end_fnc (xfer, xd_release);
  purple_debug_info ("amm", "%s: %s offers %s (%" G_GINT64_FORMAT " bytes)\n", pa->self_address,
                     who, a->filename, a->part->size);
  purple_xfer_request (xfer);
}

/* ---- small JPEGs inline ---- */

typedef struct {
  AmmPurpleAccount *pa;
  char             *who;
  char             *thread_id;   /* group conversations */
  char             *filename;
  time_t            when;
} Inline;

static void
inline_free (Inline *in)
{
  amm_purple_account_unref (in->pa);
  g_free (in->who);
  g_free (in->thread_id);
  g_free (in->filename);
  g_free (in);
}

static void
inline_done (GObject *src, GAsyncResult *res, gpointer data)
{
  Inline *in = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = amm_client_download_bytes_finish (AMM_CLIENT (src), res, &error);
  PurpleConversation *c = NULL;
  gsize len;
  const void *img;
  int id;
  g_autofree char *html = NULL;

  if (bytes == NULL || amm_purple_account_is_closed (in->pa)) {
    if (error && !amm_purple_error_is_cancelled (error))
      purple_debug_warning ("amm", "inline image %s not shown: %s\n", in->filename, error->message);
    inline_free (in);
    return;
  }
  img = g_bytes_get_data (bytes, &len);
  id = purple_imgstore_add_with_id (g_memdup2 (img, len), len, in->filename);
  html = g_strdup_printf ("<img id=\"%d\">", id);
  if (in->thread_id) {
    c = amm_chat_find_open (in->pa, in->thread_id);
    if (c)
      purple_conv_chat_write (PURPLE_CONV_CHAT (c), in->who, html,
                              PURPLE_MESSAGE_RECV | PURPLE_MESSAGE_IMAGES, in->when);
  } else {
    c = purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, in->who, in->pa->account);
    if (c == NULL)
      c = purple_conversation_new (PURPLE_CONV_TYPE_IM, in->pa->account, in->who);
    purple_conv_im_write (PURPLE_CONV_IM (c), in->who, html,
                          PURPLE_MESSAGE_RECV | PURPLE_MESSAGE_IMAGES, in->when);
  }
  purple_imgstore_unref_by_id (id);
  inline_free (in);
}

static void
show_inline (AmmPurpleAccount *pa, const char *who, const char *thread_id, AmmAttachment *a,
             time_t when)
{
  Inline *in;

  if (g_ascii_strcasecmp (a->part->mime_type ? a->part->mime_type : "", "image/jpeg") != 0
      || a->part->size < 0 || a->part->size > AMM_XFER_INLINE_MAX_BYTES)
    return;
  in = g_new0 (Inline, 1);
  in->pa = amm_purple_account_ref (pa);
  in->who = g_strdup (who);
  in->thread_id = g_strdup (thread_id);
  in->filename = g_strdup (a->filename);
  in->when = when;
  amm_client_download_bytes_async (pa->client, a->part, AMM_XFER_INLINE_MAX_BYTES, pa->cancellable,
                                   inline_done, in);
}

void
amm_xfer_message_received (AmmPurpleAccount *pa, AmmConversation *conv, AmmMessage *msg,
                           gboolean from_self)
{
  g_autoptr (GPtrArray) atts = NULL;
  g_autofree char *who = NULL;
  const char *thread;
  gboolean group;
  time_t when;

  if (msg == NULL || msg->event_type != AMM_EVENT_MESSAGE || msg->parts->len == 0
      || from_self || msg->read || amm_purple_account_is_closed (pa) || msg->from == NULL)
    return;
  thread = msg->thread_id ? msg->thread_id : (conv ? conv->id : NULL);
  group = thread && amm_chat_find_open (pa, thread) != NULL;
  who = amm_purple_normalize_address (msg->from->address);
  when = msg->received_date ? (time_t) g_date_time_to_unix (msg->received_date) : time (NULL);
  atts = amm_message_get_attachments (msg);
  for (guint i = 0; i < atts->len; i++) {
    AmmAttachment *a = g_ptr_array_index (atts, i);
    show_inline (pa, who, group ? thread : NULL, a, when);
    offer (pa, who, a);
    if (amm_purple_account_is_closed (pa))
      return;
  }
}

char *
amm_xfer_describe_parts (const AmmMessage *msg)
{
  g_autoptr (GPtrArray) atts = amm_message_get_attachments (msg);
  GString *s = g_string_new ("[");

  for (guint i = 0; i < atts->len; i++) {
    AmmAttachment *a = g_ptr_array_index (atts, i);
    if (i > 0)
      g_string_append (s, "; ");
    g_string_append (s, a->filename);
    if (a->part->size >= 0) {
      g_autofree char *size = g_format_size ((guint64) a->part->size);
      g_string_append_printf (s, ", %s", size);
    }
  }
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}
