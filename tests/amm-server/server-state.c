/* server-state.c: users, conversations, messages, the server clock and persistence. */
#include "server-state.h"

#include <string.h>
#include <time.h>

#include "amm-protocol.h"

G_DEFINE_QUARK (amm-server-fault-quark, amm_fault)

static const struct {
  guint status;
  const char *code;
} fault_table[] = {
  [AMM_FAULT_BAD_REQUEST] = { 400, "INVALID_PARAMETER" },
  [AMM_FAULT_MESSAGE_EMPTY] = { 400, "MESSAGE_EMPTY" },
  [AMM_FAULT_PARTICIPANT_INVALID] = { 400, "PARTICIPANT_ADDRESS_INVALID" },
  [AMM_FAULT_FORBIDDEN] = { 403, "FORBIDDEN" },
  [AMM_FAULT_NOT_FOUND] = { 404, "CONVERSATION_NOT_FOUND" },
  [AMM_FAULT_BODY_TOO_LONG] = { 413, "BODY_LENGTH_EXCEEDED" },
  [AMM_FAULT_SUBJECT_TOO_LONG] = { 400, "SUBJECT_LENGTH_EXCEEDED" },
  [AMM_FAULT_CLOSED] = { 403, "CONVERSATION_CLOSED" },
};

guint
amm_fault_status (int code)
{
  if (code < 0 || (gsize) code >= G_N_ELEMENTS (fault_table))
    return 500;
  return fault_table[code].status;
}

const char *
amm_fault_error_code (int code)
{
  if (code < 0 || (gsize) code >= G_N_ELEMENTS (fault_table))
    return "SERVER_ERROR";
  return fault_table[code].code;
}

/* ---- lifetime ---- */

static void
user_free (AmmUser *u)
{
  g_free (u->address);
  g_free (u->password);
  g_free (u->given_name);
  g_free (u->surname);
  if (u->phone_numbers)
    json_node_unref (u->phone_numbers);
  g_free (u);
}

static void
participant_free (AmmParticipant *p)
{
  g_free (p->address);
  g_free (p);
}

AmmPart *
amm_part_new (const char *mime_type, const char *disposition, gsize size)
{
  AmmPart *p = g_new0 (AmmPart, 1);

  p->mime_type = g_strdup (mime_type ? mime_type : "application/octet-stream");
  p->disposition = g_strdup (disposition ? disposition : "attachment");
  p->size = size;
  return p;
}

void
amm_part_free (AmmPart *p)
{
  g_free (p->id);
  g_free (p->mime_type);
  g_free (p->disposition);
  g_free (p);
}

static void
message_free (AmmMessage *m)
{
  g_free (m->id);
  g_free (m->thread_id);
  g_free (m->from);
  g_strfreev (m->to);
  g_free (m->subject);
  g_free (m->body);
  g_free (m->in_reply_to);
  g_free (m->importance);
  g_free (m->sensitivity);
  g_free (m->event_type);
  g_strfreev (m->event_participants);
  g_hash_table_unref (m->read_by);
  g_clear_pointer (&m->read_at, g_hash_table_unref);
  g_ptr_array_unref (m->parts);
  g_free (m);
}

static void
conversation_free (AmmConversation *c)
{
  g_free (c->id);
  g_free (c->subject);
  g_free (c->owner);
  g_ptr_array_unref (c->participants);
  g_ptr_array_unref (c->messages);
  g_free (c);
}

void
amm_state_free (AmmState *state)
{
  if (!state)
    return;
  g_strfreev (state->domains);
  g_ptr_array_unref (state->users);
  g_hash_table_unref (state->conversation_by_id);
  g_hash_table_unref (state->message_by_id);
  g_hash_table_unref (state->media);
  g_ptr_array_unref (state->conversations);
  g_clear_handle_id (&state->save_id, g_source_remove);
  g_free (state->path);
  g_free (state);
}

static AmmState *
state_new (void)
{
  AmmState *state = g_new0 (AmmState, 1);

  state->users = g_ptr_array_new_with_free_func ((GDestroyNotify) user_free);
  state->conversations = g_ptr_array_new_with_free_func ((GDestroyNotify) conversation_free);
  state->conversation_by_id = g_hash_table_new (g_str_hash, g_str_equal);
  state->message_by_id = g_hash_table_new (g_str_hash, g_str_equal);
  state->media = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) g_bytes_unref);
  state->next_conversation = 1;
  state->next_part = 1;
  state->next_message = 1;
  return state;
}

static const char *
member_string (JsonObject *o, const char *name, const char *fallback)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
    return json_node_get_string (n);
  return fallback;
}

AmmState *
amm_state_new_from_seed (const char *seed_file, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (AmmState) state = state_new ();
  JsonObject *root;
  JsonArray *users;
  JsonArray *domains;

  if (!json_parser_load_from_file (parser, seed_file, error))
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not a JSON object", seed_file);
    return NULL;
  }
  root = json_node_get_object (json_parser_get_root (parser));
  users = json_object_has_member (root, "users")
          ? json_object_get_array_member (root, "users") : NULL;
  domains = json_object_has_member (root, "domains")
            ? json_object_get_array_member (root, "domains") : NULL;
  if (!users) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: no \"users\" array", seed_file);
    return NULL;
  }

  {
    g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
    for (guint i = 0; domains && i < json_array_get_length (domains); i++)
      g_strv_builder_add (b, json_array_get_string_element (domains, i));
    state->domains = g_strv_builder_end (b);
  }

  for (guint i = 0; i < json_array_get_length (users); i++) {
    JsonObject *uo = json_array_get_object_element (users, i);
    AmmUser *u;

    if (!uo || !member_string (uo, "address", NULL) || !member_string (uo, "password", NULL)) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: user %u lacks address or password", seed_file, i);
      return NULL;
    }
    u = g_new0 (AmmUser, 1);
    u->address = g_strdup (member_string (uo, "address", NULL));
    u->password = g_strdup (member_string (uo, "password", NULL));
    u->given_name = g_strdup (member_string (uo, "givenName", ""));
    u->surname = g_strdup (member_string (uo, "surname", ""));
    if (json_object_has_member (uo, "phoneNumbers"))
      u->phone_numbers = json_node_copy (json_object_get_member (uo, "phoneNumbers"));
    g_ptr_array_add (state->users, u);
  }
  return g_steal_pointer (&state);
}

/* ---- clock ---- */

gint64
amm_state_tick (AmmState *state)
{
  gint64 now = g_get_real_time () / 1000;

  if (now <= state->clock)
    now = state->clock + 1;
  state->clock = now;
  return now;
}

/* gmtime_r rather than GDateTime: a listing formats two timestamps a message, and the
 * GDateTime and its format string cost more than the rest of the message's strings. */
char *
amm_time_format (gint64 ms)
{
  time_t secs = (time_t) (ms / 1000);
  struct tm tm;

  gmtime_r (&secs, &tm);
  return g_strdup_printf ("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                          tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (ms % 1000));
}

gboolean
amm_time_parse (const char *iso, gint64 *ms)
{
  g_autoptr (GDateTime) dt = NULL;

  if (!iso)
    return FALSE;
  dt = g_date_time_new_from_iso8601 (iso, NULL);
  if (!dt)
    return FALSE;
  *ms = g_date_time_to_unix (dt) * 1000 + g_date_time_get_microsecond (dt) / 1000;
  return TRUE;
}

/* ---- lookups ---- */

AmmUser *
amm_state_find_user (AmmState *state, const char *address)
{
  for (guint i = 0; address && i < state->users->len; i++) {
    AmmUser *u = state->users->pdata[i];
    if (g_ascii_strcasecmp (u->address, address) == 0)
      return u;
  }
  return NULL;
}

AmmUser *
amm_state_authenticate (AmmState *state, const char *address, const char *password)
{
  AmmUser *u = amm_state_find_user (state, address);

  if (u && password && g_strcmp0 (u->password, password) == 0)
    return u;
  return NULL;
}

AmmConversation *
amm_state_find_conversation (AmmState *state, const char *id)
{
  return id ? g_hash_table_lookup (state->conversation_by_id, id) : NULL;
}

AmmMessage *
amm_state_find_message (AmmState *state, const char *id)
{
  return id ? g_hash_table_lookup (state->message_by_id, id) : NULL;
}

AmmParticipant *
amm_conversation_find_participant (AmmConversation *conv, const char *address)
{
  for (guint i = 0; address && i < conv->participants->len; i++) {
    AmmParticipant *p = conv->participants->pdata[i];
    if (g_ascii_strcasecmp (p->address, address) == 0)
      return p;
  }
  return NULL;
}

gboolean
amm_conversation_is_active_participant (AmmConversation *conv, const char *address)
{
  AmmParticipant *p = amm_conversation_find_participant (conv, address);

  return p && p->active;
}

GPtrArray *
amm_state_user_conversations (AmmState *state, const char *address)
{
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; i < state->conversations->len; i++) {
    AmmConversation *c = state->conversations->pdata[i];
    if (amm_conversation_find_participant (c, address))
      g_ptr_array_add (out, c);
  }
  return out;
}

static gint64
visible_until (AmmConversation *conv, const char *address)
{
  AmmParticipant *p = amm_conversation_find_participant (conv, address);

  if (!p)
    return -1;
  return p->active ? G_MAXINT64 : p->left_at;
}

GPtrArray *
amm_conversation_visible_messages (AmmConversation *conv, const char *address)
{
  GPtrArray *out = g_ptr_array_new ();
  gint64 until = visible_until (conv, address);

  for (guint i = 0; i < conv->messages->len; i++) {
    AmmMessage *m = conv->messages->pdata[i];
    if (m->received <= until)
      g_ptr_array_add (out, m);
  }
  return out;
}

GPtrArray *
amm_conversation_newest (AmmConversation *conv, const char *viewer, guint max)
{
  g_autoptr (GPtrArray) all = amm_conversation_visible_messages (conv, viewer);
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = all->len; i > 0 && out->len < max; i--)
    g_ptr_array_add (out, all->pdata[i - 1]);
  return out;
}

/* m's lastModifiedDate as the reader `key` (a lower-case address) sees it: later than the
 * message's own when that reader marked it read. */
static gint64
modified_for_key (AmmMessage *m, const char *key)
{
  gint64 *when = m->read_at ? g_hash_table_lookup (m->read_at, key) : NULL;

  return when ? MAX (m->modified, *when) : m->modified;
}

GPtrArray *
amm_conversation_changed_since (AmmConversation *conv, const char *viewer, gint64 after, guint max)
{
  GPtrArray *out = g_ptr_array_new ();
  AmmParticipant *p = amm_conversation_find_participant (conv, viewer);
  gint64 until = visible_until (conv, viewer);
  g_autofree char *key = g_ascii_strdown (viewer, -1);
  /* a read mark is the only change an older message can see (its lastModifiedDate for that
   * reader); each one also advances the reader's read_changed, so without a recent one no
   * older message needs looking at */
  gboolean reads = p && p->read_changed >= after;
  gboolean anchored = FALSE;
  guint changed = 0;

  for (guint i = conv->messages->len; i > 0; i--) {
    AmmMessage *m = conv->messages->pdata[i - 1];

    if (m->received > until)
      continue;
    if (m->received >= after) {
      if (changed == max)
        break;        /* more new ones than fit: the client pages back, no anchor */
      g_ptr_array_add (out, m);
      changed++;
    } else if (!anchored) {
      g_ptr_array_add (out, m);   /* where the new ones join what the client has */
      anchored = TRUE;
    } else if (!reads || changed == max) {
      break;
    } else if (modified_for_key (m, key) >= after) {
      g_ptr_array_add (out, m);
      changed++;
    }
  }
  return out;
}

gint64
amm_conversation_last_updated_for (AmmConversation *conv, const char *address)
{
  gint64 until = visible_until (conv, address);
  AmmParticipant *p = amm_conversation_find_participant (conv, address);

  return MAX (MIN (conv->last_updated, until), p ? p->read_changed : 0);
}

gint64
amm_state_user_last_updated (AmmState *state, const char *address)
{
  g_autoptr (GPtrArray) convs = amm_state_user_conversations (state, address);
  gint64 newest = 0;

  for (guint i = 0; i < convs->len; i++)
    newest = MAX (newest, amm_conversation_last_updated_for (convs->pdata[i], address));
  return newest;
}

/* ---- changes ---- */

static char **
participant_addresses (AmmConversation *conv, gboolean active_only)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();

  for (guint i = 0; i < conv->participants->len; i++) {
    AmmParticipant *p = conv->participants->pdata[i];
    if (p->active || !active_only)
      g_strv_builder_add (b, p->address);
  }
  return g_strv_builder_end (b);
}

static void
index_message (AmmState *state, AmmConversation *conv, AmmMessage *m)
{
  g_ptr_array_add (conv->messages, m);
  g_hash_table_insert (state->message_by_id, m->id, m);
}

static AmmMessage *
message_new (AmmState *state, AmmConversation *conv, const char *from, const char *event_type)
{
  AmmMessage *m = g_new0 (AmmMessage, 1);
  AmmUser *u = amm_state_find_user (state, from);

  m->id = g_strdup_printf ("m%" G_GUINT64_FORMAT, state->next_message++);
  m->thread_id = g_strdup (conv->id);
  m->from = g_strdup (u ? u->address : from);
  m->to = participant_addresses (conv, TRUE);
  m->subject = g_strdup (conv->subject);
  m->body = g_strdup ("");
  m->importance = g_strdup ("NORMAL");
  m->sensitivity = g_strdup ("NORMAL");
  m->event_type = g_strdup (event_type);
  m->received = m->modified = amm_state_tick (state);
  m->read_by = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  m->parts = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_part_free);
  g_hash_table_add (m->read_by, g_ascii_strdown (m->from, -1));
  conv->last_updated = m->received;
  return m;
}

static AmmMessage *
add_event (AmmState *state, AmmConversation *conv, const char *from, const char *type,
           const char * const *participants)
{
  AmmMessage *m = message_new (state, conv, from, type);

  if (participants)
    m->event_participants = g_strdupv ((char **) participants);
  /* Events are never "unread". */
  for (guint i = 0; m->to[i]; i++)
    g_hash_table_add (m->read_by, g_ascii_strdown (m->to[i], -1));
  index_message (state, conv, m);
  return m;
}

static AmmConversation *
create_conversation (AmmState *state, const char *owner, const char * const *to,
                     GError **error)
{
  AmmConversation *conv;
  g_autoptr (GPtrArray) users = g_ptr_array_new ();
  AmmUser *owner_user = amm_state_find_user (state, owner);

  if (!owner_user) {
    g_set_error (error, AMM_FAULT, AMM_FAULT_PARTICIPANT_INVALID, "Unknown sender %s", owner);
    return NULL;
  }
  g_ptr_array_add (users, owner_user);
  for (guint i = 0; to && to[i]; i++) {
    AmmUser *u = amm_state_find_user (state, to[i]);
    if (!u) {
      g_set_error (error, AMM_FAULT, AMM_FAULT_PARTICIPANT_INVALID,
                   "Participant address %s is not valid", to[i]);
      return NULL;
    }
    if (!g_ptr_array_find (users, u, NULL))
      g_ptr_array_add (users, u);
  }

  conv = g_new0 (AmmConversation, 1);
  conv->id = g_strdup_printf ("c%" G_GUINT64_FORMAT, state->next_conversation++);
  conv->subject = g_strdup ("");
  conv->owner = g_strdup (owner_user->address);
  conv->participants = g_ptr_array_new_with_free_func ((GDestroyNotify) participant_free);
  conv->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) message_free);
  for (guint i = 0; i < users->len; i++) {
    AmmParticipant *p = g_new0 (AmmParticipant, 1);
    p->address = g_strdup (((AmmUser *) users->pdata[i])->address);
    p->active = TRUE;
    g_ptr_array_add (conv->participants, p);
  }
  g_ptr_array_add (state->conversations, conv);
  g_hash_table_insert (state->conversation_by_id, conv->id, conv);
  add_event (state, conv, conv->owner, "START", NULL);
  return conv;
}

AmmMessage *
amm_state_send (AmmState *state, const char *from, const char * const *to,
                const char *thread_id, const char *subject, const char *body,
                const char *in_reply_to, const char *importance, const char *sensitivity,
                gsize max_text_length, GPtrArray *parts, GPtrArray *media, GError **error)
{
  AmmConversation *conv;
  AmmMessage *m;
  gboolean has_parts = parts && parts->len > 0;

  if (!body)
    body = "";
  if (!*body && !has_parts) {
    g_set_error (error, AMM_FAULT, AMM_FAULT_MESSAGE_EMPTY, "The message is empty");
    return NULL;
  }
  if (!g_utf8_validate (body, -1, NULL)) {
    g_set_error (error, AMM_FAULT, AMM_FAULT_BAD_REQUEST, "The body is not UTF-8");
    return NULL;
  }
  if (max_text_length > 0 && (gsize) g_utf8_strlen (body, -1) > max_text_length) {
    g_set_error (error, AMM_FAULT, AMM_FAULT_BODY_TOO_LONG,
                 "The body is longer than %" G_GSIZE_FORMAT " characters", max_text_length);
    return NULL;
  }
  if (thread_id) {
    conv = amm_state_find_conversation (state, thread_id);
    if (!conv) {
      g_set_error (error, AMM_FAULT, AMM_FAULT_NOT_FOUND, "No conversation %s", thread_id);
      return NULL;
    }
    if (!amm_conversation_is_active_participant (conv, from)) {
      g_set_error (error, AMM_FAULT, AMM_FAULT_FORBIDDEN,
                   "%s is not an active participant of %s", from, thread_id);
      return NULL;
    }
    if (conv->closed) {
      g_set_error (error, AMM_FAULT, AMM_FAULT_CLOSED,
                   "The conversation %s is closed: nothing more can be posted to it", thread_id);
      return NULL;
    }
  } else {
    if (subject && g_utf8_strlen (subject, -1) > AMM_SERVER_MAX_SUBJECT_LENGTH) {
      g_set_error (error, AMM_FAULT, AMM_FAULT_SUBJECT_TOO_LONG,
                   "The subject is longer than %d characters", AMM_SERVER_MAX_SUBJECT_LENGTH);
      return NULL;
    }
    if (!to || !to[0]) {
      g_set_error (error, AMM_FAULT, AMM_FAULT_BAD_REQUEST, "No participants (\"to\")");
      return NULL;
    }
    conv = create_conversation (state, from, to, error);
    if (!conv)
      return NULL;
    if (subject && *subject) {
      g_free (conv->subject);
      conv->subject = g_strdup (subject);
    }
  }

  m = message_new (state, conv, from, "MESSAGE");
  g_free (m->body);
  m->body = g_strdup (body);
  if (in_reply_to && *in_reply_to)
    m->in_reply_to = g_strdup (in_reply_to);
  for (guint i = 0; has_parts && i < parts->len; i++) {
    AmmPart *p = parts->pdata[i];

    p->id = g_strdup_printf ("p%" G_GUINT64_FORMAT, state->next_part++);
    if (media && i < media->len && media->pdata[i])
      g_hash_table_replace (state->media, g_strdup (p->id), g_bytes_ref (media->pdata[i]));
    g_ptr_array_add (m->parts, p);
  }
  if (has_parts) {
    /* the message owns the parts now */
    g_ptr_array_set_free_func (parts, NULL);
    g_ptr_array_set_size (parts, 0);
  }
  if (importance && *importance) {
    g_free (m->importance);
    m->importance = g_strdup (importance);
  }
  if (sensitivity && *sensitivity) {
    g_free (m->sensitivity);
    m->sensitivity = g_strdup (sensitivity);
  }
  index_message (state, conv, m);
  return m;
}

AmmMessage *
amm_state_leave (AmmState *state, AmmConversation *conv, const char *address, GError **error)
{
  AmmParticipant *p = amm_conversation_find_participant (conv, address);
  const char *who[2] = { NULL, NULL };
  AmmMessage *m;

  if (!p || !p->active) {
    g_set_error (error, AMM_FAULT, AMM_FAULT_FORBIDDEN, "%s is not an active participant",
                 address);
    return NULL;
  }
  who[0] = p->address;
  /* The LEFT event is addressed to the participants before the leave (the leaver sees it). */
  m = add_event (state, conv, p->address, "LEFT", who);
  p->active = FALSE;
  p->left_at = m->received;
  return m;
}

AmmMessage *
amm_state_set_subject (AmmState *state, AmmConversation *conv, const char *by,
                       const char *subject, GError **error)
{
  if (!amm_conversation_is_active_participant (conv, by)) {
    g_set_error (error, AMM_FAULT, AMM_FAULT_FORBIDDEN, "%s is not an active participant", by);
    return NULL;
  }
  if (conv->closed) {
    g_set_error (error, AMM_FAULT, AMM_FAULT_CLOSED, "The conversation %s is closed", conv->id);
    return NULL;
  }
  if (!subject || !g_utf8_validate (subject, -1, NULL)) {
    g_set_error (error, AMM_FAULT, AMM_FAULT_BAD_REQUEST, "The subject is not UTF-8 text");
    return NULL;
  }
  if (g_utf8_strlen (subject, -1) > AMM_SERVER_MAX_SUBJECT_LENGTH) {
    g_set_error (error, AMM_FAULT, AMM_FAULT_SUBJECT_TOO_LONG,
                 "The subject is longer than %d characters", AMM_SERVER_MAX_SUBJECT_LENGTH);
    return NULL;
  }
  g_free (conv->subject);
  conv->subject = g_strdup (subject ? subject : "");
  return add_event (state, conv, by, "SUBJECT_CHANGE", NULL);
}

AmmMessage *
amm_state_add_participants (AmmState *state, AmmConversation *conv, const char *by,
                            const char * const *addresses, GPtrArray *added, GError **error)
{
  g_autoptr (GPtrArray) users = g_ptr_array_new ();
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();
  g_auto (GStrv) joined = NULL;

  if (!amm_conversation_is_active_participant (conv, by)) {
    g_set_error (error, AMM_FAULT, AMM_FAULT_FORBIDDEN, "%s is not an active participant", by);
    return NULL;
  }
  if (conv->closed) {
    g_set_error (error, AMM_FAULT, AMM_FAULT_CLOSED, "The conversation %s is closed", conv->id);
    return NULL;
  }
  for (guint i = 0; addresses && addresses[i]; i++) {
    AmmUser *u = amm_state_find_user (state, addresses[i]);
    if (!u) {
      g_set_error (error, AMM_FAULT, AMM_FAULT_PARTICIPANT_INVALID,
                   "Participant address %s is not valid", addresses[i]);
      return NULL;
    }
    if (!g_ptr_array_find (users, u, NULL))
      g_ptr_array_add (users, u);
  }
  if (users->len == 0) {
    g_set_error (error, AMM_FAULT, AMM_FAULT_BAD_REQUEST, "No participants to add");
    return NULL;
  }
  for (guint i = 0; i < users->len; i++) {
    AmmUser *u = users->pdata[i];
    AmmParticipant *p = amm_conversation_find_participant (conv, u->address);

    if (added)
      g_ptr_array_add (added, u);
    if (p && p->active)
      continue;
    if (!p) {
      p = g_new0 (AmmParticipant, 1);
      p->address = g_strdup (u->address);
      g_ptr_array_add (conv->participants, p);
    }
    p->active = TRUE;
    p->left_at = 0;
    g_strv_builder_add (names, u->address);
  }
  joined = g_strv_builder_end (names);
  if (!joined[0])
    return NULL;   /* everyone was already there: nothing changed, no error */
  return add_event (state, conv, by, "JOINED", (const char * const *) joined);
}

gboolean
amm_state_mark_read (AmmState *state, AmmMessage *msg, const char *address)
{
  g_autofree char *key = g_ascii_strdown (address, -1);
  AmmConversation *conv = amm_state_find_conversation (state, msg->thread_id);
  AmmParticipant *p = conv ? amm_conversation_find_participant (conv, address) : NULL;
  gint64 *when;

  if (g_hash_table_contains (msg->read_by, key))
    return FALSE;
  /* the reader's view changes: this message's lastModifiedDate and their conversation's
   * lastUpdated advance (other participants' views do not) */
  when = g_new (gint64, 1);
  *when = amm_state_tick (state);
  if (!msg->read_at)
    msg->read_at = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_replace (msg->read_at, g_strdup (key), when);
  if (p)
    p->read_changed = *when;
  return g_hash_table_add (msg->read_by, g_steal_pointer (&key));
}

gint64
amm_message_modified_for (AmmMessage *msg, const char *viewer)
{
  g_autofree char *key = viewer ? g_ascii_strdown (viewer, -1) : NULL;

  return key ? modified_for_key (msg, key) : msg->modified;
}

AmmMessage *
amm_state_close (AmmState *state, AmmConversation *conv, const char *by, GError **error)
{
  AmmMessage *m;

  if (!amm_conversation_is_active_participant (conv, by)) {
    g_set_error (error, AMM_FAULT, AMM_FAULT_FORBIDDEN, "%s is not an active participant", by);
    return NULL;
  }
  if (conv->closed)
    return NULL;
  m = add_event (state, conv, by, "CLOSED", NULL);
  conv->closed = TRUE;
  return m;
}

gboolean
amm_state_mark_conversation_read (AmmState *state, AmmConversation *conv, const char *address)
{
  g_autoptr (GPtrArray) msgs = amm_conversation_visible_messages (conv, address);
  gboolean changed = FALSE;

  for (guint i = 0; i < msgs->len; i++)
    changed |= amm_state_mark_read (state, msgs->pdata[i], address);
  return changed;
}

/* ---- JSON ---- */

char *
amm_conversations_href (const char *base)
{
  return g_strconcat (base, "/aem/conversations", NULL);
}

JsonNode *
amm_json_entity (AmmState *state, const char *address, gboolean with_phones)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  AmmUser *u = amm_state_find_user (state, address);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "address");
  json_builder_add_string_value (b, u ? u->address : address);
  json_builder_set_member_name (b, "givenName");
  json_builder_add_string_value (b, u ? u->given_name : "");
  json_builder_set_member_name (b, "surname");
  json_builder_add_string_value (b, u ? u->surname : "");
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "CONTACT");
  if (with_phones && u && u->phone_numbers) {
    json_builder_set_member_name (b, "phoneNumbers");
    json_builder_add_value (b, json_node_copy (u->phone_numbers));
  }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
add_time (JsonBuilder *b, const char *name, gint64 ms)
{
  g_autofree char *s = amm_time_format (ms);

  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, s);
}

static void
add_str (JsonBuilder *b, const char *name, const char *v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, v);
}

static void
add_int (JsonBuilder *b, const char *name, gint64 v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, v);
}

struct _AmmJsonDoc {
  AmmState   *state;
  char       *viewer;
  char       *viewer_key;   /* lower-case: the key of read_by and read_at */
  char       *base;
  GHashTable *entities;     /* address as stored → JsonNode, the entity without phone numbers */
};

AmmJsonDoc *
amm_json_doc_new (AmmState *state, const char *viewer, const char *base)
{
  AmmJsonDoc *doc = g_new0 (AmmJsonDoc, 1);

  doc->state = state;
  doc->viewer = g_strdup (viewer);
  doc->viewer_key = g_ascii_strdown (viewer, -1);
  doc->base = g_strdup (base);
  doc->entities = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) json_node_unref);
  return doc;
}

void
amm_json_doc_free (AmmJsonDoc *doc)
{
  if (!doc)
    return;
  g_hash_table_unref (doc->entities);
  g_free (doc->viewer);
  g_free (doc->viewer_key);
  g_free (doc->base);
  g_free (doc);
}

/* The entity of `address`, made once per document and shared by reference. */
static JsonNode *
doc_entity (AmmJsonDoc *doc, const char *address)
{
  JsonNode *node = g_hash_table_lookup (doc->entities, address);

  if (!node) {
    node = amm_json_entity (doc->state, address, FALSE);
    g_hash_table_insert (doc->entities, g_strdup (address), node);
  }
  return json_node_ref (node);
}

static gboolean
doc_read (AmmJsonDoc *doc, AmmMessage *m)
{
  return g_hash_table_contains (m->read_by, doc->viewer_key);
}

static void
doc_add_parts (AmmJsonDoc *doc, JsonBuilder *b, AmmMessage *m)
{
  json_builder_set_member_name (b, "parts");
  json_builder_begin_array (b);
  for (guint i = 0; i < m->parts->len; i++) {
    AmmPart *p = m->parts->pdata[i];
    g_autofree char *media = g_strdup_printf ("%s/aem/media/%s", doc->base, p->id);

    json_builder_begin_object (b);
    add_str (b, "partId", p->id);
    add_str (b, "mimeType", p->mime_type);
    json_builder_set_member_name (b, "size");
    json_builder_add_int_value (b, p->size);
    add_str (b, "disposition", p->disposition);
    add_str (b, "media", media);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

static void
doc_add_event (AmmJsonDoc *doc, JsonBuilder *b, AmmMessage *m)
{
  json_builder_set_member_name (b, "event");
  json_builder_begin_object (b);
  add_str (b, "type", m->event_type);
  if (m->event_participants) {
    json_builder_set_member_name (b, "participants");
    json_builder_begin_array (b);
    for (guint i = 0; m->event_participants[i]; i++)
      json_builder_add_value (b, doc_entity (doc, m->event_participants[i]));
    json_builder_end_array (b);
  }
  json_builder_end_object (b);
}

void
amm_json_doc_add_message (AmmJsonDoc *doc, JsonBuilder *b, AmmMessage *m)
{
  g_autofree char *href = g_strdup_printf ("%s/aem/messages/%s", doc->base, m->id);

  json_builder_begin_object (b);
  add_str (b, "id", m->id);
  add_str (b, "href", href);
  add_str (b, "threadId", m->thread_id);
  add_str (b, "subject", m->subject);
  add_str (b, "body", m->body);
  json_builder_set_member_name (b, "from");
  json_builder_add_value (b, doc_entity (doc, m->from));
  json_builder_set_member_name (b, "to");
  json_builder_begin_array (b);
  for (guint i = 0; m->to[i]; i++)
    json_builder_add_value (b, doc_entity (doc, m->to[i]));
  json_builder_end_array (b);
  doc_add_parts (doc, b, m);
  add_time (b, "receivedDate", m->received);
  add_time (b, "lastModifiedDate", modified_for_key (m, doc->viewer_key));
  if (m->in_reply_to)
    add_str (b, "inReplyTo", m->in_reply_to);
  doc_add_event (doc, b, m);
  json_builder_set_member_name (b, "flags");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "read");
  json_builder_add_boolean_value (b, doc_read (doc, m));
  add_str (b, "importance", m->importance);
  add_str (b, "sensitivity", m->sensitivity);
  json_builder_end_object (b);
  json_builder_end_object (b);
}

JsonNode *
amm_json_message (AmmState *state, AmmMessage *m, const char *viewer, const char *base)
{
  g_autoptr (AmmJsonDoc) doc = amm_json_doc_new (state, viewer, base);
  g_autoptr (JsonBuilder) b = json_builder_new ();

  amm_json_doc_add_message (doc, b, m);
  return json_builder_get_root (b);
}

typedef struct {
  guint total, unread, attachments, unread_attachments;
  gint64 latest;
} ConvCounts;

/* Counts over the messages the viewer can see (without copying the list). */
static void
doc_count (AmmJsonDoc *doc, AmmConversation *conv, ConvCounts *n)
{
  gint64 until = visible_until (conv, doc->viewer);

  memset (n, 0, sizeof *n);
  for (guint i = 0; i < conv->messages->len; i++) {
    AmmMessage *m = conv->messages->pdata[i];

    if (m->received > until)
      continue;
    n->latest = MAX (n->latest, m->received);
    if (g_strcmp0 (m->event_type, "MESSAGE") != 0)
      continue;
    n->total++;
    n->attachments += m->parts->len;
    if (!doc_read (doc, m)) {
      n->unread++;
      n->unread_attachments += m->parts->len;
    }
  }
}

void
amm_json_doc_add_conversation (AmmJsonDoc *doc, JsonBuilder *b, AmmConversation *conv,
                               GPtrArray *messages)
{
  g_autofree char *chref = amm_conversations_href (doc->base);
  g_autofree char *href = g_strdup_printf ("%s/%s", chref, conv->id);
  g_autofree char *phref = g_strdup_printf ("%s/participants", href);
  AmmParticipant *me = amm_conversation_find_participant (conv, doc->viewer);
  guint active = 0;
  ConvCounts n;

  doc_count (doc, conv, &n);
  for (guint i = 0; i < conv->participants->len; i++)
    active += ((AmmParticipant *) conv->participants->pdata[i])->active ? 1 : 0;

  json_builder_begin_object (b);
  add_str (b, "id", conv->id);
  add_str (b, "href", href);
  add_str (b, "type", "THREAD");
  add_str (b, "subject", conv->subject ? conv->subject : "");
  add_str (b, "owner", conv->owner);
  json_builder_set_member_name (b, "flags");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "active");
  json_builder_add_boolean_value (b, me && me->active && !conv->closed);
  json_builder_set_member_name (b, "closed");
  json_builder_add_boolean_value (b, conv->closed);
  add_str (b, "sensitivity", "NORMAL");
  json_builder_end_object (b);
  add_time (b, "lastAccessedTime", me ? me->last_accessed : 0);
  add_time (b, "lastUpdated", amm_conversation_last_updated_for (conv, doc->viewer));
  add_time (b, "latestEntryTimestamp", n.latest);
  add_int (b, "totalCount", n.total);
  add_int (b, "unreadCount", n.unread);
  add_int (b, "attachmentCount", n.attachments);
  add_int (b, "unreadAttachmentCount", n.unread_attachments);
  json_builder_set_member_name (b, "isMultiparty");
  json_builder_add_boolean_value (b, active > 2);
  json_builder_set_member_name (b, "participants");
  json_builder_begin_object (b);
  add_str (b, "href", phref);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "messages");
  json_builder_begin_array (b);
  for (guint i = 0; messages && i < messages->len; i++)
    amm_json_doc_add_message (doc, b, messages->pdata[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
}

JsonNode *
amm_json_conversation (AmmState *state, AmmConversation *conv, const char *viewer,
                       const char *base, GPtrArray *messages)
{
  g_autoptr (AmmJsonDoc) doc = amm_json_doc_new (state, viewer, base);
  g_autoptr (JsonBuilder) b = json_builder_new ();

  amm_json_doc_add_conversation (doc, b, conv, messages);
  return json_builder_get_root (b);
}

/* ---- persistence ---- */

static void
add_strv (JsonBuilder *b, const char *name, char **v)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; v && v[i]; i++)
    json_builder_add_string_value (b, v[i]);
  json_builder_end_array (b);
}

gboolean
amm_state_save (AmmState *state, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;

  g_clear_handle_id (&state->save_id, g_source_remove);
  if (!state->path)
    return TRUE;
  json_builder_begin_object (b);
  add_int (b, "clock", state->clock);
  add_int (b, "nextConversation", state->next_conversation);
  add_int (b, "nextMessage", state->next_message);
  add_int (b, "nextPart", state->next_part);
  json_builder_set_member_name (b, "entityTags");
  json_builder_begin_object (b);
  for (guint i = 0; i < state->users->len; i++) {
    AmmUser *u = state->users->pdata[i];
    add_int (b, u->address, u->entity_tag);
  }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "conversations");
  json_builder_begin_array (b);
  for (guint i = 0; i < state->conversations->len; i++) {
    AmmConversation *c = state->conversations->pdata[i];

    json_builder_begin_object (b);
    add_str (b, "id", c->id);
    add_str (b, "subject", c->subject);
    add_str (b, "owner", c->owner);
    add_int (b, "lastUpdated", c->last_updated);
    json_builder_set_member_name (b, "closed");
    json_builder_add_boolean_value (b, c->closed);
    json_builder_set_member_name (b, "participants");
    json_builder_begin_array (b);
    for (guint j = 0; j < c->participants->len; j++) {
      AmmParticipant *p = c->participants->pdata[j];
      json_builder_begin_object (b);
      add_str (b, "address", p->address);
      json_builder_set_member_name (b, "active");
      json_builder_add_boolean_value (b, p->active);
      add_int (b, "leftAt", p->left_at);
      add_int (b, "lastAccessed", p->last_accessed);
      if (p->read_changed)
        add_int (b, "readChanged", p->read_changed);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_set_member_name (b, "messages");
    json_builder_begin_array (b);
    for (guint j = 0; j < c->messages->len; j++) {
      AmmMessage *m = c->messages->pdata[j];
      g_autofree char **readers = (char **) g_hash_table_get_keys_as_array (m->read_by, NULL);

      json_builder_begin_object (b);
      add_str (b, "id", m->id);
      add_str (b, "from", m->from);
      add_strv (b, "to", m->to);
      add_str (b, "subject", m->subject);
      add_str (b, "body", m->body);
      if (m->in_reply_to)
        add_str (b, "inReplyTo", m->in_reply_to);
      add_str (b, "importance", m->importance);
      add_str (b, "sensitivity", m->sensitivity);
      add_str (b, "eventType", m->event_type);
      if (m->event_participants)
        add_strv (b, "eventParticipants", m->event_participants);
      add_int (b, "received", m->received);
      add_int (b, "modified", m->modified);
      add_strv (b, "readBy", readers);
      if (m->read_at) {
        GHashTableIter it;
        gpointer k, v;

        json_builder_set_member_name (b, "readAt");
        json_builder_begin_object (b);
        g_hash_table_iter_init (&it, m->read_at);
        while (g_hash_table_iter_next (&it, &k, &v))
          add_int (b, k, *(gint64 *) v);
        json_builder_end_object (b);
      }
      json_builder_set_member_name (b, "parts");
      json_builder_begin_array (b);
      for (guint k = 0; k < m->parts->len; k++) {
        AmmPart *p = m->parts->pdata[k];
        json_builder_begin_object (b);
        add_str (b, "id", p->id);
        add_str (b, "mimeType", p->mime_type);
        add_str (b, "disposition", p->disposition);
        add_int (b, "size", p->size);
        json_builder_end_object (b);
      }
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  return g_file_set_contents (state->path, text, -1, error);
}

static gboolean
scheduled_save (gpointer data)
{
  AmmState *state = data;
  g_autoptr (GError) error = NULL;

  state->save_id = 0;
  if (!amm_state_save (state, &error))
    g_printerr ("amm-server: cannot save the state: %s\n", error->message);
  return G_SOURCE_REMOVE;
}

void
amm_state_schedule_save (AmmState *state)
{
  if (!state->path || state->save_id)
    return;
  state->save_id = g_timeout_add (AMM_STATE_SAVE_DELAY_MS, scheduled_save, state);
}

static char **
member_strv (JsonObject *o, const char *name)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  JsonArray *a;

  if (!json_object_has_member (o, name))
    return NULL;
  a = json_object_get_array_member (o, name);
  for (guint i = 0; a && i < json_array_get_length (a); i++)
    g_strv_builder_add (b, json_array_get_string_element (a, i));
  return g_strv_builder_end (b);
}

gboolean
amm_state_load (AmmState *state, const char *path, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *root, *tags;
  JsonArray *convs;

  g_free (state->path);
  state->path = g_strdup (path);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return TRUE;
  if (!json_parser_load_from_file (parser, path, error))
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not a JSON object", path);
    return FALSE;
  }
  root = json_node_get_object (json_parser_get_root (parser));
  state->clock = json_object_get_int_member_with_default (root, "clock", 0);
  state->next_conversation = json_object_get_int_member_with_default (root, "nextConversation", 1);
  state->next_message = json_object_get_int_member_with_default (root, "nextMessage", 1);
  state->next_part = json_object_get_int_member_with_default (root, "nextPart", 1);
  tags = json_object_get_object_member (root, "entityTags");
  for (guint i = 0; tags && i < state->users->len; i++) {
    AmmUser *u = state->users->pdata[i];
    u->entity_tag = json_object_get_int_member_with_default (tags, u->address, 0);
  }
  convs = json_object_get_array_member (root, "conversations");
  for (guint i = 0; convs && i < json_array_get_length (convs); i++) {
    JsonObject *co = json_array_get_object_element (convs, i);
    AmmConversation *c = g_new0 (AmmConversation, 1);
    JsonArray *ps = json_object_get_array_member (co, "participants");
    JsonArray *ms = json_object_get_array_member (co, "messages");

    c->id = g_strdup (member_string (co, "id", ""));
    c->subject = g_strdup (member_string (co, "subject", ""));
    c->owner = g_strdup (member_string (co, "owner", ""));
    c->last_updated = json_object_get_int_member_with_default (co, "lastUpdated", 0);
    c->closed = json_object_get_boolean_member_with_default (co, "closed", FALSE);
    c->participants = g_ptr_array_new_with_free_func ((GDestroyNotify) participant_free);
    c->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) message_free);
    for (guint j = 0; ps && j < json_array_get_length (ps); j++) {
      JsonObject *po = json_array_get_object_element (ps, j);
      AmmParticipant *p = g_new0 (AmmParticipant, 1);
      p->address = g_strdup (member_string (po, "address", ""));
      p->active = json_object_get_boolean_member_with_default (po, "active", TRUE);
      p->left_at = json_object_get_int_member_with_default (po, "leftAt", 0);
      p->last_accessed = json_object_get_int_member_with_default (po, "lastAccessed", 0);
      p->read_changed = json_object_get_int_member_with_default (po, "readChanged", 0);
      g_ptr_array_add (c->participants, p);
    }
    g_ptr_array_add (state->conversations, c);
    g_hash_table_insert (state->conversation_by_id, c->id, c);
    for (guint j = 0; ms && j < json_array_get_length (ms); j++) {
      JsonObject *mo = json_array_get_object_element (ms, j);
      AmmMessage *m = g_new0 (AmmMessage, 1);
      g_auto (GStrv) readers = member_strv (mo, "readBy");

      m->id = g_strdup (member_string (mo, "id", ""));
      m->thread_id = g_strdup (c->id);
      m->from = g_strdup (member_string (mo, "from", ""));
      m->to = member_strv (mo, "to");
      if (!m->to)
        m->to = g_new0 (char *, 1);
      m->subject = g_strdup (member_string (mo, "subject", ""));
      m->body = g_strdup (member_string (mo, "body", ""));
      m->in_reply_to = g_strdup (member_string (mo, "inReplyTo", NULL));
      m->importance = g_strdup (member_string (mo, "importance", "NORMAL"));
      m->sensitivity = g_strdup (member_string (mo, "sensitivity", "NORMAL"));
      m->event_type = g_strdup (member_string (mo, "eventType", "MESSAGE"));
      m->event_participants = member_strv (mo, "eventParticipants");
      m->received = json_object_get_int_member_with_default (mo, "received", 0);
      m->modified = json_object_get_int_member_with_default (mo, "modified", m->received);
      m->read_by = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      for (guint k = 0; readers && readers[k]; k++)
        g_hash_table_add (m->read_by, g_strdup (readers[k]));
      if (json_object_has_member (mo, "readAt")
          && JSON_NODE_HOLDS_OBJECT (json_object_get_member (mo, "readAt"))) {
        JsonObject *ra = json_object_get_object_member (mo, "readAt");
        g_autoptr (GList) names = json_object_get_members (ra);

        m->read_at = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
        for (GList *l = names; l; l = l->next) {
          gint64 *when = g_new (gint64, 1);
          *when = json_object_get_int_member_with_default (ra, l->data, 0);
          g_hash_table_replace (m->read_at, g_strdup (l->data), when);
        }
      }
      m->parts = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_part_free);
      if (json_object_has_member (mo, "parts")) {
        JsonArray *pa = json_object_get_array_member (mo, "parts");
        for (guint k = 0; pa && k < json_array_get_length (pa); k++) {
          JsonObject *po = json_array_get_object_element (pa, k);
          AmmPart *p = amm_part_new (member_string (po, "mimeType", NULL),
                                     member_string (po, "disposition", NULL),
                                     json_object_get_int_member_with_default (po, "size", 0));
          p->id = g_strdup (member_string (po, "id", ""));
          g_ptr_array_add (m->parts, p);
        }
      }
      index_message (state, c, m);
    }
  }
  return TRUE;
}
