/* amm-conversations.c: conversation operations beyond 1:1 text (see amm-conversations.h):
 * limits, address validation, starting group conversations, participants, leave, subject,
 * the per-conversation cache behind "conversation-changed", and "message-read".
 * Read marks live in amm-read-marks.c, typing in amm-typing.c.
 *
 * Lifetime: public calls use a GTask whose source object is the client; internal callbacks
 * check the client's cancellable (cancelled only by shutdown) before touching it.
 */
#include "amm-conversations.h"

#include <string.h>
#include "amm-client-private.h"
#include "amm-conv-private.h"
#include "amm-http.h"
#include "amm-json.h"
#include "amm-protocol.h"

/* Send a built request for `task`, or fail the task with the error that building it gave. */
static void
send_request (AmmClient *self, GTask *task, SoupMessage *msg, GError *error,
              GCancellable *cancellable, GAsyncReadyCallback callback)
{
  if (msg == NULL) {
    g_task_return_error (task, error);
    g_object_unref (task);
    return;
  }
  amm_http_send_async (amm_client_get_session (self), msg, AMM_REST_TIMEOUT_SECONDS,
                       amm_client_get_cancellable (self), cancellable, callback, task);
}

/* ---- the state ---------------------------------------------------------------------------- */

#define UNREAD_DELIVERED_CAP 8192

typedef struct {
  char      *subject;
  gboolean   active;
  gboolean   closed;
  GPtrArray *participants;   /* AmmEntity*, active participants */
} ConvInfo;

static void
conv_info_free (ConvInfo *ci)
{
  g_free (ci->subject);
  g_ptr_array_unref (ci->participants);
  g_free (ci);
}

AmmConvState *
amm_conv_state_new (void)
{
  AmmConvState *st = g_new0 (AmmConvState, 1);
  st->infos = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) conv_info_free);
  st->unread_delivered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  st->read_here = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  amm_read_marks_init (st);
  amm_typing_init (st);
  return st;
}

void
amm_conv_state_free (AmmConvState *st)
{
  if (st == NULL)
    return;
  amm_read_marks_clear (st);
  amm_typing_clear (st);
  g_hash_table_destroy (st->infos);
  g_hash_table_destroy (st->unread_delivered);
  g_hash_table_destroy (st->read_here);
  g_free (st);
}

void
amm_conv_on_shutdown (AmmClient *self)
{
  AmmConvState *st = amm_client_get_conv_state (self);
  amm_read_marks_stop (st);
  amm_typing_stop (st);
}

static gboolean
not_connected (AmmClient *self, GTask *task)
{
  if (amm_client_is_shut_down (self)) {
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The client was shut down");
    return TRUE;
  }
  if (amm_client_get_resources (self) == NULL) {
    g_task_return_new_error (task, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS, "Not connected");
    return TRUE;
  }
  return FALSE;
}

/* ---- limits --------------------------------------------------------------------------------- */

gboolean
amm_client_check_text (AmmClient *self, const char *body, GError **error)
{
  const AmmResources *r = amm_client_get_resources (self);
  if (body == NULL)
    body = "";
  if (!g_utf8_validate (body, -1, NULL)) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_REJECTED, "The message is not valid UTF-8 text.");
    return FALSE;
  }
  guint64 max = r ? r->limits.max_text_length : 0;
  glong len = g_utf8_strlen (body, -1);
  if (max > 0 && (guint64) len > max) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_TOO_LARGE,
                 "The message is %ld characters long; this server accepts at most %" G_GUINT64_FORMAT ".",
                 len, max);
    return FALSE;
  }
  return TRUE;
}

gboolean
amm_client_check_subject (AmmClient *self, const char *subject, GError **error)
{
  if (subject == NULL)
    subject = "";
  if (!g_utf8_validate (subject, -1, NULL)) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_REJECTED, "The subject is not valid UTF-8 text.");
    return FALSE;
  }
  glong len = g_utf8_strlen (subject, -1);
  if (len > AMM_MAX_SUBJECT_LENGTH) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_TOO_LARGE,
                 "The subject is %ld characters long; at most %d are allowed.", len, AMM_MAX_SUBJECT_LENGTH);
    return FALSE;
  }
  return TRUE;
}

/* ---- address validation ---------------------------------------------------------------------- */

gboolean
amm_client_check_address (AmmClient *self, const char *address, GError **error)
{
  const char *a = address ? address : "";
  const char *at = strchr (a, '@');
  gboolean shaped = at != NULL && at != a && at[1] != '\0' && strchr (at + 1, '@') == NULL
                    && g_utf8_validate (a, -1, NULL) && strpbrk (a, " \t\r\n<>,;:\"()[]\\") == NULL
                    && at[1] != '.' && !g_str_has_suffix (a, ".");
  if (!shaped) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_REJECTED, "\"%s\" is not a valid address.", a);
    return FALSE;
  }
  const AmmResources *r = amm_client_get_resources (self);
  if (r == NULL || r->domains == NULL || r->domains[0] == NULL)
    return TRUE;
  for (guint i = 0; r->domains[i]; i++)
    if (g_ascii_strcasecmp (r->domains[i], at + 1) == 0)
      return TRUE;
  g_autofree char *list = g_strjoinv (", ", r->domains);
  g_set_error (error, AMM_ERROR, AMM_ERROR_REJECTED,
               "%s is not in a domain this server can reach (%s).", a, list);
  return FALSE;
}

void
amm_validation_free (AmmValidation *v)
{
  if (v == NULL)
    return;
  g_free (v->query);
  g_clear_pointer (&v->entity, amm_entity_unref);
  g_free (v);
}

typedef struct {
  GPtrArray *results;   /* AmmValidation*, in the caller's order */
} ValidateData;

static void
validate_data_free (ValidateData *vd)
{
  g_ptr_array_unref (vd->results);
  g_free (vd);
}

static void
fill_validate_body (JsonBuilder *b, GPtrArray *asked)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "addresses");
  json_builder_begin_array (b);
  for (guint i = 0; i < asked->len; i++) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "address");
    json_builder_add_string_value (b, g_ptr_array_index (asked, i));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static gboolean
apply_validated (ValidateData *vd, JsonNode *root, GError **error)
{
  JsonObject *o = amm_json_node_get_object (root, "", error);
  JsonArray *arr = o ? amm_json_require_array (o, "", "validatedAddresses", error) : NULL;
  if (arr == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (arr); i++) {
    g_autofree char *path = amm_json_element_path ("validatedAddresses", i);
    JsonObject *item = amm_json_array_get_object (arr, "validatedAddresses", i, error);
    if (item == NULL)
      return FALSE;
    const char *query = amm_json_require_string (item, path, "query", error);
    if (query == NULL)
      return FALSE;
    JsonArray *addrs = NULL;
    if (!amm_json_opt_array (item, path, "addresses", &addrs, error))
      return FALSE;
    AmmEntity *entity = NULL;
    if (addrs && json_array_get_length (addrs) > 0) {
      entity = amm_entity_parse (json_array_get_element (addrs, 0), error);
      if (entity == NULL)
        return FALSE;
    }
    gboolean used = FALSE;
    for (guint k = 0; k < vd->results->len && !used; k++) {
      AmmValidation *v = g_ptr_array_index (vd->results, k);
      if (v->entity == NULL && g_ascii_strcasecmp (v->query, query) == 0) {
        v->entity = entity ? amm_entity_ref (entity) : NULL;
        used = entity != NULL;
      }
    }
    g_clear_pointer (&entity, amm_entity_unref);
  }
  return TRUE;
}

static void
on_validated (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  ValidateData *vd = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (GBytes) body = amm_http_send_finish (res, NULL, NULL, &error);
  g_autoptr (JsonNode) root = body ? amm_http_parse_json (body, &error) : NULL;
  if (root && apply_validated (vd, root, &error))
    g_task_return_pointer (task, g_ptr_array_ref (vd->results), (GDestroyNotify) g_ptr_array_unref);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

void
amm_client_validate_addresses_async (AmmClient *self, const char * const *addresses, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, amm_client_validate_addresses_async);
  if (not_connected (self, task)) {
    g_object_unref (task);
    return;
  }
  ValidateData *vd = g_new0 (ValidateData, 1);
  vd->results = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_validation_free);
  g_task_set_task_data (task, vd, (GDestroyNotify) validate_data_free);
  g_autoptr (GPtrArray) asked = g_ptr_array_new ();   /* addresses that pass the pre-check */
  for (guint i = 0; addresses && addresses[i]; i++) {
    AmmValidation *v = g_new0 (AmmValidation, 1);
    v->query = g_strdup (addresses[i]);
    g_ptr_array_add (vd->results, v);
    if (amm_client_check_address (self, addresses[i], NULL))
      g_ptr_array_add (asked, (gpointer) addresses[i]);
  }
  const AmmResources *r = amm_client_get_resources (self);
  if (asked->len == 0 || r->validate_addresses_href == NULL) {
    if (asked->len > 0) {
      g_task_return_new_error (task, AMM_ERROR, AMM_ERROR_UNSUPPORTED,
                               "This server offers no address validation.");
    } else {
      g_task_return_pointer (task, g_ptr_array_ref (vd->results), (GDestroyNotify) g_ptr_array_unref);
    }
    g_object_unref (task);
    return;
  }
  GError *error = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  if (r->version == AMM_VERSION_3_2) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    fill_validate_body (b, asked);
    g_autoptr (JsonNode) node = json_builder_get_root (b);
    g_autofree char *json = amm_http_json_to_string (node);
    msg = amm_http_request_new ("POST", r->validate_addresses_href, amm_client_get_auth (self),
                                AMM_TYPE_VALIDATED_ADDRESSES ", " AMM_TYPE_ERROR, AMM_TYPE_ADDRESSES_TO_VALIDATE,
                                json, -1, &error);
    if (msg)
      soup_message_add_flags (msg, SOUP_MESSAGE_IDEMPOTENT);
  } else {
    g_autofree char *uri = g_strdup (r->validate_addresses_href);
    for (guint i = 0; i < asked->len; i++) {
      char *next = amm_http_uri_add_query (uri, "address", g_ptr_array_index (asked, i));
      g_free (uri);
      uri = next;
    }
    msg = amm_http_request_new ("GET", uri, amm_client_get_auth (self),
                                AMM_TYPE_VALIDATED_ADDRESSES ", " AMM_TYPE_ERROR, NULL, NULL, 0, &error);
  }
  send_request (self, task, msg, error, cancellable, on_validated);
}

GPtrArray *
amm_client_validate_addresses_finish (AmmClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- starting a conversation ------------------------------------------------------------------ */

static void
on_started (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  GError *error = NULL;
  AmmMessage *msg = amm_client_send_text_finish (AMM_CLIENT (src), res, &error);
  if (msg)
    g_task_return_pointer (task, msg, (GDestroyNotify) amm_message_unref);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

void
amm_client_start_conversation_async (AmmClient *self, const char * const *to, const char *subject,
                                     const char *body, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, amm_client_start_conversation_async);
  if (not_connected (self, task)) {
    g_object_unref (task);
    return;
  }
  GError *error = NULL;
  if (to == NULL || to[0] == NULL) {
    g_task_return_new_error (task, AMM_ERROR, AMM_ERROR_REJECTED, "A conversation needs participants.");
    g_object_unref (task);
    return;
  }
  for (guint i = 0; to[i]; i++)
    if (!amm_client_check_address (self, to[i], &error))
      break;
  if (error == NULL)
    amm_client_check_text (self, body, &error);
  if (error == NULL)
    amm_client_check_subject (self, subject, &error);
  if (error == NULL && (body == NULL || *body == '\0'))
    error = g_error_new (AMM_ERROR, AMM_ERROR_REJECTED, "The first message of a conversation cannot be empty.");
  if (error) {
    g_task_return_error (task, error);
    g_object_unref (task);
    return;
  }
  amm_client_post_outbox_async (self, NULL, to, subject ? subject : "", body, NULL, cancellable, on_started, task);
}

AmmMessage *
amm_client_start_conversation_finish (AmmClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- the conversation cache ------------------------------------------------------------------ */

static gboolean
entity_in (GPtrArray *entities, const char *address)
{
  for (guint i = 0; i < entities->len; i++) {
    AmmEntity *e = g_ptr_array_index (entities, i);
    if (e->address && address && g_ascii_strcasecmp (e->address, address) == 0)
      return TRUE;
  }
  return FALSE;
}

/* Active participants from the newest message: its `to`, minus the leavers of a LEFT event. */
static GPtrArray *
participants_from_messages (AmmConversation *conv)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_entity_unref);
  if (conv->messages->len == 0)
    return out;
  AmmMessage *newest = g_ptr_array_index (conv->messages, 0);
  for (guint i = 0; i < newest->to->len; i++) {
    AmmEntity *e = g_ptr_array_index (newest->to, i);
    if (e->address == NULL || entity_in (out, e->address))
      continue;
    if (newest->event_type == AMM_EVENT_LEFT && entity_in (newest->event_participants, e->address))
      continue;
    g_ptr_array_add (out, amm_entity_ref (e));
  }
  if (newest->event_type == AMM_EVENT_JOINED)
    for (guint i = 0; i < newest->event_participants->len; i++) {
      AmmEntity *e = g_ptr_array_index (newest->event_participants, i);
      if (e->address && !entity_in (out, e->address))
        g_ptr_array_add (out, amm_entity_ref (e));
    }
  return out;
}

static gboolean
same_people (GPtrArray *a, GPtrArray *b)
{
  if (a->len != b->len)
    return FALSE;
  for (guint i = 0; i < a->len; i++)
    if (!entity_in (b, ((AmmEntity *) g_ptr_array_index (a, i))->address))
      return FALSE;
  return TRUE;
}

/* Keep the richer entity (names, type) the client already knows for the same address. */
static void
adopt_details (GPtrArray *fresh, GPtrArray *known)
{
  for (guint i = 0; known && i < fresh->len; i++) {
    AmmEntity *e = g_ptr_array_index (fresh, i);
    if (e->given_name || e->surname)
      continue;
    for (guint k = 0; k < known->len; k++) {
      AmmEntity *old = g_ptr_array_index (known, k);
      if (g_ascii_strcasecmp (old->address, e->address) == 0 && (old->given_name || old->surname)) {
        g_ptr_array_index (fresh, i) = amm_entity_ref (old);
        amm_entity_unref (e);
        break;
      }
    }
  }
}

/* Update the info of `conv`; TRUE if it is new or changed. Takes `people` (nullable: keep). */
static gboolean
update_info (AmmConvState *st, AmmConversation *conv, GPtrArray *people)
{
  ConvInfo *ci = g_hash_table_lookup (st->infos, conv->id);
  gboolean changed = FALSE;
  if (ci == NULL) {
    ci = g_new0 (ConvInfo, 1);
    ci->subject = g_strdup (conv->subject);
    ci->active = conv->active;
    ci->closed = conv->closed;
    ci->participants = people ? people : g_ptr_array_new_with_free_func ((GDestroyNotify) amm_entity_unref);
    g_hash_table_replace (st->infos, g_strdup (conv->id), ci);
    return TRUE;
  }
  if (g_strcmp0 (ci->subject, conv->subject) != 0) {
    g_free (ci->subject);
    ci->subject = g_strdup (conv->subject);
    changed = TRUE;
  }
  if (ci->active != conv->active || ci->closed != conv->closed) {
    ci->active = conv->active;
    ci->closed = conv->closed;
    changed = TRUE;
  }
  if (people) {
    adopt_details (people, ci->participants);
    if (!same_people (people, ci->participants))
      changed = TRUE;
    g_ptr_array_unref (ci->participants);
    ci->participants = people;
  }
  return changed;
}

void
amm_conv_on_listing (AmmClient *self, AmmConversationList *list)
{
  AmmConvState *st = amm_client_get_conv_state (self);
  g_autoptr (GPtrArray) changed = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_conversation_unref);
  g_autoptr (GPtrArray) read = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_message_unref);
  g_autoptr (GPtrArray) read_conv = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_conversation_unref);
  for (guint i = 0; i < list->conversations->len; i++) {
    AmmConversation *conv = g_ptr_array_index (list->conversations, i);
    if (conv->id == NULL)
      continue;
    GPtrArray *people = conv->messages->len > 0 ? participants_from_messages (conv) : NULL;
    if (update_info (st, conv, people))
      g_ptr_array_add (changed, amm_conversation_ref (conv));
    for (guint j = conv->messages->len; j-- > 0;) {
      AmmMessage *m = g_ptr_array_index (conv->messages, j);
      if (!m->read || m->id == NULL)
        continue;
      /* our own mark coming back is not "read elsewhere"; once the server shows it, the
       * message is read for good and need not be remembered */
      gboolean ours = g_hash_table_remove (st->read_here, m->id);
      if (g_hash_table_remove (st->unread_delivered, m->id) && !ours) {
        g_ptr_array_add (read, amm_message_ref (m));
        g_ptr_array_add (read_conv, amm_conversation_ref (conv));
      }
    }
  }
  for (guint i = 0; i < changed->len && amm_client_can_emit (self); i++) {
    AmmConversation *conv = g_ptr_array_index (changed, i);
    AmmConversation *cached = amm_client_lookup_conversation (self, conv->id);
    g_signal_emit_by_name (self, "conversation-changed", cached ? cached : conv);
  }
  for (guint i = 0; i < read->len && amm_client_can_emit (self); i++)
    g_signal_emit_by_name (self, "message-read", g_ptr_array_index (read_conv, i), g_ptr_array_index (read, i));
}

void
amm_conv_on_delivered (AmmClient *self, AmmConversation *conv, AmmMessage *msg, gboolean from_self)
{
  AmmConvState *st = amm_client_get_conv_state (self);
  if (!msg->read && !from_self && msg->id && msg->event_type == AMM_EVENT_MESSAGE
      && !g_hash_table_contains (st->read_here, msg->id)) {
    if (g_hash_table_size (st->unread_delivered) >= UNREAD_DELIVERED_CAP)
      g_hash_table_remove_all (st->unread_delivered);
    g_hash_table_add (st->unread_delivered, g_strdup (msg->id));
  }
  if (msg->from && msg->from->address && msg->thread_id)
    amm_typing_message_arrived (self, msg->thread_id, msg->from->address);
}

void
amm_conv_forget_unread (AmmClient *self, const char *message_id)
{
  AmmConvState *st = amm_client_get_conv_state (self);
  g_hash_table_remove (st->unread_delivered, message_id);
  if (g_hash_table_size (st->read_here) >= UNREAD_DELIVERED_CAP)
    g_hash_table_remove_all (st->read_here);
  g_hash_table_add (st->read_here, g_strdup (message_id));
}

GPtrArray *
amm_client_get_participants (AmmClient *self, const char *thread_id)
{
  AmmConvState *st = amm_client_get_conv_state (self);
  ConvInfo *ci = thread_id ? g_hash_table_lookup (st->infos, thread_id) : NULL;
  if (ci && ci->participants->len > 0)
    return g_ptr_array_ref (ci->participants);
  AmmConversation *conv = amm_client_lookup_conversation (self, thread_id);
  if (conv == NULL)
    return NULL;
  return participants_from_messages (conv);
}

/* ---- participants ------------------------------------------------------------------------------ */

static GPtrArray *
parse_participants (JsonNode *root, GError **error)
{
  JsonObject *o = amm_json_node_get_object (root, "", error);
  JsonArray *arr = o ? amm_json_require_array (o, "", "participants", error) : NULL;
  if (arr == NULL)
    return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_entity_unref);
  for (guint i = 0; i < json_array_get_length (arr); i++) {
    AmmEntity *e = amm_entity_parse (json_array_get_element (arr, i), error);
    if (e == NULL) {
      g_ptr_array_unref (out);
      return NULL;
    }
    g_ptr_array_add (out, e);
  }
  return out;
}

typedef struct {
  char     *thread_id;
  gboolean  listing;   /* GET: the full active list */
} PartData;

static void
part_data_free (PartData *pd)
{
  g_free (pd->thread_id);
  g_free (pd);
}

static void
on_participants (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  AmmClient *self = g_task_get_source_object (task);
  PartData *pd = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (GBytes) body = amm_http_send_finish (res, NULL, NULL, &error);
  g_autoptr (JsonNode) root = body ? amm_http_parse_json (body, &error) : NULL;
  GPtrArray *people = root ? parse_participants (root, &error) : NULL;
  if (people == NULL) {
    g_task_return_error (task, error);
    g_object_unref (task);
    return;
  }
  AmmConversation *conv = amm_client_lookup_conversation (self, pd->thread_id);
  if (pd->listing && conv && amm_client_can_emit (self)) {
    GPtrArray *copy = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_entity_unref);
    for (guint i = 0; i < people->len; i++)
      g_ptr_array_add (copy, amm_entity_ref (g_ptr_array_index (people, i)));
    if (update_info (amm_client_get_conv_state (self), conv, copy))
      g_signal_emit_by_name (self, "conversation-changed", conv);
  }
  g_task_return_pointer (task, people, (GDestroyNotify) g_ptr_array_unref);
  g_object_unref (task);
}

static char *
participants_url (AmmClient *self, const char *thread_id)
{
  AmmConversation *conv = amm_client_lookup_conversation (self, thread_id);
  if (conv && conv->participants_href)
    return g_strdup (conv->participants_href);
  g_autofree char *base = amm_client_conversation_url (self, thread_id);
  return g_strconcat (base, "/participants", NULL);
}

void
amm_client_list_participants_async (AmmClient *self, const char *thread_id, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, amm_client_list_participants_async);
  if (not_connected (self, task)) {
    g_object_unref (task);
    return;
  }
  PartData *pd = g_new0 (PartData, 1);
  pd->thread_id = g_strdup (thread_id);
  pd->listing = TRUE;
  g_task_set_task_data (task, pd, (GDestroyNotify) part_data_free);
  g_autofree char *url = participants_url (self, thread_id);
  GError *error = NULL;
  g_autoptr (SoupMessage) msg = amm_http_request_new ("GET", url, amm_client_get_auth (self),
                                                      AMM_TYPE_PARTICIPANTS ", " AMM_TYPE_ERROR, NULL, NULL, 0,
                                                      &error);
  send_request (self, task, msg, error, cancellable, on_participants);
}

GPtrArray *
amm_client_list_participants_finish (AmmClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
amm_client_add_participants_async (AmmClient *self, const char *thread_id, const char * const *addresses,
                                   GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, amm_client_add_participants_async);
  if (not_connected (self, task)) {
    g_object_unref (task);
    return;
  }
  GError *error = NULL;
  if (addresses == NULL || addresses[0] == NULL)
    error = g_error_new (AMM_ERROR, AMM_ERROR_REJECTED, "No participants to add.");
  for (guint i = 0; error == NULL && addresses[i]; i++)
    amm_client_check_address (self, addresses[i], &error);
  if (error) {
    g_task_return_error (task, error);
    g_object_unref (task);
    return;
  }
  PartData *pd = g_new0 (PartData, 1);
  pd->thread_id = g_strdup (thread_id);
  g_task_set_task_data (task, pd, (GDestroyNotify) part_data_free);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "participants");
  json_builder_begin_array (b);
  for (guint i = 0; addresses[i]; i++) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "address");
    json_builder_add_string_value (b, addresses[i]);
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, "CONTACT");
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  g_autofree char *json = amm_http_json_to_string (node);
  g_autofree char *url = participants_url (self, thread_id);
  g_autoptr (SoupMessage) msg = amm_http_request_new ("POST", url, amm_client_get_auth (self),
                                                      AMM_TYPE_PARTICIPANTS ", " AMM_TYPE_ERROR,
                                                      AMM_TYPE_PARTICIPANTS, json, -1, &error);
  send_request (self, task, msg, error, cancellable, on_participants);
}

GPtrArray *
amm_client_add_participants_finish (AmmClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- leave and subject -------------------------------------------------------------------------- */

static void
on_no_content (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  GError *error = NULL;
  g_autoptr (GBytes) body = amm_http_send_finish (res, NULL, NULL, &error);
  if (body == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

void
amm_client_leave_async (AmmClient *self, const char *thread_id, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, amm_client_leave_async);
  if (not_connected (self, task)) {
    g_object_unref (task);
    return;
  }
  g_autofree char *url = amm_client_conversation_url (self, thread_id);
  GError *error = NULL;
  g_autoptr (SoupMessage) msg = amm_http_request_new ("DELETE", url, amm_client_get_auth (self), AMM_TYPE_ERROR,
                                                      NULL, NULL, 0, &error);
  send_request (self, task, msg, error, cancellable, on_no_content);
}

gboolean
amm_client_leave_finish (AmmClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
on_subject_event_sent (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  GError *error = NULL;
  g_autoptr (AmmMessage) msg = amm_client_send_text_finish (AMM_CLIENT (src), res, &error);
  if (msg == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

void
amm_client_set_subject_async (AmmClient *self, const char *thread_id, const char *subject,
                              GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, amm_client_set_subject_async);
  if (not_connected (self, task)) {
    g_object_unref (task);
    return;
  }
  GError *error = NULL;
  if (!amm_client_check_subject (self, subject, &error)) {
    g_task_return_error (task, error);
    g_object_unref (task);
    return;
  }
  if (amm_client_get_version (self) == AMM_VERSION_2_1) {
    amm_client_post_outbox_async (self, thread_id, NULL, subject ? subject : "", "",
                                  amm_event_type_to_string (AMM_EVENT_SUBJECT_CHANGE), cancellable,
                                  on_subject_event_sent, task);
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "subject");
  json_builder_add_string_value (b, subject ? subject : "");
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  g_autofree char *json = amm_http_json_to_string (node);
  g_autofree char *url = amm_client_conversation_url (self, thread_id);
  g_autoptr (SoupMessage) msg = amm_http_request_new ("POST", url, amm_client_get_auth (self), AMM_TYPE_ERROR,
                                                      AMM_TYPE_SUBJECT, json, -1, &error);
  send_request (self, task, msg, error, cancellable, on_no_content);
}

gboolean
amm_client_set_subject_finish (AmmClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
