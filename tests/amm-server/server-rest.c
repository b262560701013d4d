/* server-rest.c: the AMM REST resources (docs/protocol.md §3–§7, §9). */
#include "server.h"

#include <string.h>

#include "amm-protocol.h"

#define PREFIX_CONVERSATIONS "/aem/conversations"
#define PATH_OUTBOX "/aem/outbox"
#define PATH_MESSAGES "/aem/messages"
#define PATH_SESSION "/aem/session"
#define PATH_VALIDATE "/aem/services/validateAddresses"
#define PATH_MARK_BATCH "/aem/services/markAsReadBatch"
#define PATH_MARK_IF "/aem/services/markAsReadIf"

typedef struct {
  AmmServer *server;
  SoupServerMessage *msg;
  AmmUser *user;
  char *base;          /* http(s)://host:port */
  const char *method;
  GUri *uri;
} Req;

static void
req_clear (Req *r)
{
  g_free (r->base);
}

static char *
url (Req *r, const char *path)
{
  return g_strconcat (r->base, path, NULL);
}

static gboolean
is_method (Req *r, const char *m)
{
  return g_strcmp0 (r->method, m) == 0;
}

static void
method_not_allowed (Req *r, const char *allow)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (r->msg), "Allow", allow);
  amm_respond_error (r->msg, 405, "METHOD_NOT_ALLOWED", "Method not allowed", NULL);
}

static void
not_found (Req *r)
{
  amm_respond_error (r->msg, 404, "NOT_FOUND", "No such resource", NULL);
}

/* First value of a query parameter (repeated keys are read with GUriParamsIter elsewhere). */
static const char *
query_get (GHashTable *query, const char *key)
{
  return query ? g_hash_table_lookup (query, key) : NULL;
}

/* ---- discovery ---- */

static void
b_href (JsonBuilder *b, const char *member, const char *href)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "href");
  json_builder_add_string_value (b, href);
  json_builder_end_object (b);
}

static void
b_int (JsonBuilder *b, const char *member, gint64 v)
{
  json_builder_set_member_name (b, member);
  json_builder_add_int_value (b, v);
}

static void
b_bool (JsonBuilder *b, const char *member, gboolean v)
{
  json_builder_set_member_name (b, member);
  json_builder_add_boolean_value (b, v);
}

static void
b_str (JsonBuilder *b, const char *member, const char *v)
{
  json_builder_set_member_name (b, member);
  json_builder_add_string_value (b, v);
}

static void
b_outbox_limits (JsonBuilder *b, AmmServer *server)
{
  json_builder_set_member_name (b, "limits");
  json_builder_begin_object (b);
  b_int (b, "maxTextLength", server->opt.max_text_length);
  b_int (b, "maxImageSize", server->opt.max_image_size);
  b_int (b, "maxVideoSize", server->opt.max_video_size);
  b_int (b, "maxAudioSize", server->opt.max_audio_size);
  b_int (b, "maxGenericAttachmentSize", server->opt.max_generic_size);
  json_builder_end_object (b);
}

static JsonNode *
discovery_document (Req *r, gboolean v4)
{
  AmmServer *server = r->server;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *conversations = url (r, PREFIX_CONVERSATIONS);
  g_autofree char *messages = url (r, PATH_MESSAGES);
  g_autofree char *outbox = url (r, PATH_OUTBOX);
  g_autofree char *mark_if = url (r, PATH_MARK_IF);
  g_autofree char *mark_batch = url (r, PATH_MARK_BATCH);
  g_autofree char *validate = url (r, PATH_VALIDATE);
  g_autofree char *notifications = url (r, "/aem/notifications");
  g_autofree char *contacts = url (r, "/aem/contacts");
  g_autofree char *picture = url (r, "/aem/picture");
  g_autofree char *users = url (r, "/aem/users");
  g_autofree char *session = url (r, PATH_SESSION);
  g_autofree char *ws_base = amm_request_base (server, r->msg, TRUE);
  g_autofree char *ws = g_strconcat (ws_base, "/aem/notifications/websocket", NULL);
  g_autofree char *sse = url (r, "/aem/notifications/sse");
  gboolean api32 = server->opt.api == AMM_API_3_2;

  json_builder_begin_object (b);
  b_str (b, "self", r->user->address);
  json_builder_set_member_name (b, "domains");
  json_builder_begin_array (b);
  for (guint i = 0; server->state->domains[i]; i++)
    json_builder_add_string_value (b, server->state->domains[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "avayaRequestTimeout");
  json_builder_begin_object (b);
  b_int (b, "recommended", AMM_LONG_POLL_DEFAULT_SECONDS);
  b_int (b, "minimum", 5);
  b_int (b, "maximum", 120);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "conversationsResource");
  json_builder_begin_object (b);
  b_str (b, "href", conversations);
  json_builder_set_member_name (b, "capabilities");
  json_builder_begin_object (b);
  b_bool (b, "automaticLastAccessedDate", TRUE);
  b_bool (b, "postSessionEvent", FALSE);
  b_bool (b, "subjectChange", TRUE);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "limits");
  json_builder_begin_object (b);
  b_int (b, "maxMessageCount", server->opt.max_message_count);
  if (server->opt.max_ids_limit > 0)
    b_int (b, "maxIdsLimit", server->opt.max_ids_limit);
  json_builder_end_object (b);
  if (v4) {
    json_builder_set_member_name (b, "requestTypes");
    json_builder_begin_array (b);
    if (api32)
      json_builder_add_string_value (b, AMM_TYPE_CONVERSATIONS_FILTER);
    json_builder_end_array (b);
  }
  json_builder_end_object (b);

  if (v4) {
    json_builder_set_member_name (b, "messages");
    json_builder_begin_object (b);
    b_str (b, "href", messages);
    json_builder_set_member_name (b, "capabilities");
    json_builder_begin_object (b);
    b_bool (b, "html", FALSE);
    json_builder_end_object (b);
    json_builder_end_object (b);
    json_builder_set_member_name (b, "outbox");
    json_builder_begin_object (b);
    b_str (b, "href", outbox);
    json_builder_set_member_name (b, "capabilities");
    json_builder_begin_object (b);
    b_bool (b, "richContent", !server->opt.no_rich_content);
    json_builder_end_object (b);
    b_outbox_limits (b, server);
    json_builder_end_object (b);
  } else {
    b_str (b, "messages", messages);
    b_str (b, "outbox", outbox);
    b_outbox_limits (b, server);
    json_builder_set_member_name (b, "capabilities");
    json_builder_begin_object (b);
    b_bool (b, "richContent", !server->opt.no_rich_content);
    json_builder_end_object (b);
  }

  json_builder_set_member_name (b, "services");
  json_builder_begin_object (b);
  b_href (b, "markAsReadIf", mark_if);
  json_builder_set_member_name (b, "markAsReadBatch");
  json_builder_begin_object (b);
  b_str (b, "href", mark_batch);
  json_builder_set_member_name (b, "limits");
  json_builder_begin_object (b);
  b_int (b, "maxBatchSize", 100);
  json_builder_end_object (b);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "validateAddresses");
  json_builder_begin_object (b);
  b_str (b, "href", validate);
  if (v4) {
    json_builder_set_member_name (b, "requestTypes");
    json_builder_begin_array (b);
    if (api32)
      json_builder_add_string_value (b, AMM_TYPE_ADDRESSES_TO_VALIDATE);
    json_builder_end_array (b);
  }
  json_builder_end_object (b);
  json_builder_end_object (b);

  if (v4) {
    json_builder_set_member_name (b, "notificationService");
    json_builder_begin_object (b);
    b_href (b, "websocket", ws);
    b_href (b, "sse", sse);
    json_builder_end_object (b);
  }
  b_href (b, "notifications", notifications);
  b_href (b, "contacts", contacts);
  b_href (b, "picture", picture);
  b_href (b, "users", users);
  json_builder_set_member_name (b, "sessionManagement");
  json_builder_begin_object (b);
  b_str (b, "href", session);
  b_int (b, "timeout", 1800);
  b_str (b, "username", r->user->address);
  json_builder_end_object (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
handle_discovery (Req *r)
{
  static const char * const types_3[] = { AMM_TYPE_RESOURCES_V4, AMM_TYPE_RESOURCES_V3, NULL };
  static const char * const types_21[] = { AMM_TYPE_RESOURCES_V3, NULL };
  const char *type;
  g_autoptr (JsonNode) doc = NULL;

  if (!is_method (r, "GET")) {
    method_not_allowed (r, "GET, OPTIONS");
    return;
  }
  type = amm_negotiate (r->msg, r->server->opt.api == AMM_API_2_1 ? types_21 : types_3);
  if (!type)
    return;
  doc = discovery_document (r, g_str_equal (type, AMM_TYPE_RESOURCES_V4));
  amm_respond_json (r->msg, 200, type, doc);
}

/* ---- listing ---- */

static gint
compare_last_updated_desc (gconstpointer a, gconstpointer b, gpointer user)
{
  const char *address = user;
  gint64 ta = amm_conversation_last_updated_for (*(AmmConversation **) a, address);
  gint64 tb = amm_conversation_last_updated_for (*(AmmConversation **) b, address);

  return ta < tb ? 1 : ta > tb ? -1 : 0;
}

/* The conversations named by `ids` that the user is or was in, each once. */
static GPtrArray *
conversations_by_id (AmmState *state, const char *user, const char * const *ids)
{
  GPtrArray *out = g_ptr_array_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new (g_direct_hash, g_direct_equal);

  for (guint i = 0; ids[i]; i++) {
    AmmConversation *c = amm_state_find_conversation (state, ids[i]);

    if (c && amm_conversation_find_participant (c, user) && g_hash_table_add (seen, c))
      g_ptr_array_add (out, c);
  }
  return out;
}

/* What a listing holds, newest change first: by id, the named conversations; incremental,
 * every one changed at or after `after`; full, the active ones. */
static GPtrArray *
listed_conversations (AmmState *state, const char *user, gboolean incremental, gint64 after,
                      const char * const *ids)
{
  GPtrArray *convs;

  if (ids) {
    convs = conversations_by_id (state, user, ids);
  } else {
    g_autoptr (GPtrArray) all = amm_state_user_conversations (state, user);

    convs = g_ptr_array_new ();
    for (guint i = 0; i < all->len; i++) {
      AmmConversation *c = all->pdata[i];
      gboolean keep = incremental ? amm_conversation_last_updated_for (c, user) >= after
                                  : amm_conversation_is_active_participant (c, user) && !c->closed;
      if (keep)
        g_ptr_array_add (convs, c);
    }
  }
  g_ptr_array_sort_with_data (convs, compare_last_updated_desc, (gpointer) user);
  return convs;
}

/* An incremental listing embeds what changed since `after` and the anchor
 * (amm_conversation_changed_since); a full or by-id one the newest maxMessageCount. */
static JsonNode *
list_document (AmmServer *server, const char *user, const char *base, gboolean incremental,
               gint64 after, const char * const *ids)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GPtrArray) convs = listed_conversations (server->state, user, incremental, after, ids);
  g_autofree char *href = amm_conversations_href (base);
  g_autofree char *last = amm_time_format (amm_state_user_last_updated (server->state, user));
  g_autoptr (AmmJsonDoc) doc = amm_json_doc_new (server->state, user, base);
  guint max = server->opt.max_message_count;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "conversations");
  json_builder_begin_array (b);
  for (guint i = 0; i < convs->len; i++) {
    AmmConversation *c = convs->pdata[i];
    g_autoptr (GPtrArray) embedded = incremental && !ids
                                       ? amm_conversation_changed_since (c, user, after, max)
                                       : amm_conversation_newest (c, user, max);

    amm_json_doc_add_conversation (doc, b, c, embedded);
  }
  json_builder_end_array (b);
  b_str (b, "lastUpdated", last);
  b_str (b, "href", href);
  b_bool (b, "moreSearchResults", FALSE);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* conversations.ids.v1: the ids of the conversations list_document would embed (full: the
 * active ones; incremental: every one changed at or after `after`), newest change first. */
static JsonNode *
ids_document (AmmServer *server, const char *user, const char *base, gboolean incremental, gint64 after)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GPtrArray) convs = amm_state_user_conversations (server->state, user);
  g_autofree char *href = amm_conversations_href (base);
  g_autofree char *last = amm_time_format (amm_state_user_last_updated (server->state, user));

  g_ptr_array_sort_with_data (convs, compare_last_updated_desc, (gpointer) user);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "conversationIds");
  json_builder_begin_array (b);
  for (guint i = 0; i < convs->len; i++) {
    AmmConversation *c = convs->pdata[i];
    AmmParticipant *me = amm_conversation_find_participant (c, user);
    gint64 updated = amm_conversation_last_updated_for (c, user);

    if (incremental ? updated < after : (!amm_conversation_is_active_participant (c, user) || c->closed))
      continue;
    g_autofree char *chref = g_strdup_printf ("%s/%s", href, c->id);
    g_autofree char *accessed = amm_time_format (me ? me->last_accessed : 0);
    g_autofree char *upd = amm_time_format (updated);
    json_builder_begin_object (b);
    b_str (b, "id", c->id);
    b_str (b, "href", chref);
    b_str (b, "lastAccessedTime", accessed);
    b_str (b, "lastUpdated", upd);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  b_str (b, "href", href);
  b_str (b, "lastUpdated", last);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* The `id` parameters of the query, in order (GET C?id=a&id=b); NULL when there are none. */
static GStrv
query_ids (Req *r)
{
  const char *query = g_uri_get_query (r->uri);
  g_autoptr (GStrvBuilder) sb = g_strv_builder_new ();
  g_auto (GStrv) pairs = query ? g_strsplit (query, "&", -1) : NULL;
  gboolean any = FALSE;

  for (guint i = 0; pairs && pairs[i]; i++) {
    if (!g_str_has_prefix (pairs[i], "id="))
      continue;
    g_autofree char *v = g_uri_unescape_string (pairs[i] + 3, NULL);
    if (v) {
      g_strv_builder_add (sb, v);
      any = TRUE;
    }
  }
  return any ? g_strv_builder_end (sb) : NULL;
}

/* More ids than maxIdsLimit: 400. */
static gboolean
ids_within_limit (Req *r, const char * const *ids)
{
  int limit = r->server->opt.max_ids_limit;

  if (ids && limit > 0 && g_strv_length ((GStrv) ids) > (guint) limit) {
    g_autofree char *text = g_strdup_printf ("At most %d conversation ids (maxIdsLimit)", limit);
    amm_respond_error (r->msg, 400, "INVALID_PARAMETER", text, NULL);
    return FALSE;
  }
  return TRUE;
}

JsonNode *
amm_rest_list_document (AmmServer *server, const char *user, const char *base,
                        gboolean incremental, gint64 after)
{
  return list_document (server, user, base, incremental, after, NULL);
}

/* Has any conversation of the user changed at or after `after`? */
static gboolean
user_changed_since (AmmServer *server, const char *user, gint64 after)
{
  g_autoptr (GPtrArray) convs = amm_state_user_conversations (server->state, user);

  for (guint i = 0; i < convs->len; i++)
    if (amm_conversation_last_updated_for (convs->pdata[i], user) >= after)
      return TRUE;
  return FALSE;
}

static void
handle_list_get (Req *r, GHashTable *query)
{
  static const char * const types_3[] = { AMM_TYPE_CONVERSATIONS_V2, AMM_TYPE_CONVERSATIONS_V1,
                                          AMM_TYPE_CONVERSATION_IDS, NULL };
  static const char * const types_21[] = { AMM_TYPE_CONVERSATIONS_V1, AMM_TYPE_CONVERSATION_IDS, NULL };
  /* --no-conversation-ids: the lists without their last entry */
  static const char * const types_3_no_ids[] = { AMM_TYPE_CONVERSATIONS_V2, AMM_TYPE_CONVERSATIONS_V1, NULL };
  static const char * const types_21_no_ids[] = { AMM_TYPE_CONVERSATIONS_V1, NULL };
  gboolean ids_ok = !r->server->opt.no_conversation_ids;
  const char *type = amm_negotiate (r->msg, r->server->opt.api == AMM_API_2_1
                                            ? (ids_ok ? types_21 : types_21_no_ids)
                                            : (ids_ok ? types_3 : types_3_no_ids));
  const char *after_s = query_get (query, "after");
  g_auto (GStrv) ids = NULL;
  const char *timeout_s = soup_message_headers_get_one (
      soup_server_message_get_request_headers (r->msg), AMM_HEADER_REQUEST_TIMEOUT);
  gint64 after = 0;
  g_autoptr (JsonNode) doc = NULL;

  if (!type)
    return;
  if (after_s && !amm_time_parse (after_s, &after)) {
    amm_respond_error (r->msg, 400, "INVALID_PARAMETER", "\"after\" is not an ISO-8601 date", NULL);
    return;
  }
  if (g_str_equal (type, AMM_TYPE_CONVERSATION_IDS)) {
    doc = ids_document (r->server, r->user->address, r->base, after_s != NULL, after);
    amm_respond_json (r->msg, 200, type, doc);
    return;
  }
  ids = query_ids (r);
  if (ids) { /* by id: unknown ids and conversations the user is not in are omitted */
    if (!ids_within_limit (r, (const char * const *) ids))
      return;
    doc = list_document (r->server, r->user->address, r->base, FALSE, 0, (const char * const *) ids);
    amm_respond_json (r->msg, 200, type, doc);
    return;
  }
  if (after_s && timeout_s) {
    guint64 secs = 0;

    if (!g_ascii_string_to_unsigned (timeout_s, 10, 0, 3600, &secs, NULL)) {
      amm_respond_error (r->msg, 400, "INVALID_PARAMETER",
                         AMM_HEADER_REQUEST_TIMEOUT " is not a number of seconds", NULL);
      return;
    }
    if (secs > 0 && !user_changed_since (r->server, r->user->address, after)
        && amm_long_poll_hold (r->server, r->msg, r->user->address, type, after, secs))
      return;
  }
  doc = list_document (r->server, r->user->address, r->base, after_s != NULL, after, NULL);
  amm_respond_json (r->msg, 200, type, doc);
}

static void
handle_list_post (Req *r)
{
  static const char * const ct[] = { AMM_TYPE_CONVERSATIONS_FILTER, NULL };
  static const char * const types[] = { AMM_TYPE_CONVERSATIONS_V2, NULL };
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonNode) doc = NULL;
  g_autoptr (GStrvBuilder) idb = NULL;
  g_auto (GStrv) ids = NULL;
  JsonObject *filter;
  const char *type;
  JsonNode *after_node;
  gint64 after = 0;

  if (r->server->opt.api != AMM_API_3_2) {
    amm_respond_error (r->msg, 415, "UNSUPPORTED_MEDIA_TYPE",
                       "Conversation filters need API 3.2", NULL);
    return;
  }
  if (!amm_check_content_type (r->msg, ct, NULL) || !(type = amm_negotiate (r->msg, types)))
    return;
  filter = amm_parse_body_object (r->msg, &root);
  if (!filter)
    return;
  after_node = json_object_get_member (filter, "searchAfterDate");
  if (after_node && !JSON_NODE_HOLDS_NULL (after_node)) {
    if (json_node_get_value_type (after_node) != G_TYPE_STRING
        || !amm_time_parse (json_node_get_string (after_node), &after)) {
      amm_respond_error (r->msg, 400, "INVALID_PARAMETER",
                         "\"searchAfterDate\" is not an ISO-8601 date", NULL);
      return;
    }
  }
  if (json_object_has_member (filter, "ids")) {
    JsonNode *n = json_object_get_member (filter, "ids");
    JsonArray *a = JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;

    if (!a) {
      amm_respond_error (r->msg, 400, "INVALID_PARAMETER", "\"ids\" is not an array", NULL);
      return;
    }
    idb = g_strv_builder_new ();
    for (guint i = 0; i < json_array_get_length (a); i++) {
      JsonNode *e = json_array_get_element (a, i);
      if (JSON_NODE_HOLDS_OBJECT (e))
        g_strv_builder_add (idb, json_object_get_string_member_with_default (
                                     json_node_get_object (e), "id", ""));
      else if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING)
        g_strv_builder_add (idb, json_node_get_string (e));
    }
    ids = g_strv_builder_end (idb);
    if (!ids_within_limit (r, (const char * const *) ids))
      return;
  }
  doc = list_document (r->server, r->user->address, r->base,
                       after_node && !JSON_NODE_HOLDS_NULL (after_node), after,
                       (const char * const *) ids);
  amm_respond_json (r->msg, 200, type, doc);
}

/* ---- one conversation ---- */

static AmmConversation *
conversation_for (Req *r, const char *id)
{
  AmmConversation *c = amm_state_find_conversation (r->server->state, id);

  if (!c) {
    amm_respond_error (r->msg, 404, "CONVERSATION_NOT_FOUND", "No such conversation", NULL);
    return NULL;
  }
  if (!amm_conversation_find_participant (c, r->user->address)) {
    amm_respond_error (r->msg, 403, "FORBIDDEN", "Not a participant of this conversation", NULL);
    return NULL;
  }
  return c;
}

static gboolean
parse_count (const char *s, guint max, guint *out)
{
  guint64 v = 0;

  if (!s) {
    *out = max;
    return TRUE;
  }
  if (!g_ascii_string_to_unsigned (s, 10, 1, G_MAXUINT32, &v, NULL))
    return FALSE;
  *out = MIN ((guint) v, max);
  return TRUE;
}

static void
handle_page (Req *r, AmmConversation *c, GHashTable *query)
{
  static const char * const types_3[] = { AMM_TYPE_CONVERSATION_V2, AMM_TYPE_CONVERSATION_V1, NULL };
  static const char * const types_21[] = { AMM_TYPE_CONVERSATION_V1, NULL };
  const char *type = amm_negotiate (r->msg, r->server->opt.api == AMM_API_2_1 ? types_21 : types_3);
  const char *before = query_get (query, "beforeId");
  const char *after = query_get (query, "afterId");
  g_autoptr (GPtrArray) visible = NULL;
  g_autoptr (GPtrArray) page = g_ptr_array_new ();
  g_autoptr (JsonNode) doc = NULL;
  guint count = 0;
  int anchor = -1;

  if (!type)
    return;
  if (!parse_count (query_get (query, "messageCount"), r->server->opt.max_message_count, &count)) {
    amm_respond_error (r->msg, 400, "INVALID_PARAMETER", "Bad messageCount", NULL);
    return;
  }
  visible = amm_conversation_visible_messages (c, r->user->address);
  if (before || after) {
    for (guint i = 0; i < visible->len; i++)
      if (g_str_equal (((AmmMessage *) visible->pdata[i])->id, before ? before : after))
        anchor = i;
    if (anchor < 0) {
      amm_respond_error (r->msg, 404, "MESSAGE_NOT_FOUND", "No such message here", NULL);
      return;
    }
  }
  if (after && !before) {
    /* The `count` messages right after the anchor, newest first. */
    guint last = MIN (visible->len, (guint) anchor + 1 + count);
    for (guint i = last; i > (guint) anchor + 1; i--)
      g_ptr_array_add (page, visible->pdata[i - 1]);
  } else {
    guint end = before ? (guint) anchor : visible->len;
    for (guint i = end; i > 0 && page->len < count; i--)
      g_ptr_array_add (page, visible->pdata[i - 1]);
  }
  doc = amm_json_conversation (r->server->state, c, r->user->address, r->base, page);
  amm_respond_json (r->msg, 200, type, doc);
}

static void
handle_conversation_post (Req *r, AmmConversation *c)
{
  static const char * const ct[] = { AMM_TYPE_SUBJECT, AMM_TYPE_ACCESS_TIME, NULL };
  const char *matched = NULL;

  if (!amm_check_content_type (r->msg, ct, &matched))
    return;
  if (g_str_equal (matched, AMM_TYPE_ACCESS_TIME)) {
    AmmParticipant *p = amm_conversation_find_participant (c, r->user->address);
    p->last_accessed = amm_state_tick (r->server->state);
    amm_state_schedule_save (r->server->state);
    amm_respond_empty (r->msg, 204);
  } else {
    g_autoptr (JsonNode) root = NULL;
    g_autoptr (GError) error = NULL;
    JsonObject *o = amm_parse_body_object (r->msg, &root);
    JsonNode *s;
    AmmMessage *m;

    if (!o)
      return;
    s = json_object_get_member (o, "subject");
    if (!s || !JSON_NODE_HOLDS_VALUE (s) || json_node_get_value_type (s) != G_TYPE_STRING) {
      amm_respond_error (r->msg, 400, "INVALID_PARAMETER", "\"subject\" missing", NULL);
      return;
    }
    m = amm_state_set_subject (r->server->state, c, r->user->address, json_node_get_string (s),
                               &error);
    if (!m) {
      amm_respond_fault (r->msg, error);
      return;
    }
    amm_server_changed (r->server, c, m, NULL);
    amm_respond_empty (r->msg, 204);
  }
}

static void
handle_leave (Req *r, AmmConversation *c)
{
  g_autoptr (GError) error = NULL;
  AmmMessage *m;

  if (!amm_conversation_is_active_participant (c, r->user->address)) {
    amm_respond_empty (r->msg, 204);   /* already left */
    return;
  }
  m = amm_state_leave (r->server->state, c, r->user->address, &error);
  if (!m) {
    amm_respond_fault (r->msg, error);
    return;
  }
  amm_server_changed (r->server, c, m, r->user->address);
  amm_respond_empty (r->msg, 204);
}

static JsonNode *
participants_document (AmmServer *server, GPtrArray *users)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "participants");
  json_builder_begin_array (b);
  for (guint i = 0; i < users->len; i++)
    json_builder_add_value (b, amm_json_entity (server->state,
                                                ((AmmUser *) users->pdata[i])->address, TRUE));
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
handle_participants (Req *r, AmmConversation *c)
{
  static const char * const types[] = { AMM_TYPE_PARTICIPANTS, NULL };
  g_autoptr (GPtrArray) users = g_ptr_array_new ();
  g_autoptr (JsonNode) doc = NULL;

  if (is_method (r, "GET")) {
    if (!amm_negotiate (r->msg, types))
      return;
    for (guint i = 0; i < c->participants->len; i++) {
      AmmParticipant *p = c->participants->pdata[i];
      if (p->active)
        g_ptr_array_add (users, amm_state_find_user (r->server->state, p->address));
    }
  } else if (is_method (r, "POST")) {
    g_autoptr (JsonNode) root = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (GStrvBuilder) sb = g_strv_builder_new ();
    g_auto (GStrv) addrs = NULL;
    JsonObject *o;
    JsonNode *pn;
    JsonArray *a;
    AmmMessage *m;

    if (!amm_check_content_type (r->msg, types, NULL) || !amm_negotiate (r->msg, types))
      return;
    if (!(o = amm_parse_body_object (r->msg, &root)))
      return;
    pn = json_object_get_member (o, "participants");
    a = pn && JSON_NODE_HOLDS_ARRAY (pn) ? json_node_get_array (pn) : NULL;
    if (!a) {
      amm_respond_error (r->msg, 400, "INVALID_PARAMETER", "\"participants\" missing", NULL);
      return;
    }
    for (guint i = 0; i < json_array_get_length (a); i++) {
      JsonNode *e = json_array_get_element (a, i);
      const char *addr = JSON_NODE_HOLDS_OBJECT (e)
          ? json_object_get_string_member_with_default (json_node_get_object (e), "address", NULL)
          : NULL;
      if (!addr) {
        amm_respond_error (r->msg, 400, "INVALID_PARAMETER", "participant without address", NULL);
        return;
      }
      g_strv_builder_add (sb, addr);
    }
    addrs = g_strv_builder_end (sb);
    m = amm_state_add_participants (r->server->state, c, r->user->address,
                                    (const char * const *) addrs, users, &error);
    if (error) {
      amm_respond_fault (r->msg, error);
      return;
    }
    if (m)
      amm_server_changed (r->server, c, m, NULL);
  } else {
    method_not_allowed (r, "GET, POST, OPTIONS");
    return;
  }
  doc = participants_document (r->server, users);
  amm_respond_json (r->msg, 200, AMM_TYPE_PARTICIPANTS, doc);
}

static void
handle_conversations (Req *r, const char *rest, GHashTable *query)
{
  g_auto (GStrv) parts = NULL;
  AmmConversation *c;

  if (!*rest || g_str_equal (rest, "/")) {
    if (is_method (r, "GET"))
      handle_list_get (r, query);
    else if (is_method (r, "POST"))
      handle_list_post (r);
    else
      method_not_allowed (r, "GET, POST, OPTIONS");
    return;
  }
  parts = g_strsplit (rest + 1, "/", 3);
  if (!parts[0] || !*parts[0] || (parts[1] && parts[2])) {
    not_found (r);
    return;
  }
  if (!(c = conversation_for (r, parts[0])))
    return;
  if (parts[1]) {
    if (g_str_equal (parts[1], "participants"))
      handle_participants (r, c);
    else if (g_str_equal (parts[1], "flags"))
      amm_conv_handle_flags (r->server, r->msg, r->user, c, r->base);   /* server-conversations.c */
    else
      not_found (r);
    return;
  }
  if (is_method (r, "GET"))
    handle_page (r, c, query);
  else if (is_method (r, "POST"))
    handle_conversation_post (r, c);
  else if (is_method (r, "DELETE"))
    handle_leave (r, c);
  else
    method_not_allowed (r, "GET, POST, DELETE, OPTIONS");
}

/* ---- outbox ---- */

static const char * const outbox_types_3[] = { AMM_TYPE_MESSAGE_V2, AMM_TYPE_MESSAGE_V1, NULL };
static const char * const outbox_types_21[] = { AMM_TYPE_MESSAGE_V1, NULL };

static const char *
message_type_of (Req *r, const char *ct)
{
  const char * const *types = r->server->opt.api == AMM_API_2_1 ? outbox_types_21 : outbox_types_3;

  for (guint i = 0; ct && types[i]; i++)
    if (g_ascii_strcasecmp (ct, types[i]) == 0)
      return types[i];
  return NULL;
}

/* multipart/related (wire-capture.md §3): the message JSON first, then one part per file.
 * Returns the message JSON bytes, or NULL after answering. */
static GBytes *
outbox_multipart (Req *r, const char **ct, GPtrArray *parts, GPtrArray *media)
{
  SoupMessageHeaders *req = soup_server_message_get_request_headers (r->msg);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = amm_media_request_body (r->msg, &error); /* spooled: server-media.c */
  g_autoptr (SoupMultipart) mp = body ? soup_multipart_new_from_message (req, body) : NULL;
  SoupMessageHeaders *h;
  GBytes *json = NULL;

  if (!body) {
    amm_respond_error (r->msg, 500, "SERVER_ERROR", error->message, NULL);
    return NULL;
  }
  if (!mp || soup_multipart_get_length (mp) < 1) {
    amm_respond_error (r->msg, 400, "INVALID_PARAMETER", "Bad multipart/related body", NULL);
    return NULL;
  }
  soup_multipart_get_part (mp, 0, &h, &json);
  *ct = message_type_of (r, soup_message_headers_get_content_type (h, NULL));
  if (!*ct) {
    amm_respond_error (r->msg, 415, "UNSUPPORTED_MEDIA_TYPE",
                       "The first part must be the message document", NULL);
    return NULL;
  }
  for (int i = 1; i < soup_multipart_get_length (mp); i++) {
    GBytes *data = NULL;

    soup_multipart_get_part (mp, i, &h, &data);
    if (!amm_media_check_part (r->server, r->msg, soup_message_headers_get_content_type (h, NULL),
                               g_bytes_get_size (data)))
      return NULL;
    g_ptr_array_add (parts, amm_part_new (soup_message_headers_get_content_type (h, NULL),
                                          soup_message_headers_get_one (h, "Content-Disposition"),
                                          g_bytes_get_size (data)));
    g_ptr_array_add (media, g_bytes_ref (data));
  }
  return g_bytes_ref (json);
}

static void
handle_outbox (Req *r)
{
  const char *ct = NULL;
  const char *accept_types[3] = { NULL, NULL, NULL };
  const char *type;
  const char *req_ct = soup_message_headers_get_content_type (
      soup_server_message_get_request_headers (r->msg), NULL);
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonNode) doc = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GStrvBuilder) tb = g_strv_builder_new ();
  g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_part_free);
  g_autoptr (GPtrArray) media = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GBytes) json = NULL;
  g_auto (GStrv) to = NULL;
  JsonObject *o, *flags = NULL;
  JsonNode *n;
  const char *thread_id = NULL, *body = NULL;
  AmmMessage *m;

  if (!is_method (r, "POST")) {
    method_not_allowed (r, "POST, OPTIONS");
    return;
  }
  if (req_ct && g_ascii_strcasecmp (req_ct, "multipart/related") == 0) {
    if (!(json = outbox_multipart (r, &ct, parts, media)))
      return;
  } else {
    if (!amm_check_content_type (r->msg, r->server->opt.api == AMM_API_2_1
                                 ? outbox_types_21 : outbox_types_3, &ct))
      return;
    json = soup_message_body_flatten (soup_server_message_get_request_body (r->msg));
  }
  accept_types[0] = ct;
  if (!(type = amm_negotiate (r->msg, accept_types)))
    return;
  if (g_bytes_get_size (json) == 0
      || !json_parser_load_from_data (parser, g_bytes_get_data (json, NULL), g_bytes_get_size (json), NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    amm_respond_error (r->msg, 400, "INVALID_PARAMETER", "The message is not a JSON object", NULL);
    return;
  }
  root = json_node_copy (json_parser_get_root (parser));
  o = json_node_get_object (root);

  n = json_object_get_member (o, "threadId");
  if (n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
      && *json_node_get_string (n))
    thread_id = json_node_get_string (n);
  else if (n && !JSON_NODE_HOLDS_NULL (n)
           && !(JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)) {
    amm_respond_error (r->msg, 400, "INVALID_PARAMETER", "\"threadId\" is not a string", NULL);
    return;
  }
  n = json_object_get_member (o, "body");
  if (n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
    body = json_node_get_string (n);
  else if (n && !JSON_NODE_HOLDS_NULL (n)) {
    amm_respond_error (r->msg, 400, "INVALID_PARAMETER", "\"body\" is not a string", NULL);
    return;
  }
  n = json_object_get_member (o, "to");
  if (n && JSON_NODE_HOLDS_ARRAY (n)) {
    JsonArray *a = json_node_get_array (n);
    for (guint i = 0; i < json_array_get_length (a); i++) {
      JsonNode *e = json_array_get_element (a, i);
      const char *addr = NULL;
      if (JSON_NODE_HOLDS_OBJECT (e))
        addr = json_object_get_string_member_with_default (json_node_get_object (e), "address", NULL);
      else if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING)
        addr = json_node_get_string (e);
      if (!addr) {
        amm_respond_error (r->msg, 400, "INVALID_PARAMETER", "\"to\" entry without address", NULL);
        return;
      }
      g_strv_builder_add (tb, addr);
    }
  } else if (n && !JSON_NODE_HOLDS_NULL (n)) {
    amm_respond_error (r->msg, 400, "INVALID_PARAMETER", "\"to\" is not an array", NULL);
    return;
  }
  to = g_strv_builder_end (tb);
  if (!thread_id && !to[0]) {
    amm_respond_error (r->msg, 400, "INVALID_PARAMETER",
                       "A new conversation needs \"to\" participants", NULL);
    return;
  }
  n = json_object_get_member (o, "flags");
  if (n && JSON_NODE_HOLDS_OBJECT (n))
    flags = json_node_get_object (n);
  /* 2.1 changes a subject by posting a SUBJECT_CHANGE event (server-conversations.c) */
  if (amm_conv_outbox_event (r->server, r->msg, r->user, o, thread_id, type, r->base))
    return;

  m = amm_state_send (r->server->state, r->user->address, (const char * const *) to, thread_id,
                      json_object_get_string_member_with_default (o, "subject", ""), body,
                      json_object_get_string_member_with_default (o, "inReplyTo", NULL),
                      flags ? json_object_get_string_member_with_default (flags, "importance", NULL) : NULL,
                      flags ? json_object_get_string_member_with_default (flags, "sensitivity", NULL) : NULL,
                      r->server->opt.max_text_length, parts, media, &error);
  if (!m) {
    amm_respond_fault (r->msg, error);
    return;
  }
  amm_server_changed (r->server, amm_state_find_conversation (r->server->state, m->thread_id),
                      m, NULL);
  doc = amm_json_message (r->server->state, m, r->user->address, r->base);
  amm_respond_json (r->msg, 201, type, doc);
}

/* ---- services ---- */

static void
validated_add (AmmServer *server, JsonBuilder *b, const char *query)
{
  AmmUser *u = amm_state_find_user (server->state, query);

  json_builder_begin_object (b);
  b_str (b, "query", query);
  json_builder_set_member_name (b, "addresses");
  json_builder_begin_array (b);
  if (u)
    json_builder_add_value (b, amm_json_entity (server->state, u->address, TRUE));
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static void
handle_validate (Req *r)
{
  static const char * const ct[] = { AMM_TYPE_ADDRESSES_TO_VALIDATE, NULL };
  static const char * const types[] = { AMM_TYPE_VALIDATED_ADDRESSES, NULL };
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) doc = NULL;
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "validatedAddresses");
  json_builder_begin_array (b);
  if (is_method (r, "GET")) {
    const char *q = g_uri_get_query (r->uri);
    GUriParamsIter iter;
    char *key, *value;

    if (!amm_negotiate (r->msg, types))
      return;
    if (q) {
      g_uri_params_iter_init (&iter, q, -1, "&", G_URI_PARAMS_NONE);
      while (g_uri_params_iter_next (&iter, &key, &value, NULL)) {
        if (g_str_equal (key, "address"))
          validated_add (r->server, b, value);
        g_free (key);
        g_free (value);
      }
    }
  } else if (is_method (r, "POST")) {
    JsonObject *o;
    JsonNode *an;
    JsonArray *a;

    if (r->server->opt.api != AMM_API_3_2) {
      amm_respond_error (r->msg, 415, "UNSUPPORTED_MEDIA_TYPE",
                         "Address validation by POST needs API 3.2", NULL);
      return;
    }
    if (!amm_check_content_type (r->msg, ct, NULL) || !amm_negotiate (r->msg, types))
      return;
    if (!(o = amm_parse_body_object (r->msg, &root)))
      return;
    an = json_object_get_member (o, "addresses");
    a = an && JSON_NODE_HOLDS_ARRAY (an) ? json_node_get_array (an) : NULL;
    if (!a) {
      amm_respond_error (r->msg, 400, "INVALID_PARAMETER", "\"addresses\" missing", NULL);
      return;
    }
    for (guint i = 0; i < json_array_get_length (a); i++) {
      JsonNode *e = json_array_get_element (a, i);
      const char *addr = NULL;
      if (JSON_NODE_HOLDS_OBJECT (e))
        addr = json_object_get_string_member_with_default (json_node_get_object (e), "address", NULL);
      else if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING)
        addr = json_node_get_string (e);
      if (!addr) {
        amm_respond_error (r->msg, 400, "INVALID_PARAMETER", "entry without address", NULL);
        return;
      }
      validated_add (r->server, b, addr);
    }
  } else {
    method_not_allowed (r, "GET, POST, OPTIONS");
    return;
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  doc = json_builder_get_root (b);
  amm_respond_json (r->msg, 200, AMM_TYPE_VALIDATED_ADDRESSES, doc);
}

static void
handle_mark_batch (Req *r)
{
  static const char * const ct[] = { AMM_TYPE_MESSAGE_IDS, NULL };
  g_autoptr (JsonNode) root = NULL;
  JsonObject *o;
  JsonNode *n;
  JsonArray *a;
  gboolean changed = FALSE;

  if (!is_method (r, "POST")) {
    method_not_allowed (r, "POST, OPTIONS");
    return;
  }
  if (!amm_check_content_type (r->msg, ct, NULL) || !(o = amm_parse_body_object (r->msg, &root)))
    return;
  n = json_object_get_member (o, "messageIds");
  a = n && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
  if (!a) {
    amm_respond_error (r->msg, 400, "INVALID_PARAMETER", "\"messageIds\" missing", NULL);
    return;
  }
  amm_conv_note_mark_batch ();
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *e = json_array_get_element (a, i);
    AmmMessage *m;
    AmmConversation *c;

    if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING)
      continue;
    m = amm_state_find_message (r->server->state, json_node_get_string (e));
    c = m ? amm_state_find_conversation (r->server->state, m->thread_id) : NULL;
    if (c && amm_conv_message_visible (c, m, r->user->address))
      changed |= amm_state_mark_read (r->server->state, m, r->user->address);
  }
  /* only the reader's view changed: only the reader is notified */
  if (changed)
    amm_server_reader_changed (r->server, r->user->address);
  amm_respond_empty (r->msg, 204);
}

static void
handle_mark_if (Req *r, GHashTable *query)
{
  AmmConversation *c;

  if (!is_method (r, "POST")) {
    method_not_allowed (r, "POST, OPTIONS");
    return;
  }
  if (!query_get (query, "conversationId")) {
    amm_respond_error (r->msg, 400, "INVALID_PARAMETER", "conversationId missing", NULL);
    return;
  }
  if (!(c = conversation_for (r, query_get (query, "conversationId"))))
    return;
  if (amm_state_mark_conversation_read (r->server->state, c, r->user->address))
    amm_server_reader_changed (r->server, r->user->address);
  amm_respond_empty (r->msg, 204);
}

static void
handle_message (Req *r, const char *id)
{
  static const char * const types_3[] = { AMM_TYPE_MESSAGE_V2, AMM_TYPE_MESSAGE_V1, NULL };
  AmmMessage *m = amm_state_find_message (r->server->state, id);
  AmmConversation *c = m ? amm_state_find_conversation (r->server->state, m->thread_id) : NULL;
  g_autoptr (JsonNode) doc = NULL;
  const char *type;

  if (!is_method (r, "GET")) {
    method_not_allowed (r, "GET, OPTIONS");
    return;
  }
  if (!c) {
    amm_respond_error (r->msg, 404, "MESSAGE_NOT_FOUND", "No such message", NULL);
    return;
  }
  if (!amm_conversation_find_participant (c, r->user->address)) {
    amm_respond_error (r->msg, 403, "FORBIDDEN", "Not a participant of this conversation", NULL);
    return;
  }
  if (!(type = amm_negotiate (r->msg, r->server->opt.api == AMM_API_2_1 ? types_3 + 1 : types_3)))
    return;
  doc = amm_json_message (r->server->state, m, r->user->address, r->base);
  amm_respond_json (r->msg, 200, type, doc);
}

/* GET /aem/media/{partId}: an attachment's bytes, for the participants. */
static void
handle_media (Req *r, const char *id)
{
  GBytes *bytes = g_hash_table_lookup (r->server->state->media, id);
  AmmPart *part = NULL;
  AmmConversation *c = NULL;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, r->server->state->message_by_id);
  while (!part && g_hash_table_iter_next (&iter, NULL, &value)) {
    AmmMessage *m = value;
    for (guint i = 0; i < m->parts->len && !part; i++)
      if (g_str_equal (((AmmPart *) m->parts->pdata[i])->id, id)) {
        part = m->parts->pdata[i];
        c = amm_state_find_conversation (r->server->state, m->thread_id);
      }
  }
  if (!part || !bytes) {
    amm_respond_error (r->msg, 404, "NOT_FOUND", "No such attachment (bytes are kept in memory only)", NULL);
    return;
  }
  if (!c || !amm_conversation_find_participant (c, r->user->address)) {
    amm_respond_error (r->msg, 403, "FORBIDDEN", "Not a participant of this conversation", NULL);
    return;
  }
  amm_media_respond (r->server, r->msg, part->mime_type, bytes);
}

static void
handle_session (Req *r)
{
  if (!is_method (r, "DELETE")) {
    method_not_allowed (r, "DELETE, OPTIONS");
    return;
  }
  amm_session_remove (r->server, r->msg);
  amm_respond_empty (r->msg, 204);
}

/* ---- dispatch ---- */

static void
rest_handler (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
              gpointer data)
{
  AmmServer *server = data;
  Req r = { server, msg, NULL, NULL, soup_server_message_get_method (msg),
            soup_server_message_get_uri (msg) };

  if (server->shutting_down) {
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                  "Retry-After", "1");
    amm_respond_error (msg, 503, "SERVICE_UNAVAILABLE", "The server is shutting down", NULL);
    return;
  }
  if (!(r.user = amm_require_user (server, msg)))
    return;
  r.base = amm_request_base (server, msg, FALSE);

  if (g_str_equal (path, AMM_DISCOVERY_PATH))
    handle_discovery (&r);
  else if (g_str_has_prefix (path, PREFIX_CONVERSATIONS)
           && (path[strlen (PREFIX_CONVERSATIONS)] == '\0'
               || path[strlen (PREFIX_CONVERSATIONS)] == '/'))
    handle_conversations (&r, path + strlen (PREFIX_CONVERSATIONS), query);
  else if (g_str_equal (path, PATH_OUTBOX))
    handle_outbox (&r);
  else if (g_str_equal (path, PATH_VALIDATE))
    handle_validate (&r);
  else if (g_str_equal (path, PATH_MARK_BATCH))
    handle_mark_batch (&r);
  else if (g_str_equal (path, PATH_MARK_IF))
    handle_mark_if (&r, query);
  else if (g_str_equal (path, PATH_SESSION))
    handle_session (&r);
  else if (g_str_has_prefix (path, PATH_MESSAGES "/") && !strchr (path + strlen (PATH_MESSAGES "/"), '/'))
    handle_message (&r, path + strlen (PATH_MESSAGES "/"));
  else if (g_str_has_prefix (path, "/aem/media/") && !strchr (path + strlen ("/aem/media/"), '/')
           && is_method (&r, "GET"))
    handle_media (&r, path + strlen ("/aem/media/"));
  else
    not_found (&r);
  req_clear (&r);
}

static void
default_handler (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                 gpointer data)
{
  amm_respond_error (msg, 404, "NOT_FOUND", "No such resource", NULL);
}

void
amm_rest_install (AmmServer *server)
{
  soup_server_add_handler (server->soup, NULL, default_handler, server, NULL);
  soup_server_add_handler (server->soup, "/aem", rest_handler, server, NULL);
}
