/* amm-attachments.h: attachments (AMM "parts", docs/protocol.md §17).
 *
 *   amm-attachments.c  pure helpers: file-name sanitizing, MIME types, limits, the
 *                      multipart/related framing, reading parts of a received message
 *   amm-upload.c       sending a file: the framing and the file streamed from disk
 *   amm-download.c     fetching a part's media URL, streamed to a file
 *
 * Knows nothing of libpurple. Every async call takes a GCancellable and calls back once.
 */
#pragma once

#include <gio/gio.h>
#include "amm-client.h"

G_BEGIN_DECLS

/* ---- pure helpers (amm-attachments.c) ---- */

#define AMM_FILENAME_MAX_BYTES 128

/* A name from the server made safe to create in a directory: the last path component only
 * ('/' and '\\' are separators), control characters and leading dots and spaces removed,
 * invalid UTF-8 replaced, at most AMM_FILENAME_MAX_BYTES bytes (cut on a character boundary,
 * the extension kept when it is short), never empty, ".", ".." ("attachment" then). */
char *amm_attachment_sanitize_filename (const char *name);

/* The MIME type for a file name: a fixed table for the common attachment types (so the result
 * does not depend on the system's MIME database), else g_content_type_guess, else
 * "application/octet-stream". */
char *amm_attachment_guess_mime (const char *filename);

typedef enum {
  AMM_ATTACHMENT_IMAGE,
  AMM_ATTACHMENT_VIDEO,
  AMM_ATTACHMENT_AUDIO,
  AMM_ATTACHMENT_GENERIC,
} AmmAttachmentKind;

AmmAttachmentKind amm_attachment_kind (const char *mime);

/* Check a file of `mime` and `size` bytes against the server's limits (0 = none announced):
 * generic attachments need richContent. FALSE + AMM_ERROR_TOO_LARGE ("photo.jpg is 12.0 MB;
 * this server accepts images up to 10.0 MB (maxImageSize)") or AMM_ERROR_UNSUPPORTED. */
gboolean amm_attachment_check_limits (const AmmLimits *limits, const char *filename,
                                      const char *mime, guint64 size, GError **error);

/* The multipart/related framing around one file (the SDK's bytes, wire-capture.md §3):
 * head = "--B\r\nContent-Type:<msg type>;\r\n\r\n<json>\r\n--B\r\nContent-Type:<mime>\r\n
 *         Content-Transfer-Encoding:binary\r\nContent-Disposition:attachment; filename=\"n\"\r\n\r\n"
 * tail = "\r\n--B--\r\n". The file's bytes go in between. */
void amm_attachment_framing (const char *boundary, const char *message_type, const char *json,
                             const char *mime, const char *filename,
                             GBytes **head, GBytes **tail);
/* A fresh random boundary. */
char *amm_attachment_new_boundary (void);

/* The filename parameter of a part's disposition (raw, NOT sanitized), or NULL. */
char    *amm_part_get_filename (const AmmPart *part);
/* TRUE for an "inline" part (a thumbnail). */
gboolean amm_part_is_inline (const AmmPart *part);

/* One file of a received message: a non-inline part and the inline thumbnail with the same
 * file name, if any. */
typedef struct {
  AmmPart *part;       /* ref held */
  AmmPart *thumbnail;  /* ref held, nullable */
  char    *filename;   /* sanitized */
} AmmAttachment;
void amm_attachment_free (AmmAttachment *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmAttachment, amm_attachment_free)
/* The files of a message, in part order; thumbnails are paired to their file by name and not
 * listed on their own (an inline part without a file of its name is listed as a file). */
GPtrArray *amm_message_get_attachments (const AmmMessage *msg);

/* ---- progress ---- */

/* done / total bytes of the file (upload: file bytes handed to the connection). */
typedef void (*AmmProgressFunc) (guint64 done, guint64 total, gpointer user_data);

/* ---- upload (amm-upload.c) ---- */

/* Everything checked before a byte is sent: readable regular file, its MIME type, its size
 * against the limits. mime_out / size_out nullable. */
gboolean amm_client_check_file (AmmClient *self, const char *path, const char *filename,
                                char **mime_out, guint64 *size_out, GError **error);

/* Send `path` as an attachment with text `body` (nullable: "") to a conversation (thread_id)
 * or a new one with `to`, as in amm_client_send_text_async. `filename` nullable: the path's
 * base name. The file is streamed from disk; progress (nullable) is called as it goes.
 * Cancelling aborts the request: the server stores nothing. */
void        amm_client_send_file_async  (AmmClient *self, const char *thread_id,
                                         const char * const *to, const char *body,
                                         const char *path, const char *filename,
                                         AmmProgressFunc progress, gpointer progress_data,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data);
AmmMessage *amm_client_send_file_finish (AmmClient *self, GAsyncResult *result, GError **error);

/* ---- download (amm-download.c) ---- */

/* TRUE when `url` is on the configured server (same scheme, host and port); else FALSE +
 * AMM_ERROR_REJECTED naming the host. */
gboolean amm_client_check_media_url (AmmClient *self, const char *url, GError **error);

/* Download a part's media to `dest_path`, with the client's credentials and TLS settings,
 * streamed and written in place: the file is created or truncated once the response is a
 * success, and grows as the body arrives (a reader that opened it sees the bytes; no temporary
 * file is renamed over it). A body whose length differs from the part's size or the
 * Content-Length is an error (AMM_ERROR_NETWORK "… was cut short …"); on any error or
 * cancellation after the file was opened, the partial file is removed. */
void     amm_client_download_async  (AmmClient *self, const AmmPart *part, const char *dest_path,
                                     AmmProgressFunc progress, gpointer progress_data,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data);
gboolean amm_client_download_finish (AmmClient *self, GAsyncResult *result, GError **error);

/* The same into memory, for previews: more than max_bytes (0 = no cap) is AMM_ERROR_TOO_LARGE. */
void     amm_client_download_bytes_async  (AmmClient *self, const AmmPart *part, guint64 max_bytes,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback, gpointer user_data);
GBytes  *amm_client_download_bytes_finish (AmmClient *self, GAsyncResult *result, GError **error);

G_END_DECLS
