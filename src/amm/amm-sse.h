/* amm-sse.h: a bounded Server-Sent Events parser (the text/event-stream format).
 *
 * One concern: turn the bytes of an event stream, fed in chunks of any size, into events
 * (event name + data), with hard caps: a line longer than `max_line` bytes or an event whose
 * data grows past `max_event` bytes is an AMM_ERROR_TOO_LARGE, and nothing beyond the caps is
 * ever buffered (an endless line without a newline cannot grow memory). No I/O: the channel
 * (amm-channel.c) reads the stream and feeds it; the fuzzer and the unit tests feed it directly.
 *
 * Lines end with LF, CR or CRLF (a CRLF split across two chunks counts once). A line starting
 * with ':' is a comment; "event" sets the event name, "data" appends a data line; other fields
 * ("id", "retry", unknown ones) are ignored. An empty line dispatches the event when it has data.
 * A leading UTF-8 byte-order mark is skipped.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _AmmSseParser AmmSseParser;

/* `event` is "message" when the stream named none; `data` is NUL-terminated (len excludes it). */
typedef void (*AmmSseEventFunc) (const char *event, const char *data, gsize len, gpointer user_data);

#define AMM_SSE_DEFAULT_MAX_LINE  (1024 * 1024 + 64)   /* "data: " + a 1 MiB frame */
#define AMM_SSE_DEFAULT_MAX_EVENT (1024 * 1024)

AmmSseParser *amm_sse_parser_new (gsize max_line, gsize max_event, AmmSseEventFunc func, gpointer user_data);
void          amm_sse_parser_free (AmmSseParser *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmSseParser, amm_sse_parser_free)

/* Feed bytes. Events are dispatched from inside this call. FALSE + error (AMM_ERROR_TOO_LARGE)
 * once a cap is exceeded; the parser then refuses further input. The callback may not free the
 * parser; it may set a flag that makes the caller stop. */
gboolean amm_sse_parser_feed (AmmSseParser *p, const char *data, gsize len, GError **error);

/* Bytes buffered right now (the current partial line plus the pending event's data). */
gsize amm_sse_parser_buffered (const AmmSseParser *p);

G_END_DECLS
