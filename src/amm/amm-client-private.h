/* amm-client-private.h: what the conversation module (amm-conversations.c) needs of the
 * client's internals, and the hooks the client calls into it. Private to src/amm/. */
#pragma once

#include <libsoup/soup.h>
#include "amm-channel.h"
#include "amm-client.h"
#include "amm-sync.h"

G_BEGIN_DECLS

/* ---- accessors (amm-client.c) ---- */
SoupSession  *amm_client_get_session (AmmClient *self);
const char   *amm_client_get_auth (AmmClient *self);
GCancellable *amm_client_get_cancellable (AmmClient *self);   /* cancelled by shutdown */
const char   *amm_client_get_base_url (AmmClient *self);
/* The channel when it is up (subscribed), else NULL. */
AmmChannel   *amm_client_get_live_channel (AmmClient *self);
/* FALSE after shutdown or a lost connection: emit nothing then. */
gboolean      amm_client_can_emit (AmmClient *self);
gboolean      amm_client_is_shut_down (AmmClient *self);
/* The URL of a conversation: its cached href, else C/{escaped id}. */
char         *amm_client_conversation_url (AmmClient *self, const char *thread_id);
/* Post a message to the outbox: subject (nullable = ""), event_type (nullable = none sent),
 * to (nullable; with thread_id NULL self is added). Remembered as sent (no echo) and its new
 * conversation cached, as amm_client_send_text_async. Finish with amm_client_send_text_finish. */
void          amm_client_post_outbox_async (AmmClient *self, const char *thread_id,
                                            const char * const *to, const char *subject,
                                            const char *body, const char *event_type,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback, gpointer user_data);

/* ---- hooks (amm-conversations.c) ---- */
typedef struct _AmmConvState AmmConvState;
AmmConvState *amm_conv_state_new (void);
void          amm_conv_state_free (AmmConvState *state);
AmmConvState *amm_client_get_conv_state (AmmClient *self);         /* amm-client.c */
/* A listing (after the cache took it): conversation-changed and message-read. */
void amm_conv_on_listing (AmmClient *self, AmmConversationList *list);
/* A message was delivered through message-received. */
void amm_conv_on_delivered (AmmClient *self, AmmConversation *conv, AmmMessage *msg, gboolean from_self);
/* The channel is up (conversation subscription confirmed): renew chatState subscriptions. */
void amm_conv_on_channel_up (AmmClient *self);
/* A channel frame that is not the conversation's business (chatState notifications). */
void amm_conv_on_frame (AmmClient *self, AmmFrame *frame);
/* Shutdown: remove every timer. */
void amm_conv_on_shutdown (AmmClient *self);

/* ---- multipart sends (amm-upload.c; implemented in amm-client.c) ---- */
/* A send to the outbox is starting: listings wait for it (echo suppression). */
void        amm_client_outbox_begin (AmmClient *self);
/* It ended: `body` is the answer (NULL when the send failed). Parses the message, remembers it
 * as sent and caches its new conversation, as amm_client_send_text_async does. */
AmmMessage *amm_client_outbox_end (AmmClient *self, GBytes *body, GError **error);

/* ---- sends whose outcome was unknown (amm-send.c; implemented in amm-client.c) ---- */
/* The sync state (cursor, sent and delivered ids). */
AmmSync    *amm_client_get_sync (AmmClient *self);
/* A send in flight turned out to be stored as `msg` (found on the server): remember it as
 * sent and end it, as amm_client_outbox_end does with an answer. */
void        amm_client_outbox_adopt (AmmClient *self, AmmMessage *msg);

G_END_DECLS
