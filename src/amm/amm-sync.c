/* amm-sync.c: see amm-sync.h. */
#include "amm-sync.h"

#include <stdlib.h>
#include <string.h>
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

/* The cursor (docs/protocol.md §5): "<ISO> ids=<id>,<id>" — the listing's lastUpdated and the
 * ids (percent-encoded) of the messages received at exactly that instant that were delivered
 * or deliberately skipped. An old plain "<ISO>" cursor means: every message received at exactly
 * that instant was covered. */
#define CURSOR_IDS_PREFIX "ids="

struct _AmmSync {
  char      *self_address;
  char      *cursor;      /* the full string */
  char      *cursor_iso;  /* its time: what listings ask `after` */
  GDateTime *cursor_dt;
  GHashTable *cursor_ids; /* ids received at exactly cursor_dt that are covered; NULL = all (old cursor) */
  IdSet      seen;        /* delivered or deliberately skipped */
  IdSet      sent;        /* returned by the outbox to this client */
};

typedef struct {
  AmmConversation *conv;
  GPtrArray       *messages;   /* AmmMessage*, newest first */
  guint            pages;
  gboolean         exhausted;
  GHashTable      *ids;        /* of the messages' ids (not owned); made at the first page */
} BatchConv;

struct _AmmSyncBatch {
  AmmConversationList *list;   /* the listing, or the current chunk; NULL before the first chunk */
  GPtrArray           *convs;  /* BatchConv* */
  guint                next;   /* convs before it need no (more) pages: paging is O(N + pages) */
  char                *last_updated; /* chunked: the ids document's lastUpdated; else NULL */
  GDateTime           *last_updated_dt;
  GHashTable          *covered;      /* chunked: ids at exactly that instant in earlier chunks */
};

static void
batch_conv_free (BatchConv *bc)
{
  amm_conversation_unref (bc->conv);
  g_ptr_array_unref (bc->messages);
  g_clear_pointer (&bc->ids, g_hash_table_unref);
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
  g_free (s->cursor_iso);
  g_clear_pointer (&s->cursor_dt, g_date_time_unref);
  g_clear_pointer (&s->cursor_ids, g_hash_table_unref);
  idset_clear (&s->seen);
  idset_clear (&s->sent);
  g_free (s);
}

static GHashTable *
id_table_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/* Parse "<ISO>[ ids=a,b]". `ids` NULL: a plain (old) cursor. FALSE when unparseable. */
static gboolean
parse_cursor (const char *cursor, char **iso, GDateTime **dt, GHashTable **ids)
{
  const char *sp = strchr (cursor, ' ');
  g_autofree char *time = sp ? g_strndup (cursor, sp - cursor) : g_strdup (cursor);
  GDateTime *parsed = amm_time_parse (time, NULL);
  if (parsed == NULL)
    return FALSE;
  *ids = NULL;
  if (sp && g_str_has_prefix (sp + 1, CURSOR_IDS_PREFIX)) {
    *ids = id_table_new ();
    g_auto (GStrv) list = g_strsplit (sp + 1 + strlen (CURSOR_IDS_PREFIX), ",", -1);
    for (guint i = 0; list[i]; i++) {
      char *id = g_uri_unescape_string (list[i], NULL);
      if (id && *id)
        g_hash_table_add (*ids, id);
      else
        g_free (id);
    }
  }
  *iso = g_steal_pointer (&time);
  *dt = parsed;
  return TRUE;
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

/* Takes iso, dt and ids. */
static void
set_cursor_parts (AmmSync *s, char *iso, GDateTime *dt, GHashTable *ids)
{
  g_free (s->cursor);
  g_free (s->cursor_iso);
  g_clear_pointer (&s->cursor_dt, g_date_time_unref);
  g_clear_pointer (&s->cursor_ids, g_hash_table_unref);
  s->cursor = NULL;
  s->cursor_iso = iso;
  s->cursor_dt = dt;
  s->cursor_ids = ids;
  if (iso == NULL)
    return;
  if (ids == NULL) {
    s->cursor = g_strdup (iso);
    return;
  }
  GString *str = g_string_new (iso);
  g_string_append (str, " " CURSOR_IDS_PREFIX);
  g_autofree gpointer *keys = g_hash_table_get_keys_as_array (ids, NULL);
  guint n = g_hash_table_size (ids);
  qsort (keys, n, sizeof (gpointer), cmp_str);
  for (guint i = 0; i < n; i++) {
    g_autofree char *esc = g_uri_escape_string (keys[i], NULL, FALSE);
    if (i > 0)
      g_string_append_c (str, ',');
    g_string_append (str, esc);
  }
  s->cursor = g_string_free (str, FALSE);
}

void
amm_sync_start (AmmSync *s, const char *cursor)
{
  char *iso = NULL;
  GDateTime *dt = NULL;
  GHashTable *ids = NULL;
  /* an unparseable stored cursor counts as none */
  if (cursor && parse_cursor (cursor, &iso, &dt, &ids))
    set_cursor_parts (s, iso, dt, ids);
  else
    set_cursor_parts (s, NULL, NULL, NULL);
}

const char *
amm_sync_get_cursor (AmmSync *s)
{
  return s->cursor;
}

const char *
amm_sync_get_after (AmmSync *s)
{
  return s->cursor_iso;
}

/* When a message arrived: receivedDate (lastModifiedDate changes when it is read). */
static GDateTime *
msg_time (const AmmMessage *m)
{
  return m->received_date ? m->received_date : m->last_modified_date;
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

static void
batch_fill (AmmSyncBatch *b, AmmConversationList *list)
{
  b->list = amm_conversation_list_ref (list);
  b->next = 0;
  for (guint i = 0; i < list->conversations->len; i++) {
    AmmConversation *c = g_ptr_array_index (list->conversations, i);
    BatchConv *bc = g_new0 (BatchConv, 1);
    bc->conv = amm_conversation_ref (c);
    bc->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_message_unref);
    for (guint j = 0; j < c->messages->len; j++)
      g_ptr_array_add (bc->messages, amm_message_ref (g_ptr_array_index (c->messages, j)));
    g_ptr_array_add (b->convs, bc);
  }
}

AmmSyncBatch *
amm_sync_batch_new (AmmSync *s, AmmConversationList *list)
{
  AmmSyncBatch *b = g_new0 (AmmSyncBatch, 1);
  b->convs = g_ptr_array_new_with_free_func ((GDestroyNotify) batch_conv_free);
  batch_fill (b, list);
  return b;
}

AmmSyncBatch *
amm_sync_batch_new_chunked (AmmSync *s, const char *last_updated)
{
  AmmSyncBatch *b = g_new0 (AmmSyncBatch, 1);
  b->convs = g_ptr_array_new_with_free_func ((GDestroyNotify) batch_conv_free);
  b->last_updated = g_strdup (last_updated);
  b->last_updated_dt = last_updated ? amm_time_parse (last_updated, NULL) : NULL;
  b->covered = id_table_new ();
  return b;
}

/* Add to `ids` the ids of the batch's messages received at exactly `dt`. */
static void
collect_ids_at (AmmSyncBatch *b, GDateTime *dt, GHashTable *ids)
{
  for (guint i = 0; dt && i < b->convs->len; i++) {
    BatchConv *bc = g_ptr_array_index (b->convs, i);
    for (guint j = 0; j < bc->messages->len; j++) {
      AmmMessage *m = g_ptr_array_index (bc->messages, j);
      if (m->id && msg_time (m) && amm_time_compare (msg_time (m), dt) == 0)
        g_hash_table_add (ids, g_strdup (m->id));
    }
  }
}

void
amm_sync_batch_next_chunk (AmmSync *s, AmmSyncBatch *b, AmmConversationList *chunk)
{
  g_return_if_fail (b->covered != NULL);
  /* the previous chunk's ids at the cursor's instant went to b->covered when its deliveries
   * were taken; one that failed before (paging back) is fetched again and was never counted */
  g_ptr_array_set_size (b->convs, 0);
  g_clear_pointer (&b->list, amm_conversation_list_unref);
  batch_fill (b, chunk);
}

void
amm_sync_batch_free (AmmSyncBatch *b)
{
  if (b == NULL)
    return;
  g_clear_pointer (&b->list, amm_conversation_list_unref);
  g_ptr_array_unref (b->convs);
  g_free (b->last_updated);
  g_clear_pointer (&b->last_updated_dt, g_date_time_unref);
  g_clear_pointer (&b->covered, g_hash_table_unref);
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
  if (oldest->event_type == AMM_EVENT_START || msg_time (oldest) == NULL)
    return FALSE;
  int c = amm_time_compare (msg_time (oldest), s->cursor_dt);
  if (c != 0)
    return c > 0;
  /* at the cursor's instant: a message the cursor covers was there when the cursor was made, and
   * so was everything older; one it does not cover may share that millisecond with others */
  return s->cursor_ids != NULL && (oldest->id == NULL || !g_hash_table_contains (s->cursor_ids, oldest->id));
}

gboolean
amm_sync_batch_next_page (AmmSync *s, AmmSyncBatch *b, const char **thread_id, const char **before_id)
{
  /* only the conversation being paged changes between calls: the ones before b->next are done */
  for (guint i = b->next; i < b->convs->len; i++, b->next = i) {
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
  for (guint n = 0; n < b->convs->len; n++) {
    /* the page is normally for b->next (amm_sync_batch_next_page): look there first */
    guint i = (b->next + n) % b->convs->len;
    BatchConv *bc = g_ptr_array_index (b->convs, i);
    if (g_strcmp0 (bc->conv->id, thread_id) != 0)
      continue;
    bc->pages++;
    if (bc->ids == NULL) {
      bc->ids = g_hash_table_new (g_str_hash, g_str_equal);
      for (guint k = 0; k < bc->messages->len; k++) {
        AmmMessage *m = g_ptr_array_index (bc->messages, k);
        g_hash_table_add (bc->ids, m->id ? m->id : (char *) "");
      }
    }
    guint added = 0;
    for (guint j = 0; page && j < page->messages->len; j++) {
      AmmMessage *m = g_ptr_array_index (page->messages, j);
      /* (an id-less message was compared as NULL == NULL before: still one of them at most) */
      gboolean dup = m->id ? g_hash_table_contains (bc->ids, m->id) : g_hash_table_contains (bc->ids, "");
      if (!dup) {
        g_ptr_array_add (bc->messages, amm_message_ref (m));
        g_hash_table_add (bc->ids, m->id ? m->id : (char *) "");
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
  /* New-ness is by receivedDate: a later lastModifiedDate (read elsewhere) is an update only. */
  GDateTime *t = msg_time (m);
  if (t == NULL)
    return FALSE;
  int c = amm_time_compare (t, s->cursor_dt);
  if (c < 0)
    return FALSE;
  if (c == 0 && (s->cursor_ids == NULL || g_hash_table_contains (s->cursor_ids, m->id)))
    return FALSE; /* covered by the listing that produced the cursor */
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
        cd->first = msg_time (m);
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
  if (b->covered) /* chunked: this chunk's messages at the cursor's instant are covered now */
    collect_ids_at (b, b->last_updated_dt, b->covered);
  g_ptr_array_sort (per_conv, cmp_conv_deliveries);
  guint total = 0;
  for (guint i = 0; i < per_conv->len; i++)
    total += ((ConvDeliveries *) g_ptr_array_index (per_conv, i))->items->len;
  GPtrArray *out = g_ptr_array_new_full (total, (GDestroyNotify) delivery_free);
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
  const char *lu = b->last_updated ? b->last_updated : b->list ? b->list->last_updated : NULL;
  if (lu == NULL)
    return FALSE;
  GDateTime *dt = amm_time_parse (lu, NULL);
  if (dt == NULL)
    return FALSE;
  /* never move the cursor backwards (a listing that started before a newer one finished) */
  if (s->cursor_dt && amm_time_compare (dt, s->cursor_dt) < 0) {
    g_date_time_unref (dt);
    return FALSE;
  }
  /* the ids received at exactly the new cursor's instant: this batch's (all delivered or
   * skipped now), plus the old cursor's when the instant did not move */
  GHashTable *ids = id_table_new ();
  if (s->cursor_dt && s->cursor_ids && amm_time_compare (dt, s->cursor_dt) == 0) {
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init (&it, s->cursor_ids);
    while (g_hash_table_iter_next (&it, &key, NULL))
      g_hash_table_add (ids, g_strdup (key));
  }
  collect_ids_at (b, dt, ids);
  if (b->covered) { /* earlier chunks */
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init (&it, b->covered);
    while (g_hash_table_iter_next (&it, &key, NULL))
      g_hash_table_add (ids, g_strdup (key));
  }
  g_autofree char *old = g_strdup (s->cursor);
  set_cursor_parts (s, g_strdup (lu), dt, ids);
  return g_strcmp0 (old, s->cursor) != 0;
}
