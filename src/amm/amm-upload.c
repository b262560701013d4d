/* amm-upload.c: sending a file as a multipart/related outbox POST, streamed from disk.
 *
 * The request body is a small GInputStream that yields the framing head (the message JSON
 * part and the file part's headers), then the file's bytes as read from disk, then the
 * closing boundary; libsoup gets it with the exact Content-Length. Nothing but one read
 * buffer is ever in memory.
 */
#include "amm-attachments.h"

#include <libsoup/soup.h>
#include <string.h>
#include "amm-client-private.h"
#include "amm-http.h"
#include "amm-protocol.h"

/* No byte written and no answer for this long: the upload has stalled. */
#define UPLOAD_STALL_SECONDS 60

/* ---- the body stream: head bytes, file stream, tail bytes ---- */

#define AMM_TYPE_CONCAT_STREAM (amm_concat_stream_get_type ())
G_DECLARE_FINAL_TYPE (AmmConcatStream, amm_concat_stream, AMM, CONCAT_STREAM, GInputStream)

/* libsoup splices the body in 8 KiB reads; the file is read ahead in bigger blocks so that
 * each of those is a memcpy, not a system call. */
#define READ_AHEAD (512 * 1024)

struct _AmmConcatStream {
  GInputStream  parent;
  GBytes       *head;
  GInputStream *file;
  GBytes       *tail;
  guint         phase;   /* 0 head, 1 file, 2 tail, 3 end */
  gsize         offset;  /* within head / tail */
  guint8       *buf;     /* read-ahead of the file */
  gsize         buf_len, buf_pos;
};

G_DEFINE_TYPE (AmmConcatStream, amm_concat_stream, G_TYPE_INPUT_STREAM)

static gssize
copy_from (AmmConcatStream *self, GBytes *bytes, void *buffer, gsize count)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  gsize n = MIN (count, len - self->offset);
  memcpy (buffer, data + self->offset, n);
  self->offset += n;
  if (self->offset == len) {
    self->phase++;
    self->offset = 0;
  }
  return n;
}

static gssize
concat_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable, GError **error)
{
  AmmConcatStream *self = AMM_CONCAT_STREAM (stream);
  while (count > 0) {
    switch (self->phase) {
    case 0:
      if (g_bytes_get_size (self->head) == 0) {
        self->phase++;
        continue;
      }
      return copy_from (self, self->head, buffer, count);
    case 1: {
      if (self->buf_pos == self->buf_len) {
        gssize n = g_input_stream_read (self->file, self->buf, READ_AHEAD, cancellable, error);
        if (n < 0)
          return -1;
        if (n == 0) {
          self->phase++;
          continue;
        }
        self->buf_len = n;
        self->buf_pos = 0;
      }
      gsize n = MIN (count, self->buf_len - self->buf_pos);
      memcpy (buffer, self->buf + self->buf_pos, n);
      self->buf_pos += n;
      return n;
    }
    case 2:
      return copy_from (self, self->tail, buffer, count);
    default:
      return 0;
    }
  }
  return 0;
}

/* A local file is always ready, so a read completes at once. libpurple-hosted main loops pay
 * dearly per iteration and libsoup splices the body 8 KiB at a time: instead of GInputStream's
 * default (a worker thread per read) or a GTask returned in the next main-loop iteration, the
 * result is handed over right away. The only reader is libsoup's splice, whose callback
 * starts a write that always completes in a later iteration, so this never recurses. */
static void
concat_read_async (GInputStream *stream, void *buffer, gsize count, int io_priority,
                   GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (stream, cancellable, NULL, NULL);
  GError *error = NULL;
  gssize n;

  g_task_set_source_tag (task, concat_read_async);
  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    n = -1;
  else
    n = concat_read (stream, buffer, count, cancellable, &error);
  if (n >= 0)
    g_task_return_int (task, n);
  else
    g_task_return_error (task, error);
  if (callback)
    callback (G_OBJECT (stream), G_ASYNC_RESULT (task), user_data);
  g_object_unref (task);
}

static gssize
concat_read_finish (GInputStream *stream, GAsyncResult *result, GError **error)
{
  return g_task_propagate_int (G_TASK (result), error);
}

static gboolean
concat_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  AmmConcatStream *self = AMM_CONCAT_STREAM (stream);
  return g_input_stream_close (self->file, cancellable, error);
}

static void
concat_finalize (GObject *obj)
{
  AmmConcatStream *self = AMM_CONCAT_STREAM (obj);
  g_bytes_unref (self->head);
  g_bytes_unref (self->tail);
  g_object_unref (self->file);
  g_free (self->buf);
  G_OBJECT_CLASS (amm_concat_stream_parent_class)->finalize (obj);
}

static void
amm_concat_stream_class_init (AmmConcatStreamClass *klass)
{
  GInputStreamClass *is = G_INPUT_STREAM_CLASS (klass);
  is->read_fn = concat_read;
  is->read_async = concat_read_async;
  is->read_finish = concat_read_finish;
  is->close_fn = concat_close;
  G_OBJECT_CLASS (klass)->finalize = concat_finalize;
}

static void
amm_concat_stream_init (AmmConcatStream *self)
{
}

static GInputStream *
concat_stream_new (GBytes *head, GInputStream *file, GBytes *tail)
{
  AmmConcatStream *self = g_object_new (AMM_TYPE_CONCAT_STREAM, NULL);
  self->head = g_bytes_ref (head);
  self->file = g_object_ref (file);
  self->tail = g_bytes_ref (tail);
  self->buf = g_malloc (READ_AHEAD);
  return G_INPUT_STREAM (self);
}

/* ---- checks ---- */

gboolean
amm_client_check_file (AmmClient *self, const char *path, const char *filename,
                       char **mime_out, guint64 *size_out, GError **error)
{
  const AmmResources *res = amm_client_get_resources (self);
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GError) local = NULL;
  g_autoptr (GFileInfo) info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                                                  G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                                                  G_FILE_ATTRIBUTE_ACCESS_CAN_READ,
                                                  G_FILE_QUERY_INFO_NONE, NULL, &local);
  g_autofree char *base = g_path_get_basename (path);
  const char *name = filename ? filename : base;

  if (res == NULL) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS, "Not connected");
    return FALSE;
  }
  if (info == NULL) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_REJECTED, "Cannot read %s: %s", name, local->message);
    return FALSE;
  }
  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_REJECTED, "%s is not a regular file", name);
    return FALSE;
  }
  if (g_file_info_has_attribute (info, G_FILE_ATTRIBUTE_ACCESS_CAN_READ)
      && !g_file_info_get_attribute_boolean (info, G_FILE_ATTRIBUTE_ACCESS_CAN_READ)) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_REJECTED, "Cannot read %s: permission denied", name);
    return FALSE;
  }
  g_autofree char *mime = amm_attachment_guess_mime (name);
  guint64 size = (guint64) g_file_info_get_size (info);
  if (!amm_attachment_check_limits (&res->limits, name, mime, size, error))
    return FALSE;
  if (mime_out)
    *mime_out = g_steal_pointer (&mime);
  if (size_out)
    *size_out = size;
  return TRUE;
}

/* ---- the send ---- */

typedef struct {
  AmmClient      *client;
  SoupMessage    *msg;
  GCancellable   *op;          /* the user's cancellable and the stall watchdog cancel this */
  GCancellable   *user;
  gulong          user_handler;
  guint           watchdog_id;
  gint64          last_activity;
  gboolean        stalled;
  guint64         head_len;
  guint64         file_size;
  guint64         written;
  AmmProgressFunc progress;
  gpointer        progress_data;
} Upload;

static void
upload_free (Upload *u)
{
  if (u->watchdog_id)
    g_source_remove (u->watchdog_id);
  if (u->user_handler)
    g_cancellable_disconnect (u->user, u->user_handler);
  if (u->msg)
    g_signal_handlers_disconnect_by_data (u->msg, u);
  g_clear_object (&u->msg);
  g_clear_object (&u->op);
  g_clear_object (&u->user);
  g_clear_object (&u->client);
  g_free (u);
}

static void
on_wrote_body_data (SoupMessage *msg, guint chunk, gpointer data)
{
  Upload *u = data;
  u->written += chunk;
  u->last_activity = g_get_monotonic_time ();
  if (u->progress) {
    guint64 done = u->written > u->head_len ? u->written - u->head_len : 0;
    u->progress (MIN (done, u->file_size), u->file_size, u->progress_data);
  }
}

static gboolean
on_watchdog (gpointer data)
{
  Upload *u = data;
  if (g_get_monotonic_time () - u->last_activity > (gint64) UPLOAD_STALL_SECONDS * G_USEC_PER_SEC) {
    u->stalled = TRUE;
    u->watchdog_id = 0;
    g_cancellable_cancel (u->op);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
on_user_cancelled (GCancellable *c, gpointer data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
}

static void
on_upload_done (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  Upload *u = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (GBytes) body = amm_http_send_finish (res, NULL, NULL, &error);
  AmmMessage *msg = amm_client_outbox_end (u->client, body, body ? &error : NULL);

  if (msg == NULL && u->stalled && !(u->user && g_cancellable_is_cancelled (u->user))) {
    g_clear_error (&error);
    error = g_error_new (AMM_ERROR, AMM_ERROR_TIMEOUT,
                         "The upload stalled: nothing was sent or answered for %d seconds",
                         UPLOAD_STALL_SECONDS);
  }
  if (msg)
    g_task_return_pointer (task, msg, (GDestroyNotify) amm_message_unref);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

static char *
message_json (AmmClient *self, const char *thread_id, const char * const *to, const char *body)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GPtrArray) recipients = g_ptr_array_new_with_free_func (g_free);
  const char *me = amm_client_get_self_address (self);

  g_ptr_array_add (recipients, g_strdup (me));
  if (to) {
    for (guint i = 0; to[i]; i++)
      if (g_ascii_strcasecmp (to[i], me) != 0)
        g_ptr_array_add (recipients, g_strdup (to[i]));
  } else if (thread_id) {
    g_autoptr (GPtrArray) parts = amm_client_conversation_participants (self, thread_id);
    for (guint i = 0; i < parts->len; i++)
      if (g_ascii_strcasecmp (g_ptr_array_index (parts, i), me) != 0)
        g_ptr_array_add (recipients, g_strdup (g_ptr_array_index (parts, i)));
  }
  /* the key order of a text send (wire-capture.md §3) */
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "body");
  json_builder_add_string_value (b, body ? body : "");
  json_builder_set_member_name (b, "subject");
  json_builder_add_string_value (b, "");
  if (thread_id) {
    json_builder_set_member_name (b, "threadId");
    json_builder_add_string_value (b, thread_id);
  }
  json_builder_set_member_name (b, "flags");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "sensitivity");
  json_builder_add_string_value (b, "NORMAL");
  json_builder_end_object (b);
  json_builder_set_member_name (b, "to");
  json_builder_begin_array (b);
  for (guint i = 0; i < recipients->len; i++) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "address");
    json_builder_add_string_value (b, g_ptr_array_index (recipients, i));
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, "CONTACT");
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return amm_http_json_to_string (root);
}

void
amm_client_send_file_async (AmmClient *self, const char *thread_id, const char * const *to,
                            const char *body, const char *path, const char *filename,
                            AmmProgressFunc progress, gpointer progress_data,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  GError *error = NULL;
  g_autofree char *mime = NULL;
  guint64 size = 0;
  g_task_set_source_tag (task, amm_client_send_file_async);

  if (amm_client_is_shut_down (self)) {
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The client was shut down");
    g_object_unref (task);
    return;
  }
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *name = amm_attachment_sanitize_filename (filename ? filename : base);
  /* every check before a byte is sent */
  if (!amm_client_check_file (self, path, name, &mime, &size, &error)) {
    g_task_return_error (task, error);
    g_object_unref (task);
    return;
  }
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileInputStream) in = g_file_read (file, NULL, &error);
  if (in == NULL) {
    GError *e = g_error_new (AMM_ERROR, AMM_ERROR_REJECTED, "Cannot read %s: %s", name, error->message);
    g_clear_error (&error);
    g_task_return_error (task, e);
    g_object_unref (task);
    return;
  }
  const AmmResources *res = amm_client_get_resources (self);
  const char *type = res->version == AMM_VERSION_2_1 ? AMM_TYPE_MESSAGE_V1 : AMM_TYPE_MESSAGE_V2;
  g_autofree char *json = message_json (self, thread_id, to, body);
  g_autofree char *boundary = amm_attachment_new_boundary ();
  g_autoptr (GBytes) head = NULL;
  g_autoptr (GBytes) tail = NULL;
  amm_attachment_framing (boundary, type, json, mime, name, &head, &tail);
  g_autofree char *accept = g_strconcat (type, ", ", AMM_TYPE_ERROR, NULL);
  SoupMessage *msg = amm_http_request_new ("POST", res->outbox_href, amm_client_get_auth (self),
                                           accept, NULL, NULL, 0, &error);
  if (msg == NULL) {
    g_task_return_error (task, error);
    g_object_unref (task);
    return;
  }
  g_autoptr (GInputStream) stream = concat_stream_new (head, G_INPUT_STREAM (in), tail);
  /* the SDK's form: multipart/related;boundary="…" */
  g_autofree char *content_type = g_strdup_printf ("multipart/related;boundary=\"%s\"", boundary);
  soup_message_set_request_body (msg, content_type, stream,
                                 g_bytes_get_size (head) + size + g_bytes_get_size (tail));

  Upload *u = g_new0 (Upload, 1);
  u->client = g_object_ref (self);
  u->msg = msg;
  u->op = g_cancellable_new ();
  u->head_len = g_bytes_get_size (head);
  u->file_size = size;
  u->progress = progress;
  u->progress_data = progress_data;
  u->last_activity = g_get_monotonic_time ();
  if (cancellable) {
    u->user = g_object_ref (cancellable);
    u->user_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_user_cancelled),
                                             g_object_ref (u->op), g_object_unref);
  }
  g_task_set_task_data (task, u, (GDestroyNotify) upload_free);
  g_signal_connect (msg, "wrote-body-data", G_CALLBACK (on_wrote_body_data), u);
  u->watchdog_id = g_timeout_add_seconds (5, on_watchdog, u);

  /* not idempotent: libsoup never resends it; no overall timeout (big files), the watchdog */
  amm_client_outbox_begin (self);
  amm_http_send_async (amm_client_get_session (self), msg, 0, amm_client_get_cancellable (self),
                       u->op, on_upload_done, task);
}

AmmMessage *
amm_client_send_file_finish (AmmClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
