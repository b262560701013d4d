/* amm-sync.h: what to deliver from a listing (docs/protocol.md §6 "What the client delivers").
 *
 * One concern, no I/O: the cursor, the bounded set of delivered ids, the ids this client
 * sent, and for one listing (a batch) which conversations need paging back and which
 * messages to deliver, in which order.
 */
#pragma once

#include "amm-models.h"

G_BEGIN_DECLS

typedef struct _AmmSync AmmSync;
typedef struct _AmmSyncBatch AmmSyncBatch;

typedef struct {
  AmmConversation *conv;
  AmmMessage      *msg;
  gboolean         from_self;
} AmmDelivery;

#define AMM_SYNC_SEEN_CAP 4096

AmmSync    *amm_sync_new (const char *self_address);
void        amm_sync_free (AmmSync *sync);
/* NULL = first login. The cursor (docs/protocol.md §5) is "<ISO> ids=<id>,<id>": the
 * lastUpdated of the last listing whose messages were all delivered, and the ids of the
 * messages received at exactly that instant which it covered. A plain "<ISO>" (stored by an
 * older version) means every message received at exactly that instant was covered. */
void        amm_sync_start (AmmSync *sync, const char *cursor);
/* The whole cursor string, to store. */
const char *amm_sync_get_cursor (AmmSync *sync);
/* Its ISO time: what an incremental listing asks `after` (NULL on first login). */
const char *amm_sync_get_after (AmmSync *sync);
gboolean    amm_sync_is_first_login (AmmSync *sync);
void        amm_sync_remember_sent (AmmSync *sync, const char *message_id);
gboolean    amm_sync_was_sent (AmmSync *sync, const char *message_id);
gboolean    amm_sync_is_from_self (AmmSync *sync, const AmmMessage *msg);

AmmSyncBatch *amm_sync_batch_new (AmmSync *sync, AmmConversationList *list);
/* A listing in chunks (docs/protocol.md §6 "Large listings"): an empty batch whose cursor will be
 * `last_updated` (the ids document's). Feed each chunk with amm_sync_batch_next_chunk once the
 * previous one was paged back and its deliveries taken; commit after the last one. */
AmmSyncBatch *amm_sync_batch_new_chunked (AmmSync *sync, const char *last_updated);
/* The next chunk replaces the batch's conversations (the messages at the cursor's instant of
 * every chunk whose deliveries were taken are kept for the commit; a chunk replaced before that,
 * one that failed while paging back, counts for nothing). */
void          amm_sync_batch_next_chunk (AmmSync *sync, AmmSyncBatch *batch, AmmConversationList *chunk);
void          amm_sync_batch_free (AmmSyncBatch *batch);
AmmConversationList *amm_sync_batch_get_list (AmmSyncBatch *batch);
/* The next conversation to page back (its id and the oldest message id so far); FALSE when none. */
gboolean amm_sync_batch_next_page (AmmSync *sync, AmmSyncBatch *batch, const char **thread_id,
                                   const char **before_id);
/* Add a page (messages newest first, all older than the last before_id). */
void     amm_sync_batch_add_page (AmmSync *sync, AmmSyncBatch *batch, const char *thread_id,
                                  AmmConversation *page);
/* TRUE if the batch holds a self-authored message that may be the echo of a send in flight. */
gboolean amm_sync_batch_must_wait (AmmSync *sync, AmmSyncBatch *batch, guint sends_in_flight);
/* The deliveries, in order (conversations by their oldest new message, messages oldest
 * first). Marks them delivered. Array of AmmDelivery*, owning refs. */
GPtrArray *amm_sync_batch_take_deliveries (AmmSync *sync, AmmSyncBatch *batch);
/* Adopt the batch's lastUpdated as the cursor (a chunked batch: its ids document's, and the
 * messages of every chunk); TRUE if it changed. */
gboolean amm_sync_commit (AmmSync *sync, AmmSyncBatch *batch);

G_END_DECLS
