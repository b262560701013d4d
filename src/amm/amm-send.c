/* amm-send.c: see amm-send.h and docs/protocol.md §7 "Sending when the outcome is unknown". */
#include "amm-send.h"

#include "amm-client-private.h"
#include "amm-conversations.h"
#include "amm-http.h"
#include "amm-protocol.h"
#include "amm-sync.h"
#include "amm-time.h"

#define VERIFY_BUDGET_MS   30000  /* how long to keep trying to find out */
#define VERIFY_BASE_MS     200
#define VERIFY_MAX_MS      3000
#define VERIFY_MAX_PAGES   10
#define RETRY_AFTER_MAX_S  10     /* a 503/429 asking to wait longer is reported instead */

static guint verify_budget_ms = VERIFY_BUDGET_MS;

void
amm_send_set_verify_budget (guint ms)
{
  verify_budget_ms = ms ? ms : VERIFY_BUDGET_MS;
}

typedef struct {
  AmmClient    *client;       /* the task's source object holds the reference */
  GTask        *task;
  char         *json, *content_type, *accept, *thread_id, *body, *event_type;
  GPtrArray    *recipients;
  GDateTime    *bound;        /* the cursor's time when the send started; NULL: none */
  guint         posts;
  GError       *last_error;   /* why the outcome is unknown */
  gint64        verify_deadline;
  guint         verify_failures;
  guint         timer_id;
  guint         pages;
  gulong        cancel_id;       /* on the client's cancellable (amm_client_shutdown) */
  gulong        task_cancel_id;  /* on the task's cancellable, if any */
  gboolean      cancelling;      /* timer_id is the idle that fails the send */
} SendOp;

static void post (SendOp *op);
static void verify (SendOp *op);
static gboolean on_post_timer (gpointer data);

static void
send_op_free (SendOp *op)
{
  if (op->timer_id)
    g_source_remove (op->timer_id);
  g_cancellable_disconnect (amm_client_get_cancellable (op->client), op->cancel_id);
  g_cancellable_disconnect (g_task_get_cancellable (op->task), op->task_cancel_id);
  g_free (op->json);
  g_free (op->content_type);
  g_free (op->accept);
  g_free (op->thread_id);
  g_free (op->body);
  g_free (op->event_type);
  g_ptr_array_unref (op->recipients);
  g_clear_pointer (&op->bound, g_date_time_unref);
  g_clear_error (&op->last_error);
  g_free (op);
}

static void
finish (SendOp *op, AmmMessage *msg, GError *error)
{
  GTask *task = op->task;
  if (msg)
    g_task_return_pointer (task, msg, (GDestroyNotify) amm_message_unref);
  else
    g_task_return_error (task, error);
  send_op_free (op);
  g_object_unref (task);
}

/* The send ends without a stored message: no longer in flight. */
static void
fail (SendOp *op, GError *error)
{
  amm_client_outbox_end (op->client, NULL, NULL);
  finish (op, NULL, error);
}

static gboolean
is_cancelled (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* An error after which the message may or may not be stored. */
static gboolean
outcome_unknown (const GError *error, guint status)
{
  if (status != 0 && !SOUP_STATUS_IS_SUCCESSFUL (status))
    return FALSE;   /* the server answered: a definite refusal */
  if (status != 0)
    return TRUE;    /* 2xx, but the answer was cut or unreadable: stored, id unknown */
  return g_error_matches (error, AMM_ERROR, AMM_ERROR_NETWORK)
         || g_error_matches (error, AMM_ERROR, AMM_ERROR_TIMEOUT);
}

/* ---- recognising the message on the server ---- */

static gboolean
same_participants (GPtrArray *recipients, AmmMessage *m)
{
  guint matched = 0;
  for (guint i = 0; i < m->to->len; i++) {
    AmmEntity *e = g_ptr_array_index (m->to, i);
    gboolean found = FALSE;
    for (guint j = 0; e->address && j < recipients->len && !found; j++)
      found = g_ascii_strcasecmp (e->address, g_ptr_array_index (recipients, j)) == 0;
    if (!found)
      return FALSE;
    matched++;
  }
  return matched == recipients->len;
}

static gboolean
is_ours (SendOp *op, AmmMessage *m)
{
  AmmSync *sync = amm_client_get_sync (op->client);
  AmmEventType want = AMM_EVENT_MESSAGE;
  if (op->event_type && g_strcmp0 (op->event_type, "SUBJECT_CHANGE") == 0)
    want = AMM_EVENT_SUBJECT_CHANGE;
  if (m->id == NULL || m->event_type != want || !amm_sync_is_from_self (sync, m)
      || g_strcmp0 (m->body, op->body) != 0 || amm_sync_was_sent (sync, m->id))
    return FALSE;
  if (op->bound && (m->received_date == NULL || amm_time_compare (m->received_date, op->bound) < 0))
    return FALSE;
  if (op->thread_id)
    return g_strcmp0 (m->thread_id, op->thread_id) == 0;
  return same_participants (op->recipients, m);
}

static void
found (SendOp *op, AmmMessage *m)
{
  g_debug ("amm-send: the message was stored after all (%s); not sending it again", m->id);
  amm_client_outbox_adopt (op->client, m);
  finish (op, amm_message_ref (m), NULL);
}

static void
not_found (SendOp *op)
{
  if (op->posts >= AMM_SEND_MAX_POSTS) {
    GError *e = g_steal_pointer (&op->last_error);
    g_prefix_error (&e, "The message could not be sent (%u attempts): ", op->posts);
    fail (op, e);
    return;
  }
  g_debug ("amm-send: the message is not on the server; sending it again");
  post (op);
}

static gboolean
on_verify_timer (gpointer data)
{
  SendOp *op = data;
  op->timer_id = 0;
  verify (op);
  return G_SOURCE_REMOVE;
}

/* The server could not be asked: try again a little later, within the budget. */
static void
verify_failed (SendOp *op, GError *error)
{
  if (is_cancelled (error) || !amm_error_is_transient (error)
      || g_get_monotonic_time () >= op->verify_deadline || amm_client_is_shut_down (op->client)) {
    GError *e = g_steal_pointer (&op->last_error);
    if (is_cancelled (error)) {
      g_clear_error (&e);
      e = g_error_copy (error);
    } else {
      g_prefix_error (&e, "The message may not have been delivered (the server could not be "
                          "asked: %s): ", error->message);
    }
    g_error_free (error);
    fail (op, e);
    return;
  }
  g_debug ("amm-send: could not check the outbox result yet: %s", error->message);
  g_error_free (error);
  guint delay = MIN (VERIFY_MAX_MS, VERIFY_BASE_MS << MIN (op->verify_failures, 8));
  op->verify_failures++;
  op->pages = 0;
  op->timer_id = g_timeout_add (delay, on_verify_timer, op);
}

static void
on_page (GObject *src, GAsyncResult *res, gpointer data)
{
  SendOp *op = data;
  GError *error = NULL;
  g_autoptr (AmmConversation) conv = amm_client_fetch_messages_finish (op->client, res, &error);
  if (conv == NULL) {
    verify_failed (op, error);
    return;
  }
  AmmMessage *oldest = NULL;
  for (guint i = 0; i < conv->messages->len; i++) {
    AmmMessage *m = g_ptr_array_index (conv->messages, i);
    if (is_ours (op, m)) {
      found (op, m);
      return;
    }
    oldest = m;
  }
  /* older pages only while they can still hold messages received after the bound */
  const AmmResources *r = amm_client_get_resources (op->client);
  guint page_size = r->max_message_count ? r->max_message_count : AMM_DEFAULT_MAX_MESSAGE_COUNT;
  if (oldest && op->bound && conv->messages->len >= page_size && ++op->pages < VERIFY_MAX_PAGES
      && oldest->received_date && amm_time_compare (oldest->received_date, op->bound) >= 0) {
    amm_client_fetch_messages_async (op->client, op->thread_id, oldest->id, NULL, 0,
                                     g_task_get_cancellable (op->task), on_page, op);
    return;
  }
  not_found (op);
}

static void
on_list (GObject *src, GAsyncResult *res, gpointer data)
{
  SendOp *op = data;
  GError *error = NULL;
  g_autoptr (AmmConversationList) list = amm_client_list_conversations_finish (op->client, res, &error);
  if (list == NULL) {
    verify_failed (op, error);
    return;
  }
  for (guint i = 0; i < list->conversations->len; i++) {
    AmmConversation *c = g_ptr_array_index (list->conversations, i);
    for (guint j = 0; j < c->messages->len; j++)
      if (is_ours (op, g_ptr_array_index (c->messages, j))) {
        found (op, g_ptr_array_index (c->messages, j));
        return;
      }
  }
  not_found (op);
}

static void
verify (SendOp *op)
{
  GCancellable *cancellable = g_task_get_cancellable (op->task);
  if (op->thread_id) {
    amm_client_fetch_messages_async (op->client, op->thread_id, NULL, NULL, 0, cancellable, on_page, op);
  } else {
    g_autofree char *after = op->bound ? amm_time_format (op->bound) : NULL;
    amm_client_list_conversations_async (op->client, after, cancellable, on_list, op);
  }
}

/* ---- cancellation while waiting ---- */

static gboolean
on_cancelled_idle (gpointer data)
{
  SendOp *op = data;
  op->timer_id = 0;
  fail (op, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The send was cancelled"));
  return G_SOURCE_REMOVE;
}

/* A cancel (or amm_client_shutdown) while a retry or verify timer waits: the timer goes and
 * the send fails with G_IO_ERROR_CANCELLED from an idle (never from the cancel itself). A
 * request in flight ends by itself with the cancellation. */
static void
on_cancelled (GCancellable *cancellable, gpointer data)
{
  SendOp *op = data;
  if (op->timer_id == 0 || op->cancelling)
    return;
  g_source_remove (op->timer_id);
  op->cancelling = TRUE;
  op->timer_id = g_idle_add (on_cancelled_idle, op);
}

/* ---- posting ---- */

static void
on_posted (GObject *src, GAsyncResult *res, gpointer data)
{
  SendOp *op = data;
  GError *error = NULL;
  guint status = 0, retry_after = 0;
  g_autoptr (GBytes) body = amm_http_send_finish (res, &status, &retry_after, &error);
  if (body != NULL) {
    g_autoptr (JsonNode) root = amm_http_parse_json (body, &error);
    g_autoptr (AmmMessage) check = root ? amm_message_parse (root, amm_client_get_base_url (op->client), &error)
                                        : NULL;
    if (check != NULL) {
      AmmMessage *msg = amm_client_outbox_end (op->client, body, &error);
      if (msg)
        finish (op, msg, NULL);
      else
        finish (op, NULL, error);
      return;
    }
  }
  if (!is_cancelled (error) && !amm_client_is_shut_down (op->client) && (status == 503 || status == 429)
      && op->posts < AMM_SEND_MAX_POSTS && retry_after <= RETRY_AFTER_MAX_S) {
    /* "not processed, come back later" (a server shutting down, a rate limit): nothing was
     * stored, so the same request is posted again after Retry-After (or a short back-off) */
    guint delay = MAX (retry_after * 1000u, (guint) VERIFY_BASE_MS << MIN (op->posts, 4u));
    g_debug ("amm-send: HTTP %u; posting again in %u ms", status, delay);
    g_error_free (error);
    op->timer_id = g_timeout_add (delay, on_post_timer, op);
    return;
  }
  if (is_cancelled (error) || amm_client_is_shut_down (op->client) || !outcome_unknown (error, status)) {
    fail (op, error);
    return;
  }
  g_debug ("amm-send: outcome of a send unknown (%s); looking for it on the server", error->message);
  g_clear_error (&op->last_error);
  op->last_error = error;
  op->verify_failures = 0;
  op->pages = 0;
  op->verify_deadline = g_get_monotonic_time () + (gint64) verify_budget_ms * 1000;
  verify (op);
}

static gboolean
on_post_timer (gpointer data)
{
  SendOp *op = data;
  op->timer_id = 0;
  post (op);
  return G_SOURCE_REMOVE;
}

static void
post (SendOp *op)
{
  const AmmResources *r = amm_client_get_resources (op->client);
  GError *error = NULL;
  g_autoptr (SoupMessage) msg = amm_http_request_new ("POST", r->outbox_href, amm_client_get_auth (op->client),
                                                      op->accept, op->content_type, op->json, -1, &error);
  if (msg == NULL) {
    fail (op, error);
    return;
  }
  /* not idempotent: libsoup never resends it by itself; this module decides */
  op->posts++;
  amm_http_send_async (amm_client_get_session (op->client), msg, AMM_REST_TIMEOUT_SECONDS,
                       amm_client_get_cancellable (op->client), g_task_get_cancellable (op->task),
                       on_posted, op);
}

void
amm_send_outbox (AmmClient *client, GTask *task, const AmmSendRequest *req)
{
  SendOp *op = g_new0 (SendOp, 1);
  op->client = client;
  op->task = task;
  op->json = g_strdup (req->json);
  op->content_type = g_strdup (req->content_type);
  op->accept = g_strdup (req->accept);
  op->thread_id = g_strdup (req->thread_id);
  op->body = g_strdup (req->body ? req->body : "");
  op->event_type = g_strdup (req->event_type);
  op->recipients = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; req->recipients && i < req->recipients->len; i++)
    g_ptr_array_add (op->recipients, g_strdup (g_ptr_array_index (req->recipients, i)));
  /* Whatever this send stores is stamped after the newest change the last delivered listing
   * saw: the server's own clock, so no skew between the two machines matters. */
  const char *after = amm_sync_get_after (amm_client_get_sync (client));
  op->bound = after ? amm_time_parse (after, NULL) : NULL;
  op->cancel_id = g_cancellable_connect (amm_client_get_cancellable (client),
                                         G_CALLBACK (on_cancelled), op, NULL);
  if (g_task_get_cancellable (task))
    op->task_cancel_id = g_cancellable_connect (g_task_get_cancellable (task),
                                                G_CALLBACK (on_cancelled), op, NULL);
  amm_client_outbox_begin (client);
  post (op);
}
