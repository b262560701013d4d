/* server-faults.c: fault switches of the test server, settable while it runs through the
 * control port (tests/amm-server/README.md, "Fault switches"). Not part of AMM.
 *
 *   POST   /control/fault {"name":..., "path"?, "method"?, "user"?, "count"?, "skip"?, ...}
 *   GET    /control/fault            the faults in force, with their hits
 *   DELETE /control/fault[?name=N]   clear them (all, or those named N); held requests go on
 *
 * A request fault applies to the REST port's requests whose path starts with `path` (default
 * "/aem"), whose method is `method` (default any) and whose Basic user is `user` (default any).
 * `skip` lets that many matching requests through first; `count` affects the next N matching
 * requests only (default: every one until cleared). The first fault in force that matches a
 * request is the one applied.
 *
 * Request faults (evaluated on "request-read", i.e. with the whole request body in):
 *   status        answer `status` (default 503) with an error.v1 body, and `retryAfter`
 *                 seconds as Retry-After when given; the REST handler does not run
 *   html          answer `status` (default 502; 200 is allowed) with an HTML error page
 *   bad-json      200 with the right media type and a body that is not valid JSON
 *   reset         close the connection before the handler runs (nothing is stored)
 *   store-reset   let the handler run (a send is stored), then close the connection
 *                 without sending a byte of the answer
 *   content-type  the handler's answer with Content-Type `contentType` (default text/plain)
 *   truncate      the handler's answer with its full Content-Length, half of the body,
 *                 then the connection closed
 *   trickle       the handler's answer, `bytesPerSecond` (default 1) bytes a second
 *   stall         the handler runs; its answer is held `ms` milliseconds (0/absent: until
 *                 the fault is cleared)
 * Faults that need the handler's answer (store-reset, content-type, truncate, trickle,
 * stall) leave long polls, SSE streams and WebSocket handshakes alone.
 *
 * Actions (done at once, not kept):
 *   restart       drop every connection and channel, stop listening for `downMs`
 *                 (default 300), listen again on the same port; state kept, sessions lost
 *   drop-channels close the channels of `user` (all users without it)
 *   ws-garbage    send `count` (default 1) frames of `frame` = "text" (not JSON), "binary",
 *                 "unknown-key" ({"surprise":{...}}), "huge" (`size` bytes, default 1 MiB, of
 *                 JSON) or "truncated-json" to the channels of `user` (all without it)
 */
#include "server.h"

#include <string.h>

#include "amm-protocol.h"

#define FAULTS_KEY "amm-server-faults"

typedef enum {
  F_STATUS,
  F_HTML,
  F_BAD_JSON,
  F_RESET,
  F_STORE_RESET,
  F_CONTENT_TYPE,
  F_TRUNCATE,
  F_TRICKLE,
  F_STALL,
} FaultKind;

static const char *const kind_names[] = {
  "status", "html", "bad-json", "reset", "store-reset", "content-type", "truncate", "trickle",
  "stall",
};

typedef struct {
  guint id;
  FaultKind kind;
  char *path;
  char *method;
  char *user;
  gint64 remaining;  /* -1: until cleared */
  guint skip;
  guint status;
  gint retry_after;  /* -1: no Retry-After */
  char *content_type;
  guint ms;
  guint bytes_per_second;
  guint64 hits;
} Fault;

typedef struct {
  AmmServer *server;
  GPtrArray *faults;  /* Fault* */
  GList *held;        /* Held*: stalled answers */
  guint next_id;
  guint restart_id;
} Faults;

typedef struct {
  Faults *faults;
  SoupServerMessage *msg;
  Fault *fault;       /* a copy of what applies (the fault may be cleared meanwhile) */
  guint timer_id;
  gulong finished_id;
  gulong disconnected_id;
} Held;

static void
fault_free (Fault *f)
{
  g_free (f->path);
  g_free (f->method);
  g_free (f->user);
  g_free (f->content_type);
  g_free (f);
}

static Fault *
fault_copy (const Fault *f)
{
  Fault *c = g_memdup2 (f, sizeof *f);

  c->path = g_strdup (f->path);
  c->method = g_strdup (f->method);
  c->user = g_strdup (f->user);
  c->content_type = g_strdup (f->content_type);
  return c;
}

static Faults *
faults_of (AmmServer *server)
{
  return server->soup ? g_object_get_data (G_OBJECT (server->soup), FAULTS_KEY) : NULL;
}

/* ---- raw answers on a stolen connection ---- */

typedef struct {
  GIOStream *conn;
  GBytes *head;
  GBytes *body;
  gsize sent;       /* of body */
  gsize limit;      /* bytes of body to send before closing */
  guint per_tick;   /* 0: all at once */
  guint tick_ms;
} Raw;

static void
raw_closed (GObject *src, GAsyncResult *res, gpointer data)
{
  Raw *r = data;

  g_io_stream_close_finish (G_IO_STREAM (src), res, NULL);
  g_object_unref (r->conn);
  g_bytes_unref (r->head);
  g_bytes_unref (r->body);
  g_free (r);
}

static void
raw_close (Raw *r)
{
  g_io_stream_close_async (r->conn, G_PRIORITY_DEFAULT, NULL, raw_closed, r);
}

static void raw_next (Raw *r);

static gboolean
raw_tick (gpointer data)
{
  raw_next (data);
  return G_SOURCE_REMOVE;
}

static void
raw_wrote (GObject *src, GAsyncResult *res, gpointer data)
{
  Raw *r = data;
  gsize written = 0;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res, &written, NULL)) {
    raw_close (r);   /* the client went away */
    return;
  }
  r->sent += written;
  if (r->sent >= r->limit) {
    raw_close (r);
    return;
  }
  if (r->per_tick)
    g_timeout_add (r->tick_ms, raw_tick, r);
  else
    raw_next (r);
}

static void
raw_next (Raw *r)
{
  gsize n = r->limit - r->sent;

  if (r->per_tick && n > r->per_tick)
    n = r->per_tick;
  g_output_stream_write_all_async (g_io_stream_get_output_stream (r->conn),
                                   (const char *) g_bytes_get_data (r->body, NULL) + r->sent, n,
                                   G_PRIORITY_DEFAULT, NULL, raw_wrote, r);
}

static void
raw_wrote_head (GObject *src, GAsyncResult *res, gpointer data)
{
  Raw *r = data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res, NULL, NULL)
      || r->limit == 0) {
    raw_close (r);
    return;
  }
  raw_next (r);
}

/* Write the answer `msg` holds (status, headers, accumulated body) by hand: the head announces
 * the whole body, then `limit` bytes of it go out (`per_tick` bytes every `tick_ms`), then the
 * connection is closed. */
static void
raw_answer (SoupServerMessage *msg, gsize limit_num, gsize limit_den, guint per_tick,
            guint tick_ms)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  guint status = soup_server_message_get_status (msg);
  const char *reason = soup_server_message_get_reason_phrase (msg);
  g_autoptr (GBytes) body = soup_message_body_flatten (soup_server_message_get_response_body (msg));
  GString *head = g_string_new (NULL);
  SoupMessageHeadersIter iter;
  const char *name, *value;
  Raw *r = g_new0 (Raw, 1);

  g_string_append_printf (head, "HTTP/1.1 %u %s\r\n", status,
                          reason ? reason : soup_status_get_phrase (status));
  soup_message_headers_iter_init (&iter, h);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    if (g_ascii_strcasecmp (name, "Content-Length") != 0
        && g_ascii_strcasecmp (name, "Transfer-Encoding") != 0
        && g_ascii_strcasecmp (name, "Connection") != 0)
      g_string_append_printf (head, "%s: %s\r\n", name, value);
  g_string_append_printf (head, "Content-Length: %" G_GSIZE_FORMAT "\r\nConnection: close\r\n\r\n",
                          g_bytes_get_size (body));
  r->conn = soup_server_message_steal_connection (msg);
  r->head = g_string_free_to_bytes (head);
  r->body = g_bytes_ref (body);
  r->limit = g_bytes_get_size (body) * limit_num / limit_den;
  r->per_tick = per_tick;
  r->tick_ms = tick_ms;
  g_output_stream_write_all_async (g_io_stream_get_output_stream (r->conn),
                                   g_bytes_get_data (r->head, NULL), g_bytes_get_size (r->head),
                                   G_PRIORITY_DEFAULT, NULL, raw_wrote_head, r);
}

static void
hang_up (SoupServerMessage *msg)
{
  GIOStream *conn = soup_server_message_steal_connection (msg);

  if (conn) {
    g_io_stream_close (conn, NULL, NULL);
    g_object_unref (conn);
  }
}

/* ---- matching ---- */

static char *
basic_user (SoupServerMessage *msg)
{
  const char *auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                   "Authorization");
  gsize len = 0;
  g_autofree guchar *plain = NULL;
  char *colon;

  if (!auth || g_ascii_strncasecmp (auth, "Basic ", 6) != 0)
    return NULL;
  plain = g_base64_decode (auth + 6, &len);
  if (!plain)
    return NULL;
  colon = memchr (plain, ':', len);
  return colon ? g_strndup ((char *) plain, colon - (char *) plain) : NULL;
}

static gboolean
is_streaming (SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const char *accept = soup_message_headers_get_one (h, "Accept");

  return soup_message_headers_get_one (h, AMM_HEADER_REQUEST_TIMEOUT) != NULL
         || soup_message_headers_get_one (h, "Upgrade") != NULL
         || (accept && strstr (accept, "text/event-stream") != NULL);
}

static gboolean
needs_answer (FaultKind k)
{
  return k == F_STORE_RESET || k == F_CONTENT_TYPE || k == F_TRUNCATE || k == F_TRICKLE
         || k == F_STALL;
}

static Fault *
match (Faults *fs, SoupServerMessage *msg)
{
  const char *path = g_uri_get_path (soup_server_message_get_uri (msg));
  const char *method = soup_server_message_get_method (msg);
  g_autofree char *user = NULL;
  gboolean user_known = FALSE;

  for (guint i = 0; i < fs->faults->len; i++) {
    Fault *f = fs->faults->pdata[i];

    if (f->remaining == 0 || !g_str_has_prefix (path, f->path))
      continue;
    if (f->method && g_ascii_strcasecmp (f->method, method) != 0)
      continue;
    if (needs_answer (f->kind) && is_streaming (msg))
      continue;
    if (f->user) {
      if (!user_known) {
        user = basic_user (msg);
        user_known = TRUE;
      }
      if (!user || g_ascii_strcasecmp (user, f->user) != 0)
        continue;
    }
    if (f->skip > 0) {
      f->skip--;
      continue;
    }
    if (f->remaining > 0)
      f->remaining--;
    f->hits++;
    return f;
  }
  return NULL;
}

/* ---- held (post-handler) faults ---- */

static void
held_free (Held *h)
{
  if (h->timer_id)
    g_source_remove (h->timer_id);
  if (h->finished_id)
    g_signal_handler_disconnect (h->msg, h->finished_id);
  if (h->disconnected_id)
    g_signal_handler_disconnect (h->msg, h->disconnected_id);
  g_object_unref (h->msg);
  fault_free (h->fault);
  g_free (h);
}

static void
held_remove (Held *h)
{
  h->faults->held = g_list_remove (h->faults->held, h);
  held_free (h);
}

static void
held_gone (SoupServerMessage *msg, gpointer data)
{
  /* held_free disconnects both handlers, this one included (allowed during its emission) */
  held_remove (data);
}

/* Release a held answer as it is. */
static void
held_release (Held *h)
{
  SoupServerMessage *msg = g_object_ref (h->msg);

  held_remove (h);
  soup_server_message_unpause (msg);
  g_object_unref (msg);
}

static gboolean
stall_over (gpointer data)
{
  Held *h = data;

  h->timer_id = 0;
  held_release (h);
  return G_SOURCE_REMOVE;
}

/* After the handler ran (an idle after "request-read"). */
static gboolean
apply_after_handler (gpointer data)
{
  Held *h = data;
  SoupServerMessage *msg = h->msg;

  h->timer_id = 0;
  if (soup_server_message_get_status (msg) == 0) {
    /* the handler held the request itself: leave it be */
    held_release (h);
    return G_SOURCE_REMOVE;
  }
  switch (h->fault->kind) {
  case F_STALL:
    if (h->fault->ms > 0)
      h->timer_id = g_timeout_add (h->fault->ms, stall_over, h);
    return G_SOURCE_REMOVE;   /* else until cleared */
  case F_CONTENT_TYPE:
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Content-Type",
                                  h->fault->content_type ? h->fault->content_type : "text/plain");
    held_release (h);
    return G_SOURCE_REMOVE;
  case F_STORE_RESET: {
    g_object_ref (msg);
    held_remove (h);
    hang_up (msg);
    g_object_unref (msg);
    return G_SOURCE_REMOVE;
  }
  case F_TRUNCATE:
  case F_TRICKLE: {
    FaultKind k = h->fault->kind;
    guint bps = MAX (h->fault->bytes_per_second, 1);

    g_object_ref (msg);
    held_remove (h);
    if (k == F_TRUNCATE)
      raw_answer (msg, 1, 2, 0, 0);
    else
      raw_answer (msg, 1, 1, bps <= 1000 ? 1 : bps / 1000, bps <= 1000 ? 1000 / bps : 1);
    g_object_unref (msg);
    return G_SOURCE_REMOVE;
  }
  default:
    held_release (h);
    return G_SOURCE_REMOVE;
  }
}

/* ---- the hook ---- */

static const char html_page[] =
  "<!DOCTYPE html>\n<html><head><title>Bad Gateway</title></head>\n"
  "<body><h1>Bad Gateway</h1><p>The proxy server received an invalid response from an upstream "
  "server.</p><hr><address>FaultProxy/1.0</address></body></html>\n";

static const char *
first_accept (SoupServerMessage *msg, char *buf, gsize len)
{
  const char *accept = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                     "Accept");
  const char *end;

  if (!accept || !*accept || g_str_has_prefix (accept, "*/*"))
    return "application/json";
  end = strchr (accept, ',');
  g_strlcpy (buf, accept, MIN (len, end ? (gsize) (end - accept) + 1 : len));
  g_strstrip (buf);
  return buf;
}

static void
on_request_read (SoupServer *soup, SoupServerMessage *msg, gpointer data)
{
  Faults *fs = data;
  Fault *f;
  char type_buf[256];

  if (soup_server_message_get_status (msg) != 0  /* answered already (CORS preflight) */
      || fs->faults->len == 0 || !(f = match (fs, msg)))
    return;
  if (fs->server->opt.verbose)
    amm_log ("fault %s on %s %s", kind_names[f->kind], soup_server_message_get_method (msg),
             g_uri_get_path (soup_server_message_get_uri (msg)));
  switch (f->kind) {
  case F_STATUS: {
    g_autofree char *text = g_strdup_printf ("Injected fault: HTTP %u", f->status);
    amm_respond_error (msg, f->status, f->status == 429 ? "TOO_MANY_REQUESTS" : "SERVICE_UNAVAILABLE",
                       text, NULL);
    if (f->status == 429)
      soup_server_message_set_status (msg, 429, "Too Many Requests");
    if (f->retry_after >= 0) {
      g_autofree char *secs = g_strdup_printf ("%d", f->retry_after);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                    secs);
    }
    break;
  }
  case F_HTML:
    soup_server_message_set_status (msg, f->status, NULL);
    soup_server_message_set_response (msg, "text/html; charset=utf-8", SOUP_MEMORY_STATIC,
                                      html_page, strlen (html_page));
    break;
  case F_BAD_JSON: {
    static const char bad[] = "{\"conversations\": [{\"id\": \"c1\", \"messages\": [tru";
    soup_server_message_set_status (msg, 200, NULL);
    soup_server_message_set_response (msg, first_accept (msg, type_buf, sizeof type_buf),
                                      SOUP_MEMORY_COPY, bad, strlen (bad));
    break;
  }
  case F_RESET:
    /* a status first, so that no handler runs for the message afterwards */
    soup_server_message_set_status (msg, 500, NULL);
    hang_up (msg);
    break;
  default: {
    Held *h = g_new0 (Held, 1);

    h->faults = fs;
    h->msg = g_object_ref (msg);
    h->fault = fault_copy (f);
    h->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (held_gone), h);
    h->disconnected_id = g_signal_connect (msg, "disconnected", G_CALLBACK (held_gone), h);
    fs->held = g_list_prepend (fs->held, h);
    soup_server_message_pause (msg);
    h->timer_id = g_idle_add (apply_after_handler, h);
    break;
  }
  }
}

/* with the SoupServer */
static void
faults_free (Faults *fs)
{
  g_list_free_full (fs->held, (GDestroyNotify) held_free);
  g_ptr_array_unref (fs->faults);
  if (fs->restart_id)
    g_source_remove (fs->restart_id);
  g_free (fs);
}

void
amm_faults_install (AmmServer *server)
{
  Faults *fs = g_new0 (Faults, 1);

  fs->server = server;
  fs->faults = g_ptr_array_new_with_free_func ((GDestroyNotify) fault_free);
  fs->next_id = 1;
  g_object_set_data_full (G_OBJECT (server->soup), FAULTS_KEY, fs, (GDestroyNotify) faults_free);
  /* after the CORS/logging hook: a preflight it answered is left alone */
  g_signal_connect (server->soup, "request-read", G_CALLBACK (on_request_read), fs);
}

/* ---- restart ---- */

static gboolean
relisten (gpointer data)
{
  AmmServer *server = data;
  Faults *fs = faults_of (server);
  g_autoptr (GInetAddress) lo = NULL;
  g_autoptr (GSocketAddress) addr = NULL;
  g_autoptr (GError) error = NULL;

  fs->restart_id = 0;
  if (g_ascii_strcasecmp (server->opt.host, "localhost") == 0)
    lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else
    lo = g_inet_address_new_from_string (server->opt.host);
  addr = g_inet_socket_address_new (lo, server->port);
  if (!soup_server_listen (server->soup, addr, server->opt.tls ? SOUP_SERVER_LISTEN_HTTPS : 0,
                           &error))
    amm_log ("restart: cannot listen again on port %u: %s", server->port, error->message);
  else
    amm_log ("restart: listening again on port %u", server->port);
  return G_SOURCE_REMOVE;
}

static void
restart (AmmServer *server, guint down_ms)
{
  Faults *fs = faults_of (server);

  if (fs->restart_id)
    return;
  amm_log ("restart: down for %u ms", down_ms);
  amm_long_poll_finish_all (server);
  amm_channel_close_all (server);
  g_hash_table_remove_all (server->sessions);
  soup_server_disconnect (server->soup);
  fs->restart_id = g_timeout_add (down_ms, relisten, server);
}

/* ---- control ---- */

static JsonNode *
faults_document (Faults *fs, guint sent)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "faults");
  json_builder_begin_array (b);
  for (guint i = 0; fs && i < fs->faults->len; i++) {
    Fault *f = fs->faults->pdata[i];

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, f->id);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, kind_names[f->kind]);
    json_builder_set_member_name (b, "path");
    json_builder_add_string_value (b, f->path);
    json_builder_set_member_name (b, "remaining");
    json_builder_add_int_value (b, f->remaining);
    json_builder_set_member_name (b, "hits");
    json_builder_add_int_value (b, (gint64) f->hits);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "held");
  json_builder_add_int_value (b, fs ? g_list_length (fs->held) : 0);
  json_builder_set_member_name (b, "sent");
  json_builder_add_int_value (b, sent);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static guint
send_garbage (AmmServer *server, const char *user, const char *frame, guint count, guint size)
{
  guint n = 0;

  for (guint i = 0; i < count; i++) {
    if (g_str_equal (frame, "text")) {
      n += amm_channel_send_raw (server, user, FALSE, "this is not JSON }{", 19);
    } else if (g_str_equal (frame, "binary")) {
      static const char bin[] = { 0x00, 0x01, (char) 0xfe, (char) 0xff, '{', 0x00 };
      n += amm_channel_send_raw (server, user, TRUE, bin, sizeof bin);
    } else if (g_str_equal (frame, "unknown-key")) {
      static const char unk[] = "{\"surprise\":{\"version\":\"1\",\"payload\":[1,2,3]}}";
      n += amm_channel_send_raw (server, user, FALSE, unk, strlen (unk));
    } else if (g_str_equal (frame, "truncated-json")) {
      static const char tj[] = "{\"notification\":{\"application\":\"AMM\",\"service\":";
      n += amm_channel_send_raw (server, user, FALSE, tj, strlen (tj));
    } else {   /* huge */
      GString *s = g_string_sized_new (size + 64);
      g_string_append (s, "{\"notification\":{\"application\":\"AMM\",\"service\":\"x\",\"pad\":\"");
      while (s->len < size)
        g_string_append_c (s, 'x');
      g_string_append (s, "\"}}");
      n += amm_channel_send_raw (server, user, FALSE, s->str, s->len);
      g_string_free (s, TRUE);
    }
  }
  return n;
}

static gboolean
parse_kind (const char *name, FaultKind *out)
{
  for (guint i = 0; i < G_N_ELEMENTS (kind_names); i++)
    if (g_strcmp0 (name, kind_names[i]) == 0) {
      *out = (FaultKind) i;
      return TRUE;
    }
  return FALSE;
}

static void
respond_doc (SoupServerMessage *msg, JsonNode *doc)
{
  amm_respond_json (msg, 200, "application/json", doc);
  json_node_unref (doc);
}

static void
control_set (AmmServer *server, Faults *fs, SoupServerMessage *msg)
{
  g_autoptr (JsonNode) root = NULL;
  JsonObject *o = amm_parse_body_object (msg, &root);
  const char *name, *user;
  FaultKind kind;
  Fault *f;

  if (!o)
    return;
  name = json_object_get_string_member_with_default (o, "name", NULL);
  user = json_object_get_string_member_with_default (o, "user", NULL);
  if (g_strcmp0 (name, "restart") == 0) {
    restart (server, (guint) CLAMP (json_object_get_int_member_with_default (o, "downMs", 300), 0,
                                    600000));
    respond_doc (msg, faults_document (fs, 0));
    return;
  }
  if (g_strcmp0 (name, "drop-channels") == 0) {
    respond_doc (msg, faults_document (fs, amm_channel_drop_user (server, user)));
    return;
  }
  if (g_strcmp0 (name, "ws-garbage") == 0) {
    const char *frame = json_object_get_string_member_with_default (o, "frame", "text");
    guint count = (guint) CLAMP (json_object_get_int_member_with_default (o, "count", 1), 1, 1000);
    guint size = (guint) CLAMP (json_object_get_int_member_with_default (o, "size", 1 << 20), 16,
                                64 << 20);
    if (!g_str_equal (frame, "text") && !g_str_equal (frame, "binary")
        && !g_str_equal (frame, "unknown-key") && !g_str_equal (frame, "huge")
        && !g_str_equal (frame, "truncated-json")) {
      amm_respond_error (msg, 400, "INVALID_PARAMETER",
                         "frame: text, binary, unknown-key, huge or truncated-json", NULL);
      return;
    }
    respond_doc (msg, faults_document (fs, send_garbage (server, user, frame, count, size)));
    return;
  }
  if (!parse_kind (name, &kind)) {
    amm_respond_error (msg, 400, "INVALID_PARAMETER",
                       "Unknown fault name (status, html, bad-json, reset, store-reset, "
                       "content-type, truncate, trickle, stall, restart, drop-channels, "
                       "ws-garbage)", NULL);
    return;
  }
  f = g_new0 (Fault, 1);
  f->id = fs->next_id++;
  f->kind = kind;
  f->path = g_strdup (json_object_get_string_member_with_default (o, "path", "/aem"));
  f->method = g_strdup (json_object_get_string_member_with_default (o, "method", NULL));
  f->user = g_strdup (user);
  f->remaining = json_object_get_int_member_with_default (o, "count", 0);
  if (f->remaining <= 0)
    f->remaining = -1;
  f->skip = (guint) CLAMP (json_object_get_int_member_with_default (o, "skip", 0), 0, G_MAXINT);
  f->status = (guint) json_object_get_int_member_with_default (o, "status", kind == F_HTML ? 502 : 503);
  if (f->status < 100 || f->status > 599)
    f->status = 503;
  f->retry_after = json_object_has_member (o, "retryAfter")
                   ? (gint) CLAMP (json_object_get_int_member (o, "retryAfter"), 0, 3600) : -1;
  f->content_type = g_strdup (json_object_get_string_member_with_default (o, "contentType", NULL));
  f->ms = (guint) CLAMP (json_object_get_int_member_with_default (o, "ms", 0), 0, G_MAXINT);
  f->bytes_per_second = (guint) CLAMP (json_object_get_int_member_with_default (o, "bytesPerSecond", 1),
                                       1, 1 << 20);
  g_ptr_array_add (fs->faults, f);
  respond_doc (msg, faults_document (fs, 0));
}

static void
control_clear (AmmServer *server, Faults *fs, SoupServerMessage *msg, GHashTable *query)
{
  const char *name = query ? g_hash_table_lookup (query, "name") : NULL;

  if (!name)
    amm_media_clear_faults (server);

  for (guint i = fs->faults->len; i > 0; i--) {
    Fault *f = fs->faults->pdata[i - 1];
    if (!name || g_str_equal (name, kind_names[f->kind]))
      g_ptr_array_remove_index (fs->faults, i - 1);
  }
  /* held answers go out now */
  for (GList *l = fs->held; l;) {
    Held *h = l->data;
    l = l->next;
    if (!name || g_str_equal (name, kind_names[h->fault->kind])) {
      if (h->timer_id && h->fault->kind == F_STALL) {
        g_source_remove (h->timer_id);
        h->timer_id = 0;
      }
      if (h->timer_id == 0)   /* an idle still pending applies itself */
        held_release (h);
    }
  }
  respond_doc (msg, faults_document (fs, 0));
}

gboolean
amm_faults_control (AmmServer *server, SoupServerMessage *msg, const char *path, GHashTable *query)
{
  Faults *fs = faults_of (server);
  const char *method = soup_server_message_get_method (msg);

  if (!g_str_equal (path, "/control/fault") || !fs)
    return FALSE;
  if (g_str_equal (method, "GET")) {
    respond_doc (msg, faults_document (fs, 0));
    return TRUE;
  }
  if (g_str_equal (method, "DELETE")) {
    control_clear (server, fs, msg, query);
    return TRUE;
  }
  if (g_str_equal (method, "POST")) {
    /* {"name":...} is ours; anything else (truncateDownloads) is server-media.c's */
    g_autoptr (GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
    g_autoptr (JsonParser) p = json_parser_new ();
    gsize len = 0;
    const char *data = g_bytes_get_data (body, &len);
    JsonNode *root;

    if (len > 0 && json_parser_load_from_data (p, data, len, NULL)
        && (root = json_parser_get_root (p)) && JSON_NODE_HOLDS_OBJECT (root)
        && json_object_has_member (json_node_get_object (root), "name")) {
      control_set (server, fs, msg);
      return TRUE;
    }
  }
  return FALSE;
}
