/* amm-conversations.h: conversation operations of AmmClient beyond 1:1 text
 * (docs/protocol.md §12–§16): group conversations, participants, subject, leave,
 * address validation, read state and typing.
 *
 * Same rules as amm-client.h: every async call takes a GCancellable and calls back once
 * (G_IO_ERROR_CANCELLED after amm_client_shutdown); no signal after shutdown.
 */
#pragma once

#include "amm-client.h"

G_BEGIN_DECLS

/* ---- Limits and capabilities ---- */

/* The longest subject the server accepts. No wire field exists; Avaya's SDK hard-codes 50. */
#define AMM_MAX_SUBJECT_LENGTH 50

/* Check a text against resources->limits.max_text_length (characters, not bytes) before
 * sending. FALSE + AMM_ERROR_TOO_LARGE with a message naming the limit
 * ("The message is 10001 characters long; this server accepts at most 10000."). */
gboolean amm_client_check_text (AmmClient *self, const char *body, GError **error);
/* Same for a subject (AMM_MAX_SUBJECT_LENGTH characters). */
gboolean amm_client_check_subject (AmmClient *self, const char *subject, GError **error);

/* ---- Address validation ---- */

/* The local pre-check: looks like an e-mail address and its domain is one of the server's
 * routable `domains` (any domain when the server announced none). FALSE + AMM_ERROR_REJECTED
 * naming the address otherwise. */
gboolean amm_client_check_address (AmmClient *self, const char *address, GError **error);

typedef struct {
  char      *query;   /* the address asked for */
  AmmEntity *entity;  /* the server's canonical participant (addresses[0]); NULL = invalid */
} AmmValidation;
void amm_validation_free (AmmValidation *v);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmValidation, amm_validation_free)

/* validateAddresses: POST addressesToValidate.v1 (3.2) or GET ?address=… (3, 2.1).
 * Result: GPtrArray of AmmValidation*, one per address, same order. The local pre-check is
 * applied first: an address failing it is reported invalid without asking the server. */
void       amm_client_validate_addresses_async  (AmmClient *self, const char * const *addresses,
                                                 GCancellable *cancellable,
                                                 GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *amm_client_validate_addresses_finish (AmmClient *self, GAsyncResult *result, GError **error);

/* ---- Conversations ---- */

/* Start a conversation with `to` (self added) and a subject ("" for none): AMM creates it with
 * its first message. Checks text and subject limits first. Result: the stored message; its
 * thread_id names the new conversation, which is in the cache afterwards. */
void        amm_client_start_conversation_async  (AmmClient *self, const char * const *to,
                                                  const char *subject, const char *body,
                                                  GCancellable *cancellable,
                                                  GAsyncReadyCallback callback, gpointer user_data);
AmmMessage *amm_client_start_conversation_finish (AmmClient *self, GAsyncResult *result, GError **error);

/* GET C/{id}/participants (participants.v1) → GPtrArray of AmmEntity* (active participants). */
void       amm_client_list_participants_async  (AmmClient *self, const char *thread_id,
                                                GCancellable *cancellable,
                                                GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *amm_client_list_participants_finish (AmmClient *self, GAsyncResult *result, GError **error);

/* POST C/{id}/participants {participants:[{address,type:"CONTACT"}]} → the added AmmEntity*s. */
void       amm_client_add_participants_async  (AmmClient *self, const char *thread_id,
                                               const char * const *addresses,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *amm_client_add_participants_finish (AmmClient *self, GAsyncResult *result, GError **error);

/* DELETE C/{id}: leave the conversation on the server. */
void     amm_client_leave_async  (AmmClient *self, const char *thread_id, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
gboolean amm_client_leave_finish (AmmClient *self, GAsyncResult *result, GError **error);

/* Subject: 3.x POST C/{id} subject.v1 {subject}; 2.1 posts a SUBJECT_CHANGE event message to
 * the outbox. Checks the subject limit first. */
void     amm_client_set_subject_async  (AmmClient *self, const char *thread_id, const char *subject,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);
gboolean amm_client_set_subject_finish (AmmClient *self, GAsyncResult *result, GError **error);

/* Active participants of a cached conversation as the client knows them (from participant
 * listings and JOINED/LEFT events; else the newest message's `to`), self included.
 * GPtrArray of AmmEntity* (new ref'd array), NULL if the conversation is unknown. */
GPtrArray *amm_client_get_participants (AmmClient *self, const char *thread_id);

/* ---- Read state ---- */

/* Queue a message as read. Queued ids are sent with markAsReadBatch (messageIds.v1) at most
 * every 2 s, in batches of at most maxBatchSize, one batch at a time; failures are retried with
 * the next flush. */
void amm_client_mark_read (AmmClient *self, const char *thread_id, const char *message_id);
/* Send the first queued batch now rather than at the next 2 s flush; the others follow, one
 * when the previous is answered (a shutdown cancels what is still queued). */
void amm_client_flush_read (AmmClient *self);

/* ---- Typing (chatState over the notification channel) ---- */

typedef enum {
  AMM_TYPING_NONE,       /* stopped / expired */
  AMM_TYPING_COMPOSING,
  AMM_TYPING_PAUSED,
} AmmTypingState;

/* Subscribe to (or unsubscribe from) the chatState of a conversation. Subscriptions are
 * renewed after every reconnect. No-op without a WebSocket/SSE channel. */
void amm_client_watch_typing (AmmClient *self, const char *thread_id, gboolean watch);
/* Report the user's own state. COMPOSING is sent at most once per 5 s while it lasts; PAUSED
 * and NONE (sent as paused) are sent at once if COMPOSING was the last state sent.
 * Every COMPOSING report is local activity: when none comes for 15 s and the UI has not
 * reported PAUSED/NONE itself, the client sends "paused" on its own. */
void amm_client_send_typing (AmmClient *self, const char *thread_id, AmmTypingState state);
/* Test hook: the expiry of others' typing in ms (0 restores the default 60 s). */
void amm_client_set_typing_expiry (AmmClient *self, guint ms);
/* Test hook: the local inactivity after which the own COMPOSING falls back to PAUSED, in ms
 * (0 restores the default 15 s). Applies to timers armed afterwards. */
void amm_client_set_typing_idle (AmmClient *self, guint ms);

/* More signals of AmmClient:
 *   "typing"             (const char *thread_id, const char *address, guint state (AmmTypingState))
 *        another participant's chatState. COMPOSING expires by itself: the client emits
 *        AMM_TYPING_NONE 60 s after the last refresh.
 *   "message-read"       (AmmConversation *conv, AmmMessage *msg)
 *        a message that was delivered unread is now read by this user elsewhere. Never for a
 *        message this client marked read (amm_client_mark_read), even from within the
 *        "message-received" handler that delivers it.
 *   "conversation-changed" (AmmConversation *conv)
 *        a listing brought a conversation whose subject, active/closed flags or participants
 *        changed (or a new one); JOINED/LEFT/SUBJECT_CHANGE/CLOSED events still arrive as
 *        "message-received" with their event_type.
 */

G_END_DECLS
