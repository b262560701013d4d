/* amm-client.c: one AMM client per account (see amm-client.h and docs/protocol.md).
 *
 * Lifetime rule: every internal async callback gets the client as a plain pointer and the
 * client's cancellable; the client's cancellable is cancelled only by amm_client_shutdown()
 * (which dispose calls). So a callback that sees G_IO_ERROR_CANCELLED returns at once and
 * never touches the client, which may be gone. Public async calls use a GTask whose source
 * object is the client (a reference) and follow the GIO contract: their callback is always
 * called, with G_IO_ERROR_CANCELLED after a shutdown.
 */
#include "amm-client.h"

#include <string.h>
#include "amm-client-private.h"
#include "amm-backoff.h"
#include "amm-channel.h"
#include "amm-discovery.h"
#include "amm-http.h"
#include "amm-pin.h"
#include "amm-protocol.h"
#include "amm-send.h"
#include "amm-sync.h"
#include "amm-time.h"

struct _AmmClient {
  GObject       parent;
  AmmSettings  *settings;
  char         *base_url;
  char         *auth;
  GTlsDatabase *tls_db;
  SoupSession  *session;
  gboolean      proxy_auth_hooked; /* on_request_queued_proxy_auth connected */
  GCancellable *cancel;
  gboolean      shut_down;
  gboolean      lost;

  AmmResources *resources;
  GPtrArray    *retired_resources; /* earlier documents: pointers handed out stay valid */
  GHashTable   *conversations;     /* id → AmmConversation* */
  AmmSync      *sync;
  AmmConvState *conv_state;        /* amm-conversations.c */

  /* syncing */
  gboolean        syncing;
  AmmChannelKind  mode;            /* WEBSOCKET (a channel, maybe SSE), LONG_POLL or POLL */
  AmmChannelKind  kind;            /* the channel that is up, NONE when down */
  gboolean        listing_running;
  gboolean        listing_dirty;
  AmmSyncBatch   *batch;
  gboolean        batch_waiting;   /* for sends in flight */
  guint           sends_in_flight;
  guint           listing_retry_id;
  guint           listing_idle_id;
  AmmBackoff      listing_backoff;
  gboolean        long_poll_started;
  gboolean        long_poll_exclusive;
  gboolean        listing_long_poll; /* the running listing is a long poll */
  char           *paging_thread;     /* the conversation being paged back */
  /* listings in two steps (docs/protocol.md §6 "Large listings") */
  gboolean        listing_too_large; /* the last single listing was over the cap: use ids next */
  gboolean        ids_unsupported;   /* the server answered the ids request with 406 */
  GPtrArray      *chunk_ids;         /* the running chunked listing's ids (char*), else NULL */
  guint           chunk_next;        /* the first id of the chunk being delivered */
  guint           chunk_len;         /* its length */
  guint           chunk_size;        /* ids per chunk (halved when a chunk is over the cap) */
  GQueue          chunks_ahead;      /* Chunk*: requested, not yet taken; in the ids' order */
  guint           chunk_fetch_next;  /* the first id not requested yet */
  gboolean        chunk_busy;        /* the batch holds a chunk not delivered yet */

  /* the channel */
  AmmChannel *channel;
  gboolean    channel_up;
  AmmBackoff  backoff;
  guint       reconnect_id;
  guint       poll_id;
};

enum { SIG_MESSAGE_RECEIVED, SIG_CURSOR_CHANGED, SIG_CHANNEL_CHANGED, SIG_CONNECTION_LOST,
       SIG_TYPING, SIG_MESSAGE_READ, SIG_CONVERSATION_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (AmmClient, amm_client, G_TYPE_OBJECT)

static void run_listing (AmmClient *self);
static void drop_chunks (AmmClient *self);
static void open_channel (AmmClient *self);
static void teardown_channel (AmmClient *self);

static void
clear_source (guint *id)
{
  if (*id) {
    g_source_remove (*id);
    *id = 0;
  }
}

static gboolean
is_cancelled (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* --- object -------------------------------------------------------------------------------- */

static void
amm_client_dispose (GObject *obj)
{
  amm_client_shutdown (AMM_CLIENT (obj));
  G_OBJECT_CLASS (amm_client_parent_class)->dispose (obj);
}

static void
amm_client_finalize (GObject *obj)
{
  AmmClient *self = AMM_CLIENT (obj);
  amm_settings_free (self->settings);
  g_free (self->base_url);
  if (self->auth) {
    memset (self->auth, 0, strlen (self->auth));
    g_free (self->auth);
  }
  g_clear_object (&self->tls_db);
  g_clear_object (&self->session);
  g_clear_object (&self->cancel);
  g_clear_pointer (&self->resources, amm_resources_unref);
  g_ptr_array_unref (self->retired_resources);
  g_hash_table_destroy (self->conversations);
  amm_sync_free (self->sync);
  amm_conv_state_free (self->conv_state);
  g_free (self->paging_thread);
  drop_chunks (self);
  g_clear_pointer (&self->chunk_ids, g_ptr_array_unref);
  G_OBJECT_CLASS (amm_client_parent_class)->finalize (obj);
}

static void
amm_client_class_init (AmmClientClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  oc->dispose = amm_client_dispose;
  oc->finalize = amm_client_finalize;
  signals[SIG_MESSAGE_RECEIVED] =
    g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_POINTER, G_TYPE_POINTER, G_TYPE_BOOLEAN);
  signals[SIG_CURSOR_CHANGED] =
    g_signal_new ("cursor-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIG_CHANNEL_CHANGED] =
    g_signal_new ("channel-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_BOOLEAN);
  signals[SIG_CONNECTION_LOST] =
    g_signal_new ("connection-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
  /* amm-conversations.h */
  signals[SIG_TYPING] =
    g_signal_new ("typing", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE, G_TYPE_UINT);
  signals[SIG_MESSAGE_READ] =
    g_signal_new ("message-read", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_POINTER, G_TYPE_POINTER);
  signals[SIG_CONVERSATION_CHANGED] =
    g_signal_new ("conversation-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
amm_client_init (AmmClient *self)
{
  self->cancel = g_cancellable_new ();
  self->retired_resources = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_resources_unref);
  g_queue_init (&self->chunks_ahead);
  self->conversations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify) amm_conversation_unref);
  self->conv_state = amm_conv_state_new ();
  amm_backoff_init (&self->backoff, AMM_RECONNECT_BASE_MS, AMM_RECONNECT_MAX_MS, AMM_RECONNECT_MAX_ATTEMPTS);
  amm_backoff_init (&self->listing_backoff, AMM_RECONNECT_BASE_MS, AMM_RECONNECT_MAX_MS, 0);
}

AmmClient *
amm_client_new (const AmmSettings *settings, GError **error)
{
  g_return_val_if_fail (settings != NULL, NULL);
  if (settings->host == NULL || *settings->host == '\0' || strpbrk (settings->host, "/?#@ \t") != NULL) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS, "Invalid server name \"%s\"",
                 settings->host ? settings->host : "");
    return NULL;
  }
  if (settings->port == 0) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS, "Invalid port 0");
    return NULL;
  }
  if (settings->username == NULL || *settings->username == '\0') {
    g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS, "No user name");
    return NULL;
  }
  g_autofree char *base = g_uri_join (G_URI_FLAGS_NONE, settings->use_tls ? "https" : "http", NULL,
                                      settings->host, settings->port, "", NULL, NULL);
  g_autoptr (GUri) check = g_uri_parse (base, SOUP_HTTP_URI_FLAGS, NULL);
  if (check == NULL) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS, "Invalid server name \"%s\"", settings->host);
    return NULL;
  }
  if (!amm_http_trusted_hosts_validate (settings->trusted_hosts, error))
    return NULL;
  GTlsDatabase *db = NULL;
  if (settings->cert_fingerprint && *settings->cert_fingerprint) {
    g_autoptr (GError) local = NULL;
    g_autofree char *pin = amm_pin_normalize (settings->cert_fingerprint, &local);
    if (pin == NULL) {
      g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS, "%s", local->message);
      return NULL;
    }
    db = amm_pin_database_new (pin);
  } else if (settings->ca_file && *settings->ca_file) {
    g_autofree char *path = g_canonicalize_filename (settings->ca_file, NULL);
    g_autoptr (GError) local = NULL;
    db = g_tls_file_database_new (path, &local);
    if (db == NULL) {
      g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS, "Cannot use the CA file %s: %s", path,
                   local->message);
      return NULL;
    }
  }
  AmmClient *self = g_object_new (AMM_TYPE_CLIENT, NULL);
  self->settings = amm_settings_copy (settings);
  self->base_url = g_steal_pointer (&base);
  self->auth = amm_http_basic_auth (settings->username, settings->password);
  self->tls_db = db;
  self->session = amm_http_session_new (db);
  amm_http_session_set_origin (self->session, self->base_url, settings->trusted_hosts);
  self->sync = amm_sync_new (settings->username);
  return self;
}

void
amm_client_set_backoff (AmmClient *self, guint base_ms, guint max_ms, guint max_attempts)
{
  amm_backoff_init (&self->backoff, base_ms, max_ms, max_attempts);
  amm_backoff_init (&self->listing_backoff, base_ms, max_ms, 0);
}

/* HTTP proxy credentials. libsoup does not answer a proxy's 407 for the CONNECT tunnel of
 * https:// and wss:// (its auth manager never sees it), so the credentials of the proxy URI the
 * session's resolver gives (a GSimpleProxyResolver answers at once, without a thread) go
 * pre-emptively into Proxy-Authorization (Basic), as curl does: on the CONNECT for TLS targets,
 * on the request itself for plain http:// ones (sent to the proxy). Never for SOCKS proxies,
 * whose credentials GIO sends itself. */
static void
on_request_queued_proxy_auth (SoupSession *session, SoupMessage *msg, gpointer data)
{
  GProxyResolver *resolver = soup_session_get_proxy_resolver (session);
  GUri *uri = soup_message_get_uri (msg);
  gboolean tls = g_strcmp0 (g_uri_get_scheme (uri), "https") == 0
                 || g_strcmp0 (g_uri_get_scheme (uri), "wss") == 0;
  g_autofree char *target = NULL;
  g_auto (GStrv) proxies = NULL;
  g_autofree char *scheme = NULL;
  g_autofree char *user = NULL;
  g_autofree char *password = NULL;

  if (resolver == NULL || (tls && g_strcmp0 (soup_message_get_method (msg), "CONNECT") != 0))
    return;
  target = g_uri_to_string (uri);
  proxies = g_proxy_resolver_lookup (resolver, target, NULL, NULL);
  if (proxies == NULL || proxies[0] == NULL
      || !g_uri_split_with_user (proxies[0], G_URI_FLAGS_HAS_PASSWORD, &scheme, &user, &password, NULL,
                                 NULL, NULL, NULL, NULL, NULL, NULL)
      || user == NULL || g_strcmp0 (scheme, "http") != 0)
    return;
  {
    g_autofree char *u = g_uri_unescape_string (user, NULL);
    g_autofree char *p = password ? g_uri_unescape_string (password, NULL) : g_strdup ("");
    g_autofree char *basic = amm_http_basic_auth (u ? u : user, p ? p : "");
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Proxy-Authorization", basic);
    if (p)
      memset (p, 0, strlen (p));
    if (password)
      memset (password, 0, strlen (password));
  }
}

void
amm_client_set_proxy_resolver (AmmClient *self, GProxyResolver *resolver)
{
  soup_session_set_proxy_resolver (self->session, resolver);
  if (resolver != NULL && !self->proxy_auth_hooked) {
    self->proxy_auth_hooked = TRUE;
    g_signal_connect (self->session, "request-queued", G_CALLBACK (on_request_queued_proxy_auth), NULL);
  }
}

AmmVersion
amm_client_get_version (AmmClient *self)
{
  return self->resources ? self->resources->version : AMM_VERSION_AUTO;
}

const AmmResources *
amm_client_get_resources (AmmClient *self)
{
  return self->resources;
}

const char *
amm_client_get_self_address (AmmClient *self)
{
  return self->resources && self->resources->self ? self->resources->self : self->settings->username;
}

AmmChannelKind
amm_client_get_channel_kind (AmmClient *self)
{
  return self->kind;
}

const char *
amm_client_get_cursor (AmmClient *self)
{
  return amm_sync_get_cursor (self->sync);
}

/* --- signals ------------------------------------------------------------------------------- */

static gboolean
can_emit (AmmClient *self)
{
  return !self->shut_down && !self->lost;
}

static void
set_channel_state (AmmClient *self, AmmChannelKind kind, gboolean up)
{
  if (up) {
    if (self->kind == kind)
      return;
    self->kind = kind;
  } else {
    if (self->kind == AMM_CHANNEL_NONE)
      return;
    kind = self->kind;
    self->kind = AMM_CHANNEL_NONE;
  }
  if (can_emit (self))
    g_signal_emit (self, signals[SIG_CHANNEL_CHANGED], 0, (guint) kind, up);
}

static void
stop_activity (AmmClient *self)
{
  teardown_channel (self);
  clear_source (&self->reconnect_id);
  clear_source (&self->poll_id);
  clear_source (&self->listing_retry_id);
  clear_source (&self->listing_idle_id);
}

static void
connection_lost (AmmClient *self, const GError *cause)
{
  if (!can_emit (self))
    return;
  g_autoptr (GError) error = NULL;
  if (g_error_matches (cause, AMM_ERROR, AMM_ERROR_AUTH) || g_error_matches (cause, AMM_ERROR, AMM_ERROR_CONNECTION_LOST))
    error = g_error_copy (cause);
  else
    error = g_error_new (AMM_ERROR, AMM_ERROR_CONNECTION_LOST, "Lost the connection to the server: %s",
                         cause ? cause->message : "unknown error");
  g_debug ("amm-client: connection lost: %s", error->message);
  stop_activity (self);
  set_channel_state (self, AMM_CHANNEL_NONE, FALSE);
  self->lost = TRUE;
  self->syncing = FALSE;
  g_signal_emit (self, signals[SIG_CONNECTION_LOST], 0, error);
}

/* --- the conversation cache ----------------------------------------------------------------- */

/* The cache holds the newest messages only: a listing embeds up to maxMessageCount of every
 * conversation (50,000 messages for 1,000 × 50), which are delivered and then let go. */
static void
cache_conversation (AmmClient *self, AmmConversation *conv, gboolean authoritative)
{
  if (conv == NULL || conv->id == NULL)
    return;
  if (!authoritative && g_hash_table_contains (self->conversations, conv->id))
    return;
  AmmConversation *entry = conv->messages->len > AMM_CLIENT_CACHED_MESSAGES
                           ? amm_conversation_copy_newest (conv, AMM_CLIENT_CACHED_MESSAGES)
                           : amm_conversation_ref (conv);
  g_hash_table_replace (self->conversations, g_strdup (conv->id), entry);
}

static void
cache_list (AmmClient *self, AmmConversationList *list)
{
  for (guint i = 0; i < list->conversations->len; i++)
    cache_conversation (self, g_ptr_array_index (list->conversations, i), TRUE);
}

AmmConversation *
amm_client_lookup_conversation (AmmClient *self, const char *thread_id)
{
  return thread_id ? g_hash_table_lookup (self->conversations, thread_id) : NULL;
}

static gboolean
address_in (GPtrArray *addresses, const char *address)
{
  for (guint i = 0; i < addresses->len; i++)
    if (g_ascii_strcasecmp (g_ptr_array_index (addresses, i), address) == 0)
      return TRUE;
  return FALSE;
}

static GPtrArray *
participants_of (AmmConversation *conv)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  if (conv == NULL || conv->messages->len == 0)
    return out;
  AmmMessage *newest = g_ptr_array_index (conv->messages, 0);
  GPtrArray *left = g_ptr_array_new ();
  if (newest->event_type == AMM_EVENT_LEFT)
    for (guint i = 0; i < newest->event_participants->len; i++) {
      AmmEntity *e = g_ptr_array_index (newest->event_participants, i);
      if (e->address)
        g_ptr_array_add (left, e->address);
    }
  for (guint i = 0; i < newest->to->len; i++) {
    AmmEntity *e = g_ptr_array_index (newest->to, i);
    if (e->address && !address_in (out, e->address) && !address_in (left, e->address))
      g_ptr_array_add (out, g_strdup (e->address));
  }
  g_ptr_array_unref (left);
  return out;
}

GPtrArray *
amm_client_conversation_participants (AmmClient *self, const char *thread_id)
{
  return participants_of (amm_client_lookup_conversation (self, thread_id));
}

static GDateTime *
conversation_time (AmmConversation *c)
{
  if (c->last_updated)
    return c->last_updated;
  if (c->messages->len > 0)
    return ((AmmMessage *) g_ptr_array_index (c->messages, 0))->last_modified_date;
  return NULL;
}

AmmConversation *
amm_client_find_direct_conversation (AmmClient *self, const char *peer_address)
{
  const char *me = amm_client_get_self_address (self);
  if (peer_address == NULL || g_ascii_strcasecmp (peer_address, me) == 0)
    return NULL;
  AmmConversation *best = NULL;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, self->conversations);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    AmmConversation *c = value;
    if (!c->active || c->closed)
      continue;
    g_autoptr (GPtrArray) parts = participants_of (c);
    if (parts->len != 2 || !address_in (parts, me) || !address_in (parts, peer_address))
      continue;
    if (best == NULL || amm_time_compare (conversation_time (c), conversation_time (best)) > 0)
      best = c;
  }
  return best;
}

/* --- requests ---------------------------------------------------------------------------------- */

static char *
build_json (void (*fill) (JsonBuilder *, gconstpointer), gconstpointer data)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  fill (b, data);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return amm_http_json_to_string (root);
}

static void
fill_filter (JsonBuilder *b, gconstpointer data)
{
  const char *after = data;
  json_builder_begin_object (b);
  if (after) {
    json_builder_set_member_name (b, "searchAfterDate");
    json_builder_add_string_value (b, after);
  }
  json_builder_end_object (b);
}

static guint
long_poll_seconds (AmmClient *self)
{
  guint s = self->resources->request_timeout_recommended;
  return s ? s : AMM_LONG_POLL_DEFAULT_SECONDS;
}

static SoupMessage *
listing_message (AmmClient *self, const char *after, gboolean long_poll, GError **error)
{
  AmmResources *r = self->resources;
  SoupMessage *msg;
  if (r->version == AMM_VERSION_3_2) {
    g_autofree char *body = build_json (fill_filter, after);
    msg = amm_http_request_new ("POST", r->conversations_href, self->auth,
                                AMM_TYPE_CONVERSATIONS_V2 ", " AMM_TYPE_ERROR, AMM_TYPE_CONVERSATIONS_FILTER,
                                body, -1, error);
    if (msg)
      soup_message_add_flags (msg, SOUP_MESSAGE_IDEMPOTENT); /* a query: safe to resend */
  } else {
    g_autofree char *uri = after ? amm_http_uri_add_query (r->conversations_href, "after", after)
                                 : g_strdup (r->conversations_href);
    msg = amm_http_request_new ("GET", uri, self->auth,
                                r->version == AMM_VERSION_2_1 ? AMM_TYPE_CONVERSATIONS_V1 ", " AMM_TYPE_ERROR
                                                              : AMM_TYPE_CONVERSATIONS_V2 ", " AMM_TYPE_ERROR,
                                NULL, NULL, 0, error);
  }
  if (msg && long_poll) {
    g_autofree char *secs = g_strdup_printf ("%u", long_poll_seconds (self));
    soup_message_headers_replace (soup_message_get_request_headers (msg), AMM_HEADER_REQUEST_TIMEOUT, secs);
  }
  return msg;
}

static SoupMessage *
page_message (AmmClient *self, const char *thread_id, const char *before_id, const char *after_id, guint count,
              GError **error)
{
  AmmResources *r = self->resources;
  AmmConversation *cached = amm_client_lookup_conversation (self, thread_id);
  g_autofree char *escaped = g_uri_escape_string (thread_id, NULL, FALSE);
  g_autofree char *base = cached && cached->href
                          ? g_strdup (cached->href)
                          : g_strconcat (r->conversations_href, g_str_has_suffix (r->conversations_href, "/") ? "" : "/",
                                         escaped, NULL);
  g_autofree char *n = g_strdup_printf ("%u", count ? count : (r->max_message_count ? r->max_message_count
                                                                                    : AMM_DEFAULT_MAX_MESSAGE_COUNT));
  g_autofree char *u1 = amm_http_uri_add_query (base, "messageCount", n);
  g_autofree char *u2 = before_id ? amm_http_uri_add_query (u1, "beforeId", before_id) : g_strdup (u1);
  g_autofree char *u3 = after_id ? amm_http_uri_add_query (u2, "afterId", after_id) : g_strdup (u2);
  return amm_http_request_new ("GET", u3, self->auth,
                               r->version == AMM_VERSION_2_1 ? AMM_TYPE_CONVERSATION_V1 ", " AMM_TYPE_ERROR
                                                             : AMM_TYPE_CONVERSATION_V2 ", " AMM_TYPE_ERROR,
                               NULL, NULL, 0, error);
}

static AmmConversationList *
parse_list (AmmClient *self, GBytes *body, GError **error)
{
  g_autoptr (JsonNode) root = amm_http_parse_json (body, error);
  return root ? amm_conversation_list_parse (root, self->base_url, error) : NULL;
}

static AmmConversation *
parse_conversation (AmmClient *self, GBytes *body, GError **error)
{
  g_autoptr (JsonNode) root = amm_http_parse_json (body, error);
  return root ? amm_conversation_parse (root, self->base_url, error) : NULL;
}

/* --- connect ------------------------------------------------------------------------------------ */

static gboolean
wants_polling (AmmClient *self)
{
  return self->settings->poll_minutes > 0 || self->settings->poll_seconds_for_tests > 0;
}

static void
on_connected (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  AmmClient *self = g_task_get_source_object (task);
  GError *error = NULL;
  AmmResources *r = amm_discovery_run_finish (res, &error);
  if (r == NULL) {
    g_task_return_error (task, error);
  } else if (self->shut_down) {
    amm_resources_unref (r);
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The client was shut down");
  } else {
    if (self->resources)
      g_ptr_array_add (self->retired_resources, self->resources);
    self->resources = r;
    amm_sync_free (self->sync);
    self->sync = amm_sync_new (r->self);
    g_debug ("amm-client: connected to %s, AMM %s, as %s", self->base_url, amm_version_to_string (r->version),
             r->self);
    g_task_return_boolean (task, TRUE);
  }
  g_object_unref (task);
}

void
amm_client_connect_async (AmmClient *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, amm_client_connect_async);
  if (self->shut_down) {
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The client was shut down");
    g_object_unref (task);
    return;
  }
  amm_discovery_run_async (self->session, self->base_url, self->auth, self->settings->username,
                           self->settings->version, !wants_polling (self), self->cancel, cancellable,
                           on_connected, task);
}

gboolean
amm_client_connect_finish (AmmClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* --- the listing runner ------------------------------------------------------------------------- */

static gboolean
on_listing_idle (gpointer data)
{
  AmmClient *self = data;
  self->listing_idle_id = 0;
  run_listing (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_listing_now (AmmClient *self)
{
  if (self->listing_idle_id == 0 && can_emit (self))
    self->listing_idle_id = g_idle_add (on_listing_idle, self);
}

static gboolean
on_listing_retry (gpointer data)
{
  AmmClient *self = data;
  self->listing_retry_id = 0;
  run_listing (self);
  return G_SOURCE_REMOVE;
}

static void
listing_done (AmmClient *self, gboolean productive, gboolean was_long_poll)
{
  self->listing_running = FALSE;
  if (self->chunk_ids != NULL)
    self->listing_too_large = FALSE; /* a chunked listing went through */
  drop_chunks (self);
  self->chunk_busy = FALSE;
  g_clear_pointer (&self->chunk_ids, g_ptr_array_unref);
  g_clear_pointer (&self->batch, amm_sync_batch_free);
  self->batch_waiting = FALSE;
  if (!can_emit (self))
    return;
  amm_backoff_reset (&self->listing_backoff);
  if (self->mode == AMM_CHANNEL_LONG_POLL) {
    if (!self->long_poll_started)
      self->long_poll_started = TRUE;
    else
      amm_backoff_reset (&self->backoff);
    /* after an answer that brought nothing new, ask from just past the cursor, or the
     * inclusive query would come back at once, forever */
    self->long_poll_exclusive = was_long_poll && !productive;
    set_channel_state (self, AMM_CHANNEL_LONG_POLL, TRUE);
    schedule_listing_now (self);
    return;
  }
  if (self->listing_dirty)
    schedule_listing_now (self);
}

/* keep_chunks: a chunk (or a page of one) of a chunked listing failed; the listing resumes at
 * that chunk when retried (run_listing), so what earlier chunks delivered is not fetched again. */
static void
listing_failed_full (AmmClient *self, GError *error, guint retry_after_s, gboolean was_long_poll,
                     gboolean keep_chunks)
{
  self->listing_running = FALSE;
  /* a single listing over the size cap: the next one goes by ids and chunks (§6) */
  if (g_error_matches (error, AMM_ERROR, AMM_ERROR_TOO_LARGE) && self->chunk_ids == NULL)
    self->listing_too_large = TRUE;
  /* the chunks requested after the one that failed are requested again on resuming */
  drop_chunks (self);
  self->chunk_busy = FALSE;
  self->chunk_fetch_next = self->chunk_next;
  if (!keep_chunks || self->chunk_ids == NULL) {
    g_clear_pointer (&self->chunk_ids, g_ptr_array_unref);
    g_clear_pointer (&self->batch, amm_sync_batch_free);
  }
  self->batch_waiting = FALSE;
  g_debug ("amm-client: listing failed: %s", error->message);
  if (!can_emit (self)) {
    g_error_free (error);
    return;
  }
  if (g_error_matches (error, AMM_ERROR, AMM_ERROR_AUTH)) {
    connection_lost (self, error);
    g_error_free (error);
    return;
  }
  guint delay;
  if (self->mode == AMM_CHANNEL_LONG_POLL && self->long_poll_started) {
    set_channel_state (self, AMM_CHANNEL_NONE, FALSE);
    if (amm_backoff_fail (&self->backoff)) {
      connection_lost (self, error);
      g_error_free (error);
      return;
    }
    delay = amm_backoff_delay_ms (&self->backoff, retry_after_s * 1000);
  } else {
    amm_backoff_fail (&self->listing_backoff);
    delay = amm_backoff_delay_ms (&self->listing_backoff, retry_after_s * 1000);
  }
  g_error_free (error);
  clear_source (&self->listing_retry_id);
  self->listing_retry_id = g_timeout_add (delay, on_listing_retry, self);
}

static void
listing_failed (AmmClient *self, GError *error, guint retry_after_s, gboolean was_long_poll)
{
  listing_failed_full (self, error, retry_after_s, was_long_poll, FALSE);
}

static void take_next_chunk (AmmClient *self);
static gboolean fetch_chunks (AmmClient *self);

static void
deliver_batch (AmmClient *self)
{
  g_object_ref (self);
  gboolean was_long_poll = self->listing_long_poll;
  g_autoptr (GPtrArray) deliveries = amm_sync_batch_take_deliveries (self->sync, self->batch);
  for (guint i = 0; i < deliveries->len && can_emit (self); i++) {
    AmmDelivery *d = g_ptr_array_index (deliveries, i);
    g_signal_emit (self, signals[SIG_MESSAGE_RECEIVED], 0, d->conv, d->msg, d->from_self);
    if (can_emit (self))
      amm_conv_on_delivered (self, d->conv, d->msg, d->from_self);
  }
  if (can_emit (self) && self->batch && self->chunk_ids
      && self->chunk_next + self->chunk_len < self->chunk_ids->len) {
    /* a chunked listing with chunks to go: the cursor moves after the last one */
    self->chunk_busy = FALSE;
    if (fetch_chunks (self))
      take_next_chunk (self);
    g_object_unref (self);
    return;
  }
  gboolean changed = FALSE;
  if (can_emit (self) && self->batch) {
    changed = amm_sync_commit (self->sync, self->batch);
    if (changed)
      g_signal_emit (self, signals[SIG_CURSOR_CHANGED], 0, amm_sync_get_cursor (self->sync));
  }
  if (!self->shut_down)
    listing_done (self, changed || deliveries->len > 0, was_long_poll);
  g_object_unref (self);
}

static void
try_deliver (AmmClient *self)
{
  if (amm_sync_batch_must_wait (self->sync, self->batch, self->sends_in_flight)) {
    g_debug ("amm-client: holding a listing until %u send(s) complete", self->sends_in_flight);
    self->batch_waiting = TRUE;
    return;
  }
  self->batch_waiting = FALSE;
  deliver_batch (self);
}

static void continue_batch (AmmClient *self);

static void
on_page_answer (GObject *src, GAsyncResult *res, gpointer data)
{
  GError *error = NULL;
  guint retry_after = 0;
  g_autoptr (GBytes) body = amm_http_send_finish (res, NULL, &retry_after, &error);
  if (is_cancelled (error)) {
    g_error_free (error);
    return;
  }
  AmmClient *self = data;
  gboolean lp = self->listing_long_poll;
  g_autoptr (AmmConversation) page = body ? parse_conversation (self, body, &error) : NULL;
  if (page == NULL) {
    listing_failed_full (self, error, retry_after, lp, TRUE);
    return;
  }
  cache_conversation (self, page, FALSE);
  amm_sync_batch_add_page (self->sync, self->batch, self->paging_thread, page);
  continue_batch (self);
}

static void
continue_batch (AmmClient *self)
{
  const char *thread_id = NULL, *before_id = NULL;
  if (!amm_sync_batch_next_page (self->sync, self->batch, &thread_id, &before_id)) {
    try_deliver (self);
    return;
  }
  g_free (self->paging_thread);
  self->paging_thread = g_strdup (thread_id);
  GError *error = NULL;
  g_autoptr (SoupMessage) msg = page_message (self, thread_id, before_id, NULL, 0, &error);
  if (msg == NULL) {
    listing_failed (self, error, 0, FALSE);
    return;
  }
  amm_http_send_async (self->session, msg, AMM_REST_TIMEOUT_SECONDS, self->cancel, NULL, on_page_answer, self);
}

/* Take a listing (or one chunk of it) into the cache and the conversation state. FALSE when a
 * signal handler shut the client down meanwhile: the listing is over then. */
static gboolean
absorb_list (AmmClient *self, AmmConversationList *list, gboolean long_poll)
{
  cache_list (self, list);
  g_object_ref (self);
  amm_conv_on_listing (self, list);
  if (!can_emit (self)) {
    listing_done (self, FALSE, long_poll);
    g_object_unref (self);
    return FALSE;
  }
  g_object_unref (self);
  return TRUE;
}

static void
on_listing_answer (GObject *src, GAsyncResult *res, gpointer data)
{
  GError *error = NULL;
  guint retry_after = 0;
  g_autoptr (GBytes) body = amm_http_send_finish (res, NULL, &retry_after, &error);
  if (is_cancelled (error)) {
    g_error_free (error);
    return;
  }
  AmmClient *self = data;
  gboolean lp = self->listing_long_poll;
  g_autoptr (AmmConversationList) list = body ? parse_list (self, body, &error) : NULL;
  if (list == NULL) {
    listing_failed (self, error, retry_after, lp);
    return;
  }
  if (!absorb_list (self, list, lp))
    return;
  self->batch = amm_sync_batch_new (self->sync, list);
  continue_batch (self);
}

/* --- large listings: ids, then the conversations in chunks (docs/protocol.md §6) --------------- */

static guint
chunk_size_for (AmmResources *r)
{
  guint limit = r->max_ids_limit ? r->max_ids_limit : AMM_DEFAULT_MAX_IDS_LIMIT;
  guint per_conv = r->max_message_count ? r->max_message_count : AMM_DEFAULT_MAX_MESSAGE_COUNT;
  return CLAMP (AMM_LISTING_CHUNK_MESSAGES / per_conv, 1, limit);
}

/* One chunk of a chunked listing, requested ahead of its turn (up to AMM_LISTING_CHUNKS_AHEAD),
 * parsed when its answer comes and taken into the batch in the ids document's order. Its
 * request holds a reference: a chunk dropped meanwhile (a failure, the listing's end, a
 * shutdown) has its answer ignored, and the client is never touched then. */
typedef struct {
  AmmClient           *client;      /* plain pointer: used only while not dropped */
  guint                start;       /* its ids: chunk_ids[start .. start + len) */
  guint                len;
  GCancellable        *cancel;      /* this request only */
  gboolean             dropped;
  gboolean             answered;
  AmmConversationList *list;        /* answered: the chunk, or NULL and error */
  GError              *error;
  guint                retry_after;
} Chunk;

static void
chunk_clear (Chunk *c)
{
  g_clear_object (&c->cancel);
  g_clear_pointer (&c->list, amm_conversation_list_unref);
  g_clear_error (&c->error);
}

static void
chunk_unref (Chunk *c)
{
  g_rc_box_release_full (c, (GDestroyNotify) chunk_clear);
}

/* Forget every chunk requested and not taken yet: their answers, still to come, are ignored. */
static void
drop_chunks (AmmClient *self)
{
  Chunk *c;
  while ((c = g_queue_pop_head (&self->chunks_ahead)) != NULL) {
    c->dropped = TRUE;
    g_cancellable_cancel (c->cancel);
    chunk_unref (c);
  }
}

typedef struct {
  AmmClient   *self;
  const Chunk *chunk;
} ChunkIds;

static void
fill_ids_filter (JsonBuilder *b, gconstpointer data)
{
  const ChunkIds *ci = data;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ids");
  json_builder_begin_array (b);
  for (guint i = 0; i < ci->chunk->len; i++) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_string_value (b, g_ptr_array_index (ci->self->chunk_ids, ci->chunk->start + i));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

/* The conversations of a chunk: 3.2 POST C {ids}, 3 and 2.1 GET C?id=a&id=b. */
static SoupMessage *
chunk_message (AmmClient *self, const Chunk *chunk, GError **error)
{
  AmmResources *r = self->resources;
  SoupMessage *msg;
  if (r->version == AMM_VERSION_3_2) {
    ChunkIds ci = { self, chunk };
    g_autofree char *body = build_json (fill_ids_filter, &ci);
    msg = amm_http_request_new ("POST", r->conversations_href, self->auth,
                                AMM_TYPE_CONVERSATIONS_V2 ", " AMM_TYPE_ERROR, AMM_TYPE_CONVERSATIONS_FILTER,
                                body, -1, error);
    if (msg)
      soup_message_add_flags (msg, SOUP_MESSAGE_IDEMPOTENT); /* a query: safe to resend */
    return msg;
  }
  g_autofree char *uri = g_strdup (r->conversations_href);
  for (guint i = 0; i < chunk->len; i++) {
    char *next = amm_http_uri_add_query (uri, "id", g_ptr_array_index (self->chunk_ids, chunk->start + i));
    g_free (uri);
    uri = next;
  }
  return amm_http_request_new ("GET", uri, self->auth,
                               r->version == AMM_VERSION_2_1 ? AMM_TYPE_CONVERSATIONS_V1 ", " AMM_TYPE_ERROR
                                                             : AMM_TYPE_CONVERSATIONS_V2 ", " AMM_TYPE_ERROR,
                               NULL, NULL, 0, error);
}

/* conversations.ids.v1: {conversationIds: [{id, href, lastAccessedTime, lastUpdated}], href,
 * lastUpdated}. The ids (owned, duplicates dropped) and the document's lastUpdated. */
static GPtrArray *
parse_ids (GBytes *body, char **last_updated, GError **error)
{
  g_autoptr (JsonNode) root = amm_http_parse_json (body, error);
  if (root == NULL)
    return NULL;
  JsonObject *o = JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  JsonNode *arr = o ? json_object_get_member (o, "conversationIds") : NULL;
  JsonNode *lu = o ? json_object_get_member (o, "lastUpdated") : NULL;
  const char *lu_s = lu && JSON_NODE_HOLDS_VALUE (lu) && json_node_get_value_type (lu) == G_TYPE_STRING
                     ? json_node_get_string (lu) : NULL;
  g_autoptr (GDateTime) lu_dt = lu_s ? amm_time_parse (lu_s, NULL) : NULL;
  if (arr == NULL || !JSON_NODE_HOLDS_ARRAY (arr) || lu_dt == NULL) {
    g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED,
                 "The conversation ids document has no conversationIds array or no valid lastUpdated");
    return NULL;
  }
  JsonArray *a = json_node_get_array (arr);
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *e = json_array_get_element (a, i);
    JsonNode *id = JSON_NODE_HOLDS_OBJECT (e) ? json_object_get_member (json_node_get_object (e), "id") : NULL;
    const char *id_s = id && JSON_NODE_HOLDS_VALUE (id) && json_node_get_value_type (id) == G_TYPE_STRING
                       ? json_node_get_string (id) : NULL;
    if (id_s == NULL || *id_s == '\0') {
      g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED, "conversationIds[%u] has no id", i);
      return NULL;
    }
    if (g_hash_table_contains (seen, id_s))
      continue;
    g_hash_table_add (seen, (gpointer) id_s);
    g_ptr_array_add (ids, g_strdup (id_s));
  }
  *last_updated = g_strdup (lu_s);
  return g_steal_pointer (&ids);
}

static void on_chunk_answer (GObject *src, GAsyncResult *res, gpointer data);

/* Request the chunks after the last one requested, up to AMM_LISTING_CHUNKS_AHEAD not taken yet:
 * the server prepares the next while this client takes the current one. FALSE when the listing
 * failed (it is over then). */
static gboolean
fetch_chunks (AmmClient *self)
{
  while (g_queue_get_length (&self->chunks_ahead) < AMM_LISTING_CHUNKS_AHEAD
         && self->chunk_fetch_next < self->chunk_ids->len) {
    Chunk *c = g_rc_box_new0 (Chunk);
    c->client = self;
    c->start = self->chunk_fetch_next;
    c->len = MIN (self->chunk_size, self->chunk_ids->len - c->start);
    GError *error = NULL;
    g_autoptr (SoupMessage) msg = chunk_message (self, c, &error);
    if (msg == NULL) {
      chunk_unref (c);
      listing_failed (self, error, 0, FALSE);
      return FALSE;
    }
    c->cancel = g_cancellable_new ();
    self->chunk_fetch_next += c->len;
    g_queue_push_tail (&self->chunks_ahead, c);
    amm_http_send_async (self->session, msg, AMM_REST_TIMEOUT_SECONDS, self->cancel, c->cancel, on_chunk_answer,
                         g_rc_box_acquire (c));
  }
  return TRUE;
}

static void
on_chunk_answer (GObject *src, GAsyncResult *res, gpointer data)
{
  Chunk *c = data;
  GError *error = NULL;
  guint retry_after = 0;
  g_autoptr (GBytes) body = amm_http_send_finish (res, NULL, &retry_after, &error);
  if (is_cancelled (error) || c->dropped) { /* the client may be gone */
    g_clear_error (&error);
    chunk_unref (c);
    return;
  }
  AmmClient *self = c->client;
  c->list = body ? parse_list (self, body, &error) : NULL;
  c->error = error;
  c->retry_after = retry_after;
  c->answered = TRUE;
  chunk_unref (c); /* the queue holds it */
  take_next_chunk (self);
}

/* A chunk that failed: over the cap, the same ids again in smaller chunks; else the listing
 * fails, to resume at this chunk. */
static void
chunk_failed (AmmClient *self, Chunk *c)
{
  GError *error = g_steal_pointer (&c->error);
  guint retry_after = c->retry_after, len = c->len;
  drop_chunks (self);
  self->chunk_fetch_next = self->chunk_next;
  if (g_error_matches (error, AMM_ERROR, AMM_ERROR_TOO_LARGE) && len > 1) {
    /* big messages: the same ids in smaller chunks */
    self->chunk_size = len / 2;
    g_debug ("amm-client: a chunk of %u conversations is too large; %u at a time now", len, self->chunk_size);
    g_error_free (error);
    fetch_chunks (self);
    return;
  }
  listing_failed_full (self, error, retry_after, FALSE, TRUE);
}

/* Take the next chunk into the batch once it is answered and the previous one was delivered. */
static void
take_next_chunk (AmmClient *self)
{
  Chunk *c = g_queue_peek_head (&self->chunks_ahead);
  if (self->chunk_busy || c == NULL || !c->answered)
    return;
  g_queue_pop_head (&self->chunks_ahead);
  self->chunk_next = c->start;
  self->chunk_len = c->len;
  if (c->list == NULL) {
    chunk_failed (self, c);
    chunk_unref (c);
    return;
  }
  g_autoptr (AmmConversationList) list = amm_conversation_list_ref (c->list);
  chunk_unref (c);
  self->chunk_busy = TRUE;
  if (!absorb_list (self, list, FALSE))
    return;
  amm_sync_batch_next_chunk (self->sync, self->batch, list);
  if (fetch_chunks (self)) /* the next ones while this one is delivered */
    continue_batch (self);
}

static void send_single_listing (AmmClient *self, const char *cursor, gboolean long_poll);

static void
on_ids_answer (GObject *src, GAsyncResult *res, gpointer data)
{
  GError *error = NULL;
  guint retry_after = 0;
  g_autoptr (GBytes) body = amm_http_send_finish (res, NULL, &retry_after, &error);
  if (is_cancelled (error)) {
    g_error_free (error);
    return;
  }
  AmmClient *self = data;
  if (g_error_matches (error, AMM_ERROR, AMM_ERROR_NOT_ACCEPTABLE)) {
    /* a server without conversations.ids.v1: the listing in one request, as before */
    g_debug ("amm-client: the server has no conversation ids (%s); listing in one request", error->message);
    g_error_free (error);
    self->ids_unsupported = TRUE;
    send_single_listing (self, amm_sync_get_after (self->sync), FALSE);
    return;
  }
  g_autofree char *last_updated = NULL;
  GPtrArray *ids = body ? parse_ids (body, &last_updated, &error) : NULL;
  if (ids == NULL && g_error_matches (error, AMM_ERROR, AMM_ERROR_MALFORMED)) {
    /* a server that ignored the Accept header (a conversations document, say): as a 406 */
    g_debug ("amm-client: the conversation ids answer is not one (%s); listing in one request", error->message);
    g_error_free (error);
    self->ids_unsupported = TRUE;
    send_single_listing (self, amm_sync_get_after (self->sync), FALSE);
    return;
  }
  if (ids == NULL) {
    listing_failed (self, error, retry_after, FALSE);
    return;
  }
  g_debug ("amm-client: listing %u conversations by id", ids->len);
  self->chunk_ids = ids;
  self->chunk_next = 0;
  self->chunk_len = 0;
  self->chunk_fetch_next = 0;
  self->chunk_busy = FALSE;
  self->chunk_size = chunk_size_for (self->resources);
  self->batch = amm_sync_batch_new_chunked (self->sync, last_updated);
  if (ids->len == 0)
    try_deliver (self); /* nothing to fetch: commit the cursor */
  else
    fetch_chunks (self);
}

/* Step 1 of a large listing: GET C[?after=] for conversations.ids.v1. */
static void
send_ids_listing (AmmClient *self, const char *after)
{
  AmmResources *r = self->resources;
  g_autofree char *uri = after ? amm_http_uri_add_query (r->conversations_href, "after", after)
                               : g_strdup (r->conversations_href);
  GError *error = NULL;
  g_autoptr (SoupMessage) msg = amm_http_request_new ("GET", uri, self->auth,
                                                      AMM_TYPE_CONVERSATION_IDS ", " AMM_TYPE_ERROR, NULL, NULL,
                                                      0, &error);
  if (msg == NULL) {
    listing_failed (self, error, 0, FALSE);
    return;
  }
  amm_http_send_async (self->session, msg, AMM_REST_TIMEOUT_SECONDS, self->cancel, NULL, on_ids_answer, self);
}

static void
run_listing (AmmClient *self)
{
  if (!can_emit (self) || !self->syncing || self->resources == NULL)
    return;
  if (self->listing_running) {
    self->listing_dirty = TRUE;
    return;
  }
  clear_source (&self->listing_retry_id);
  clear_source (&self->listing_idle_id);
  self->listing_running = TRUE;
  self->listing_dirty = FALSE;
  if (self->chunk_ids != NULL && self->batch != NULL) {
    /* a chunked listing stopped by a failure: resume at the chunk that failed */
    self->listing_long_poll = FALSE;
    fetch_chunks (self);
    return;
  }
  const char *cursor = amm_sync_get_after (self->sync);
  gboolean long_poll = self->mode == AMM_CHANNEL_LONG_POLL && self->long_poll_started && cursor != NULL
                       && !self->listing_too_large;
  /* Decision (docs/protocol.md §6): a full listing, or one after a listing over the size cap,
   * goes by ids and chunks; the small incremental listings on notifications stay one request. */
  if (!long_poll && !self->ids_unsupported && (cursor == NULL || self->listing_too_large)) {
    self->listing_long_poll = FALSE;
    send_ids_listing (self, cursor);
    return;
  }
  send_single_listing (self, cursor, long_poll);
}

static void
send_single_listing (AmmClient *self, const char *cursor, gboolean long_poll)
{
  self->listing_long_poll = long_poll;
  g_autofree char *after = long_poll && self->long_poll_exclusive ? amm_time_string_add_ms (cursor, 1, NULL)
                                                                  : g_strdup (cursor);
  GError *error = NULL;
  g_autoptr (SoupMessage) msg = listing_message (self, after, long_poll, &error);
  if (msg == NULL) {
    listing_failed (self, error, 0, long_poll);
    return;
  }
  guint timeout = long_poll ? long_poll_seconds (self) + AMM_LONG_POLL_GRACE_SECONDS : AMM_REST_TIMEOUT_SECONDS;
  amm_http_send_async (self->session, msg, timeout, self->cancel, NULL, on_listing_answer, self);
}

void
amm_client_refresh (AmmClient *self)
{
  run_listing (self);
}

/* --- the notification channel --------------------------------------------------------------------- */

static void
schedule_reconnect (AmmClient *self);

static void
on_channel_opened (AmmChannel *ch, guint kind, gpointer data)
{
  AmmClient *self = data;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "subscribe");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "resources");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "application");
  json_builder_add_string_value (b, AMM_CHANNEL_APPLICATION);
  json_builder_set_member_name (b, "service");
  json_builder_add_string_value (b, AMM_CHANNEL_SERVICE_CONVERSATION);
  json_builder_set_member_name (b, "resource");
  json_builder_add_string_value (b, self->resources->conversations_href);
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, AMM_CHANNEL_VERSION);
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) frame = json_builder_get_root (b);
  amm_channel_send (ch, frame);
}

static void
on_channel_frame (AmmChannel *ch, AmmFrame *frame, gpointer data)
{
  AmmClient *self = data;
  if (frame->type == AMM_FRAME_SUBSCRIBED
      && (frame->service == NULL || g_strcmp0 (frame->service, AMM_CHANNEL_SERVICE_CONVERSATION) == 0)) {
    self->channel_up = TRUE;
    amm_backoff_reset (&self->backoff);
    set_channel_state (self, amm_channel_get_kind (ch), TRUE);
    run_listing (self); /* whatever changed before the subscription */
    if (can_emit (self))
      amm_conv_on_channel_up (self);
  } else if (frame->type == AMM_FRAME_NOTIFICATION
             && g_strcmp0 (frame->service, AMM_CHANNEL_SERVICE_CONVERSATION) == 0) {
    run_listing (self);
  } else {
    amm_conv_on_frame (self, frame);
  }
}

static void
on_channel_dead (AmmChannel *ch, GError *error, gpointer data)
{
  AmmClient *self = data;
  gboolean was_up = self->channel_up;
  teardown_channel (self);
  set_channel_state (self, AMM_CHANNEL_NONE, FALSE);
  if (g_error_matches (error, AMM_ERROR, AMM_ERROR_AUTH)) {
    connection_lost (self, error);
    return;
  }
  if (!was_up && amm_backoff_fail (&self->backoff)) {
    connection_lost (self, error);
    return;
  }
  schedule_reconnect (self);
}

static void
teardown_channel (AmmClient *self)
{
  self->channel_up = FALSE;
  if (self->channel == NULL)
    return;
  AmmChannel *ch = g_steal_pointer (&self->channel);
  g_signal_handlers_disconnect_by_data (ch, self);
  amm_channel_close (ch);
  g_object_unref (ch);
}

static void
open_channel (AmmClient *self)
{
  teardown_channel (self);
  AmmResources *r = self->resources;
  self->channel = amm_channel_new (self->session, self->auth, r->websocket_href, r->sse_href,
                                   self->settings->disable_websocket);
  g_signal_connect (self->channel, "opened", G_CALLBACK (on_channel_opened), self);
  g_signal_connect (self->channel, "frame", G_CALLBACK (on_channel_frame), self);
  g_signal_connect (self->channel, "dead", G_CALLBACK (on_channel_dead), self);
  amm_channel_open (self->channel);
}

static void
on_rediscovered (GObject *src, GAsyncResult *res, gpointer data)
{
  GError *error = NULL;
  AmmResources *r = amm_discovery_run_finish (res, &error);
  if (is_cancelled (error)) {
    g_error_free (error);
    return;
  }
  AmmClient *self = data;
  if (!can_emit (self)) {
    g_clear_error (&error);
    g_clear_pointer (&r, amm_resources_unref);
    return;
  }
  if (r == NULL) {
    g_debug ("amm-client: rediscovery failed: %s", error->message);
    if (g_error_matches (error, AMM_ERROR, AMM_ERROR_AUTH) || amm_backoff_fail (&self->backoff))
      connection_lost (self, error);
    else
      schedule_reconnect (self);
    g_error_free (error);
    return;
  }
  g_ptr_array_add (self->retired_resources, self->resources);
  self->resources = r;
  open_channel (self);
}

static gboolean
on_reconnect_timer (gpointer data)
{
  AmmClient *self = data;
  self->reconnect_id = 0;
  g_debug ("amm-client: reconnecting (attempt %u)", self->backoff.failures + 1);
  amm_discovery_run_async (self->session, self->base_url, self->auth, self->settings->username,
                           self->resources->version, TRUE, self->cancel, NULL, on_rediscovered, self);
  return G_SOURCE_REMOVE;
}

static void
schedule_reconnect (AmmClient *self)
{
  if (!can_emit (self))
    return;
  clear_source (&self->reconnect_id);
  guint delay = amm_backoff_delay_ms (&self->backoff, 0);
  g_debug ("amm-client: reconnecting in %u ms", delay);
  self->reconnect_id = g_timeout_add (delay, on_reconnect_timer, self);
}

static gboolean
on_poll_timer (gpointer data)
{
  run_listing (data);
  return G_SOURCE_CONTINUE;
}

void
amm_client_start_sync (AmmClient *self, const char *cursor)
{
  g_return_if_fail (self->resources != NULL);
  if (!can_emit (self) || self->syncing)
    return;
  self->syncing = TRUE;
  if (!self->listing_running) { /* a chunked listing of an earlier sync does not resume */
    drop_chunks (self);
    g_clear_pointer (&self->chunk_ids, g_ptr_array_unref);
    g_clear_pointer (&self->batch, amm_sync_batch_free);
  }
  amm_sync_start (self->sync, cursor);
  if (wants_polling (self)) {
    self->mode = AMM_CHANNEL_POLL;
    guint secs = self->settings->poll_seconds_for_tests ? self->settings->poll_seconds_for_tests
                                                        : self->settings->poll_minutes * 60;
    self->poll_id = g_timeout_add_seconds (secs, on_poll_timer, self);
    run_listing (self);
    set_channel_state (self, AMM_CHANNEL_POLL, TRUE);
  } else if (self->resources->version == AMM_VERSION_2_1) {
    self->mode = AMM_CHANNEL_LONG_POLL;
    run_listing (self); /* then the long-poll loop (listing_done) */
  } else {
    self->mode = AMM_CHANNEL_WEBSOCKET;
    run_listing (self);
    open_channel (self);
  }
}

void
amm_client_shutdown (AmmClient *self)
{
  if (self->shut_down)
    return;
  self->shut_down = TRUE;
  self->syncing = FALSE;
  g_cancellable_cancel (self->cancel);
  drop_chunks (self);
  stop_activity (self);
  amm_conv_on_shutdown (self);
  g_clear_pointer (&self->batch, amm_sync_batch_free);
  if (self->session)
    soup_session_abort (self->session);
}

/* --- public listing / paging ---------------------------------------------------------------------- */

static void
on_public_list (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  AmmClient *self = g_task_get_source_object (task);
  GError *error = NULL;
  g_autoptr (GBytes) body = amm_http_send_finish (res, NULL, NULL, &error);
  AmmConversationList *list = body ? parse_list (self, body, &error) : NULL;
  if (list == NULL) {
    g_task_return_error (task, error);
  } else {
    if (!self->shut_down)
      cache_list (self, list);
    g_task_return_pointer (task, list, (GDestroyNotify) amm_conversation_list_unref);
  }
  g_object_unref (task);
}

void
amm_client_list_conversations_async (AmmClient *self, const char *after, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, amm_client_list_conversations_async);
  GError *error = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  if (self->shut_down || self->resources == NULL)
    error = self->shut_down ? g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The client was shut down")
                            : g_error_new (AMM_ERROR, AMM_ERROR_INVALID_SETTINGS, "Not connected");
  else
    msg = listing_message (self, after, FALSE, &error);
  if (msg == NULL) {
    g_task_return_error (task, error);
    g_object_unref (task);
    return;
  }
  amm_http_send_async (self->session, msg, AMM_REST_TIMEOUT_SECONDS, self->cancel, cancellable, on_public_list,
                       task);
}

AmmConversationList *
amm_client_list_conversations_finish (AmmClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
on_public_page (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  AmmClient *self = g_task_get_source_object (task);
  GError *error = NULL;
  g_autoptr (GBytes) body = amm_http_send_finish (res, NULL, NULL, &error);
  AmmConversation *conv = body ? parse_conversation (self, body, &error) : NULL;
  if (conv == NULL) {
    g_task_return_error (task, error);
  } else {
    if (!self->shut_down)
      cache_conversation (self, conv, FALSE);
    g_task_return_pointer (task, conv, (GDestroyNotify) amm_conversation_unref);
  }
  g_object_unref (task);
}

void
amm_client_fetch_messages_async (AmmClient *self, const char *thread_id, const char *before_id,
                                 const char *after_id, guint count, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, amm_client_fetch_messages_async);
  GError *error = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  if (self->shut_down || self->resources == NULL || thread_id == NULL)
    error = self->shut_down ? g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The client was shut down")
                            : g_error_new (AMM_ERROR, AMM_ERROR_INVALID_SETTINGS, "Not connected");
  else
    msg = page_message (self, thread_id, before_id, after_id, count, &error);
  if (msg == NULL) {
    g_task_return_error (task, error);
    g_object_unref (task);
    return;
  }
  amm_http_send_async (self->session, msg, AMM_REST_TIMEOUT_SECONDS, self->cancel, cancellable, on_public_page,
                       task);
}

AmmConversation *
amm_client_fetch_messages_finish (AmmClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- sending ---------------------------------------------------------------------------------------- */

typedef struct {
  const char        *body;
  const char        *thread_id;
  GPtrArray         *to;
  const char        *subject;     /* nullable = "" */
  const char        *event_type;  /* nullable = no "event" member */
} SendBody;

static void
fill_send (JsonBuilder *b, gconstpointer data)
{
  const SendBody *s = data;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "body");
  json_builder_add_string_value (b, s->body);
  json_builder_set_member_name (b, "subject");
  json_builder_add_string_value (b, s->subject ? s->subject : "");
  if (s->thread_id) {
    json_builder_set_member_name (b, "threadId");
    json_builder_add_string_value (b, s->thread_id);
  }
  json_builder_set_member_name (b, "flags");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "sensitivity");
  json_builder_add_string_value (b, "NORMAL");
  json_builder_end_object (b);
  json_builder_set_member_name (b, "to");
  json_builder_begin_array (b);
  for (guint i = 0; i < s->to->len; i++) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "address");
    json_builder_add_string_value (b, g_ptr_array_index (s->to, i));
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, "CONTACT");
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  if (s->event_type) {
    json_builder_set_member_name (b, "event");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, s->event_type);
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
}

/* A new conversation seen only through our own send: cache it so the next IM reuses it. */
static void
cache_sent_conversation (AmmClient *self, JsonNode *message_node, AmmMessage *msg)
{
  if (msg->thread_id == NULL || g_hash_table_contains (self->conversations, msg->thread_id))
    return;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, msg->thread_id);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "THREAD");
  json_builder_set_member_name (b, "subject");
  json_builder_add_string_value (b, msg->subject);
  json_builder_set_member_name (b, "flags");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "active");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "closed");
  json_builder_add_boolean_value (b, FALSE);
  json_builder_end_object (b);
  if (msg->last_modified_str) {
    json_builder_set_member_name (b, "lastUpdated");
    json_builder_add_string_value (b, msg->last_modified_str);
  }
  json_builder_set_member_name (b, "messages");
  json_builder_begin_array (b);
  json_builder_add_value (b, json_node_copy (message_node));
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autoptr (GError) error = NULL;
  g_autoptr (AmmConversation) conv = amm_conversation_parse (root, self->base_url, &error);
  if (conv)
    cache_conversation (self, conv, TRUE);
  else
    g_debug ("amm-client: could not cache the new conversation: %s", error->message);
}

void
amm_client_send_text_async (AmmClient *self, const char *thread_id, const char * const *to, const char *body,
                            GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  amm_client_post_outbox_async (self, thread_id, to, NULL, body, NULL, cancellable, callback, user_data);
}

void
amm_client_post_outbox_async (AmmClient *self, const char *thread_id, const char * const *to,
                              const char *subject, const char *body, const char *event_type,
                              GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, amm_client_send_text_async);
  if (self->shut_down || self->resources == NULL) {
    g_task_return_new_error (task, self->shut_down ? G_IO_ERROR : AMM_ERROR,
                             self->shut_down ? G_IO_ERROR_CANCELLED : AMM_ERROR_INVALID_SETTINGS,
                             self->shut_down ? "The client was shut down" : "Not connected");
    g_object_unref (task);
    return;
  }
  const char *me = amm_client_get_self_address (self);
  g_autoptr (GPtrArray) recipients = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (recipients, g_strdup (me));
  if (to != NULL) {
    for (guint i = 0; to[i]; i++)
      if (!address_in (recipients, to[i]))
        g_ptr_array_add (recipients, g_strdup (to[i]));
  } else if (thread_id) {
    g_autoptr (GPtrArray) parts = amm_client_conversation_participants (self, thread_id);
    for (guint i = 0; i < parts->len; i++)
      if (!address_in (recipients, g_ptr_array_index (parts, i)))
        g_ptr_array_add (recipients, g_strdup (g_ptr_array_index (parts, i)));
  }
  SendBody sb = { body ? body : "", thread_id, recipients, subject, event_type };
  g_autofree char *json = build_json (fill_send, &sb);
  const char *type = self->resources->version == AMM_VERSION_2_1 ? AMM_TYPE_MESSAGE_V1 : AMM_TYPE_MESSAGE_V2;
  g_autofree char *accept = g_strconcat (type, ", ", AMM_TYPE_ERROR, NULL);
  /* amm-send.c posts it, and when the outcome is unknown looks for it before sending again */
  AmmSendRequest req = { json, type, accept, thread_id, recipients, body ? body : "", event_type };
  amm_send_outbox (self, task, &req);
}

AmmMessage *
amm_client_send_text_finish (AmmClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- private accessors (amm-client-private.h) ------------------------------------------------ */

SoupSession *
amm_client_get_session (AmmClient *self)
{
  return self->session;
}

const char *
amm_client_get_auth (AmmClient *self)
{
  return self->auth;
}

GCancellable *
amm_client_get_cancellable (AmmClient *self)
{
  return self->cancel;
}

const char *
amm_client_get_base_url (AmmClient *self)
{
  return self->base_url;
}

AmmChannel *
amm_client_get_live_channel (AmmClient *self)
{
  return self->channel_up && can_emit (self) ? self->channel : NULL;
}

gboolean
amm_client_can_emit (AmmClient *self)
{
  return can_emit (self);
}

gboolean
amm_client_is_shut_down (AmmClient *self)
{
  return self->shut_down;
}

AmmSync *
amm_client_get_sync (AmmClient *self)
{
  return self->sync;
}

void
amm_client_set_request_timeout (AmmClient *self, guint ms)
{
  amm_http_set_test_timeout (self->session, ms);
}

void
amm_client_set_max_response_bytes (AmmClient *self, gsize bytes)
{
  amm_http_set_max_response_bytes (self->session, bytes);
}

AmmConvState *
amm_client_get_conv_state (AmmClient *self)
{
  return self->conv_state;
}

char *
amm_client_conversation_url (AmmClient *self, const char *thread_id)
{
  AmmConversation *cached = amm_client_lookup_conversation (self, thread_id);
  if (cached && cached->href)
    return g_strdup (cached->href);
  const char *c = self->resources->conversations_href;
  g_autofree char *escaped = g_uri_escape_string (thread_id, NULL, FALSE);
  return g_strconcat (c, g_str_has_suffix (c, "/") ? "" : "/", escaped, NULL);
}

/* --- hooks for multipart sends (amm-upload.c, amm-client-private.h) -------------------------- */

void
amm_client_outbox_begin (AmmClient *self)
{
  self->sends_in_flight++;
}

AmmMessage *
amm_client_outbox_end (AmmClient *self, GBytes *body, GError **error)
{
  g_autoptr (JsonNode) root = body ? amm_http_parse_json (body, error) : NULL;
  AmmMessage *msg = root ? amm_message_parse (root, self->base_url, error) : NULL;
  self->sends_in_flight--;
  if (msg != NULL && !self->shut_down) {
    amm_sync_remember_sent (self->sync, msg->id);
    cache_sent_conversation (self, root, msg);
  }
  if (self->batch_waiting && self->batch && can_emit (self))
    try_deliver (self);
  return msg;
}

void
amm_client_outbox_adopt (AmmClient *self, AmmMessage *msg)
{
  self->sends_in_flight--;
  if (!self->shut_down)
    amm_sync_remember_sent (self->sync, msg->id);
  if (self->batch_waiting && self->batch && can_emit (self))
    try_deliver (self);
}
