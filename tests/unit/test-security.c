/* test-security.c: hostile servers against the client core.
 *
 * Size caps: a 10 GB Content-Length, an endless chunked body (success and error status), an
 * endless WebSocket message (fragmented, and one frame announcing 1 TB), an endless SSE line and
 * an endless SSE event all end with AMM_ERROR_TOO_LARGE without the memory to hold them; the
 * WebSocket guard finds the socket over TLS and plain TCP and lets complete messages through.
 * Credentials: a discovery document, a redirect or a request pointing to another server is
 * refused before anything is sent there (a second server counts requests and Authorization
 * headers); the trusted-hosts setting allows a listed one. TLS: an https account against an
 * http-only port fails and never retries over http.
 *
 * The hostile servers are test-local: a raw TCP GSocketService that writes exactly the bytes a
 * test wants (bounded: it stops after HOSTILE_BOUND bytes), and plain SoupServers. Everything
 * runs on the default main context; every wait has a deadline.
 */
#include <gio/gio.h>
#include <string.h>
#include <libsoup/soup.h>
#include "amm-channel.h"
#include "amm-client.h"
#include "amm-http.h"
#include "amm-protocol.h"
#include "amm-sse.h"
#include "amm-test-loop.h"
#include "amm-test-server.h"
#include "amm-ws-guard.h"

#define WAIT_MS       20000
#define HOSTILE_BOUND ((guint64) 48 * 1024 * 1024) /* a hostile writer stops after this much */
#define CHUNK         65536

/* --- waiting ------------------------------------------------------------------------------ */

static void
spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  guint tick = g_timeout_add (10, amm_test_wake, NULL);
  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
}

/* --- a raw hostile server ------------------------------------------------------------------- */

typedef enum {
  RAW_HUGE_LENGTH,         /* 200, Content-Length: 10 GB, then bytes */
  RAW_ENDLESS_CHUNKED,     /* 200, chunked, never ends */
  RAW_ENDLESS_ERROR,       /* 500, chunked, never ends */
  RAW_HUGE_ERROR_LENGTH,   /* 503, Content-Length: 10 GB */
  RAW_SSE_ENDLESS_LINE,    /* text/event-stream: "data: xxxx…" without a newline */
  RAW_SSE_ENDLESS_EVENT,   /* text/event-stream: short data lines, never an empty line */
  RAW_WS_ENDLESS_MESSAGE,  /* 101, then a text message fragmented into endless continuation frames */
  RAW_WS_HUGE_FRAME,       /* 101, then one text frame announcing 1 TB */
  RAW_PLAIN_ONLY,          /* a plain HTTP server: answers anything with 400 and closes */
} RawMode;

typedef struct {
  GSocketService *service;
  guint16         port;
  RawMode         mode;
  guint           connections;
  guint64         sent;       /* body bytes written */
  gboolean        finished;   /* the writer stopped (peer closed, or the bound) */
  gboolean        hit_bound;
  guint           plain_requests; /* RAW_PLAIN_ONLY: requests that arrived as plain HTTP */
  char           *chunk;      /* CHUNK bytes of payload */
} RawServer;

typedef struct {
  RawServer         *server;
  GSocketConnection *conn;
  GString           *request;
  char               buf[4096];
  GByteArray        *out;       /* the next write */
} RawConn;

static void raw_write_next (RawConn *c);

static void
raw_conn_end (RawConn *c)
{
  c->server->finished = TRUE;
  g_io_stream_close (G_IO_STREAM (c->conn), NULL, NULL);
  g_object_unref (c->conn);
  g_string_free (c->request, TRUE);
  if (c->out)
    g_byte_array_unref (c->out);
  g_free (c);
}

static void
on_raw_written (GObject *src, GAsyncResult *res, gpointer data)
{
  RawConn *c = data;
  gsize n = 0;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res, &n, NULL)) {
    raw_conn_end (c);
    return;
  }
  c->server->sent += n;
  if (c->server->sent >= HOSTILE_BOUND) {
    c->server->hit_bound = TRUE;
    raw_conn_end (c);
    return;
  }
  raw_write_next (c);
}

static void
raw_queue (RawConn *c, const void *data, gsize len)
{
  g_byte_array_append (c->out, data, len);
}

/* The next body piece of the endless answer. */
static void
raw_write_next (RawConn *c)
{
  RawServer *s = c->server;
  g_byte_array_set_size (c->out, 0);
  switch (s->mode) {
  case RAW_ENDLESS_CHUNKED:
  case RAW_ENDLESS_ERROR: {
    char head[32];
    g_snprintf (head, sizeof head, "%x\r\n", CHUNK);
    raw_queue (c, head, strlen (head));
    raw_queue (c, s->chunk, CHUNK);
    raw_queue (c, "\r\n", 2);
    break;
  }
  case RAW_SSE_ENDLESS_EVENT:
    for (guint i = 0; i < 64; i++) {
      raw_queue (c, "data: ", 6);
      raw_queue (c, s->chunk, 1000);
      raw_queue (c, "\n", 1);
    }
    break;
  case RAW_WS_ENDLESS_MESSAGE: {
    /* continuation frames, FIN clear: 0x00, 127, 64-bit length */
    guchar head[10] = { 0x00, 127, 0, 0, 0, 0, 0, (CHUNK >> 16) & 0xff, (CHUNK >> 8) & 0xff, CHUNK & 0xff };
    raw_queue (c, head, sizeof head);
    raw_queue (c, s->chunk, CHUNK);
    break;
  }
  default:
    raw_queue (c, s->chunk, CHUNK);
    break;
  }
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (c->conn)), c->out->data,
                                   c->out->len, G_PRIORITY_DEFAULT, NULL, on_raw_written, c);
}

static char *
ws_accept_key (const char *request)
{
  const char *k = strstr (request, "Sec-WebSocket-Key:");
  if (k == NULL)
    k = strstr (request, "sec-websocket-key:");
  g_assert_nonnull (k);
  k += strlen ("Sec-WebSocket-Key:");
  while (*k == ' ')
    k++;
  const char *end = strstr (k, "\r\n");
  g_autofree char *key = g_strndup (k, end - k);
  g_autofree char *both = g_strconcat (key, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", NULL);
  g_autoptr (GChecksum) sha = g_checksum_new (G_CHECKSUM_SHA1);
  g_checksum_update (sha, (const guchar *) both, strlen (both));
  guint8 digest[20];
  gsize dlen = sizeof digest;
  g_checksum_get_digest (sha, digest, &dlen);
  return g_base64_encode (digest, dlen);
}

static void
raw_start_answer (RawConn *c)
{
  RawServer *s = c->server;
  c->out = g_byte_array_new ();
  const char *head = NULL;
  g_autofree char *ws_head = NULL;
  switch (s->mode) {
  case RAW_HUGE_LENGTH:
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n";
    break;
  case RAW_HUGE_ERROR_LENGTH:
    head = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nContent-Length: 10737418240\r\n\r\n";
    break;
  case RAW_ENDLESS_CHUNKED:
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    break;
  case RAW_ENDLESS_ERROR:
    head = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n";
    break;
  case RAW_SSE_ENDLESS_LINE:
    head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\ndata: ";
    break;
  case RAW_SSE_ENDLESS_EVENT:
    head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
    break;
  case RAW_PLAIN_ONLY:
    g_assert_not_reached ();
  case RAW_WS_ENDLESS_MESSAGE:
  case RAW_WS_HUGE_FRAME: {
    g_autofree char *accept = ws_accept_key (c->request->str);
    /* the first frame: text, FIN clear (endless message) or set with a 1 TB length */
    const char *first = s->mode == RAW_WS_ENDLESS_MESSAGE
                        ? "\x01\x7f\x00\x00\x00\x00\x00\x01\x00\x00"
                        : "\x81\x7f\x00\x00\x01\x00\x00\x00\x00\x00";
    ws_head = g_strdup_printf ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
    raw_queue (c, ws_head, strlen (ws_head));
    raw_queue (c, first, 10);
    if (s->mode == RAW_WS_ENDLESS_MESSAGE)
      raw_queue (c, s->chunk, CHUNK);
    g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (c->conn)), c->out->data,
                                     c->out->len, G_PRIORITY_DEFAULT, NULL, on_raw_written, c);
    return;
  }
  }
  raw_queue (c, head, strlen (head));
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (c->conn)), c->out->data,
                                   c->out->len, G_PRIORITY_DEFAULT, NULL, on_raw_written, c);
}

static void
on_raw_read (GObject *src, GAsyncResult *res, gpointer data)
{
  RawConn *c = data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (src), res, NULL);
  if (n <= 0) {
    raw_conn_end (c);
    return;
  }
  g_string_append_len (c->request, c->buf, n);
  if (c->server->mode == RAW_PLAIN_ONLY) {
    if (g_str_has_prefix (c->request->str, "GET ") || g_str_has_prefix (c->request->str, "POST "))
      c->server->plain_requests++;
    static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (c->conn)), bad, sizeof bad - 1, NULL,
                               NULL, NULL);
    raw_conn_end (c);
    return;
  }
  if (strstr (c->request->str, "\r\n\r\n") == NULL) {
    g_input_stream_read_async (G_INPUT_STREAM (src), c->buf, sizeof c->buf, G_PRIORITY_DEFAULT, NULL,
                               on_raw_read, c);
    return;
  }
  raw_start_answer (c);
}

static gboolean
on_raw_incoming (GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
  RawServer *s = data;
  RawConn *c = g_new0 (RawConn, 1);
  s->connections++;
  c->server = s;
  c->conn = g_object_ref (conn);
  c->request = g_string_new (NULL);
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (conn)), c->buf, sizeof c->buf,
                             G_PRIORITY_DEFAULT, NULL, on_raw_read, c);
  return TRUE;
}

static RawServer *
raw_server_new (RawMode mode)
{
  RawServer *s = g_new0 (RawServer, 1);
  s->mode = mode;
  s->chunk = g_malloc (CHUNK);
  memset (s->chunk, 'x', CHUNK);
  s->service = g_socket_service_new ();
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;
  g_socket_listener_add_address (G_SOCKET_LISTENER (s->service), addr, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  s->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_signal_connect (s->service, "incoming", G_CALLBACK (on_raw_incoming), s);
  g_socket_service_start (s->service);
  return s;
}

static void
raw_server_free (RawServer *s)
{
  g_socket_service_stop (s->service);
  g_socket_listener_close (G_SOCKET_LISTENER (s->service));
  g_object_unref (s->service);
  spin (50); /* let a pending write fail and free its connection */
  g_free (s->chunk);
  g_free (s);
}

/* --- one REST request against a server ---------------------------------------------------------- */

typedef struct {
  gboolean done;
  GBytes  *body;
  GError  *error;
} Answer;

static gboolean
answer_done (gpointer data)
{
  return ((Answer *) data)->done;
}

static void
on_answer (GObject *src, GAsyncResult *res, gpointer data)
{
  Answer *a = data;
  a->body = amm_http_send_finish (res, NULL, NULL, &a->error);
  a->done = TRUE;
}

/* GET url on `session` (a fresh one when NULL), with an Authorization header. */
static void
get (SoupSession *session, const char *url, Answer *a)
{
  g_autoptr (SoupSession) own = session ? NULL : amm_http_session_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (SoupMessage) msg = amm_http_request_new ("GET", url, "Basic c2VjcmV0OnNlY3JldA==", "application/json",
                                                      NULL, NULL, 0, &error);
  g_assert_no_error (error);
  amm_http_send_async (session ? session : own, msg, 60, NULL, NULL, on_answer, a);
  g_assert_true (amm_test_wait_for (answer_done, a, WAIT_MS));
}

static void
answer_clear (Answer *a)
{
  g_clear_pointer (&a->body, g_bytes_unref);
  g_clear_error (&a->error);
}

static void
test_huge_content_length (void)
{
  RawServer *s = raw_server_new (RAW_HUGE_LENGTH);
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/aem/resources", s->port);
  Answer a = { 0 };
  get (NULL, url, &a);
  g_assert_error (a.error, AMM_ERROR, AMM_ERROR_TOO_LARGE);
  g_assert_null (a.body);
  g_test_message ("10 GB Content-Length: refused after %" G_GUINT64_FORMAT " bytes were sent: %s", s->sent,
                  a.error->message);
  /* refused on the announcement: far less than the cap was read */
  g_assert_cmpuint (s->sent, <, AMM_MAX_RESPONSE_BYTES);
  answer_clear (&a);
  raw_server_free (s);
}

static void
test_endless_chunked (void)
{
  RawServer *s = raw_server_new (RAW_ENDLESS_CHUNKED);
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/aem/conversations", s->port);
  Answer a = { 0 };
  get (NULL, url, &a);
  g_assert_error (a.error, AMM_ERROR, AMM_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (a.error->message, "larger than"));
  /* stopped at the cap: the hostile server never got to its own bound */
  g_assert_false (s->hit_bound);
  g_assert_cmpuint (s->sent, >=, AMM_MAX_RESPONSE_BYTES);
  answer_clear (&a);
  raw_server_free (s);
}

static void
test_endless_error_body (gconstpointer data)
{
  RawMode mode = GPOINTER_TO_INT (data);
  RawServer *s = raw_server_new (mode);
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/aem/conversations", s->port);
  Answer a = { 0 };
  get (NULL, url, &a);
  /* the status is the answer; the endless error page is cut at its small cap */
  g_assert_error (a.error, AMM_ERROR, AMM_ERROR_SERVER);
  g_assert_false (s->hit_bound);
  g_assert_cmpuint (s->sent, <, 8 * 1024 * 1024);
  answer_clear (&a);
  raw_server_free (s);
}

/* --- the notification channel against hostile servers ------------------------------------------- */

typedef struct {
  gboolean dead, opened;
  GError  *error;
} ChannelWatch;

static void
on_channel_dead (AmmChannel *ch, GError *error, gpointer data)
{
  ChannelWatch *w = data;
  w->dead = TRUE;
  w->error = g_error_copy (error);
}

static gboolean
channel_dead (gpointer data)
{
  return ((ChannelWatch *) data)->dead;
}

static void
run_channel (RawServer *s, gboolean websocket, ChannelWatch *w)
{
  g_autoptr (SoupSession) session = amm_http_session_new (NULL);
  g_autofree char *ws = g_strdup_printf ("ws://127.0.0.1:%u/aem/notifications/websocket", s->port);
  g_autofree char *sse = g_strdup_printf ("http://127.0.0.1:%u/aem/notifications/sse", s->port);
  AmmChannel *ch = amm_channel_new (session, "Basic c2VjcmV0OnNlY3JldA==", websocket ? ws : NULL,
                                    websocket ? NULL : sse, FALSE);
  g_signal_connect (ch, "dead", G_CALLBACK (on_channel_dead), w);
  amm_channel_open (ch);
  g_assert_true (amm_test_wait_for (channel_dead, w, WAIT_MS));
  amm_channel_close (ch);
  g_object_unref (ch);
}

static void
test_channel_hostile (gconstpointer data)
{
  RawMode mode = GPOINTER_TO_INT (data);
  RawServer *s = raw_server_new (mode);
  ChannelWatch w = { 0 };
  run_channel (s, mode == RAW_WS_ENDLESS_MESSAGE || mode == RAW_WS_HUGE_FRAME, &w);
  g_test_message ("mode %d: dead after %" G_GUINT64_FORMAT " bytes: %s", mode, s->sent, w.error->message);
  g_assert_error (w.error, AMM_ERROR, AMM_ERROR_TOO_LARGE);
  g_assert_false (s->hit_bound);
  g_assert_cmpuint (s->connections, ==, 1);
  g_clear_error (&w.error);
  raw_server_free (s);
}

/* The parser alone: an endless line is refused at the cap, whatever the chunking, and buffers
 * no more than the cap; CR, LF, CRLF (split too) end lines; a BOM is skipped. */
typedef struct {
  GPtrArray *events;
} SseLog;

static void
on_sse_event (const char *event, const char *data, gsize len, gpointer user_data)
{
  SseLog *log = user_data;
  g_ptr_array_add (log->events, g_strdup_printf ("%s=%.*s", event, (int) len, data));
}

static void
test_sse_parser (void)
{
  SseLog log = { g_ptr_array_new_with_free_func (g_free) };
  const char stream[] = "\xEF\xBB\xBF: hello\r\nevent: CASNotification\r\ndata: {\"a\":1}\r\n\r\n"
                        "data: one\rdata:two\r\rid: 7\nretry: 5\nfoo\ndata\n\n";
  /* every split point gives the same events */
  for (gsize cut = 0; cut < sizeof stream - 1; cut++) {
    g_ptr_array_set_size (log.events, 0);
    g_autoptr (AmmSseParser) p = amm_sse_parser_new (0, 0, on_sse_event, &log);
    g_autoptr (GError) error = NULL;
    g_assert_true (amm_sse_parser_feed (p, stream, cut, &error));
    g_assert_true (amm_sse_parser_feed (p, stream + cut, sizeof stream - 1 - cut, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (log.events->len, ==, 2);
    g_assert_cmpstr (g_ptr_array_index (log.events, 0), ==, "CASNotification={\"a\":1}");
    g_assert_cmpstr (g_ptr_array_index (log.events, 1), ==, "message=one\ntwo");
  }
  /* an endless line */
  {
    g_autoptr (AmmSseParser) p = amm_sse_parser_new (1000, 800, on_sse_event, &log);
    g_autoptr (GError) error = NULL;
    char x[300];
    memset (x, 'x', sizeof x);
    gboolean ok = TRUE;
    guint i;
    for (i = 0; i < 100 && ok; i++) {
      ok = amm_sse_parser_feed (p, x, sizeof x, &error);
      g_assert_cmpuint (amm_sse_parser_buffered (p), <=, 1000);
    }
    g_assert_false (ok);
    g_assert_cmpuint (i, ==, 4);
    g_assert_error (error, AMM_ERROR, AMM_ERROR_TOO_LARGE);
    g_clear_error (&error);
    g_assert_false (amm_sse_parser_feed (p, "\n\n", 2, &error)); /* refused for good */
  }
  /* an endless event of short lines */
  {
    g_autoptr (AmmSseParser) p = amm_sse_parser_new (1000, 800, on_sse_event, &log);
    g_autoptr (GError) error = NULL;
    gboolean ok = TRUE;
    for (guint i = 0; i < 100 && ok; i++)
      ok = amm_sse_parser_feed (p, "data: 0123456789012345678901234567890123456789\n", 47, &error);
    g_assert_false (ok);
    g_assert_error (error, AMM_ERROR, AMM_ERROR_TOO_LARGE);
    g_assert_cmpuint (amm_sse_parser_buffered (p), <=, 800);
  }
  g_ptr_array_unref (log.events);
}

/* --- credentials go only where the user sent them ----------------------------------------------- */

typedef struct {
  SoupServer *server;
  guint16     port;
  guint       requests;
  guint       auth_headers;
  guint       cookies;
  char       *doc;        /* the discovery document served at /aem/resources */
  char       *redirect;   /* when set: every request is answered 302 → this */
} Local;

static void
local_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  Local *l = data;
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  l->requests++;
  if (soup_message_headers_get_one (h, "Authorization"))
    l->auth_headers++;
  if (soup_message_headers_get_one (h, "Cookie"))
    l->cookies++;
  SoupMessageHeaders *rh = soup_server_message_get_response_headers (msg);
  if (l->redirect) {
    soup_message_headers_replace (rh, "Location", l->redirect);
    soup_server_message_set_status (msg, 302, NULL);
    return;
  }
  soup_message_headers_append (rh, "Set-Cookie", AMM_SESSION_COOKIE "=s3cr3t-session; Path=/");
  if (strcmp (path, AMM_DISCOVERY_PATH) == 0 && l->doc) {
    soup_server_message_set_response (msg, AMM_TYPE_RESOURCES_V4, SOUP_MEMORY_COPY, l->doc, strlen (l->doc));
    soup_server_message_set_status (msg, 200, NULL);
    return;
  }
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, "{}", 2);
  soup_server_message_set_status (msg, 200, NULL);
}

static Local *
local_new (void)
{
  Local *l = g_new0 (Local, 1);
  g_autoptr (GError) error = NULL;
  l->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (l->server, NULL, local_handler, l, NULL);
  /* (not soup_server_listen_local nor soup_server_get_uris: libsoup 3.2 leaks the address
   * they look up; the port comes from the listening socket instead) */
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (lo, 0);
  g_assert_true (soup_server_listen (l->server, any_port, 0, &error));
  g_assert_no_error (error);
  GSList *sockets = soup_server_get_listeners (l->server);
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (sockets->data, &error);
  g_assert_no_error (error);
  l->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_slist_free (sockets);
  return l;
}

static void
local_free (Local *l)
{
  soup_server_disconnect (l->server);
  g_object_unref (l->server);
  g_free (l->doc);
  g_free (l->redirect);
  g_free (l);
}

/* A resources.v4 document whose links go to `elsewhere` (a base URL) for the members in `which`
 * ("conversations", "outbox", "websocket", …) and to `home` for the others. */
static char *
discovery_doc (const char *home, const char *elsewhere, const char *which)
{
#define H(name) (strstr (which, name) ? elsewhere : home)
  g_autofree char *ws = g_strdup_printf ("ws%s", (strstr (which, "websocket") ? elsewhere : home) + 4);
  return g_strdup_printf (
    "{\"self\": \"alice@example.com\", \"domains\": [\"example.com\"],"
    " \"conversationsResource\": {\"href\": \"%s/aem/conversations\","
    "   \"requestTypes\": [\"application/vnd.avaya.aem.conversationsFilter.v1+json\"]},"
    " \"messages\": {\"href\": \"%s/aem/messages\"},"
    " \"outbox\": {\"href\": \"%s/aem/outbox\"},"
    " \"services\": {\"markAsReadBatch\": {\"href\": \"%s/aem/services/markAsReadBatch\"}},"
    " \"notificationService\": {\"websocket\": {\"href\": \"%s/aem/notifications/websocket\"},"
    "   \"sse\": {\"href\": \"%s/aem/notifications/sse\"}},"
    " \"sessionManagement\": {\"href\": \"%s/aem/session\", \"username\": \"alice@example.com\"}}",
    H ("conversations"), H ("messages"), H ("outbox"), H ("markAsRead"), ws, H ("sse"), H ("session"));
#undef H
}

typedef struct {
  gboolean done, ok;
  GError  *error;
} Connect;

static gboolean
connect_done (gpointer data)
{
  return ((Connect *) data)->done;
}

static void
on_connected (GObject *src, GAsyncResult *res, gpointer data)
{
  Connect *c = data;
  c->ok = amm_client_connect_finish (AMM_CLIENT (src), res, &c->error);
  c->done = TRUE;
}

static AmmClient *
client_for (guint16 port, gboolean tls, const char *trusted)
{
  g_autoptr (AmmSettings) s = amm_settings_new ();
  s->username = g_strdup ("alice@example.com");
  s->password = g_strdup ("alice-secret-pw");
  s->host = g_strdup ("127.0.0.1");
  s->port = port;
  s->use_tls = tls;
  s->trusted_hosts = g_strdup (trusted);
  g_autoptr (GError) error = NULL;
  AmmClient *c = amm_client_new (s, &error);
  g_assert_no_error (error);
  amm_client_set_proxy_resolver (c, NULL);
  return c;
}

static void
connect_client (AmmClient *client, Connect *c)
{
  amm_client_connect_async (client, NULL, on_connected, c);
  g_assert_true (amm_test_wait_for (connect_done, c, WAIT_MS));
}

/* One foreign member at a time: each is refused with an error naming the other server, and the
 * other server sees no request at all. */
static void
test_discovery_foreign (void)
{
  const char *members[] = { "conversations", "messages", "outbox", "markAsRead", "websocket", "sse", "session" };
  Local *home = local_new ();
  Local *evil = local_new ();
  g_autofree char *home_url = g_strdup_printf ("http://127.0.0.1:%u", home->port);
  g_autofree char *evil_url = g_strdup_printf ("http://127.0.0.1:%u", evil->port);
  g_autofree char *evil_port = g_strdup_printf (":%u", evil->port);
  for (guint i = 0; i < G_N_ELEMENTS (members); i++) {
    g_free (home->doc);
    home->doc = discovery_doc (home_url, evil_url, members[i]);
    g_autoptr (AmmClient) client = client_for (home->port, FALSE, NULL);
    Connect c = { 0 };
    connect_client (client, &c);
    g_assert_false (c.ok);
    g_assert_error (c.error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS);
    g_assert_nonnull (strstr (c.error->message, evil_port));
    g_assert_nonnull (strstr (c.error->message, "trusted hosts"));
    if (i == 0)
      g_test_message ("%s", c.error->message);
    g_clear_error (&c.error);
    amm_client_shutdown (client);
  }
  spin (100);
  g_assert_cmpuint (home->requests, >=, G_N_ELEMENTS (members));
  g_assert_cmpuint (evil->requests, ==, 0);
  g_assert_cmpuint (evil->auth_headers, ==, 0);
  local_free (home);
  local_free (evil);
}

/* Other schemes and hosts than the configured server: "localhost" is not 127.0.0.1, https is not
 * http, and a trusted host is never reached over http when the server is https. */
static void
test_origin_rules (void)
{
  g_autoptr (SoupSession) s = amm_http_session_new (NULL);
  amm_http_session_set_origin (s, "https://amm.example.com:8443", "media.example.com, files.example.com:9443,[::1]:7");
  const struct { const char *url; gboolean ok; } cases[] = {
    { "https://amm.example.com:8443/aem/x", TRUE },
    { "https://AMM.example.com:8443/aem/x", TRUE },
    { "wss://amm.example.com:8443/aem/notifications", TRUE },
    { "https://amm.example.com.:8443/", TRUE },
    { "http://amm.example.com:8443/aem/x", FALSE },   /* downgrade */
    { "ws://amm.example.com:8443/aem/x", FALSE },
    { "https://amm.example.com/aem/x", FALSE },       /* port 443 */
    { "https://amm.example.com:8444/", FALSE },
    { "https://evil.example.com:8443/", FALSE },
    { "https://amm.example.com.evil.org:8443/", FALSE },
    { "https://evil.org:8443@amm.example.com:8443/", TRUE }, /* userinfo, host is amm */
    { "https://media.example.com/x", TRUE },          /* trusted, any port */
    { "https://media.example.com:1234/x", TRUE },
    { "http://media.example.com/x", FALSE },          /* never over http */
    { "https://files.example.com:9443/x", TRUE },
    { "https://files.example.com/x", FALSE },
    { "https://[::1]:7/x", TRUE },
    { "https://[::1]:8/x", FALSE },
    { "ftp://amm.example.com:8443/", FALSE },
    { "not a url", FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    gboolean ok = amm_http_check_origin (s, cases[i].url, &error);
    if (ok != cases[i].ok)
      g_error ("%s: expected %s", cases[i].url, cases[i].ok ? "allowed" : "refused");
    if (!ok)
      g_assert_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS);
  }
  const char *bad[] = { "a b:x", "host:0", "host:70000", "::1", "[::1", "ho/st", "host:12:13" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_assert_false (amm_http_trusted_hosts_validate (bad[i], &error));
    g_assert_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS);
  }
  g_autoptr (GError) error = NULL;
  g_assert_true (amm_http_trusted_hosts_validate ("", &error));
  g_assert_true (amm_http_trusted_hosts_validate (NULL, &error));
  /* the client refuses an invalid list up front */
  g_autoptr (AmmSettings) st = amm_settings_new ();
  st->username = g_strdup ("a@b");
  st->host = g_strdup ("127.0.0.1");
  st->trusted_hosts = g_strdup ("bad host!");
  g_assert_null (amm_client_new (st, &error));
  g_assert_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS);
}

/* With the other server listed in trusted hosts, the same document is accepted and the client
 * talks to it. */
static void
test_discovery_trusted (void)
{
  Local *home = local_new ();
  Local *other = local_new ();
  g_autofree char *home_url = g_strdup_printf ("http://127.0.0.1:%u", home->port);
  g_autofree char *other_url = g_strdup_printf ("http://127.0.0.1:%u", other->port);
  g_autofree char *trusted = g_strdup_printf ("media.example.com, 127.0.0.1:%u", other->port);
  home->doc = discovery_doc (home_url, other_url, "conversations outbox");
  g_autoptr (AmmClient) client = client_for (home->port, FALSE, trusted);
  Connect c = { 0 };
  connect_client (client, &c);
  g_assert_no_error (c.error);
  g_assert_true (c.ok);
  g_autofree char *outbox = g_strdup_printf ("%s/aem/outbox", other_url);
  g_assert_cmpstr (amm_client_get_resources (client)->outbox_href, ==, outbox);
  amm_client_shutdown (client);
  local_free (home);
  local_free (other);
}

/* A request to a foreign URL on a session with an origin is refused before anything is sent;
 * a redirect to it is not followed. */
static void
test_foreign_request_and_redirect (void)
{
  Local *home = local_new ();
  Local *evil = local_new ();
  g_autoptr (SoupSession) session = amm_http_session_new (NULL);
  soup_session_set_proxy_resolver (session, NULL);
  g_autofree char *home_url = g_strdup_printf ("http://127.0.0.1:%u", home->port);
  amm_http_session_set_origin (session, home_url, NULL);

  /* a first request gets the session cookie */
  g_autofree char *ok_url = g_strdup_printf ("%s/aem/conversations", home_url);
  Answer a = { 0 };
  get (session, ok_url, &a);
  g_assert_no_error (a.error);
  answer_clear (&a);
  memset (&a, 0, sizeof a);

  /* a foreign conversation href, participants href, media URL, commandURL: all the same gate */
  g_autofree char *evil_url = g_strdup_printf ("http://127.0.0.1:%u/aem/conversations/c1/participants", evil->port);
  get (session, evil_url, &a);
  g_assert_error (a.error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS);
  answer_clear (&a);
  memset (&a, 0, sizeof a);

  /* a redirect there */
  home->redirect = g_strdup (evil_url);
  get (session, ok_url, &a);
  g_assert_error (a.error, AMM_ERROR, AMM_ERROR_REJECTED);
  g_assert_nonnull (strstr (a.error->message, "redirect"));
  answer_clear (&a);

  /* a WebSocket href elsewhere: the channel dies with the same error, no fallback */
  {
    g_autofree char *ws = g_strdup_printf ("ws://127.0.0.1:%u/ws", evil->port);
    g_autofree char *sse = g_strdup_printf ("http://127.0.0.1:%u/sse", evil->port);
    ChannelWatch w = { 0 };
    AmmChannel *ch = amm_channel_new (session, "Basic c2VjcmV0OnNlY3JldA==", ws, sse, FALSE);
    g_signal_connect (ch, "dead", G_CALLBACK (on_channel_dead), &w);
    amm_channel_open (ch);
    g_assert_true (amm_test_wait_for (channel_dead, &w, WAIT_MS));
    g_assert_error (w.error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS);
    g_clear_error (&w.error);
    amm_channel_close (ch);
    g_object_unref (ch);
  }
  spin (100);
  g_assert_cmpuint (home->cookies, >=, 1);
  g_assert_cmpuint (evil->requests, ==, 0);
  g_assert_cmpuint (evil->auth_headers, ==, 0);
  g_assert_cmpuint (evil->cookies, ==, 0);
  local_free (home);
  local_free (evil);
}

/* --- The WebSocket guard on real connections ------------------------------------------------------- */

typedef struct {
  SoupWebsocketConnection *ws;
  GError  *error;
  gboolean done;
  guint    pongs;
  gboolean fired;
} GuardWatch;

static void
guard_ws_connected (GObject *src, GAsyncResult *res, gpointer data)
{
  GuardWatch *g = data;
  g->ws = soup_session_websocket_connect_finish (SOUP_SESSION (src), res, &g->error);
  g->done = TRUE;
}

static void
guard_send_ping (GuardWatch *g)
{
  g_autofree char *ping = g_strdup_printf ("{\"ping\":{\"requestId\":\"%032x\",\"version\":\"1\"}}", g->pongs);
  soup_websocket_connection_send_text (g->ws, ping);
}

/* One ping at a time: what waits in the socket's buffers stays one small message, far under
 * the bound, while the total received grows past it. */
static void
guard_on_message (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
  GuardWatch *g = data;
  gsize len;
  const char *text = g_bytes_get_data (message, &len);
  if (g_strstr_len (text, len, "\"pong\"") && ++g->pongs < 1000)
    guard_send_ping (g);
}

static void
guard_on_exceeded (gpointer data)
{
  ((GuardWatch *) data)->fired = TRUE;
}

static gboolean
guard_connected (gpointer data)
{
  return ((GuardWatch *) data)->done;
}

static gboolean
guard_all_pongs (gpointer data)
{
  return ((GuardWatch *) data)->pongs == 1000;
}

/* Over TLS and over plain TCP, the guard finds the socket under libsoup's streams (so it is
 * active), and many complete messages whose total is far over its bound never trip it: only
 * bytes since the last complete message count. */
static void
test_guard_real_connection (gconstpointer data)
{
  gboolean tls = GPOINTER_TO_INT (data);
  g_autoptr (AmmTestServer) server = tls ? amm_test_server_start ("--tls", NULL) : amm_test_server_startv (NULL);
  g_autoptr (GTlsDatabase) db = NULL;
  if (tls) {
    GError *error = NULL;
    db = g_tls_file_database_new (amm_test_server_get_ca_file (server), &error);
    g_assert_no_error (error);
  }
  g_autoptr (SoupSession) session = amm_http_session_new (db);
  g_autofree char *url = g_strconcat (amm_test_server_get_base_url (server), "/aem/notifications/websocket", NULL);
  g_autofree char *pair = g_base64_encode ((const guchar *) "alice@example.com:alice-pw", 26);
  g_autofree char *auth = g_strconcat ("Basic ", pair, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
  GuardWatch g = { 0 };
  soup_session_websocket_connect_async (session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL, guard_ws_connected, &g);
  g_assert_true (amm_test_wait_for (guard_connected, &g, WAIT_MS));
  g_assert_no_error (g.error);
  g_signal_connect (g.ws, "message", G_CALLBACK (guard_on_message), &g);

  /* 16 KiB between two complete messages; 1,000 pongs of ~100 bytes (plus TLS) are ~6× that */
  AmmWsGuard *guard = amm_ws_guard_new (g.ws, 16 * 1024, guard_on_exceeded, &g);
  g_assert_true (amm_ws_guard_is_active (guard));
  guard_send_ping (&g);
  g_assert_true (amm_test_wait_for (guard_all_pongs, &g, WAIT_MS));
  g_assert_false (g.fired);

  amm_ws_guard_free (guard);
  g_signal_handlers_disconnect_by_data (g.ws, &g);
  soup_websocket_connection_close (g.ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_object_unref (g.ws);
}

/* --- TLS: no downgrade ---------------------------------------------------------------------------- */

static void
test_https_against_http (void)
{
  RawServer *plain = raw_server_new (RAW_PLAIN_ONLY);
  g_autoptr (AmmClient) client = client_for (plain->port, TRUE, NULL);
  Connect c = { 0 };
  connect_client (client, &c);
  g_assert_false (c.ok);
  g_test_message ("https against an http port: %s", c.error->message);
  g_assert_true (g_error_matches (c.error, AMM_ERROR, AMM_ERROR_TLS)
                 || g_error_matches (c.error, AMM_ERROR, AMM_ERROR_NETWORK));
  g_clear_error (&c.error);
  amm_client_shutdown (client);
  spin (200);
  /* the plain server saw a TLS handshake, never an HTTP request: no retry over http */
  g_assert_cmpuint (plain->connections, >=, 1);
  g_assert_cmpuint (plain->plain_requests, ==, 0);
  raw_server_free (plain);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/security/http/content-length-10gb", test_huge_content_length);
  g_test_add_func ("/security/http/endless-chunked", test_endless_chunked);
  g_test_add_data_func ("/security/http/endless-error-body", GINT_TO_POINTER (RAW_ENDLESS_ERROR),
                        test_endless_error_body);
  g_test_add_data_func ("/security/http/error-content-length-10gb", GINT_TO_POINTER (RAW_HUGE_ERROR_LENGTH),
                        test_endless_error_body);
  g_test_add_data_func ("/security/websocket/guard/plain", GINT_TO_POINTER (FALSE), test_guard_real_connection);
  g_test_add_data_func ("/security/websocket/guard/tls", GINT_TO_POINTER (TRUE), test_guard_real_connection);
  g_test_add_data_func ("/security/websocket/endless-message", GINT_TO_POINTER (RAW_WS_ENDLESS_MESSAGE),
                        test_channel_hostile);
  g_test_add_data_func ("/security/websocket/huge-frame", GINT_TO_POINTER (RAW_WS_HUGE_FRAME),
                        test_channel_hostile);
  g_test_add_data_func ("/security/sse/endless-line", GINT_TO_POINTER (RAW_SSE_ENDLESS_LINE),
                        test_channel_hostile);
  g_test_add_data_func ("/security/sse/endless-event", GINT_TO_POINTER (RAW_SSE_ENDLESS_EVENT),
                        test_channel_hostile);
  g_test_add_func ("/security/sse/parser", test_sse_parser);
  g_test_add_func ("/security/origin/rules", test_origin_rules);
  g_test_add_func ("/security/origin/discovery-foreign", test_discovery_foreign);
  g_test_add_func ("/security/origin/discovery-trusted", test_discovery_trusted);
  g_test_add_func ("/security/origin/request-and-redirect", test_foreign_request_and_redirect);
  g_test_add_func ("/security/tls/https-against-http", test_https_against_http);
  return g_test_run ();
}
