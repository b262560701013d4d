/* amm-download.c: fetching a part's media URL, streamed to a file (or, capped, to memory).
 *
 * Only URLs on the configured server are followed (same scheme, host and port): the request
 * carries the account's credentials. The body is read in chunks and written as it comes; its
 * length must match both the part's size and the Content-Length, else the download failed
 * (a truncated file is never reported as complete). On failure the partial file is removed.
 *
 * The file is written in place (created or truncated, then written chunk by chunk), not through
 * a temporary file renamed at the end: a libpurple UI may read the file while it grows. Bitlbee
 * opens the transfer's local file at the first progress report, unlinks it and streams what it
 * reads to the DCC peer; a rename at the end would leave it reading the empty file libpurple had
 * created. (libpurple itself has already created or truncated the file before the transfer starts.)
 */
#include "amm-attachments.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixoutputstream.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>
#include "amm-client-private.h"
#include "amm-http.h"
#include "amm-protocol.h"

#define READ_CHUNK (1024 * 1024)
#define ERROR_BODY_CAP (64 * 1024)
#define DOWNLOAD_STALL_SECONDS 60

static gint
default_port (const char *scheme)
{
  return g_ascii_strcasecmp (scheme, "https") == 0 ? 443 : 80;
}

gboolean
amm_client_check_media_url (AmmClient *self, const char *url, GError **error)
{
  g_autoptr (GUri) base = g_uri_parse (amm_client_get_base_url (self), SOUP_HTTP_URI_FLAGS, NULL);
  g_autoptr (GUri) u = url ? g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL) : NULL;

  if (u == NULL || g_uri_get_host (u) == NULL || g_uri_get_scheme (u) == NULL) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_REJECTED, "The attachment has no valid download URL");
    return FALSE;
  }
  const char *scheme = g_uri_get_scheme (u);
  gint port = g_uri_get_port (u) > 0 ? g_uri_get_port (u) : default_port (scheme);
  gint base_port = base && g_uri_get_port (base) > 0 ? g_uri_get_port (base)
                   : base ? default_port (g_uri_get_scheme (base)) : -1;
  if (base == NULL || g_ascii_strcasecmp (scheme, g_uri_get_scheme (base)) != 0
      || g_ascii_strcasecmp (g_uri_get_host (u), g_uri_get_host (base)) != 0 || port != base_port) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_REJECTED,
                 "The attachment's download URL points to %s://%s:%d, not to the AMM server "
                 "(%s); it was not followed", scheme, g_uri_get_host (u), port,
                 amm_client_get_base_url (self));
    return FALSE;
  }
  return TRUE;
}

typedef struct {
  AmmClient      *client;
  SoupMessage    *msg;
  GInputStream   *in;
  GOutputStream  *out;
  GFile          *dest;          /* nullable: memory */
  char           *name;          /* for messages */
  gint64          part_size;     /* -1 unknown */
  gint64          content_length; /* -1 unknown */
  guint64         max_bytes;     /* memory: cap */
  guint64         got;
  GByteArray     *error_body;
  GCancellable   *op;
  GCancellable   *user;
  gulong          user_handler, client_handler;
  guint           watchdog_id;
  gint64          last_activity;
  gboolean        stalled;
  AmmProgressFunc progress;
  gpointer        progress_data;
} Download;

static void
download_free (Download *d)
{
  if (d->watchdog_id)
    g_source_remove (d->watchdog_id);
  if (d->user_handler)
    g_cancellable_disconnect (d->user, d->user_handler);
  if (d->client_handler)
    g_cancellable_disconnect (amm_client_get_cancellable (d->client), d->client_handler);
  g_clear_object (&d->in);
  g_clear_object (&d->out);
  g_clear_object (&d->dest);
  g_clear_object (&d->msg);
  g_clear_object (&d->op);
  g_clear_object (&d->user);
  g_clear_object (&d->client);
  if (d->error_body)
    g_byte_array_unref (d->error_body);
  g_free (d->name);
  g_free (d);
}

static guint64
expected_size (Download *d)
{
  return d->content_length >= 0 ? (guint64) d->content_length
         : d->part_size >= 0 ? (guint64) d->part_size : 0;
}

/* Fail: close and remove the partial file, map the error. */
static void
download_fail (GTask *task, GError *error)
{
  Download *d = g_task_get_task_data (task);
  if (d->in)
    g_input_stream_close (d->in, NULL, NULL);
  if (d->out) {
    /* the file was created or truncated and holds a part of the body: nothing valid is in it */
    g_output_stream_close (d->out, NULL, NULL);
    if (d->dest)
      g_file_delete (d->dest, NULL, NULL);
  }
  if ((d->user && g_cancellable_is_cancelled (d->user))
      || g_cancellable_is_cancelled (amm_client_get_cancellable (d->client))) {
    g_clear_error (&error);
    error = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The download of %s was cancelled", d->name);
  } else if (d->stalled) {
    g_clear_error (&error);
    error = g_error_new (AMM_ERROR, AMM_ERROR_TIMEOUT,
                         "The download of %s stalled: nothing arrived for %d seconds",
                         d->name, DOWNLOAD_STALL_SECONDS);
  } else if (error->domain != AMM_ERROR) {
    GError *mapped;
    if (d->in && expected_size (d) > 0)
      mapped = g_error_new (AMM_ERROR, AMM_ERROR_NETWORK,
                            "The download of %s was cut short after %" G_GUINT64_FORMAT " of %"
                            G_GUINT64_FORMAT " bytes: %s", d->name, d->got, expected_size (d),
                            error->message);
    else
      mapped = amm_http_map_transport_error (d->msg, error);
    g_clear_error (&error);
    error = mapped;
  }
  g_task_return_error (task, error);
  g_object_unref (task);
}

static void read_next (GTask *task);

static void
on_closed (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  Download *d = g_task_get_task_data (task);
  GError *error = NULL;
  if (!g_output_stream_close_finish (G_OUTPUT_STREAM (src), res, &error)) {
    download_fail (task, error);
    return;
  }
  if (d->dest) {
    g_task_return_boolean (task, TRUE);
  } else {
    GBytes *bytes = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (d->out));
    g_task_return_pointer (task, bytes, (GDestroyNotify) g_bytes_unref);
  }
  g_object_unref (task);
}

static void
on_read (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  Download *d = g_task_get_task_data (task);
  GError *error = NULL;
  GBytes *chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (src), res, &error);
  if (chunk == NULL) {
    download_fail (task, error);
    return;
  }
  d->last_activity = g_get_monotonic_time ();
  gsize n = g_bytes_get_size (chunk);
  if (n == 0) {
    g_bytes_unref (chunk);
    guint64 want = expected_size (d);
    if ((d->content_length >= 0 && d->got != (guint64) d->content_length)
        || (d->part_size >= 0 && d->got != (guint64) d->part_size)) {
      download_fail (task, g_error_new (AMM_ERROR, AMM_ERROR_NETWORK,
                                        "The download of %s was cut short: %" G_GUINT64_FORMAT
                                        " of %" G_GUINT64_FORMAT " bytes arrived",
                                        d->name, d->got, want));
      return;
    }
    g_input_stream_close (d->in, NULL, NULL);
    g_output_stream_close_async (d->out, G_PRIORITY_DEFAULT, d->op, on_closed, task);
    return;
  }
  if ((d->part_size >= 0 && d->got + n > (guint64) d->part_size)
      || (d->content_length >= 0 && d->got + n > (guint64) d->content_length)) {
    g_bytes_unref (chunk);
    download_fail (task, g_error_new (AMM_ERROR, AMM_ERROR_MALFORMED,
                                      "The server sent more than the %" G_GUINT64_FORMAT
                                      " bytes of %s", expected_size (d), d->name));
    return;
  }
  if (d->max_bytes && d->got + n > d->max_bytes) {
    g_bytes_unref (chunk);
    download_fail (task, g_error_new (AMM_ERROR, AMM_ERROR_TOO_LARGE,
                                      "%s is larger than %" G_GUINT64_FORMAT " bytes", d->name,
                                      d->max_bytes));
    return;
  }
  /* Written at once: a local file takes a chunk into the page cache in microseconds, while an
   * async write would cost a worker-thread round trip per chunk (a third of the throughput). */
  if (!g_output_stream_write_all (d->out, g_bytes_get_data (chunk, NULL), n, NULL, d->op, &error)) {
    g_bytes_unref (chunk);
    download_fail (task, error);
    return;
  }
  g_bytes_unref (chunk);
  d->got += n;
  if (d->progress)
    d->progress (d->got, expected_size (d), d->progress_data);
  read_next (task);
}

static void
read_next (GTask *task)
{
  Download *d = g_task_get_task_data (task);
  g_input_stream_read_bytes_async (d->in, READ_CHUNK, G_PRIORITY_DEFAULT, d->op, on_read, task);
}

static void
on_error_body (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  Download *d = g_task_get_task_data (task);
  g_autoptr (GBytes) chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (src), res, NULL);
  if (chunk && g_bytes_get_size (chunk) > 0 && d->error_body->len < ERROR_BODY_CAP) {
    g_byte_array_append (d->error_body, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
    g_input_stream_read_bytes_async (d->in, READ_CHUNK, G_PRIORITY_DEFAULT, d->op, on_error_body, task);
    return;
  }
  g_autoptr (GBytes) body = g_bytes_new (d->error_body->data, d->error_body->len);
  GError *error = amm_http_status_error (soup_message_get_status (d->msg),
                                         soup_message_get_reason_phrase (d->msg), body);
  g_clear_object (&d->in); /* not a truncated body: the status is the error */
  download_fail (task, error);
}

static void
on_sent (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  Download *d = g_task_get_task_data (task);
  GError *error = NULL;
  GInputStream *in = soup_session_send_finish (SOUP_SESSION (src), res, &error);
  if (in == NULL) {
    download_fail (task, error);
    return;
  }
  d->in = in;
  d->last_activity = g_get_monotonic_time ();
  guint status = soup_message_get_status (d->msg);
  if (!SOUP_STATUS_IS_SUCCESSFUL (status)) {
    d->error_body = g_byte_array_new ();
    g_input_stream_read_bytes_async (d->in, READ_CHUNK, G_PRIORITY_DEFAULT, d->op, on_error_body, task);
    return;
  }
  SoupMessageHeaders *h = soup_message_get_response_headers (d->msg);
  if (soup_message_headers_get_encoding (h) == SOUP_ENCODING_CONTENT_LENGTH)
    d->content_length = soup_message_headers_get_content_length (h);
  if (d->content_length >= 0 && d->part_size >= 0 && d->content_length != d->part_size) {
    g_clear_object (&d->in);
    download_fail (task, g_error_new (AMM_ERROR, AMM_ERROR_MALFORMED,
                                      "The server announced %" G_GINT64_FORMAT " bytes for %s, "
                                      "whose size is %" G_GINT64_FORMAT " bytes",
                                      d->content_length, d->name, d->part_size));
    return;
  }
  if (d->max_bytes && expected_size (d) > d->max_bytes) {
    g_clear_object (&d->in);
    download_fail (task, g_error_new (AMM_ERROR, AMM_ERROR_TOO_LARGE,
                                      "%s is larger than %" G_GUINT64_FORMAT " bytes", d->name,
                                      d->max_bytes));
    return;
  }
  if (d->dest) {
    /* in place, see the top of the file (not g_file_replace: a temporary file, renamed at close) */
    g_autofree char *path = g_file_get_path (d->dest);
    int fd = path ? g_open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    if (fd < 0) {
      int err = path ? errno : EINVAL;
      g_clear_object (&d->in);
      download_fail (task, g_error_new (AMM_ERROR, AMM_ERROR_REJECTED, "Cannot write %s: %s",
                                        d->name, g_strerror (err)));
      return;
    }
    d->out = g_unix_output_stream_new (fd, TRUE);
  } else {
    d->out = g_memory_output_stream_new_resizable ();
  }
  if (d->progress)
    d->progress (0, expected_size (d), d->progress_data);
  read_next (task);
}

static gboolean
on_watchdog (gpointer data)
{
  Download *d = data;
  if (g_get_monotonic_time () - d->last_activity > (gint64) DOWNLOAD_STALL_SECONDS * G_USEC_PER_SEC) {
    d->stalled = TRUE;
    d->watchdog_id = 0;
    g_cancellable_cancel (d->op);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
on_cancel_chain (GCancellable *c, gpointer data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
}

static void
download_start (AmmClient *self, const AmmPart *part, GFile *dest, guint64 max_bytes,
                AmmProgressFunc progress, gpointer progress_data, GCancellable *cancellable,
                GAsyncReadyCallback callback, gpointer user_data, gpointer source_tag)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  GError *error = NULL;
  g_task_set_source_tag (task, source_tag);
  g_autofree char *raw = amm_part_get_filename (part);

  Download *d = g_new0 (Download, 1);
  d->client = g_object_ref (self);
  d->name = amm_attachment_sanitize_filename (raw ? raw : part->part_id);
  d->part_size = part->size;
  d->content_length = -1;
  d->max_bytes = max_bytes;
  d->progress = progress;
  d->progress_data = progress_data;
  d->op = g_cancellable_new ();
  g_task_set_task_data (task, d, (GDestroyNotify) download_free);

  if (amm_client_is_shut_down (self)) {
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The client was shut down");
    g_object_unref (task);
    return;
  }
  if (!amm_client_check_media_url (self, part->media, &error)) {
    g_task_return_error (task, error);
    g_object_unref (task);
    return;
  }
  d->msg = amm_http_request_new ("GET", part->media, amm_client_get_auth (self), "*/*", NULL, NULL, 0, &error);
  if (d->msg == NULL) {
    g_task_return_error (task, error);
    g_object_unref (task);
    return;
  }
  d->dest = dest ? g_object_ref (dest) : NULL;
  if (cancellable) {
    d->user = g_object_ref (cancellable);
    d->user_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_cancel_chain),
                                             g_object_ref (d->op), g_object_unref);
  }
  d->client_handler = g_cancellable_connect (amm_client_get_cancellable (self), G_CALLBACK (on_cancel_chain),
                                             g_object_ref (d->op), g_object_unref);
  d->last_activity = g_get_monotonic_time ();
  d->watchdog_id = g_timeout_add_seconds (5, on_watchdog, d);
  soup_session_send_async (amm_client_get_session (self), d->msg, G_PRIORITY_DEFAULT, d->op, on_sent, task);
}

void
amm_client_download_async (AmmClient *self, const AmmPart *part, const char *dest_path,
                           AmmProgressFunc progress, gpointer progress_data,
                           GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GFile) dest = g_file_new_for_path (dest_path);
  download_start (self, part, dest, 0, progress, progress_data, cancellable, callback, user_data,
                  amm_client_download_async);
}

gboolean
amm_client_download_finish (AmmClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
amm_client_download_bytes_async (AmmClient *self, const AmmPart *part, guint64 max_bytes,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  download_start (self, part, NULL, max_bytes ? max_bytes : G_MAXUINT64, NULL, NULL, cancellable,
                  callback, user_data, amm_client_download_bytes_async);
}

GBytes *
amm_client_download_bytes_finish (AmmClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
