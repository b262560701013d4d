/* server-media.c: attachments on the test server (docs/protocol.md §17).
 *
 * - Uploads: a multipart/related POST to the outbox is spooled to a temporary file as it
 *   arrives ("got-chunk", request body not accumulated), then memory-mapped: the parts handed
 *   to the state are slices of that mapping, so a 1 GiB upload is never held in the heap.
 * - Limits: each file part is checked against --max-image-size / --max-video-size /
 *   --max-audio-size / --max-generic-size (413 ATTACHMENT_SIZE_EXCEEDED) and its type against
 *   richContent (415 UNSUPPORTED_MEDIA_TYPE for a generic attachment without it).
 * - Downloads: the bytes are written in 1 MiB chunks ("wrote-chunk"), with Content-Length.
 * - Fault switch (control port): {"truncateDownloads":true} sends the headers of a full
 *   download, half the bytes, then closes the connection.
 */
#include "server.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#define OUTBOX_PATH "/aem/outbox"
#define CHUNK_BYTES (1024 * 1024)

struct _AmmMedia {
  gboolean truncate_downloads;
};

/* ---- spooling uploads ---- */

typedef struct {
  GFile         *file;
  GOutputStream *out;     /* owned by io */
  GFileIOStream *io;
  guint64        written;
  GError        *error;
} Spool;

static void
spool_free (gpointer data)
{
  Spool *sp = data;

  if (sp->io)
    g_io_stream_close (G_IO_STREAM (sp->io), NULL, NULL);
  g_clear_object (&sp->io);
  if (sp->file) {
    g_file_delete (sp->file, NULL, NULL);
    g_object_unref (sp->file);
  }
  g_clear_error (&sp->error);
  g_free (sp);
}

static void
spool_chunk (SoupServerMessage *msg, GBytes *chunk, gpointer data)
{
  Spool *sp = data;
  gsize len;
  const void *bytes = g_bytes_get_data (chunk, &len);

  if (sp->error || !sp->out)
    return;
  if (!g_output_stream_write_all (sp->out, bytes, len, NULL, NULL, &sp->error))
    return;
  sp->written += len;
}

static void
early_handler (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
               gpointer data)
{
  const char *ct = soup_message_headers_get_content_type (
      soup_server_message_get_request_headers (msg), NULL);
  Spool *sp;

  if (!g_str_equal (path, OUTBOX_PATH)
      || g_strcmp0 (soup_server_message_get_method (msg), "POST") != 0
      || !ct || g_ascii_strcasecmp (ct, "multipart/related") != 0)
    return;
  sp = g_new0 (Spool, 1);
  sp->file = g_file_new_tmp ("amm-upload-XXXXXX", &sp->io, &sp->error);
  if (sp->io)
    sp->out = g_io_stream_get_output_stream (G_IO_STREAM (sp->io));
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (spool_chunk), sp);
  g_object_set_data_full (G_OBJECT (msg), "amm-media-spool", sp, spool_free);
}

GBytes *
amm_media_request_body (SoupServerMessage *msg, GError **error)
{
  Spool *sp = g_object_get_data (G_OBJECT (msg), "amm-media-spool");
  g_autoptr (GMappedFile) mapped = NULL;
  g_autoptr (GBytes) all = NULL;
  g_autofree char *path = NULL;
  static const char nul = '\0';

  if (!sp)
    return soup_message_body_flatten (soup_server_message_get_request_body (msg));
  if (sp->error) {
    g_propagate_error (error, g_error_copy (sp->error));
    return NULL;
  }
  /* A NUL after the body keeps libsoup's header search (strstr) inside the mapping. */
  if (!g_output_stream_write_all (sp->out, &nul, 1, NULL, NULL, error)
      || !g_io_stream_close (G_IO_STREAM (sp->io), NULL, error))
    return NULL;
  g_clear_object (&sp->io);
  sp->out = NULL;
  path = g_file_get_path (sp->file);
  mapped = g_mapped_file_new (path, FALSE, error);
  if (!mapped)
    return NULL;
  /* The mapping outlives the name: nothing is left on disk whatever happens next. */
  g_file_delete (sp->file, NULL, NULL);
  g_clear_object (&sp->file);
  all = g_mapped_file_get_bytes (mapped);
  return g_bytes_new_from_bytes (all, 0, g_bytes_get_size (all) - 1);
}

/* ---- limits ---- */

gboolean
amm_media_check_part (AmmServer *server, SoupServerMessage *msg, const char *mime, gsize size)
{
  const AmmServerOptions *o = &server->opt;
  gint64 limit;
  const char *kind;
  g_autofree char *text = NULL;

  if (!mime || !*mime || !strchr (mime, '/')) {
    amm_respond_error (msg, 400, "INVALID_PARAMETER", "An attachment part has no Content-Type", NULL);
    return FALSE;
  }
  if (g_str_has_prefix (mime, "image/")) {
    limit = o->max_image_size;
    kind = "maxImageSize";
  } else if (g_str_has_prefix (mime, "video/")) {
    limit = o->max_video_size;
    kind = "maxVideoSize";
  } else if (g_str_has_prefix (mime, "audio/")) {
    limit = o->max_audio_size;
    kind = "maxAudioSize";
  } else {
    if (o->no_rich_content) {
      text = g_strdup_printf ("Attachments of type %s are not allowed on this server "
                              "(only images, video and audio)", mime);
      amm_respond_error (msg, 415, "UNSUPPORTED_MEDIA_TYPE", text, NULL);
      return FALSE;
    }
    limit = o->max_generic_size;
    kind = "maxGenericAttachmentSize";
  }
  if (limit > 0 && (guint64) size > (guint64) limit) {
    text = g_strdup_printf ("The attachment is %" G_GSIZE_FORMAT " bytes; %s is %" G_GINT64_FORMAT
                            " bytes", size, kind, limit);
    amm_respond_error (msg, 413, "ATTACHMENT_SIZE_EXCEEDED", text, NULL);
    return FALSE;
  }
  return TRUE;
}

/* ---- downloads ---- */

typedef struct {
  GBytes *bytes;
  gsize   offset;
  gboolean done;
} Feed;

static void
feed_free (gpointer data)
{
  Feed *f = data;

  g_bytes_unref (f->bytes);
  g_free (f);
}

static void
feed_next (Feed *f, SoupMessageBody *body)
{
  gsize size = g_bytes_get_size (f->bytes);
  gsize n = MIN (size - f->offset, (gsize) CHUNK_BYTES);

  if (f->done)
    return;
  if (n == 0) {
    f->done = TRUE;
    soup_message_body_complete (body);
    return;
  }
  g_autoptr (GBytes) chunk = g_bytes_new_from_bytes (f->bytes, f->offset, n);
  f->offset += n;
  soup_message_body_append_bytes (body, chunk);
}

static void
on_wrote_chunk (SoupServerMessage *msg, gpointer data)
{
  feed_next (data, soup_server_message_get_response_body (msg));
}

typedef struct {
  GIOStream *conn;
  GBytes    *head;
  GBytes    *data;
} Cut;

static void
cut_closed (GObject *src, GAsyncResult *res, gpointer data)
{
  Cut *c = data;

  g_io_stream_close_finish (G_IO_STREAM (src), res, NULL);
  g_object_unref (c->conn);
  g_bytes_unref (c->head);
  g_bytes_unref (c->data);
  g_free (c);
}

static void
cut_wrote_data (GObject *src, GAsyncResult *res, gpointer data)
{
  Cut *c = data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res, NULL, NULL);
  g_io_stream_close_async (c->conn, G_PRIORITY_DEFAULT, NULL, cut_closed, c);
}

static void
cut_wrote_head (GObject *src, GAsyncResult *res, gpointer data)
{
  Cut *c = data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res, NULL, NULL)) {
    g_io_stream_close_async (c->conn, G_PRIORITY_DEFAULT, NULL, cut_closed, c);
    return;
  }
  g_output_stream_write_all_async (G_OUTPUT_STREAM (src), g_bytes_get_data (c->data, NULL),
                                   g_bytes_get_size (c->data), G_PRIORITY_DEFAULT, NULL,
                                   cut_wrote_data, c);
}

/* The fault: announce the full length, send half, hang up. */
static void
respond_truncated (SoupServerMessage *msg, const char *mime, GBytes *bytes)
{
  gsize size = g_bytes_get_size (bytes);
  Cut *c = g_new0 (Cut, 1);
  g_autofree char *head = g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
                                           "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                                           "Connection: close\r\n\r\n", mime, size);

  c->conn = soup_server_message_steal_connection (msg);
  c->head = g_bytes_new (head, strlen (head));
  c->data = g_bytes_new_from_bytes (bytes, 0, size / 2);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (c->conn),
                                   g_bytes_get_data (c->head, NULL), g_bytes_get_size (c->head),
                                   G_PRIORITY_DEFAULT, NULL, cut_wrote_head, c);
}

void
amm_media_respond (AmmServer *server, SoupServerMessage *msg, const char *mime, GBytes *bytes)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  Feed *f;

  if (server->media && server->media->truncate_downloads) {
    respond_truncated (msg, mime, bytes);
    return;
  }
  soup_server_message_set_status (msg, 200, NULL);
  soup_message_headers_replace (h, "Content-Type", mime);
  soup_message_headers_set_content_length (h, g_bytes_get_size (bytes));
  soup_message_body_set_accumulate (body, FALSE);
  f = g_new0 (Feed, 1);
  f->bytes = g_bytes_ref (bytes);
  g_object_set_data_full (G_OBJECT (msg), "amm-media-feed", f, feed_free);
  g_signal_connect (msg, "wrote-chunk", G_CALLBACK (on_wrote_chunk), f);
  feed_next (f, body);
}

/* ---- control ---- */

gboolean
amm_media_control_attachments (SoupServerMessage *msg, JsonObject *o, GPtrArray **parts,
                               GPtrArray **media)
{
  JsonNode *n = json_object_get_member (o, "attachments");
  JsonArray *a;

  *parts = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_part_free);
  *media = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (n)) {
    amm_respond_error (msg, 400, "INVALID_PARAMETER", "\"attachments\" is not an array", NULL);
    return FALSE;
  }
  a = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *e = json_array_get_element (a, i);
    JsonObject *f = JSON_NODE_HOLDS_OBJECT (e) ? json_node_get_object (e) : NULL;
    const char *name = f ? json_object_get_string_member_with_default (f, "filename", NULL) : NULL;
    const char *data = f ? json_object_get_string_member_with_default (f, "data", NULL) : NULL;
    gsize len = 0;
    guchar *bytes;
    GString *disposition;

    if (!name || !data) {
      amm_respond_error (msg, 400, "INVALID_PARAMETER",
                         "an attachment needs \"filename\" and \"data\" (base64)", NULL);
      return FALSE;
    }
    bytes = g_base64_decode (data, &len);
    disposition = g_string_new (json_object_get_boolean_member_with_default (f, "inline", FALSE)
                                ? "inline; " : "attachment; ");
    soup_header_g_string_append_param_quoted (disposition, "filename", name);
    g_ptr_array_add (*parts, amm_part_new (json_object_get_string_member_with_default (
                                               f, "mimeType", "application/octet-stream"),
                                           disposition->str, len));
    g_ptr_array_add (*media, g_bytes_new_take (bytes, len));
    g_string_free (disposition, TRUE);
  }
  return TRUE;
}

void
amm_media_control_fault (AmmServer *server, SoupServerMessage *msg)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonNode) doc = json_node_new (JSON_NODE_OBJECT);
  JsonObject *o = amm_parse_body_object (msg, &root), *out;

  if (!o)
    return;
  if (json_object_has_member (o, "truncateDownloads"))
    server->media->truncate_downloads = json_object_get_boolean_member_with_default (
        o, "truncateDownloads", FALSE);
  out = json_object_new ();
  json_object_set_boolean_member (out, "truncateDownloads", server->media->truncate_downloads);
  json_node_take_object (doc, out);
  amm_respond_json (msg, 200, "application/json", doc);
}

/* DELETE /control/fault (every fault cleared) clears the media faults too. */
void
amm_media_clear_faults (AmmServer *server)
{
  if (server->media)
    server->media->truncate_downloads = FALSE;
}

void
amm_media_install (AmmServer *server)
{
  if (!server->media)
    server->media = g_new0 (AmmMedia, 1);
  /* On "/aem", the REST handler's own path: a handler registered for OUTBOX_PATH alone would
   * shadow the REST handler for the body. */
  soup_server_add_early_handler (server->soup, "/aem", early_handler, server, NULL);
}
