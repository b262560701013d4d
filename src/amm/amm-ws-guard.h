/* amm-ws-guard.h: bounds what a WebSocket connection may receive between two complete messages.
 *
 * libsoup caps each WebSocket frame (max-incoming-payload-size) but, before 3.6.5, keeps
 * appending continuation frames to one message without bound (CVE-2025-32049): a server that
 * never ends a message could exhaust memory. The guard watches the connection's TCP socket and
 * reads the kernel's count of bytes received (Linux TCP_INFO); when more than `max_bytes` plus
 * the socket's receive buffer (what may be received but not read yet) arrived since the last
 * complete message, it calls `exceeded` once. Nothing of the WebSocket protocol is parsed here:
 * frames stay libsoup's.
 *
 * Where the count cannot be read (not Linux, not TCP, an old kernel) the guard does nothing and
 * amm_ws_guard_is_active() says so. */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct _AmmWsGuard AmmWsGuard;

typedef void (*AmmWsGuardFunc) (gpointer user_data);

AmmWsGuard *amm_ws_guard_new       (SoupWebsocketConnection *ws, guint64 max_bytes,
                                    AmmWsGuardFunc exceeded, gpointer user_data);
gboolean    amm_ws_guard_is_active (AmmWsGuard *guard);
void        amm_ws_guard_free      (AmmWsGuard *guard);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmWsGuard, amm_ws_guard_free)

G_END_DECLS
