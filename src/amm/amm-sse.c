/* amm-sse.c: see amm-sse.h. */
#include "amm-sse.h"

#include <string.h>
#include "amm-error.h"

struct _AmmSseParser {
  gsize           max_line, max_event;
  AmmSseEventFunc func;
  gpointer        user_data;
  GString        *line;     /* the current, unterminated line (never longer than max_line) */
  GString        *data;     /* the pending event's data (never longer than max_event) */
  char           *event;    /* the pending event's name; NULL = "message" */
  gboolean        after_cr; /* the last byte was a CR: a following LF belongs to it */
  gboolean        started;  /* past a possible byte-order mark */
  gboolean        failed;
};

AmmSseParser *
amm_sse_parser_new (gsize max_line, gsize max_event, AmmSseEventFunc func, gpointer user_data)
{
  AmmSseParser *p = g_new0 (AmmSseParser, 1);
  p->max_line = max_line ? max_line : AMM_SSE_DEFAULT_MAX_LINE;
  p->max_event = max_event ? max_event : AMM_SSE_DEFAULT_MAX_EVENT;
  p->func = func;
  p->user_data = user_data;
  p->line = g_string_new (NULL);
  p->data = g_string_new (NULL);
  return p;
}

void
amm_sse_parser_free (AmmSseParser *p)
{
  if (p == NULL)
    return;
  g_string_free (p->line, TRUE);
  g_string_free (p->data, TRUE);
  g_free (p->event);
  g_free (p);
}

gsize
amm_sse_parser_buffered (const AmmSseParser *p)
{
  return p->line->len + p->data->len;
}

static void
dispatch (AmmSseParser *p)
{
  if (p->data->len > 0 && p->func)
    p->func (p->event ? p->event : "message", p->data->str, p->data->len, p->user_data);
  g_clear_pointer (&p->event, g_free);
  g_string_truncate (p->data, 0);
}

static gboolean
process_line (AmmSseParser *p, const char *line, gsize len, GError **error)
{
  if (len == 0) {
    dispatch (p);
    return TRUE;
  }
  if (line[0] == ':')
    return TRUE; /* a comment: keep-alive */
  const char *colon = memchr (line, ':', len);
  gsize flen = colon ? (gsize) (colon - line) : len;
  const char *value = colon ? colon + 1 : line + len;
  gsize vlen = (gsize) (line + len - value);
  if (vlen > 0 && *value == ' ') {
    value++;
    vlen--;
  }
  if (flen == 5 && memcmp (line, "event", 5) == 0) {
    g_free (p->event);
    p->event = g_strndup (value, vlen);
  } else if (flen == 4 && memcmp (line, "data", 4) == 0) {
    gsize extra = vlen + (p->data->len > 0 ? 1 : 0);
    if (p->data->len + extra > p->max_event) {
      g_set_error (error, AMM_ERROR, AMM_ERROR_TOO_LARGE,
                   "A notification event from the server is larger than %" G_GSIZE_FORMAT " bytes",
                   p->max_event);
      return FALSE;
    }
    if (p->data->len > 0)
      g_string_append_c (p->data, '\n');
    g_string_append_len (p->data, value, vlen);
  }
  return TRUE;
}

gboolean
amm_sse_parser_feed (AmmSseParser *p, const char *data, gsize len, GError **error)
{
  if (p->failed) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_TOO_LARGE, "The notification stream was refused earlier");
    return FALSE;
  }
  const char *end = data + len;
  if (!p->started) {
    /* a byte-order mark may only open the stream; it may arrive split across chunks */
    static const char bom[] = "\xEF\xBB\xBF";
    while (data < end && p->line->len < 3 && (guchar) *data == (guchar) bom[p->line->len]) {
      g_string_append_c (p->line, *data);
      data++;
    }
    if (p->line->len == 3) {
      g_string_truncate (p->line, 0);
      p->started = TRUE;
    } else if (data < end) {
      p->started = TRUE; /* not a BOM: what was held back is ordinary text */
    } else {
      return TRUE;
    }
  }
  while (data < end) {
    if (p->after_cr) {
      p->after_cr = FALSE;
      if (*data == '\n') {
        data++;
        continue;
      }
    }
    const char *nl = data;
    while (nl < end && *nl != '\n' && *nl != '\r')
      nl++;
    gsize n = (gsize) (nl - data);
    if (p->line->len + n > p->max_line) {
      p->failed = TRUE;
      g_string_truncate (p->line, 0);
      g_set_error (error, AMM_ERROR, AMM_ERROR_TOO_LARGE,
                   "A line of the notification stream is longer than %" G_GSIZE_FORMAT " bytes",
                   p->max_line);
      return FALSE;
    }
    if (nl == end) {
      g_string_append_len (p->line, data, n);
      break;
    }
    gboolean ok;
    if (p->line->len == 0) {
      ok = process_line (p, data, n, error);
    } else {
      g_string_append_len (p->line, data, n);
      ok = process_line (p, p->line->str, p->line->len, error);
      g_string_truncate (p->line, 0);
    }
    if (!ok) {
      p->failed = TRUE;
      return FALSE;
    }
    p->after_cr = *nl == '\r';
    data = nl + 1;
  }
  return TRUE;
}
