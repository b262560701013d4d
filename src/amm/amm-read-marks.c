/* amm-read-marks.c: read marks, batched (amm-conversations.h "Read state").
 *
 * Marks are queued and sent with markAsReadBatch (messageIds.v1) at most every 2 s, as Avaya's
 * SDK batches them, in batches of at most maxBatchSize, one batch at a time (the next when the
 * previous is answered); a failed batch is queued again and retried with the next flush.
 */
#include "amm-conv-private.h"

#include "amm-http.h"
#include "amm-protocol.h"

#define READ_BATCH_DELAY_MS 2000
/* A UI without a notion of focus marks every message of a first login read: 50,000 marks are
 * 500 batches, which must not take the connections the listing's chunks need. */
#define READ_BATCHES_IN_FLIGHT 1

typedef struct {
  AmmClient *client;   /* plain: the client's cancellable is cancelled before it goes */
  GPtrArray *ids;      /* char* */
} ReadBatch;

static void
read_batch_free (ReadBatch *rb)
{
  g_ptr_array_unref (rb->ids);
  g_free (rb);
}

void
amm_read_marks_init (AmmConvState *st)
{
  g_queue_init (&st->read_queue);
  st->read_queued = g_hash_table_new (g_str_hash, g_str_equal);
}

void
amm_read_marks_stop (AmmConvState *st)
{
  if (st->read_timer) {
    g_source_remove (st->read_timer);
    st->read_timer = 0;
  }
}

void
amm_read_marks_clear (AmmConvState *st)
{
  amm_read_marks_stop (st);
  g_hash_table_destroy (st->read_queued);
  g_queue_clear_full (&st->read_queue, g_free);
}

static void schedule_flush (AmmClient *self);

static void
requeue (AmmConvState *st, GPtrArray *ids)
{
  for (guint i = ids->len; i-- > 0;) {
    const char *id = g_ptr_array_index (ids, i);
    if (g_hash_table_contains (st->read_queued, id))
      continue;
    char *copy = g_strdup (id);
    g_queue_push_head (&st->read_queue, copy);
    g_hash_table_add (st->read_queued, copy);
  }
}

static void
on_batch_sent (GObject *src, GAsyncResult *res, gpointer data)
{
  ReadBatch *rb = data;
  GError *error = NULL;
  g_autoptr (GBytes) body = amm_http_send_finish (res, NULL, NULL, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_error_free (error);
    read_batch_free (rb);
    return;
  }
  AmmClient *self = rb->client;
  AmmConvState *st = amm_client_get_conv_state (self);
  st->read_in_flight--;
  if (body == NULL) {
    g_debug ("amm-read-marks: marking %u message(s) read failed: %s", rb->ids->len, error->message);
    /* a message that is gone or not ours will never succeed: do not retry those forever */
    if (!g_error_matches (error, AMM_ERROR, AMM_ERROR_NOT_FOUND) && !g_error_matches (error, AMM_ERROR, AMM_ERROR_FORBIDDEN)
        && !g_error_matches (error, AMM_ERROR, AMM_ERROR_REJECTED)) {
      requeue (st, rb->ids);
      schedule_flush (self);
    }
    g_error_free (error);
  }
  /* the next batch of a flush (a batch queued again waits for the timer) */
  if (st->read_timer == 0 && !g_queue_is_empty (&st->read_queue))
    amm_client_flush_read (self);
  read_batch_free (rb);
}

static void
send_batch (AmmClient *self, GPtrArray *ids)
{
  AmmConvState *st = amm_client_get_conv_state (self);
  const AmmResources *r = amm_client_get_resources (self);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "messageIds");
  json_builder_begin_array (b);
  for (guint i = 0; i < ids->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (ids, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  g_autofree char *json = amm_http_json_to_string (node);
  GError *error = NULL;
  g_autoptr (SoupMessage) msg = amm_http_request_new ("POST", r->mark_as_read_batch_href, amm_client_get_auth (self),
                                                      AMM_TYPE_ERROR, AMM_TYPE_MESSAGE_IDS, json, -1, &error);
  if (msg == NULL) {
    g_debug ("amm-read-marks: %s", error->message);
    g_error_free (error);
    g_ptr_array_unref (ids);
    return;
  }
  soup_message_add_flags (msg, SOUP_MESSAGE_IDEMPOTENT); /* marking twice is harmless */
  ReadBatch *rb = g_new0 (ReadBatch, 1);
  rb->client = self;
  rb->ids = ids;
  st->read_in_flight++;
  amm_http_send_async (amm_client_get_session (self), msg, AMM_REST_TIMEOUT_SECONDS,
                       amm_client_get_cancellable (self), NULL, on_batch_sent, rb);
}

void
amm_client_flush_read (AmmClient *self)
{
  AmmConvState *st = amm_client_get_conv_state (self);
  amm_read_marks_stop (st);
  const AmmResources *r = amm_client_get_resources (self);
  if (amm_client_is_shut_down (self) || r == NULL || g_queue_is_empty (&st->read_queue))
    return;
  if (r->mark_as_read_batch_href == NULL) {
    g_debug ("amm-read-marks: the server offers no markAsReadBatch; %u mark(s) dropped",
             g_queue_get_length (&st->read_queue));
    g_hash_table_remove_all (st->read_queued);
    g_queue_clear_full (&st->read_queue, g_free);
    return;
  }
  guint max = r->mark_as_read_max_batch ? r->mark_as_read_max_batch : G_MAXUINT;
  while (st->read_in_flight < READ_BATCHES_IN_FLIGHT && !g_queue_is_empty (&st->read_queue)) {
    GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
    while (ids->len < max && !g_queue_is_empty (&st->read_queue)) {
      char *id = g_queue_pop_head (&st->read_queue);
      g_hash_table_remove (st->read_queued, id);
      g_ptr_array_add (ids, id);
    }
    send_batch (self, ids);
  }
}

static gboolean
on_flush_timer (gpointer data)
{
  AmmClient *self = data;
  amm_client_get_conv_state (self)->read_timer = 0;
  amm_client_flush_read (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_flush (AmmClient *self)
{
  AmmConvState *st = amm_client_get_conv_state (self);
  if (st->read_timer == 0 && !amm_client_is_shut_down (self))
    st->read_timer = g_timeout_add (READ_BATCH_DELAY_MS, on_flush_timer, self);
}

void
amm_client_mark_read (AmmClient *self, const char *thread_id, const char *message_id)
{
  AmmConvState *st = amm_client_get_conv_state (self);
  if (message_id == NULL || *message_id == '\0' || amm_client_is_shut_down (self))
    return;
  amm_conv_forget_unread (self, message_id); /* read here: no "message-read" for it */
  if (g_hash_table_contains (st->read_queued, message_id))
    return;
  char *copy = g_strdup (message_id);
  g_queue_push_tail (&st->read_queue, copy);
  g_hash_table_add (st->read_queued, copy);
  schedule_flush (self);
}
