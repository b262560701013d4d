/* amm-ws-guard.c: see amm-ws-guard.h. */
#include "amm-ws-guard.h"

#include <sys/socket.h>
#ifdef __linux__
#include <netinet/in.h>
#include <linux/tcp.h>
#endif

/* When the socket stays readable while the count does not move (nobody is reading it), the
 * watch rests this long instead of spinning. */
#define GUARD_REST_MS 100

struct _AmmWsGuard {
  SoupWebsocketConnection *ws;
  GSocket       *socket;
  guint64        max_bytes;
  guint64        baseline;   /* bytes received when the last complete message was seen */
  guint64        last_seen;  /* the count at the previous check */
  GSource       *watch;
  guint          rest_timer;
  gulong         message_handler;
  AmmWsGuardFunc exceeded;
  gpointer       user_data;
};

/* The kernel's count of bytes received on a TCP socket, or FALSE where it cannot be read. */
static gboolean
bytes_received (GSocket *socket, guint64 *out)
{
#if defined(__linux__) && defined(TCP_INFO)
  struct tcp_info info = { 0 };
  socklen_t len = sizeof info;
  if (getsockopt (g_socket_get_fd (socket), IPPROTO_TCP, TCP_INFO, &info, &len) != 0
      || len < G_STRUCT_OFFSET (struct tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received)
    return FALSE;
  *out = info.tcpi_bytes_received;
  return TRUE;
#else
  return FALSE;
#endif
}

/* What the kernel may hold for the socket, received but not read yet: counted as received, it
 * may belong to messages libsoup has not seen yet. The receive buffer grows with the traffic,
 * so it is read at each check. */
static guint64
receive_buffer_bytes (GSocket *socket)
{
  gint size = 0;
  if (!g_socket_get_option (socket, SOL_SOCKET, SO_RCVBUF, &size, NULL) || size < 0)
    return 0;
  return (guint64) size;
}

/* The stream a wrapper stream is built on (GTlsConnection's "base-io-stream", libsoup's own
 * wrapper's "base-iostream"): its one readable GIOStream property, or NULL. */
static GIOStream *
base_stream_of (GIOStream *stream)
{
  guint n = 0;
  g_autofree GParamSpec **props = g_object_class_list_properties (G_OBJECT_GET_CLASS (stream), &n);
  for (guint i = 0; i < n; i++) {
    if ((props[i]->flags & G_PARAM_READABLE) && g_type_is_a (props[i]->value_type, G_TYPE_IO_STREAM)) {
      GIOStream *base = NULL;
      g_object_get (stream, props[i]->name, &base, NULL);
      return base;
    }
  }
  return NULL;
}

/* The TCP socket under the connection's stream, through TLS and wrappers. */
static GSocket *
socket_of (GIOStream *stream)
{
  g_autoptr (GIOStream) cur = stream ? g_object_ref (stream) : NULL;
  for (guint depth = 0; cur != NULL && depth < 8; depth++) {
    if (G_IS_SOCKET_CONNECTION (cur))
      return g_object_ref (g_socket_connection_get_socket (G_SOCKET_CONNECTION (cur)));
    GIOStream *base = base_stream_of (cur);
    g_object_unref (cur);
    cur = base;
  }
  return NULL;
}

static void arm (AmmWsGuard *guard);

static void
disarm (AmmWsGuard *guard)
{
  if (guard->watch) {
    g_source_destroy (guard->watch);
    g_clear_pointer (&guard->watch, g_source_unref);
  }
}

static void
on_message (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
  AmmWsGuard *guard = data;
  guint64 now;
  if (bytes_received (guard->socket, &now))
    guard->baseline = now;
}

static gboolean
on_rested (gpointer data)
{
  AmmWsGuard *guard = data;
  guard->rest_timer = 0;
  arm (guard);
  return G_SOURCE_REMOVE;
}

static gboolean
on_readable (GSocket *socket, GIOCondition cond, gpointer data)
{
  AmmWsGuard *guard = data;
  guint64 now;
  if ((cond & (G_IO_NVAL | G_IO_ERR | G_IO_HUP)) || g_socket_is_closed (socket) || !bytes_received (socket, &now)) {
    /* the connection is ending: libsoup reports how; nothing more to watch */
    disarm (guard);
    return G_SOURCE_REMOVE;
  }
  if (now > guard->baseline && now - guard->baseline > guard->max_bytes + receive_buffer_bytes (socket)) {
    disarm (guard);
    guard->exceeded (guard->user_data); /* may free the guard */
    return G_SOURCE_REMOVE;
  }
  if (now == guard->last_seen) {
    /* readable, yet nothing new arrived: the data waits for its reader; look again later */
    disarm (guard);
    guard->rest_timer = g_timeout_add (GUARD_REST_MS, on_rested, guard);
    return G_SOURCE_REMOVE;
  }
  guard->last_seen = now;
  return G_SOURCE_CONTINUE;
}

static void
arm (AmmWsGuard *guard)
{
  /* the priority of libsoup's own reader: both run in the same main-loop iteration */
  guard->watch = g_socket_create_source (guard->socket, G_IO_IN, NULL);
  g_source_set_priority (guard->watch, G_PRIORITY_DEFAULT);
  g_source_set_callback (guard->watch, G_SOURCE_FUNC (on_readable), guard, NULL);
  g_source_attach (guard->watch, g_main_context_get_thread_default ());
}

AmmWsGuard *
amm_ws_guard_new (SoupWebsocketConnection *ws, guint64 max_bytes, AmmWsGuardFunc exceeded, gpointer user_data)
{
  AmmWsGuard *guard = g_new0 (AmmWsGuard, 1);
  guard->ws = g_object_ref (ws);
  guard->max_bytes = max_bytes;
  guard->exceeded = exceeded;
  guard->user_data = user_data;
  guard->socket = socket_of (soup_websocket_connection_get_io_stream (ws));
  if (guard->socket == NULL || !bytes_received (guard->socket, &guard->baseline)) {
    g_debug ("amm-ws-guard: the received-byte count cannot be read here; messages are capped per frame only");
    g_clear_object (&guard->socket);
    return guard;
  }
  guard->last_seen = guard->baseline;
  guard->message_handler = g_signal_connect (ws, "message", G_CALLBACK (on_message), guard);
  arm (guard);
  return guard;
}

gboolean
amm_ws_guard_is_active (AmmWsGuard *guard)
{
  return guard->socket != NULL;
}

void
amm_ws_guard_free (AmmWsGuard *guard)
{
  if (guard == NULL)
    return;
  disarm (guard);
  if (guard->rest_timer)
    g_source_remove (guard->rest_timer);
  if (guard->message_handler)
    g_signal_handler_disconnect (guard->ws, guard->message_handler);
  g_clear_object (&guard->socket);
  g_object_unref (guard->ws);
  g_free (guard);
}
