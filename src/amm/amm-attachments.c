/* amm-attachments.c: the pure attachment helpers (see amm-attachments.h). No I/O. */
#include "amm-attachments.h"

#include <libsoup/soup.h>
#include <string.h>
#include "amm-error.h"

#define FALLBACK_NAME "attachment"
#define MAX_KEPT_EXTENSION 16

/* ---- file names ---- */

static gboolean
is_dropped_char (gunichar c)
{
  /* control characters, and format characters such as U+202E (right-to-left override, which
   * makes "gpj.exe" look like "exe.jpg") */
  return g_unichar_iscntrl (c) || g_unichar_type (c) == G_UNICODE_FORMAT
         || c == 0x2028 || c == 0x2029;
}

/* Cut `s` to at most `max` bytes on a character boundary. */
static void
utf8_truncate (GString *s, gsize max)
{
  if (s->len <= max)
    return;
  const char *end = s->str + max;
  /* step back to the start of the character that straddles (or starts at) `end` */
  while (end > s->str && ((guchar) *end & 0xC0) == 0x80)
    end--;
  g_string_truncate (s, end - s->str);
}

char *
amm_attachment_sanitize_filename (const char *name)
{
  g_autofree char *valid = g_utf8_make_valid (name ? name : "", -1);
  const char *base = valid;
  GString *out = g_string_new (NULL);

  /* the last path component: '/' and '\\' both separate */
  for (const char *p = valid; *p; p++)
    if (*p == '/' || *p == '\\')
      base = p + 1;
  for (const char *p = base; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    if (is_dropped_char (c))
      continue;
    /* characters Windows file systems refuse */
    if (c == ':' || c == '*' || c == '?' || c == '"' || c == '<' || c == '>' || c == '|')
      c = '_';
    g_string_append_unichar (out, c);
  }
  /* no leading dots or spaces (hidden files, "..", " name"), no trailing ones (Windows) */
  gsize lead = 0;
  while (lead < out->len && (out->str[lead] == '.' || out->str[lead] == ' '))
    lead++;
  g_string_erase (out, 0, lead);
  while (out->len > 0 && (out->str[out->len - 1] == '.' || out->str[out->len - 1] == ' '))
    g_string_truncate (out, out->len - 1);

  if (out->len > AMM_FILENAME_MAX_BYTES) {
    const char *dot = strrchr (out->str, '.');
    gsize ext_len = dot ? strlen (dot) : 0;
    if (dot && dot != out->str && ext_len <= MAX_KEPT_EXTENSION) {
      g_autofree char *ext = g_strdup (dot);
      g_string_truncate (out, dot - out->str);
      utf8_truncate (out, AMM_FILENAME_MAX_BYTES - ext_len);
      g_string_append (out, ext);
    } else {
      utf8_truncate (out, AMM_FILENAME_MAX_BYTES);
    }
    while (out->len > 0 && (out->str[out->len - 1] == '.' || out->str[out->len - 1] == ' '))
      g_string_truncate (out, out->len - 1);
  }
  if (out->len == 0)
    g_string_assign (out, FALLBACK_NAME);
  return g_string_free (out, FALSE);
}

/* ---- MIME types ---- */

static const struct {
  const char *ext;
  const char *mime;
} mime_table[] = {
  { "jpg", "image/jpeg" },  { "jpeg", "image/jpeg" }, { "jpe", "image/jpeg" },
  { "png", "image/png" },   { "gif", "image/gif" },   { "webp", "image/webp" },
  { "bmp", "image/bmp" },   { "heic", "image/heic" }, { "tif", "image/tiff" },
  { "tiff", "image/tiff" },
  { "mp4", "video/mp4" },   { "m4v", "video/mp4" },   { "mov", "video/quicktime" },
  { "webm", "video/webm" }, { "3gp", "video/3gpp" },  { "mkv", "video/x-matroska" },
  { "avi", "video/x-msvideo" },
  { "m4a", "audio/mp4" },   { "mp3", "audio/mpeg" },  { "aac", "audio/aac" },
  { "wav", "audio/wav" },   { "ogg", "audio/ogg" },   { "oga", "audio/ogg" },
  { "opus", "audio/opus" }, { "amr", "audio/amr" },   { "flac", "audio/flac" },
  { "pdf", "application/pdf" }, { "txt", "text/plain" }, { "zip", "application/zip" },
};

char *
amm_attachment_guess_mime (const char *filename)
{
  const char *dot = filename ? strrchr (filename, '.') : NULL;

  if (dot && dot[1]) {
    for (guint i = 0; i < G_N_ELEMENTS (mime_table); i++)
      if (g_ascii_strcasecmp (dot + 1, mime_table[i].ext) == 0)
        return g_strdup (mime_table[i].mime);
  }
  if (filename && *filename) {
    g_autofree char *type = g_content_type_guess (filename, NULL, 0, NULL);
    char *mime = type ? g_content_type_get_mime_type (type) : NULL;
    if (mime && strchr (mime, '/'))
      return mime;
    g_free (mime);
  }
  return g_strdup ("application/octet-stream");
}

AmmAttachmentKind
amm_attachment_kind (const char *mime)
{
  if (mime && g_ascii_strncasecmp (mime, "image/", 6) == 0)
    return AMM_ATTACHMENT_IMAGE;
  if (mime && g_ascii_strncasecmp (mime, "video/", 6) == 0)
    return AMM_ATTACHMENT_VIDEO;
  if (mime && g_ascii_strncasecmp (mime, "audio/", 6) == 0)
    return AMM_ATTACHMENT_AUDIO;
  return AMM_ATTACHMENT_GENERIC;
}

/* ---- limits ---- */

gboolean
amm_attachment_check_limits (const AmmLimits *limits, const char *filename, const char *mime,
                             guint64 size, GError **error)
{
  AmmAttachmentKind kind = amm_attachment_kind (mime);
  const char *name = filename && *filename ? filename : "The file";
  guint64 limit;
  const char *what, *field;

  if (size == 0) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_REJECTED, "%s is empty; empty files cannot be sent", name);
    return FALSE;
  }
  switch (kind) {
  case AMM_ATTACHMENT_IMAGE:
    limit = limits->max_image_size; what = "images"; field = "maxImageSize";
    break;
  case AMM_ATTACHMENT_VIDEO:
    limit = limits->max_video_size; what = "videos"; field = "maxVideoSize";
    break;
  case AMM_ATTACHMENT_AUDIO:
    limit = limits->max_audio_size; what = "audio files"; field = "maxAudioSize";
    break;
  default:
    if (!limits->rich_content) {
      g_set_error (error, AMM_ERROR, AMM_ERROR_UNSUPPORTED,
                   "%s (%s) cannot be sent: this server accepts only images, videos and audio "
                   "files as attachments (richContent is off)", name, mime ? mime : "unknown type");
      return FALSE;
    }
    limit = limits->max_generic_attachment_size; what = "files of this type"; field = "maxGenericAttachmentSize";
    break;
  }
  if (limit > 0 && size > limit) {
    g_autofree char *have = g_format_size (size);
    g_autofree char *max = g_format_size (limit);
    g_set_error (error, AMM_ERROR, AMM_ERROR_TOO_LARGE,
                 "%s is %s (%" G_GUINT64_FORMAT " bytes); this server accepts %s up to %s "
                 "(%s = %" G_GUINT64_FORMAT " bytes)",
                 name, have, size, what, max, field, limit);
    return FALSE;
  }
  return TRUE;
}

/* ---- framing ---- */

char *
amm_attachment_new_boundary (void)
{
  GString *s = g_string_new ("amm-boundary-");
  for (int i = 0; i < 4; i++)
    g_string_append_printf (s, "%08x", g_random_int ());
  return g_string_free (s, FALSE);
}

void
amm_attachment_framing (const char *boundary, const char *message_type, const char *json,
                        const char *mime, const char *filename, GBytes **head, GBytes **tail)
{
  GString *h = g_string_new (NULL);

  /* exactly the SDK's bytes: no space after the colons, ';' after the message type */
  g_string_append_printf (h, "--%s\r\nContent-Type:%s;\r\n\r\n%s\r\n", boundary, message_type, json);
  g_string_append_printf (h, "--%s\r\nContent-Type:%s\r\nContent-Transfer-Encoding:binary\r\n"
                          "Content-Disposition:attachment; ", boundary, mime);
  soup_header_g_string_append_param_quoted (h, "filename", filename);
  g_string_append (h, "\r\n\r\n");
  *head = g_string_free_to_bytes (h);
  g_autofree char *t = g_strdup_printf ("\r\n--%s--\r\n", boundary);
  *tail = g_bytes_new (t, strlen (t));
}

/* ---- received parts ---- */

char *
amm_part_get_filename (const AmmPart *part)
{
  if (!part || !part->disposition)
    return NULL;
  GHashTable *params = soup_header_parse_semi_param_list (part->disposition);
  const char *v = g_hash_table_lookup (params, "filename");
  char *out = v && *v ? g_strdup (v) : NULL;
  soup_header_free_param_list (params);
  return out;
}

gboolean
amm_part_is_inline (const AmmPart *part)
{
  const char *d = part ? part->disposition : NULL;
  if (!d)
    return FALSE;
  while (g_ascii_isspace (*d))
    d++;
  return g_ascii_strncasecmp (d, "inline", 6) == 0 && (d[6] == '\0' || d[6] == ';' || g_ascii_isspace (d[6]));
}

void
amm_attachment_free (AmmAttachment *a)
{
  if (!a)
    return;
  amm_part_unref (a->part);
  if (a->thumbnail)
    amm_part_unref (a->thumbnail);
  g_free (a->filename);
  g_free (a);
}

static AmmAttachment *
attachment_new (AmmPart *part, const char *raw_name)
{
  AmmAttachment *a = g_new0 (AmmAttachment, 1);
  a->part = amm_part_ref (part);
  a->filename = amm_attachment_sanitize_filename (raw_name);
  return a;
}

GPtrArray *
amm_message_get_attachments (const AmmMessage *msg)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_attachment_free);
  guint n = msg && msg->parts ? msg->parts->len : 0;
  g_autofree gboolean *used = g_new0 (gboolean, n + 1);

  for (guint i = 0; i < n; i++) {
    AmmPart *p = g_ptr_array_index (msg->parts, i);
    if (amm_part_is_inline (p))
      continue;
    g_autofree char *name = amm_part_get_filename (p);
    AmmAttachment *a = attachment_new (p, name);
    for (guint j = 0; j < n && name; j++) {
      AmmPart *t = g_ptr_array_index (msg->parts, j);
      g_autofree char *tname = NULL;
      if (used[j] || !amm_part_is_inline (t))
        continue;
      tname = amm_part_get_filename (t);
      if (g_strcmp0 (tname, name) == 0) {
        a->thumbnail = amm_part_ref (t);
        used[j] = TRUE;
        break;
      }
    }
    g_ptr_array_add (out, a);
  }
  /* inline parts that belong to no file are files of their own */
  for (guint j = 0; j < n; j++) {
    AmmPart *t = g_ptr_array_index (msg->parts, j);
    if (used[j] || !amm_part_is_inline (t))
      continue;
    g_autofree char *tname = amm_part_get_filename (t);
    g_ptr_array_add (out, attachment_new (t, tname));
  }
  return out;
}
