/* amm-channel.c: see amm-channel.h. */
#include "amm-channel.h"

#include <string.h>
#include "amm-http.h"
#include "amm-models.h"
#include "amm-protocol.h"
#include "amm-sse.h"
#include "amm-ws-guard.h"

/* The largest notification frame accepted, on either channel kind. A frame is a few KB; the
 * caps keep an endless WebSocket message or SSE line from exhausting memory. */
#define CHANNEL_MAX_FRAME_BYTES (1024 * 1024)
#define SSE_READ_CHUNK          16384
/* A WebSocket message split into endless fragments is stopped once the cap plus this much
 * arrived since the last complete message (amm-ws-guard.h, which adds the socket's receive
 * buffer): frame headers and TLS records come on top of the payload. */
#define CHANNEL_WS_GUARD_SLACK  (1024 * 1024)

struct _AmmChannel {
  GObject        parent;
  SoupSession   *session;
  char          *auth;
  char          *ws_href;
  char          *sse_href;
  gboolean       disable_websocket;
  AmmChannelKind kind;
  GCancellable  *cancel;
  gboolean       closed;
  gboolean       opened;

  guint ping_interval_ms, pong_timeout_ms, sse_dead_ms;

  /* WebSocket */
  SoupWebsocketConnection *ws;
  AmmWsGuard *ws_guard;
  guint    ws_handshake_timer;
  gboolean ws_handshake_timed_out;
  guint    ping_timer;
  guint    pong_timer;
  char    *ping_id;

  /* SSE */
  GInputStream *sse_in;
  AmmSseParser *sse_parser;
  guint    sse_dead_timer;
  char    *command_url;

  guint    discovery_timer;
};

enum { SIG_OPENED, SIG_FRAME, SIG_DEAD, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (AmmChannel, amm_channel, G_TYPE_OBJECT)

static void
clear_source (guint *id)
{
  if (*id) {
    g_source_remove (*id);
    *id = 0;
  }
}

static void
stop_everything (AmmChannel *self)
{
  self->closed = TRUE;
  g_cancellable_cancel (self->cancel);
  clear_source (&self->ws_handshake_timer);
  clear_source (&self->ping_timer);
  clear_source (&self->pong_timer);
  clear_source (&self->sse_dead_timer);
  clear_source (&self->discovery_timer);
  g_clear_pointer (&self->ws_guard, amm_ws_guard_free);
  if (self->ws) {
    g_signal_handlers_disconnect_by_data (self->ws, self);
    if (soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    g_clear_object (&self->ws);
  }
  g_clear_object (&self->sse_in);
}

static void
die (AmmChannel *self, GError *error)
{
  if (self->closed) {
    g_error_free (error);
    return;
  }
  g_object_ref (self);
  stop_everything (self);
  g_debug ("amm-channel: %s channel dead: %s", amm_channel_kind_to_string (self->kind), error->message);
  g_signal_emit (self, signals[SIG_DEAD], 0, error);
  g_error_free (error);
  g_object_unref (self);
}

static void
amm_channel_dispose (GObject *obj)
{
  AmmChannel *self = AMM_CHANNEL (obj);
  stop_everything (self);
  G_OBJECT_CLASS (amm_channel_parent_class)->dispose (obj);
}

static void
amm_channel_finalize (GObject *obj)
{
  AmmChannel *self = AMM_CHANNEL (obj);
  g_clear_object (&self->session);
  g_clear_object (&self->cancel);
  if (self->auth) {
    memset (self->auth, 0, strlen (self->auth));
    g_free (self->auth);
  }
  g_free (self->ws_href);
  g_free (self->sse_href);
  g_free (self->ping_id);
  g_clear_pointer (&self->sse_parser, amm_sse_parser_free);
  g_free (self->command_url);
  G_OBJECT_CLASS (amm_channel_parent_class)->finalize (obj);
}

static void
amm_channel_class_init (AmmChannelClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  oc->dispose = amm_channel_dispose;
  oc->finalize = amm_channel_finalize;
  signals[SIG_OPENED] = g_signal_new ("opened", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                      NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  signals[SIG_FRAME] = g_signal_new ("frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                     NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIG_DEAD] = g_signal_new ("dead", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                    NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
amm_channel_init (AmmChannel *self)
{
  self->cancel = g_cancellable_new ();
  self->ping_interval_ms = AMM_PING_INTERVAL_SECONDS * 1000;
  self->pong_timeout_ms = AMM_PONG_TIMEOUT_SECONDS * 1000;
  self->sse_dead_ms = AMM_SSE_DEAD_SECONDS * 1000;
}

AmmChannel *
amm_channel_new (SoupSession *session, const char *auth, const char *websocket_href,
                 const char *sse_href, gboolean disable_websocket)
{
  AmmChannel *self = g_object_new (AMM_TYPE_CHANNEL, NULL);
  self->session = g_object_ref (session);
  self->auth = g_strdup (auth);
  self->ws_href = g_strdup (websocket_href);
  self->sse_href = g_strdup (sse_href);
  self->disable_websocket = disable_websocket;
  return self;
}

void
amm_channel_set_timing (AmmChannel *self, guint ping_interval_ms, guint pong_timeout_ms, guint sse_dead_ms)
{
  if (ping_interval_ms)
    self->ping_interval_ms = ping_interval_ms;
  if (pong_timeout_ms)
    self->pong_timeout_ms = pong_timeout_ms;
  if (sse_dead_ms)
    self->sse_dead_ms = sse_dead_ms;
}

AmmChannelKind
amm_channel_get_kind (AmmChannel *self)
{
  return self->kind;
}

char *
amm_channel_new_request_id (void)
{
  return g_strdup_printf ("%08x%08x%08x%08x", g_random_int (), g_random_int (), g_random_int (),
                          g_random_int ());
}

/* --- frames ---------------------------------------------------------------------------- */

static gboolean
on_discovery_timeout (gpointer data)
{
  AmmChannel *self = data;
  self->discovery_timer = 0;
  die (self, g_error_new (AMM_ERROR, AMM_ERROR_TIMEOUT, "The notification channel sent no discovery frame"));
  return G_SOURCE_REMOVE;
}

static void start_ping_timer (AmmChannel *self);

static void
handle_frame_text (AmmChannel *self, const char *text, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AmmFrame) frame = amm_frame_parse (text, len, &error);
  if (frame == NULL) {
    g_debug ("amm-channel: ignoring a malformed frame: %s", error->message);
    return;
  }
  if (frame->type == AMM_FRAME_DISCOVERY) {
    if (self->opened)
      return;
    self->opened = TRUE;
    clear_source (&self->discovery_timer);
    if (frame->command_url) {
      g_free (self->command_url);
      self->command_url = amm_http_resolve (self->sse_href ? self->sse_href : self->ws_href,
                                            frame->command_url);
    }
    if (self->kind == AMM_CHANNEL_WEBSOCKET)
      start_ping_timer (self);
    g_signal_emit (self, signals[SIG_OPENED], 0, (guint) self->kind);
    return;
  }
  if (frame->type == AMM_FRAME_PONG) {
    if (self->ping_id && g_strcmp0 (frame->request_id, self->ping_id) == 0) {
      clear_source (&self->pong_timer);
      g_clear_pointer (&self->ping_id, g_free);
    }
    return;
  }
  g_signal_emit (self, signals[SIG_FRAME], 0, frame);
}

/* --- WebSocket --------------------------------------------------------------------------- */

static gboolean
on_pong_timeout (gpointer data)
{
  AmmChannel *self = data;
  self->pong_timer = 0;
  die (self, g_error_new (AMM_ERROR, AMM_ERROR_TIMEOUT, "No answer to the notification channel's ping"));
  return G_SOURCE_REMOVE;
}

static gboolean
on_ping_timer (gpointer data)
{
  AmmChannel *self = data;
  if (self->ws == NULL || self->pong_timer)
    return G_SOURCE_CONTINUE;
  g_free (self->ping_id);
  self->ping_id = amm_channel_new_request_id ();
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ping");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "requestId");
  json_builder_add_string_value (b, self->ping_id);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, AMM_CHANNEL_VERSION);
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  amm_channel_send (self, node);
  self->pong_timer = g_timeout_add (self->pong_timeout_ms, on_pong_timeout, self);
  return G_SOURCE_CONTINUE;
}

static void
start_ping_timer (AmmChannel *self)
{
  clear_source (&self->ping_timer);
  self->ping_timer = g_timeout_add (self->ping_interval_ms, on_ping_timer, self);
}

static void
too_large (AmmChannel *self)
{
  die (self, g_error_new (AMM_ERROR, AMM_ERROR_TOO_LARGE,
                          "The server sent a notification larger than %u bytes; the channel was closed",
                          (guint) CHANNEL_MAX_FRAME_BYTES));
}

/* A message that never ends (fragments without end): libsoup would keep them all. */
static void
on_ws_guard_exceeded (gpointer data)
{
  too_large (data);
}

static void
on_ws_message (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
  AmmChannel *self = data;
  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    return;
  gsize len;
  const char *text = g_bytes_get_data (message, &len);
  g_object_ref (self);
  handle_frame_text (self, text, len);
  g_object_unref (self);
}

static void
on_ws_closed (SoupWebsocketConnection *ws, gpointer data)
{
  AmmChannel *self = data;
  gushort code = soup_websocket_connection_get_close_code (ws);
  if (code == SOUP_WEBSOCKET_CLOSE_TOO_BIG) /* we closed it: a message over the cap */
    too_large (self);
  else
    die (self, g_error_new (AMM_ERROR, AMM_ERROR_NETWORK, "The server closed the notification channel (code %u)",
                            code));
}

static void
on_ws_error (SoupWebsocketConnection *ws, GError *error, gpointer data)
{
  AmmChannel *self = data;
  g_debug ("amm-channel: WebSocket error: %s", error->message);
  /* libsoup refused a message over max-incoming-payload-size and is closing (1009) */
  if (g_error_matches (error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG))
    too_large (self);
}

static void open_sse (AmmChannel *self);

static void
on_ws_connected (GObject *src, GAsyncResult *res, gpointer data)
{
  AmmChannel *self = data; /* a reference */
  SoupMessage *msg = g_object_get_data (G_OBJECT (self), "ws-msg");
  GError *error = NULL;
  SoupWebsocketConnection *ws = soup_session_websocket_connect_finish (SOUP_SESSION (src), res, &error);
  if (self->closed) {
    g_clear_error (&error);
    g_clear_object (&ws);
    g_object_unref (self);
    return;
  }
  clear_source (&self->ws_handshake_timer);
  if (ws == NULL) {
    guint status = msg ? soup_message_get_status (msg) : 0;
    if (status == 401) {
      g_clear_error (&error);
      die (self, g_error_new (AMM_ERROR, AMM_ERROR_AUTH, "The notification channel refused the credentials"));
    } else if (self->ws_handshake_timed_out) {
      g_clear_error (&error);
      die (self, g_error_new (AMM_ERROR, AMM_ERROR_TIMEOUT, "The WebSocket handshake timed out"));
    } else {
      GError *mapped = amm_http_map_transport_error (msg, error);
      g_clear_error (&error);
      if (self->sse_href != NULL && mapped->code != AMM_ERROR_TLS) {
        g_debug ("amm-channel: WebSocket failed (%s), falling back to SSE", mapped->message);
        g_error_free (mapped);
        open_sse (self);
      } else {
        die (self, mapped);
      }
    }
    g_object_set_data (G_OBJECT (self), "ws-msg", NULL);
    g_object_unref (self);
    return;
  }
  g_object_set_data (G_OBJECT (self), "ws-msg", NULL);
  self->ws = ws;
  soup_websocket_connection_set_max_incoming_payload_size (ws, CHANNEL_MAX_FRAME_BYTES);
  g_signal_connect (ws, "message", G_CALLBACK (on_ws_message), self);
  g_signal_connect (ws, "closed", G_CALLBACK (on_ws_closed), self);
  g_signal_connect (ws, "error", G_CALLBACK (on_ws_error), self);
  self->ws_guard = amm_ws_guard_new (ws, (guint64) CHANNEL_MAX_FRAME_BYTES + CHANNEL_WS_GUARD_SLACK,
                                     on_ws_guard_exceeded, self);
  g_object_unref (self);
}

static gboolean
on_ws_handshake_timeout (gpointer data)
{
  AmmChannel *self = data;
  self->ws_handshake_timer = 0;
  self->ws_handshake_timed_out = TRUE;
  g_cancellable_cancel (self->cancel);
  return G_SOURCE_REMOVE;
}

/* ws(s)://host/path?query → http(s)://host/path: libsoup upgrades it, and the cookie jar
 * treats it as the REST origin it is. */
static char *
websocket_http_uri (const char *href)
{
  g_autoptr (GUri) u = g_uri_parse (href, SOUP_HTTP_URI_FLAGS, NULL);
  if (u == NULL)
    return NULL;
  const char *scheme = g_uri_get_scheme (u);
  const char *http = g_ascii_strcasecmp (scheme, "wss") == 0 || g_ascii_strcasecmp (scheme, "https") == 0
                     ? "https" : "http";
  g_autoptr (GUri) out = g_uri_build (g_uri_get_flags (u), http, NULL, g_uri_get_host (u), g_uri_get_port (u),
                                      g_uri_get_path (u), NULL, NULL);
  return g_uri_to_string (out);
}

static void
open_websocket (AmmChannel *self)
{
  self->kind = AMM_CHANNEL_WEBSOCKET;
  g_autofree char *uri = websocket_http_uri (self->ws_href);
  GError *error = NULL;
  /* credentials go only where the user sent them: a foreign channel URL is an error, no fallback */
  if (!amm_http_check_origin (self->session, self->ws_href, &error)) {
    die (self, error);
    return;
  }
  SoupMessage *msg = amm_http_request_new ("GET", uri, self->auth, NULL, NULL, NULL, 0, &error);
  if (msg == NULL) {
    if (self->sse_href) {
      g_error_free (error);
      open_sse (self);
    } else {
      die (self, error);
    }
    return;
  }
  g_object_set_data_full (G_OBJECT (self), "ws-msg", msg, g_object_unref);
  self->ws_handshake_timer = g_timeout_add_seconds (AMM_REST_TIMEOUT_SECONDS, on_ws_handshake_timeout, self);
  soup_session_websocket_connect_async (self->session, msg, NULL, NULL, G_PRIORITY_DEFAULT, self->cancel,
                                        on_ws_connected, g_object_ref (self));
}

/* --- SSE --------------------------------------------------------------------------------- */

static gboolean
on_sse_dead (gpointer data)
{
  AmmChannel *self = data;
  self->sse_dead_timer = 0;
  die (self, g_error_new (AMM_ERROR, AMM_ERROR_TIMEOUT, "The notification stream went silent"));
  return G_SOURCE_REMOVE;
}

static void
sse_touch (AmmChannel *self)
{
  clear_source (&self->sse_dead_timer);
  self->sse_dead_timer = g_timeout_add (self->sse_dead_ms, on_sse_dead, self);
}

static void
on_sse_event (const char *event, const char *data, gsize len, gpointer user_data)
{
  AmmChannel *self = user_data;
  if (self->closed || g_strcmp0 (event, AMM_SSE_EVENT_PING) == 0)
    return;
  if (g_strcmp0 (event, AMM_SSE_EVENT_NOTIFICATION) == 0 || g_strcmp0 (event, "message") == 0)
    handle_frame_text (self, data, len);
}

static void sse_read_more (AmmChannel *self);

static void
on_sse_chunk (GObject *src, GAsyncResult *res, gpointer data)
{
  AmmChannel *self = data; /* a reference */
  GError *error = NULL;
  g_autoptr (GBytes) chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (src), res, &error);
  if (self->closed) {
    g_clear_error (&error);
    g_object_unref (self);
    return;
  }
  if (chunk == NULL) {
    GError *mapped = amm_http_map_transport_error (NULL, error);
    g_error_free (error);
    die (self, mapped);
    g_object_unref (self);
    return;
  }
  gsize len = 0;
  const char *bytes = g_bytes_get_data (chunk, &len);
  if (len == 0) {
    die (self, g_error_new (AMM_ERROR, AMM_ERROR_NETWORK, "The server closed the notification stream"));
    g_object_unref (self);
    return;
  }
  sse_touch (self);
  if (!amm_sse_parser_feed (self->sse_parser, bytes, len, &error)) {
    g_debug ("amm-channel: SSE stream refused: %s", error->message);
    die (self, error);
    g_object_unref (self);
    return;
  }
  if (!self->closed)
    sse_read_more (self);
  g_object_unref (self);
}

/* A bounded reader: fixed-size chunks into the capped parser (never read_line, which has no cap). */
static void
sse_read_more (AmmChannel *self)
{
  g_input_stream_read_bytes_async (self->sse_in, SSE_READ_CHUNK, G_PRIORITY_DEFAULT, self->cancel, on_sse_chunk,
                                   g_object_ref (self));
}

static void
on_sse_open (GObject *src, GAsyncResult *res, gpointer data)
{
  AmmChannel *self = data; /* a reference */
  GError *error = NULL;
  GInputStream *in = amm_http_open_stream_finish (res, NULL, &error);
  if (self->closed) {
    g_clear_error (&error);
    g_clear_object (&in);
    g_object_unref (self);
    return;
  }
  if (in == NULL) {
    die (self, error);
    g_object_unref (self);
    return;
  }
  self->sse_in = in;
  g_clear_pointer (&self->sse_parser, amm_sse_parser_free);
  self->sse_parser = amm_sse_parser_new (CHANNEL_MAX_FRAME_BYTES + 64, CHANNEL_MAX_FRAME_BYTES, on_sse_event, self);
  sse_touch (self);
  sse_read_more (self);
  g_object_unref (self);
}

static void
open_sse (AmmChannel *self)
{
  self->kind = AMM_CHANNEL_SSE;
  GError *error = NULL;
  g_autoptr (SoupMessage) msg = amm_http_request_new ("GET", self->sse_href, self->auth, "text/event-stream",
                                                      NULL, NULL, 0, &error);
  if (msg == NULL) {
    die (self, error);
    return;
  }
  amm_http_open_stream_async (self->session, msg, AMM_REST_TIMEOUT_SECONDS, self->cancel, NULL, on_sse_open,
                              g_object_ref (self));
}

static void
on_command_answer (GObject *src, GAsyncResult *res, gpointer data)
{
  AmmChannel *self = data; /* a reference */
  GError *error = NULL;
  g_autoptr (GBytes) body = amm_http_send_finish (res, NULL, NULL, &error);
  if (self->closed) {
    g_clear_error (&error);
    g_object_unref (self);
    return;
  }
  if (body == NULL) {
    die (self, error);
    g_object_unref (self);
    return;
  }
  gsize len;
  const char *text = g_bytes_get_data (body, &len);
  /* "{}" or a reply frame, which may also come on the stream */
  g_autoptr (JsonNode) node = len > 0 ? amm_http_parse_json (body, NULL) : NULL;
  if (node && JSON_NODE_HOLDS_OBJECT (node) && json_object_get_size (json_node_get_object (node)) > 0)
    handle_frame_text (self, text, len);
  g_object_unref (self);
}

/* --- public -------------------------------------------------------------------------------- */

void
amm_channel_open (AmmChannel *self)
{
  g_return_if_fail (!self->closed);
  self->discovery_timer = g_timeout_add_seconds (AMM_REST_TIMEOUT_SECONDS * 2, on_discovery_timeout, self);
  if (self->ws_href && *self->ws_href && !self->disable_websocket)
    open_websocket (self);
  else if (self->sse_href && *self->sse_href)
    open_sse (self);
  else
    die (self, g_error_new (AMM_ERROR, AMM_ERROR_UNSUPPORTED, "The server offers no notification channel"));
}

void
amm_channel_send (AmmChannel *self, JsonNode *frame)
{
  if (self->closed)
    return;
  g_autofree char *text = amm_http_json_to_string (frame);
  if (self->kind == AMM_CHANNEL_WEBSOCKET) {
    if (self->ws && soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_send_text (self->ws, text);
    return;
  }
  if (self->command_url == NULL) {
    g_debug ("amm-channel: no commandURL; dropping a command");
    return;
  }
  GError *error = NULL;
  g_autoptr (SoupMessage) msg = amm_http_request_new ("POST", self->command_url, self->auth, "application/json",
                                                      "application/json", text, -1, &error);
  if (msg == NULL) {
    die (self, error);
    return;
  }
  amm_http_send_async (self->session, msg, AMM_REST_TIMEOUT_SECONDS, self->cancel, NULL, on_command_answer,
                       g_object_ref (self));
}

void
amm_channel_close (AmmChannel *self)
{
  stop_everything (self);
}
