/* amm-channel.h: the AMM notification channel (docs/protocol.md §8), WebSocket or SSE.
 *
 * One concern: open a channel, hand over its frames, keep it alive (ping/pong on the
 * WebSocket, the Ping events' silence timer on SSE) and say when it died. It does not
 * subscribe, list or reconnect: the client does, on the signals below.
 *
 * Signals (emitted on the thread-default main context of amm_channel_open()):
 *   "opened" (guint kind)     the discovery frame arrived: send commands now.
 *   "frame"  (AmmFrame *)     any later frame (pong excepted).
 *   "dead"   (GError *)       the channel failed or closed; no signal follows.
 * After amm_channel_close() no signal is emitted.
 */
#pragma once

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include "amm-client.h"

G_BEGIN_DECLS

#define AMM_TYPE_CHANNEL (amm_channel_get_type ())
G_DECLARE_FINAL_TYPE (AmmChannel, amm_channel, AMM, CHANNEL, GObject)

/* websocket_href / sse_href nullable (not both). `auth` is the Authorization header value. */
AmmChannel    *amm_channel_new (SoupSession *session, const char *auth,
                                const char *websocket_href, const char *sse_href,
                                gboolean disable_websocket);
void           amm_channel_open (AmmChannel *self);
/* Send a command frame (WebSocket text frame, or POST to the SSE commandURL). */
void           amm_channel_send (AmmChannel *self, JsonNode *frame);
void           amm_channel_close (AmmChannel *self);
AmmChannelKind amm_channel_get_kind (AmmChannel *self);

/* Test hook: keep-alive timing in ms (0 keeps the default). */
void amm_channel_set_timing (AmmChannel *self, guint ping_interval_ms, guint pong_timeout_ms,
                             guint sse_dead_ms);

/* A 32-hex-digit request id. */
char *amm_channel_new_request_id (void);

G_END_DECLS
