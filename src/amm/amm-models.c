/* amm-models.c: versions, entities, parts, messages, conversations, conversation lists.
 *
 * Resources are in amm-models-resources.c, frames and error bodies in amm-models-frame.c.
 * Semantics: docs/protocol.md §3–§8. Every parser is total over hostile input: a bad member
 * is an AMM_ERROR_MALFORMED error naming its path, never a critical.
 */
#include "amm-models.h"

#include <string.h>

#include "amm-error.h"
#include "amm-json.h"
#include "amm-models-private.h"
#include "amm-time.h"

/* ---- versions --------------------------------------------------------------------------- */

const char *
amm_version_to_string (AmmVersion version)
{
  switch (version)
    {
    case AMM_VERSION_2_1:
      return "2.1";
    case AMM_VERSION_3:
      return "3";
    case AMM_VERSION_3_2:
      return "3.2";
    case AMM_VERSION_AUTO:
    default:
      return "auto";
    }
}

gboolean
amm_version_from_string (const char *s, AmmVersion *out)
{
  AmmVersion v;

  if (s == NULL)
    return FALSE;
  if (*s == '\0' || g_ascii_strcasecmp (s, "auto") == 0)
    v = AMM_VERSION_AUTO;
  else if (strcmp (s, "2.1") == 0)
    v = AMM_VERSION_2_1;
  else if (strcmp (s, "3") == 0 || strcmp (s, "3.0") == 0)
    v = AMM_VERSION_3;
  else if (strcmp (s, "3.2") == 0)
    v = AMM_VERSION_3_2;
  else
    return FALSE;
  if (out != NULL)
    *out = v;
  return TRUE;
}

/* ---- shared helpers --------------------------------------------------------------------- */

const char *
amm_models_require_nonempty (JsonObject *obj, const char *path, const char *member, GError **error)
{
  const char *s = amm_json_require_string (obj, path, member, error);

  if (s != NULL && *s == '\0')
    {
      g_autofree char *full = amm_json_member_path (path, member);
      g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED, "%s: empty string", full);
      return NULL;
    }
  return s;
}

/* A timestamp member. Required: absent is an error. Optional: absent leaves *out_str and *out_dt
 * NULL. Present but not a valid ISO-8601 date with a zone is an error either way. */
static gboolean
parse_date_member (JsonObject *obj, const char *path, const char *member, gboolean required,
                   char **out_str, GDateTime **out_dt, GError **error)
{
  const char *s = NULL;
  GDateTime *dt;

  *out_str = NULL;
  *out_dt = NULL;
  if (required)
    {
      s = amm_json_require_string (obj, path, member, error);
      if (s == NULL)
        return FALSE;
    }
  else
    {
      if (!amm_json_opt_string (obj, path, member, NULL, &s, error))
        return FALSE;
      if (s == NULL)
        return TRUE;
    }

  dt = amm_time_parse (s, NULL);
  if (dt == NULL)
    {
      g_autofree char *full = amm_json_member_path (path, member);
      g_autofree char *shown = g_utf8_make_valid (s, MIN (strlen (s), 64));
      g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED,
                   "%s: invalid ISO-8601 timestamp \"%s\"", full, shown);
      return FALSE;
    }
  *out_str = g_strdup (s);
  *out_dt = dt;
  return TRUE;
}

static gboolean
parse_entity_array (JsonArray *array, const char *path, GPtrArray *into, GError **error)
{
  guint i, n = array != NULL ? json_array_get_length (array) : 0;

  for (i = 0; i < n; i++)
    {
      g_autofree char *epath = amm_json_element_path (path, i);
      AmmEntity *e = amm_entity_parse_at (json_array_get_element (array, i), epath, error);

      if (e == NULL)
        return FALSE;
      g_ptr_array_add (into, e);
    }
  return TRUE;
}

/* ---- phone numbers ---------------------------------------------------------------------- */

void
amm_phone_number_free (AmmPhoneNumber *phone)
{
  if (phone == NULL)
    return;
  g_free (phone->type);
  g_free (phone->value);
  g_free (phone->canonical_form);
  g_free (phone->custom_type);
  g_free (phone);
}

AmmPhoneNumber *
amm_phone_number_copy (const AmmPhoneNumber *phone)
{
  AmmPhoneNumber *copy;

  if (phone == NULL)
    return NULL;
  copy = g_new0 (AmmPhoneNumber, 1);
  copy->type = g_strdup (phone->type);
  copy->value = g_strdup (phone->value != NULL ? phone->value : "");
  copy->primary = phone->primary;
  copy->verified = phone->verified;
  copy->canonical_form = g_strdup (phone->canonical_form);
  copy->custom_type = g_strdup (phone->custom_type);
  return copy;
}

char *
amm_phone_number_label (const AmmPhoneNumber *phone)
{
  g_autofree char *type = NULL;

  if (phone == NULL)
    return g_strdup ("Phone");
  if (phone->custom_type != NULL)
    {
      g_autofree char *custom = g_strstrip (g_strdup (phone->custom_type));
      if (*custom != '\0')
        return g_steal_pointer (&custom);
    }
  type = g_strstrip (g_strdup (phone->type != NULL ? phone->type : ""));
  if (*type == '\0' || !g_utf8_validate (type, -1, NULL))
    return g_strdup ("Phone");
  {
    /* "WORK" → "Work", "MOBILE_PHONE" → "Mobile phone" */
    g_autofree char *lower = g_utf8_strdown (type, -1);
    g_autofree char *first = g_utf8_strup (lower, g_utf8_next_char (lower) - lower);
    const char *rest = g_utf8_next_char (lower);
    char *label = g_strconcat (first, rest, NULL);

    for (char *c = label; *c; c++)
      if (*c == '_')
        *c = ' ';
    return label;
  }
}

const AmmPhoneNumber *
amm_entity_primary_phone (const AmmEntity *entity)
{
  if (entity == NULL || entity->phone_numbers == NULL || entity->phone_numbers->len == 0)
    return NULL;
  for (guint i = 0; i < entity->phone_numbers->len; i++)
    {
      const AmmPhoneNumber *p = g_ptr_array_index (entity->phone_numbers, i);
      if (p->primary)
        return p;
    }
  return g_ptr_array_index (entity->phone_numbers, 0);
}

static AmmPhoneNumber *
phone_number_parse_at (JsonNode *node, const char *path, GError **error)
{
  JsonObject *obj = amm_json_node_get_object (node, path, error);
  const char *value, *type = NULL, *canonical = NULL, *custom = NULL;
  gboolean primary = FALSE, verified = FALSE;
  AmmPhoneNumber *phone;

  if (obj == NULL)
    return NULL;
  value = amm_models_require_nonempty (obj, path, "value", error);
  if (value == NULL ||
      !amm_json_opt_string (obj, path, "type", NULL, &type, error) ||
      !amm_json_opt_boolean (obj, path, "primary", FALSE, &primary, error) ||
      !amm_json_opt_boolean (obj, path, "verified", FALSE, &verified, error) ||
      !amm_json_opt_string (obj, path, "canonicalForm", NULL, &canonical, error) ||
      !amm_json_opt_string (obj, path, "customType", NULL, &custom, error))
    return NULL;

  phone = g_new0 (AmmPhoneNumber, 1);
  phone->value = g_strdup (value);
  phone->type = g_strdup (type);
  phone->primary = primary;
  phone->verified = verified;
  phone->canonical_form = g_strdup (canonical);
  phone->custom_type = g_strdup (custom);
  return phone;
}

/* ---- entities --------------------------------------------------------------------------- */

static void
entity_clear (AmmEntity *e)
{
  g_free (e->address);
  g_free (e->given_name);
  g_free (e->surname);
  g_free (e->type);
  if (e->phone_numbers != NULL)
    g_ptr_array_unref (e->phone_numbers);
}

AmmEntity *
amm_entity_alloc (void)
{
  AmmEntity *e = g_atomic_rc_box_new0 (AmmEntity);

  e->phone_numbers = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_phone_number_free);
  return e;
}

AmmEntity *
amm_entity_new (const char *address)
{
  AmmEntity *e = amm_entity_alloc ();

  e->address = g_strdup (address != NULL ? address : "");
  return e;
}

AmmEntity *
amm_entity_ref (AmmEntity *e)
{
  return e != NULL ? g_atomic_rc_box_acquire (e) : NULL;
}

void
amm_entity_unref (AmmEntity *e)
{
  if (e != NULL)
    g_atomic_rc_box_release_full (e, (GDestroyNotify) entity_clear);
}

AmmEntity *
amm_entity_parse_at (JsonNode *node, const char *path, GError **error)
{
  JsonObject *obj = amm_json_node_get_object (node, path, error);
  g_autoptr (AmmEntity) e = NULL;
  const char *address, *given = NULL, *surname = NULL, *type = NULL;
  JsonArray *phones = NULL;
  g_autofree char *phones_path = NULL;

  if (obj == NULL)
    return NULL;
  address = amm_models_require_nonempty (obj, path, "address", error);
  if (address == NULL ||
      !amm_json_opt_string (obj, path, "givenName", NULL, &given, error) ||
      !amm_json_opt_string (obj, path, "surname", NULL, &surname, error) ||
      !amm_json_opt_string (obj, path, "type", NULL, &type, error) ||
      !amm_json_opt_array (obj, path, "phoneNumbers", &phones, error))
    return NULL;

  e = amm_entity_alloc ();
  e->address = g_strdup (address);
  e->given_name = g_strdup (given);
  e->surname = g_strdup (surname);
  e->type = g_strdup (type);
  phones_path = amm_json_member_path (path, "phoneNumbers");
  for (guint i = 0; phones != NULL && i < json_array_get_length (phones); i++)
    {
      g_autofree char *ppath = amm_json_element_path (phones_path, i);
      AmmPhoneNumber *phone = phone_number_parse_at (json_array_get_element (phones, i), ppath, error);

      if (phone == NULL)
        return NULL;
      g_ptr_array_add (e->phone_numbers, phone);
    }
  return g_steal_pointer (&e);
}

AmmEntity *
amm_entity_parse (JsonNode *node, GError **error)
{
  return amm_entity_parse_at (node, "entity", error);
}

char *
amm_entity_display_name (const AmmEntity *entity)
{
  g_autofree char *given = NULL;
  g_autofree char *surname = NULL;

  if (entity == NULL)
    return g_strdup ("");
  given = g_strstrip (g_strdup (entity->given_name != NULL ? entity->given_name : ""));
  surname = g_strstrip (g_strdup (entity->surname != NULL ? entity->surname : ""));

  if (*given != '\0' && *surname != '\0')
    return g_strconcat (given, " ", surname, NULL);
  if (*given != '\0')
    return g_steal_pointer (&given);
  if (*surname != '\0')
    return g_steal_pointer (&surname);
  return g_strdup (entity->address != NULL ? entity->address : "");
}

/* ---- parts ------------------------------------------------------------------------------ */

static void
part_clear (AmmPart *p)
{
  g_free (p->part_id);
  g_free (p->mime_type);
  g_free (p->disposition);
  g_free (p->media);
}

AmmPart *
amm_part_alloc (void)
{
  AmmPart *p = g_atomic_rc_box_new0 (AmmPart);
  p->size = -1;
  return p;
}

AmmPart *
amm_part_ref (AmmPart *p)
{
  return p != NULL ? g_atomic_rc_box_acquire (p) : NULL;
}

void
amm_part_unref (AmmPart *p)
{
  if (p != NULL)
    g_atomic_rc_box_release_full (p, (GDestroyNotify) part_clear);
}

AmmPart *
amm_part_parse_at (JsonNode *node, const char *base, const char *path, GError **error)
{
  JsonObject *obj = amm_json_node_get_object (node, path, error);
  g_autoptr (AmmPart) p = NULL;
  const char *part_id, *mime_type = NULL, *disposition = NULL;
  gint64 size = -1;

  if (obj == NULL)
    return NULL;
  part_id = amm_json_require_string (obj, path, "partId", error);
  if (part_id == NULL ||
      !amm_json_opt_string (obj, path, "mimeType", "application/octet-stream", &mime_type, error) ||
      !amm_json_opt_int (obj, path, "size", -1, &size, error) ||
      !amm_json_opt_string (obj, path, "disposition", NULL, &disposition, error))
    return NULL;
  if (size < -1)
    {
      g_autofree char *full = amm_json_member_path (path, "size");
      g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED, "%s: negative size", full);
      return NULL;
    }

  p = amm_part_alloc ();
  p->part_id = g_strdup (part_id);
  p->mime_type = g_strdup (*mime_type != '\0' ? mime_type : "application/octet-stream");
  p->size = size;
  p->disposition = g_strdup (disposition);
  if (!amm_json_opt_href (obj, path, "media", base, &p->media, error))
    return NULL;
  return g_steal_pointer (&p);
}

AmmPart *
amm_part_parse (JsonNode *node, const char *base, GError **error)
{
  return amm_part_parse_at (node, base, "part", error);
}

/* ---- messages --------------------------------------------------------------------------- */

static const struct {
  const char   *wire;
  AmmEventType  type;
} event_types[] = {
  { "MESSAGE", AMM_EVENT_MESSAGE },
  { "START", AMM_EVENT_START },
  { "JOINED", AMM_EVENT_JOINED },
  { "LEFT", AMM_EVENT_LEFT },
  { "SUBJECT_CHANGE", AMM_EVENT_SUBJECT_CHANGE },
  { "CLOSED", AMM_EVENT_CLOSED },
  { "SESSION", AMM_EVENT_SESSION },
};

AmmEventType
amm_event_type_from_string (const char *wire)
{
  gsize i;

  if (wire == NULL)
    return AMM_EVENT_UNKNOWN;
  for (i = 0; i < G_N_ELEMENTS (event_types); i++)
    if (strcmp (event_types[i].wire, wire) == 0)
      return event_types[i].type;
  return AMM_EVENT_UNKNOWN;
}

const char *
amm_event_type_to_string (AmmEventType type)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (event_types); i++)
    if (event_types[i].type == type)
      return event_types[i].wire;
  return "UNKNOWN";
}

static void
message_clear (AmmMessage *m)
{
  g_free (m->id);
  g_free (m->thread_id);
  g_free (m->subject);
  g_free (m->body);
  amm_entity_unref (m->from);
  g_clear_pointer (&m->to, g_ptr_array_unref);
  g_clear_pointer (&m->parts, g_ptr_array_unref);
  g_clear_pointer (&m->received_date, g_date_time_unref);
  g_clear_pointer (&m->last_modified_date, g_date_time_unref);
  g_free (m->last_modified_str);
  g_clear_pointer (&m->event_participants, g_ptr_array_unref);
}

AmmMessage *
amm_message_alloc (void)
{
  AmmMessage *m = g_atomic_rc_box_new0 (AmmMessage);

  m->subject = g_strdup ("");
  m->body = g_strdup ("");
  m->to = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_entity_unref);
  m->parts = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_part_unref);
  m->event_participants = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_entity_unref);
  m->event_type = AMM_EVENT_MESSAGE;
  return m;
}

AmmMessage *
amm_message_ref (AmmMessage *m)
{
  return m != NULL ? g_atomic_rc_box_acquire (m) : NULL;
}

void
amm_message_unref (AmmMessage *m)
{
  if (m != NULL)
    g_atomic_rc_box_release_full (m, (GDestroyNotify) message_clear);
}

AmmMessage *
amm_message_parse_at (JsonNode *node, const char *base, const char *path,
                      const char *default_thread_id, GError **error)
{
  JsonObject *obj = amm_json_node_get_object (node, path, error);
  g_autoptr (AmmMessage) m = NULL;
  g_autofree char *from_path = NULL;
  g_autofree char *to_path = NULL;
  g_autofree char *parts_path = NULL;
  g_autofree char *event_path = NULL;
  g_autofree char *flags_path = NULL;
  g_autofree char *received_str = NULL;
  const char *id, *thread_id = NULL, *subject = NULL, *body = NULL, *event_type = NULL;
  JsonObject *event = NULL, *flags = NULL;
  JsonArray *to, *parts = NULL, *event_participants = NULL;
  guint i, n;

  if (obj == NULL)
    return NULL;

  id = amm_models_require_nonempty (obj, path, "id", error);
  if (id == NULL)
    return NULL;

  if (!amm_json_opt_string (obj, path, "threadId", NULL, &thread_id, error))
    return NULL;
  if (thread_id == NULL || *thread_id == '\0')
    {
      if (default_thread_id == NULL || *default_thread_id == '\0')
        {
          g_autofree char *full = amm_json_member_path (path, "threadId");
          g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED, "%s: missing required member", full);
          return NULL;
        }
      thread_id = default_thread_id;
    }

  if (!amm_json_opt_string (obj, path, "subject", "", &subject, error) ||
      !amm_json_opt_string (obj, path, "body", "", &body, error))
    return NULL;

  m = amm_message_alloc ();
  m->id = g_strdup (id);
  m->thread_id = g_strdup (thread_id);
  g_free (m->subject);
  m->subject = g_strdup (subject);
  g_free (m->body);
  m->body = g_strdup (body);

  /* from {address} */
  from_path = amm_json_member_path (path, "from");
  m->from = amm_entity_parse_at (amm_json_get_member (obj, "from"), from_path, error);
  if (m->from == NULL)
    return NULL;

  /* to [{address}] */
  to = amm_json_require_array (obj, path, "to", error);
  if (to == NULL)
    return NULL;
  to_path = amm_json_member_path (path, "to");
  if (!parse_entity_array (to, to_path, m->to, error))
    return NULL;

  /* parts [] (optional) */
  if (!amm_json_opt_array (obj, path, "parts", &parts, error))
    return NULL;
  parts_path = amm_json_member_path (path, "parts");
  n = parts != NULL ? json_array_get_length (parts) : 0;
  for (i = 0; i < n; i++)
    {
      g_autofree char *epath = amm_json_element_path (parts_path, i);
      AmmPart *p = amm_part_parse_at (json_array_get_element (parts, i), base, epath, error);

      if (p == NULL)
        return NULL;
      g_ptr_array_add (m->parts, p);
    }

  /* dates: lastModifiedDate falls back to receivedDate */
  if (!parse_date_member (obj, path, "receivedDate", TRUE, &received_str, &m->received_date, error) ||
      !parse_date_member (obj, path, "lastModifiedDate", FALSE,
                          &m->last_modified_str, &m->last_modified_date, error))
    return NULL;
  if (m->last_modified_date == NULL)
    {
      m->last_modified_date = g_date_time_ref (m->received_date);
      m->last_modified_str = g_steal_pointer (&received_str);
    }

  /* event {type, participants} (optional: a plain message) */
  if (!amm_json_opt_object (obj, path, "event", &event, error))
    return NULL;
  event_path = amm_json_member_path (path, "event");
  if (!amm_json_opt_string (event, event_path, "type", "MESSAGE", &event_type, error) ||
      !amm_json_opt_array (event, event_path, "participants", &event_participants, error))
    return NULL;
  m->event_type = amm_event_type_from_string (event_type);
  if (event_participants != NULL)
    {
      g_autofree char *ppath = amm_json_member_path (event_path, "participants");
      if (!parse_entity_array (event_participants, ppath, m->event_participants, error))
        return NULL;
    }

  /* flags {read} (optional: unread) */
  if (!amm_json_opt_object (obj, path, "flags", &flags, error))
    return NULL;
  flags_path = amm_json_member_path (path, "flags");
  if (!amm_json_opt_boolean (flags, flags_path, "read", FALSE, &m->read, error))
    return NULL;

  return g_steal_pointer (&m);
}

AmmMessage *
amm_message_parse (JsonNode *node, const char *base, GError **error)
{
  return amm_message_parse_at (node, base, "message", NULL, error);
}

/* ---- conversations ---------------------------------------------------------------------- */

static void
conversation_clear (AmmConversation *c)
{
  g_free (c->id);
  g_free (c->href);
  g_free (c->subject);
  g_free (c->last_updated_str);
  g_clear_pointer (&c->last_updated, g_date_time_unref);
  g_free (c->participants_href);
  g_clear_pointer (&c->messages, g_ptr_array_unref);
}

AmmConversation *
amm_conversation_alloc (void)
{
  AmmConversation *c = g_atomic_rc_box_new0 (AmmConversation);

  c->subject = g_strdup ("");
  c->active = TRUE;
  c->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_message_unref);
  return c;
}

AmmConversation *
amm_conversation_ref (AmmConversation *c)
{
  return c != NULL ? g_atomic_rc_box_acquire (c) : NULL;
}

void
amm_conversation_unref (AmmConversation *c)
{
  if (c != NULL)
    g_atomic_rc_box_release_full (c, (GDestroyNotify) conversation_clear);
}

AmmConversation *
amm_conversation_parse_at (JsonNode *node, const char *base, const char *path, GError **error)
{
  JsonObject *obj = amm_json_node_get_object (node, path, error);
  g_autoptr (AmmConversation) c = NULL;
  g_autofree char *flags_path = NULL;
  g_autofree char *participants_path = NULL;
  g_autofree char *messages_path = NULL;
  const char *id, *subject = NULL;
  JsonObject *flags = NULL, *participants = NULL;
  JsonArray *messages = NULL;
  guint64 unread = 0;
  guint i, n;

  if (obj == NULL)
    return NULL;

  id = amm_models_require_nonempty (obj, path, "id", error);
  if (id == NULL || !amm_json_opt_string (obj, path, "subject", "", &subject, error))
    return NULL;

  c = amm_conversation_alloc ();
  c->id = g_strdup (id);
  g_free (c->subject);
  c->subject = g_strdup (subject);

  if (!amm_json_opt_href (obj, path, "href", base, &c->href, error))
    return NULL;

  if (!amm_json_opt_object (obj, path, "flags", &flags, error))
    return NULL;
  flags_path = amm_json_member_path (path, "flags");
  if (!amm_json_opt_boolean (flags, flags_path, "active", TRUE, &c->active, error) ||
      !amm_json_opt_boolean (flags, flags_path, "closed", FALSE, &c->closed, error))
    return NULL;

  if (!parse_date_member (obj, path, "lastUpdated", FALSE, &c->last_updated_str, &c->last_updated, error) ||
      !amm_json_opt_uint (obj, path, "unreadCount", G_MAXUINT, 0, &unread, error) ||
      !amm_json_opt_boolean (obj, path, "isMultiparty", FALSE, &c->multiparty, error))
    return NULL;
  c->unread_count = (guint) unread;

  if (!amm_json_opt_object (obj, path, "participants", &participants, error))
    return NULL;
  participants_path = amm_json_member_path (path, "participants");
  if (!amm_json_opt_href (participants, participants_path, "href", base, &c->participants_href, error))
    return NULL;

  /* messages: newest first; absent or empty is accepted (an empty message page) */
  if (!amm_json_opt_array (obj, path, "messages", &messages, error))
    return NULL;
  messages_path = amm_json_member_path (path, "messages");
  n = messages != NULL ? json_array_get_length (messages) : 0;
  for (i = 0; i < n; i++)
    {
      g_autofree char *epath = amm_json_element_path (messages_path, i);
      AmmMessage *m = amm_message_parse_at (json_array_get_element (messages, i), base, epath,
                                            c->id, error);
      if (m == NULL)
        return NULL;
      g_ptr_array_add (c->messages, m);
    }

  return g_steal_pointer (&c);
}

AmmConversation *
amm_conversation_parse (JsonNode *node, const char *base, GError **error)
{
  return amm_conversation_parse_at (node, base, "conversation", error);
}

AmmConversation *
amm_conversation_copy_newest (const AmmConversation *conv, guint n)
{
  AmmConversation *c = amm_conversation_alloc ();

  c->id = g_strdup (conv->id);
  c->href = g_strdup (conv->href);
  g_free (c->subject);
  c->subject = g_strdup (conv->subject);
  c->active = conv->active;
  c->closed = conv->closed;
  c->last_updated_str = g_strdup (conv->last_updated_str);
  c->last_updated = conv->last_updated ? g_date_time_ref (conv->last_updated) : NULL;
  c->unread_count = conv->unread_count;
  c->multiparty = conv->multiparty;
  c->participants_href = g_strdup (conv->participants_href);
  for (guint i = 0; i < conv->messages->len && i < n; i++)
    g_ptr_array_add (c->messages, amm_message_ref (g_ptr_array_index (conv->messages, i)));
  return c;
}

/* ---- conversation lists ----------------------------------------------------------------- */

static void
conversation_list_clear (AmmConversationList *l)
{
  g_clear_pointer (&l->conversations, g_ptr_array_unref);
  g_free (l->last_updated);
}

AmmConversationList *
amm_conversation_list_ref (AmmConversationList *l)
{
  return l != NULL ? g_atomic_rc_box_acquire (l) : NULL;
}

void
amm_conversation_list_unref (AmmConversationList *l)
{
  if (l != NULL)
    g_atomic_rc_box_release_full (l, (GDestroyNotify) conversation_list_clear);
}

AmmConversationList *
amm_conversation_list_parse (JsonNode *root, const char *base, GError **error)
{
  JsonObject *obj = amm_json_node_get_object (root, NULL, error);
  g_autoptr (AmmConversationList) l = NULL;
  g_autoptr (GDateTime) last_updated = NULL;
  JsonArray *conversations;
  guint i, n;

  if (obj == NULL)
    return NULL;
  conversations = amm_json_require_array (obj, NULL, "conversations", error);
  if (conversations == NULL)
    return NULL;

  l = g_atomic_rc_box_new0 (AmmConversationList);
  l->conversations = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_conversation_unref);

  /* lastUpdated becomes the sync cursor: it must be a valid date when present */
  if (!parse_date_member (obj, NULL, "lastUpdated", FALSE, &l->last_updated, &last_updated, error) ||
      !amm_json_opt_boolean (obj, NULL, "moreSearchResults", FALSE, &l->more_search_results, error))
    return NULL;

  n = json_array_get_length (conversations);
  for (i = 0; i < n; i++)
    {
      g_autofree char *epath = amm_json_element_path ("conversations", i);
      AmmConversation *c = amm_conversation_parse_at (json_array_get_element (conversations, i),
                                                      base, epath, error);
      if (c == NULL)
        return NULL;
      g_ptr_array_add (l->conversations, c);
    }
  return g_steal_pointer (&l);
}
