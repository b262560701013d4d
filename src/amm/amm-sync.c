/* amm-sync.c: see amm-sync.h. */
#include "amm-sync.h"

#include "amm-time.h"

#define MAX_PAGES_PER_CONVERSATION 1000

/* A bounded set of ids, pruned oldest first. */
typedef struct {
  GHashTable *set;
  GQueue      order;
} IdSet;

static void
idset_init (IdSet *s)
{
  s->set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init (&s->order);
}

static void
idset_clear (IdSet *s)
{
  g_queue_clear (&s->order); /* the strings belong to the table */
  g_hash_table_destroy (s->set);
}

static gboolean
idset_has (IdSet *s, const char *id)
{
  return id != NULL && g_hash_table_contains (s->set, id);
}

static void
idset_add (IdSet *s, const char *id)
{
  if (id == NULL || g_hash_table_contains (s->set, id))
    return;
  char *copy = g_strdup (id);
  g_hash_table_add (s->set, copy);
  g_queue_push_tail (&s->order, copy);
  while (g_queue_get_length (&s->order) > AMM_SYNC_SEEN_CAP) {
    char *old = g_queue_pop_head (&s->order);
    g_hash_table_remove (s->set, old); /* frees it */
  }
}

struct _AmmSync {
  char      *self_address;
  char      *cursor;
  GDateTime *cursor_dt;
  GDateTime *resume_dt;   /* the cursor given to amm_sync_start, if any */
  IdSet      seen;        /* delivered or deliberately skipped */
  IdSet      sent;        /* returned by the outbox to this client */
};

typedef struct {
  AmmConversation *conv;
  GPtrArray       *messages;   /* AmmMessage*, newest first */
  guint            pages;
  gboolean         exhausted;
} BatchConv;

struct _AmmSyncBatch {
  AmmConversationList *list;
  GPtrArray           *convs;  /* BatchConv* */
};

static void
batch_conv_free (BatchConv *bc)
{
  amm_conversation_unref (bc->conv);
  g_ptr_array_unref (bc->messages);
  g_free (bc);
}

AmmSync *
amm_sync_new (const char *self_address)
{
  AmmSync *s = g_new0 (AmmSync, 1);
  s->self_address = g_strdup (self_address);
  idset_init (&s->seen);
  idset_init (&s->sent);
  return s;
}

void
amm_sync_free (AmmSync *s)
{
  if (s == NULL)
    return;
  g_free (s->self_address);
  g_free (s->cursor);
  g_clear_pointer (&s->cursor_dt, g_date_time_unref);
  g_clear_pointer (&s->resume_dt, g_date_time_unref);
  idset_clear (&s->seen);
  idset_clear (&s->sent);
  g_free (s);
}

static void
set_cursor (AmmSync *s, const char *cursor)
{
  GDateTime *dt = cursor ? amm_time_parse (cursor, NULL) : NULL;
  g_free (s->cursor);
  g_clear_pointer (&s->cursor_dt, g_date_time_unref);
  if (dt == NULL) {
    s->cursor = NULL;
    return;
  }
  s->cursor = g_strdup (cursor);
  s->cursor_dt = dt;
}

void
amm_sync_start (AmmSync *s, const char *cursor)
{
  set_cursor (s, cursor); /* an unparseable stored cursor counts as none */
  g_clear_pointer (&s->resume_dt, g_date_time_unref);
  if (s->cursor_dt)
    s->resume_dt = g_date_time_ref (s->cursor_dt);
}

const char *
amm_sync_get_cursor (AmmSync *s)
{
  return s->cursor;
}

gboolean
amm_sync_is_first_login (AmmSync *s)
{
  return s->cursor == NULL;
}

void
amm_sync_remember_sent (AmmSync *s, const char *id)
{
  idset_add (&s->sent, id);
}

gboolean
amm_sync_was_sent (AmmSync *s, const char *id)
{
  return idset_has (&s->sent, id);
}

gboolean
amm_sync_is_from_self (AmmSync *s, const AmmMessage *msg)
{
  return msg->from && msg->from->address && s->self_address
         && g_ascii_strcasecmp (msg->from->address, s->self_address) == 0;
}

AmmSyncBatch *
amm_sync_batch_new (AmmSync *s, AmmConversationList *list)
{
  AmmSyncBatch *b = g_new0 (AmmSyncBatch, 1);
  b->list = amm_conversation_list_ref (list);
  b->convs = g_ptr_array_new_with_free_func ((GDestroyNotify) batch_conv_free);
  for (guint i = 0; i < list->conversations->len; i++) {
    AmmConversation *c = g_ptr_array_index (list->conversations, i);
    BatchConv *bc = g_new0 (BatchConv, 1);
    bc->conv = amm_conversation_ref (c);
    bc->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_message_unref);
    for (guint j = 0; j < c->messages->len; j++)
      g_ptr_array_add (bc->messages, amm_message_ref (g_ptr_array_index (c->messages, j)));
    g_ptr_array_add (b->convs, bc);
  }
  return b;
}

void
amm_sync_batch_free (AmmSyncBatch *b)
{
  if (b == NULL)
    return;
  amm_conversation_list_unref (b->list);
  g_ptr_array_unref (b->convs);
  g_free (b);
}

AmmConversationList *
amm_sync_batch_get_list (AmmSyncBatch *b)
{
  return b->list;
}

static gboolean
needs_page (AmmSync *s, BatchConv *bc)
{
  if (s->cursor_dt == NULL || bc->exhausted || bc->messages->len == 0 || bc->pages >= MAX_PAGES_PER_CONVERSATION)
    return FALSE;
  AmmMessage *oldest = g_ptr_array_index (bc->messages, bc->messages->len - 1);
  if (oldest->event_type == AMM_EVENT_START || oldest->last_modified_date == NULL)
    return FALSE;
  return amm_time_compare (oldest->last_modified_date, s->cursor_dt) > 0;
}

gboolean
amm_sync_batch_next_page (AmmSync *s, AmmSyncBatch *b, const char **thread_id, const char **before_id)
{
  for (guint i = 0; i < b->convs->len; i++) {
    BatchConv *bc = g_ptr_array_index (b->convs, i);
    if (needs_page (s, bc)) {
      AmmMessage *oldest = g_ptr_array_index (bc->messages, bc->messages->len - 1);
      *thread_id = bc->conv->id;
      *before_id = oldest->id;
      return TRUE;
    }
  }
  return FALSE;
}

void
amm_sync_batch_add_page (AmmSync *s, AmmSyncBatch *b, const char *thread_id, AmmConversation *page)
{
  for (guint i = 0; i < b->convs->len; i++) {
    BatchConv *bc = g_ptr_array_index (b->convs, i);
    if (g_strcmp0 (bc->conv->id, thread_id) != 0)
      continue;
    bc->pages++;
    guint added = 0;
    for (guint j = 0; page && j < page->messages->len; j++) {
      AmmMessage *m = g_ptr_array_index (page->messages, j);
      gboolean dup = FALSE;
      for (guint k = 0; k < bc->messages->len && !dup; k++)
        dup = g_strcmp0 (((AmmMessage *) g_ptr_array_index (bc->messages, k))->id, m->id) == 0;
      if (!dup) {
        g_ptr_array_add (bc->messages, amm_message_ref (m));
        added++;
      }
    }
    if (added == 0)
      bc->exhausted = TRUE;
    return;
  }
}

/* Should `m` be delivered from this batch? */
static gboolean
is_candidate (AmmSync *s, AmmMessage *m)
{
  if (m->id == NULL || m->event_type == AMM_EVENT_START || idset_has (&s->seen, m->id))
    return FALSE;
  if (s->cursor_dt == NULL) /* first login: unread messages from others */
    return !m->read && !amm_sync_is_from_self (s, m);
  if (m->last_modified_date == NULL || amm_time_compare (m->last_modified_date, s->cursor_dt) < 0)
    return FALSE;
  if (s->resume_dt && amm_time_compare (m->last_modified_date, s->resume_dt) <= 0)
    return FALSE; /* covered by the listing of the session that stored the cursor */
  return TRUE;
}

gboolean
amm_sync_batch_must_wait (AmmSync *s, AmmSyncBatch *b, guint sends_in_flight)
{
  if (sends_in_flight == 0)
    return FALSE;
  for (guint i = 0; i < b->convs->len; i++) {
    BatchConv *bc = g_ptr_array_index (b->convs, i);
    for (guint j = 0; j < bc->messages->len; j++) {
      AmmMessage *m = g_ptr_array_index (bc->messages, j);
      if (is_candidate (s, m) && amm_sync_is_from_self (s, m) && !idset_has (&s->sent, m->id))
        return TRUE;
    }
  }
  return FALSE;
}

static void
delivery_free (AmmDelivery *d)
{
  amm_conversation_unref (d->conv);
  amm_message_unref (d->msg);
  g_free (d);
}

typedef struct {
  GDateTime *first;  /* oldest new message of the conversation */
  guint      index;
  GPtrArray *items;  /* AmmDelivery*, oldest first */
} ConvDeliveries;

static gint
cmp_conv_deliveries (gconstpointer a, gconstpointer b)
{
  const ConvDeliveries *x = *(ConvDeliveries * const *) a, *y = *(ConvDeliveries * const *) b;
  int c = amm_time_compare (x->first, y->first);
  return c != 0 ? c : (x->index < y->index ? -1 : x->index > y->index);
}

GPtrArray *
amm_sync_batch_take_deliveries (AmmSync *s, AmmSyncBatch *b)
{
  GPtrArray *per_conv = g_ptr_array_new ();
  for (guint i = 0; i < b->convs->len; i++) {
    BatchConv *bc = g_ptr_array_index (b->convs, i);
    ConvDeliveries *cd = NULL;
    for (guint j = bc->messages->len; j-- > 0;) { /* oldest first */
      AmmMessage *m = g_ptr_array_index (bc->messages, j);
      gboolean candidate = is_candidate (s, m);
      gboolean own = candidate && idset_has (&s->sent, m->id);
      if (m->id)
        idset_add (&s->seen, m->id); /* delivered now, or deliberately skipped */
      if (!candidate || own)
        continue;
      if (cd == NULL) {
        cd = g_new0 (ConvDeliveries, 1);
        cd->first = m->last_modified_date;
        cd->index = i;
        cd->items = g_ptr_array_new ();
        g_ptr_array_add (per_conv, cd);
      }
      AmmDelivery *d = g_new0 (AmmDelivery, 1);
      d->conv = amm_conversation_ref (bc->conv);
      d->msg = amm_message_ref (m);
      d->from_self = amm_sync_is_from_self (s, m);
      g_ptr_array_add (cd->items, d);
    }
  }
  g_ptr_array_sort (per_conv, cmp_conv_deliveries);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) delivery_free);
  for (guint i = 0; i < per_conv->len; i++) {
    ConvDeliveries *cd = g_ptr_array_index (per_conv, i);
    for (guint j = 0; j < cd->items->len; j++)
      g_ptr_array_add (out, g_ptr_array_index (cd->items, j));
    g_ptr_array_unref (cd->items);
    g_free (cd);
  }
  g_ptr_array_unref (per_conv);
  return out;
}

gboolean
amm_sync_commit (AmmSync *s, AmmSyncBatch *b)
{
  const char *lu = b->list->last_updated;
  if (lu == NULL || g_strcmp0 (lu, s->cursor) == 0)
    return FALSE;
  g_autoptr (GDateTime) dt = amm_time_parse (lu, NULL);
  if (dt == NULL)
    return FALSE;
  /* never move the cursor backwards (a listing that started before a newer one finished) */
  if (s->cursor_dt && amm_time_compare (dt, s->cursor_dt) < 0)
    return FALSE;
  set_cursor (s, lu);
  return TRUE;
}
