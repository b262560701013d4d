/* amm-client.h: one AMM client per account.
 *
 * Knows nothing of libpurple. Owns one SoupSession, the discovery document,
 * the conversation cache, the sync cursor and the notification channel.
 * Every async call takes a GCancellable; amm_client_shutdown() (and dispose)
 * cancels everything in flight, and no signal is emitted after it.
 */
#pragma once

#include <gio/gio.h>
#include "amm-error.h"
#include "amm-models.h"

G_BEGIN_DECLS

typedef enum {
  AMM_CHANNEL_NONE,       /* not started / stopped */
  AMM_CHANNEL_WEBSOCKET,
  AMM_CHANNEL_SSE,
  AMM_CHANNEL_LONG_POLL,  /* 2.1 */
  AMM_CHANNEL_POLL,       /* poll every N minutes */
} AmmChannelKind;

const char *amm_channel_kind_to_string (AmmChannelKind kind);

typedef struct {
  char      *username;        /* the AMM address, e.g. alice@example.com */
  char      *password;
  char      *host;            /* e.g. "amm.example.com" or "127.0.0.1" */
  guint16    port;            /* default AMM_DEFAULT_PORT */
  gboolean   use_tls;         /* default TRUE */
  char      *ca_file;         /* nullable: PEM file of extra trusted CAs (absolute path) */
  AmmVersion version;         /* AMM_VERSION_AUTO negotiates */
  guint      poll_minutes;    /* 0 = push (WebSocket/SSE, or 2.1 long-poll) */
  gboolean   disable_websocket; /* testing/proxies: go straight to SSE */
  guint      poll_seconds_for_tests; /* TEST HOOK: when > 0, poll every N seconds (overrides
                                        poll_minutes); the plugin never sets it */
  char      *trusted_hosts;   /* nullable: comma-separated "host" / "host:port" that the server's
                                 links may point to besides the server itself (credentials are
                                 never sent anywhere else; amm-http.h) */
  char      *cert_fingerprint; /* nullable: pinned SHA-256 of the server certificate (64 hex
                                  digits, amm_pin_normalize()); when set, only that certificate
                                  is accepted, whoever issued it, and ca_file is not used */
} AmmSettings;

AmmSettings *amm_settings_new (void);             /* defaults filled in */
AmmSettings *amm_settings_copy (const AmmSettings *s);
void         amm_settings_free (AmmSettings *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmSettings, amm_settings_free)

#define AMM_TYPE_CLIENT (amm_client_get_type ())
G_DECLARE_FINAL_TYPE (AmmClient, amm_client, AMM, CLIENT, GObject)

/* Fails (NULL + AMM_ERROR_INVALID_SETTINGS) on an empty host, a bad port or an unreadable CA file. */
AmmClient *amm_client_new (const AmmSettings *settings, GError **error);

/* Discovery + version negotiation + authentication. On success the resources are known.
 * Errors: AMM_ERROR_AUTH (with the server's displayMsg), AMM_ERROR_TLS (names the host and the
 * problem), transient ones (network, timeout, 5xx, 429), AMM_ERROR_INVALID_SETTINGS, AMM_ERROR_UNSUPPORTED. */
void     amm_client_connect_async  (AmmClient *self, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
gboolean amm_client_connect_finish (AmmClient *self, GAsyncResult *result, GError **error);

AmmVersion          amm_client_get_version (AmmClient *self);
const AmmResources *amm_client_get_resources (AmmClient *self);
const char         *amm_client_get_self_address (AmmClient *self);
AmmChannelKind      amm_client_get_channel_kind (AmmClient *self);

/* Start syncing: an initial listing from `cursor` (NULL = first login: only unread messages are
 * delivered), then the notification channel (or long-poll / poll loop). Messages are delivered
 * through ::message-received, then ::cursor-changed tells the cursor to store. */
void amm_client_start_sync (AmmClient *self, const char *cursor);

/* Run an incremental listing now (e.g. after a manual refresh). */
void amm_client_refresh (AmmClient *self);

/* Stop everything: cancel every request, close the channel, remove every timer.
 * No signal is emitted after this returns. Idempotent; dispose calls it. */
void amm_client_shutdown (AmmClient *self);

/* The conversation cache (filled by listings and sends): each conversation with only its newest
 * AMM_CLIENT_CACHED_MESSAGES messages (its participants come from the newest one). */
#define AMM_CLIENT_CACHED_MESSAGES 10
AmmConversation *amm_client_lookup_conversation (AmmClient *self, const char *thread_id);
/* The newest active conversation whose participants are exactly self and `peer`; NULL if none. */
AmmConversation *amm_client_find_direct_conversation (AmmClient *self, const char *peer_address);
/* Participant addresses of a cached conversation (from its newest message's "to"), self included. */
GPtrArray       *amm_client_conversation_participants (AmmClient *self, const char *thread_id);

/* Send a text message. `thread_id` NULL starts a new conversation with `to` (self is added if missing).
 * The returned message's id is remembered so that its echo is not delivered again. */
void        amm_client_send_text_async  (AmmClient *self, const char *thread_id,
                                         const char * const *to, const char *body,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data);
AmmMessage *amm_client_send_text_finish (AmmClient *self, GAsyncResult *result, GError **error);

/* Lists: full (after NULL) or incremental. */
void                 amm_client_list_conversations_async  (AmmClient *self, const char *after,
                                                           GCancellable *cancellable,
                                                           GAsyncReadyCallback callback, gpointer user_data);
AmmConversationList *amm_client_list_conversations_finish (AmmClient *self, GAsyncResult *result, GError **error);

/* One message page: before_id / after_id nullable; count 0 = maxMessageCount. */
void             amm_client_fetch_messages_async  (AmmClient *self, const char *thread_id,
                                                   const char *before_id, const char *after_id, guint count,
                                                   GCancellable *cancellable,
                                                   GAsyncReadyCallback callback, gpointer user_data);
AmmConversation *amm_client_fetch_messages_finish (AmmClient *self, GAsyncResult *result, GError **error);

/* Test hooks: shorten the reconnect back-off (base and max delays in ms). */
void amm_client_set_backoff (AmmClient *self, guint base_ms, guint max_ms, guint max_attempts);
/* Test hook: every request of the client times out after at most `ms` ms (0: the normal
 * per-request timeouts, docs/protocol.md §1). */
void amm_client_set_request_timeout (AmmClient *self, guint ms);
/* Test hook: the client refuses 2xx answers over `bytes` (0: AMM_MAX_RESPONSE_BYTES, 16 MiB,
 * which is also the most it can be), as it refuses real ones over 16 MiB. */
void amm_client_set_max_response_bytes (AmmClient *self, gsize bytes);

/* The proxy resolver of the client's session (NULL: direct connections, no proxy lookup in a
 * worker thread). By default libsoup uses the system's (g_proxy_resolver_get_default()). */
void amm_client_set_proxy_resolver (AmmClient *self, GProxyResolver *resolver);

/* The current sync cursor (the last one ::cursor-changed announced, or the one start_sync got);
 * NULL before the first listing of a first login. */
const char *amm_client_get_cursor (AmmClient *self);

/* Signals (C handler arguments after the client; marshalled as G_TYPE_POINTER,
 * G_TYPE_POINTER, G_TYPE_BOOLEAN / G_TYPE_STRING / G_TYPE_UINT, G_TYPE_BOOLEAN / G_TYPE_ERROR):
 *   "message-received"  (AmmConversation *conv, AmmMessage *msg, gboolean from_self)
 *        a message to show, oldest first within a conversation, each exactly once.
 *        from_self: sent by this user from another device/client.
 *   "cursor-changed"    (const char *cursor)  store it: every message it covers was delivered.
 *   "channel-changed"   (guint kind (an AmmChannelKind), gboolean up)
 *   "connection-lost"   (GError *error)  gave up reconnecting, or the credentials stopped working.
 */

G_END_DECLS
