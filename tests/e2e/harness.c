/* harness.c: headless libpurple for the e2e tests (see harness.h). */
#include "harness.h"

#include <dlfcn.h>
#include <string.h>
#include <glib/gstdio.h>

/* --- the GLib event loop for libpurple --------------------------------------------------- */

#define E2E_READ_COND  (G_IO_IN | G_IO_HUP | G_IO_ERR)
#define E2E_WRITE_COND (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL)

typedef struct {
  PurpleInputFunction function;
  gpointer            data;
} E2eIoClosure;

static gboolean
io_invoke (GIOChannel *source, GIOCondition condition, gpointer data)
{
  E2eIoClosure *c = data;
  int cond = 0;

  if (condition & E2E_READ_COND)
    cond |= PURPLE_INPUT_READ;
  if (condition & E2E_WRITE_COND)
    cond |= PURPLE_INPUT_WRITE;
  c->function (c->data, g_io_channel_unix_get_fd (source), (PurpleInputCondition) cond);
  return TRUE;
}

static guint
io_add (gint fd, PurpleInputCondition condition, PurpleInputFunction function, gpointer data)
{
  E2eIoClosure *c = g_new0 (E2eIoClosure, 1);
  GIOChannel *channel;
  GIOCondition cond = 0;
  guint id;

  c->function = function;
  c->data = data;
  if (condition & PURPLE_INPUT_READ)
    cond |= E2E_READ_COND;
  if (condition & PURPLE_INPUT_WRITE)
    cond |= E2E_WRITE_COND;
  channel = g_io_channel_unix_new (fd);
  id = g_io_add_watch_full (channel, G_PRIORITY_DEFAULT, cond, io_invoke, c, g_free);
  g_io_channel_unref (channel);
  return id;
}

static PurpleEventLoopUiOps eventloop_ops = {
  .timeout_add = g_timeout_add,
  .timeout_remove = g_source_remove,
  .input_add = io_add,
  .input_remove = g_source_remove,
  .input_get_error = NULL,
  .timeout_add_seconds = g_timeout_add_seconds,
};

/* --- state -------------------------------------------------------------------------------- */

static gboolean initialised;
static char *user_dir;
static GList *accounts;  /* of E2eAccount* */
static int signal_handle; /* the address is the handle for purple_signal_connect */
static gboolean record = TRUE; /* e2e_set_recording */

static E2eAccount *
find_account (PurpleAccount *account)
{
  for (GList *l = accounts; l; l = l->next)
    if (((E2eAccount *) l->data)->account == account)
      return l->data;
  return NULL;
}

static void
message_free (E2eMessage *m)
{
  g_free (m->who);
  g_free (m->conv_name);
  g_free (m->html);
  g_free (m->text);
  g_free (m);
}

char *
e2e_html_to_text (const char *html)
{
  static GRegex *br; /* compiled once: benchmarks record tens of thousands of messages */
  if (br == NULL)
    br = g_regex_new ("<br\\s*/?>", G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL);
  g_autofree char *nl = g_regex_replace_literal (br, html ? html : "", -1, 0, "\n", 0, NULL);
  return purple_unescape_html (nl);
}

char *
e2e_text_to_html (const char *text)
{
  g_autofree char *escaped = g_markup_escape_text (text, -1);
  g_auto(GStrv) lines = g_strsplit (escaped, "\n", -1);
  return g_strjoinv ("<br>", lines);
}

static E2eMessage *
message_new (const char *who, PurpleConversation *conv, const char *html, time_t mtime,
             PurpleMessageFlags flags)
{
  E2eMessage *m = g_new0 (E2eMessage, 1);

  m->who = g_strdup (who);
  m->conv_name = conv ? g_strdup (purple_conversation_get_name (conv)) : NULL;
  m->html = g_strdup (html);
  m->text = e2e_html_to_text (html);
  m->mtime = mtime;
  m->flags = flags;
  m->arrival_us = g_get_monotonic_time ();
  return m;
}

/* --- signals -------------------------------------------------------------------------------- */

static void
on_received_im (PurpleAccount *account, char *sender, char *message, PurpleConversation *conv,
                PurpleMessageFlags flags, gpointer data)
{
  E2eAccount *a = record ? find_account (account) : NULL;

  if (a)
    g_ptr_array_add (a->received, message_new (sender, conv, message, 0, flags));
}

static void
on_wrote_im (PurpleAccount *account, const char *who, char *message, PurpleConversation *conv,
             PurpleMessageFlags flags, gpointer data)
{
  E2eAccount *a = record ? find_account (account) : NULL;

  if (a)
    g_ptr_array_add (a->written, message_new (who, conv, message, time (NULL), flags));
}

static void
on_signed_on (PurpleConnection *gc, gpointer data)
{
  E2eAccount *a = find_account (purple_connection_get_account (gc));

  if (a)
    a->signed_on++;
}

static void
on_signed_off (PurpleConnection *gc, gpointer data)
{
  E2eAccount *a = find_account (purple_connection_get_account (gc));

  if (a)
    a->signed_off++;
}

static void
on_connection_error (PurpleConnection *gc, PurpleConnectionError reason, const char *desc,
                     gpointer data)
{
  E2eAccount *a = find_account (purple_connection_get_account (gc));

  if (a)
    {
      a->errors++;
      a->last_error = reason;
      g_free (a->last_error_text);
      a->last_error_text = g_strdup (desc);
      if (g_getenv ("AMM_E2E_VERBOSE"))
        g_printerr ("# %s: connection error %d: %s\n", a->username, (int) reason, desc);
    }
}

/* --- logging ---------------------------------------------------------------------------- */

/* GTest prints every debug message of every library; keep them for AMM_E2E_VERBOSE. */
static GLogFunc previous_handler;
static gpointer previous_data;

static void
log_handler (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) && !g_getenv ("AMM_E2E_VERBOSE"))
    return;
  if (previous_handler)
    previous_handler (domain, level, message, previous_data);
  else
    g_log_default_handler (domain, level, message, NULL);
}

static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) && !g_getenv ("AMM_E2E_VERBOSE"))
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, data);
}

void
e2e_install_log_filter (void)
{
  static gboolean done;

  if (done)
    return;
  done = TRUE;
  previous_handler = g_log_set_default_handler (log_handler, NULL);
  if (previous_handler == log_handler)
    previous_handler = NULL;
  g_log_set_writer_func (log_writer, NULL, NULL);
}

/* --- init --------------------------------------------------------------------------------- */

static char *
plugin_dir (void)
{
  const char *dir = g_getenv ("AMM_PLUGIN_DIR");
  g_autofree char *cwd = g_get_current_dir ();

  if (dir == NULL || *dir == '\0')
    dir = "build";
  return g_canonicalize_filename (dir, cwd);
}

void
e2e_init (void)
{
  g_autofree char *dir = NULL;
  PurplePlugin *prpl;
  PurpleSavedStatus *status;
  g_autoptr(GError) error = NULL;

  if (initialised)
    return;
  initialised = TRUE;

  user_dir = g_dir_make_tmp ("purple-amm-e2e-XXXXXX", &error);
  g_assert_no_error (error);
  purple_util_set_user_dir (user_dir);
  purple_debug_set_enabled (g_getenv ("AMM_E2E_DEBUG") != NULL);

  purple_eventloop_set_ui_ops (&eventloop_ops);
  dir = plugin_dir ();
  purple_plugins_add_search_path (dir);

  if (!purple_core_init (E2E_UI_ID))
    g_error ("libpurple failed to initialise");
  /* libpurple unmaps its plugins at quit; kept mapped, what they allocated still has a stack
   * the leak checkers can name at exit (make check-asan, check-valgrind). */
  for (GList *l = purple_plugins_get_all (); l; l = l->next) {
    PurplePlugin *plugin = l->data;

    if (plugin->native_plugin && plugin->path)
      dlopen (plugin->path, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
  }

  purple_set_blist (purple_blist_new ());
  purple_blist_load ();
  purple_prefs_load ();
  /* No sounds, no idle reporting, no logs in the temp dir. */
  purple_prefs_set_bool ("/purple/logging/log_ims", FALSE);
  purple_prefs_set_bool ("/purple/logging/log_chats", FALSE);
  purple_prefs_set_bool ("/purple/logging/log_system", FALSE);

  prpl = purple_find_prpl ("prpl-amm");
  if (prpl == NULL)
    g_error ("the AMM plugin (prpl-amm) was not found in %s: build it (make build/libamm.so) "
             "or set AMM_PLUGIN_DIR", dir);
  if (prpl->path && !g_str_has_prefix (prpl->path, dir))
    g_printerr ("# warning: prpl-amm loaded from %s, not from %s\n", prpl->path, dir);

  purple_signal_connect (purple_conversations_get_handle (), "received-im-msg", &signal_handle,
                         PURPLE_CALLBACK (on_received_im), NULL);
  purple_signal_connect (purple_conversations_get_handle (), "wrote-im-msg", &signal_handle,
                         PURPLE_CALLBACK (on_wrote_im), NULL);
  purple_signal_connect (purple_connections_get_handle (), "signed-on", &signal_handle,
                         PURPLE_CALLBACK (on_signed_on), NULL);
  purple_signal_connect (purple_connections_get_handle (), "signed-off", &signal_handle,
                         PURPLE_CALLBACK (on_signed_off), NULL);
  purple_signal_connect (purple_connections_get_handle (), "connection-error", &signal_handle,
                         PURPLE_CALLBACK (on_connection_error), NULL);

  status = purple_savedstatus_new (NULL, PURPLE_STATUS_AVAILABLE);
  purple_savedstatus_activate (status);
}

static void
remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      GDir *d = g_dir_open (path, 0, NULL);
      const char *name;

      while (d && (name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          remove_tree (child);
        }
      if (d)
        g_dir_close (d);
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

void
e2e_shutdown (void)
{
  if (!initialised)
    return;
  while (accounts)
    e2e_account_free (accounts->data);
  purple_signals_disconnect_by_handle (&signal_handle);
  purple_core_quit ();
  initialised = FALSE;
  if (user_dir)
    remove_tree (user_dir);
  g_clear_pointer (&user_dir, g_free);
}

/* --- waiting ------------------------------------------------------------------------------ */

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

gboolean
e2e_wait (E2eCondition cond, gpointer data, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint ticker;

  if (cond && cond (data))
    return TRUE;
  ticker = g_timeout_add (10, tick, NULL);
  while (!(cond && cond (data)) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (ticker);
  return cond ? cond (data) : TRUE;
}

void
e2e_run_for (guint ms)
{
  e2e_wait (NULL, NULL, ms);  /* no condition: runs until the timeout */
}

/* --- accounts ----------------------------------------------------------------------------- */

static gboolean
is_disconnected (gpointer data)
{
  E2eAccount *a = data;
  return purple_account_is_disconnected (a->account);
}

E2eAccount *
e2e_account_new (const char *username, const char *password, AmmTestServer *server,
                 const E2eAccountOptions *opts)
{
  E2eAccountOptions defaults = { 0 };
  PurpleAccount *old;
  E2eAccount *a;

  e2e_init ();
  if (opts == NULL)
    opts = &defaults;

  /* purple_account_new() returns an existing account of the same name: start afresh. */
  for (GList *l = accounts; l; l = l->next)
    if (g_strcmp0 (((E2eAccount *) l->data)->username, username) == 0)
      {
        e2e_account_free (l->data);
        break;
      }
  old = purple_accounts_find (username, "prpl-amm");
  if (old)
    purple_accounts_delete (old);

  a = g_new0 (E2eAccount, 1);
  a->username = g_strdup (username);
  a->received = g_ptr_array_new_with_free_func ((GDestroyNotify) message_free);
  a->written = g_ptr_array_new_with_free_func ((GDestroyNotify) message_free);
  a->account = purple_account_new (username, "prpl-amm");
  purple_account_set_password (a->account, password);
  purple_account_set_remember_password (a->account, TRUE);
  purple_account_set_string (a->account, "server", opts->host ? opts->host : "127.0.0.1");
  purple_account_set_int (a->account, "port",
                          opts->port ? opts->port : (server ? amm_test_server_get_port (server) : 8443));
  purple_account_set_bool (a->account, "use-tls", server ? amm_test_server_is_tls (server) : TRUE);
  purple_account_set_string (a->account, "ca-file",
                             server && amm_test_server_is_tls (server) && !opts->no_ca_file
                               ? amm_test_server_get_ca_file (server) : "");
  purple_account_set_string (a->account, "api-version", opts->api_version ? opts->api_version : "auto");
  purple_account_set_int (a->account, "poll-interval", opts->poll_interval);
  purple_accounts_add (a->account);
  accounts = g_list_append (accounts, a);
  return a;
}

void
e2e_account_free (E2eAccount *a)
{
  if (a == NULL)
    return;
  accounts = g_list_remove (accounts, a);
  if (a->account)
    {
      if (!purple_account_is_disconnected (a->account))
        purple_account_disconnect (a->account);
      purple_accounts_delete (a->account);
      /* Let cancelled requests finish so the plugin drops its client and its connections. */
      e2e_run_for (50);
    }
  g_ptr_array_unref (a->received);
  g_ptr_array_unref (a->written);
  g_free (a->last_error_text);
  g_free (a->username);
  g_free (a);
}

void
e2e_account_connect (E2eAccount *a)
{
  /* A connection error disconnects from a timeout: let it happen before connecting again. */
  e2e_wait (is_disconnected, a, 2000);
  g_assert_true (purple_account_is_disconnected (a->account));

  a->signed_on = 0;
  a->errors = 0;
  a->last_error = -1;
  g_clear_pointer (&a->last_error_text, g_free);

  if (!purple_account_get_enabled (a->account, E2E_UI_ID))
    purple_account_set_enabled (a->account, E2E_UI_ID, TRUE); /* connects (status is online) */
  if (purple_account_is_disconnected (a->account))
    purple_account_connect (a->account);
}

static gboolean
signed_on_or_error (gpointer data)
{
  E2eAccount *a = data;
  return a->signed_on > 0 || a->errors > 0;
}

gboolean
e2e_account_wait_signed_on (E2eAccount *a, guint timeout_ms)
{
  e2e_wait (signed_on_or_error, a, timeout_ms);
  if (a->signed_on == 0 && g_getenv ("AMM_E2E_VERBOSE"))
    g_printerr ("# %s: not signed on (%s)\n", a->username,
                a->errors ? a->last_error_text : "timeout");
  return a->signed_on > 0 && purple_account_is_connected (a->account);
}

gboolean
e2e_account_login (E2eAccount *a, guint timeout_ms)
{
  e2e_account_connect (a);
  return e2e_account_wait_signed_on (a, timeout_ms);
}

static gboolean
has_error (gpointer data)
{
  return ((E2eAccount *) data)->errors > 0;
}

gboolean
e2e_account_wait_error (E2eAccount *a, guint timeout_ms)
{
  return e2e_wait (has_error, a, timeout_ms);
}

void
e2e_account_disconnect (E2eAccount *a)
{
  if (!purple_account_is_disconnected (a->account))
    purple_account_disconnect (a->account);
}

gboolean
e2e_account_is_connected (E2eAccount *a)
{
  return purple_account_is_connected (a->account);
}

void
e2e_account_send (E2eAccount *a, const char *to, const char *text)
{
  g_autofree char *html = e2e_text_to_html (text);

  e2e_account_send_html (a, to, html);
}

void
e2e_account_send_html (E2eAccount *a, const char *to, const char *html)
{
  PurpleConversation *conv;

  g_assert_true (purple_account_is_connected (a->account));
  conv = purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, to, a->account);
  if (conv == NULL)
    conv = purple_conversation_new (PURPLE_CONV_TYPE_IM, a->account, to);
  g_assert_nonnull (conv);
  purple_conv_im_send (PURPLE_CONV_IM (conv), html);
}

const char *
e2e_account_cursor (E2eAccount *a)
{
  const char *c = purple_account_get_string (a->account, "amm-cursor", NULL);
  return (c && *c) ? c : NULL;
}

void
e2e_set_recording (gboolean on)
{
  record = on;
}

void
e2e_account_clear (E2eAccount *a)
{
  g_ptr_array_set_size (a->received, 0);
  g_ptr_array_set_size (a->written, 0);
}

static gboolean
same_address (const char *x, const char *y)
{
  return g_ascii_strcasecmp (x ? x : "", y ? y : "") == 0;
}

guint
e2e_count_received (E2eAccount *a, const char *sender, const char *text)
{
  guint n = 0;

  for (guint i = 0; i < a->received->len; i++)
    {
      E2eMessage *m = g_ptr_array_index (a->received, i);
      if ((sender == NULL || same_address (m->who, sender))
          && (text == NULL || g_strcmp0 (m->text, text) == 0))
        n++;
    }
  return n;
}

guint
e2e_count_written (E2eAccount *a, PurpleMessageFlags flags, const char *needle)
{
  guint n = 0;

  for (guint i = 0; i < a->written->len; i++)
    {
      E2eMessage *m = g_ptr_array_index (a->written, i);
      if ((m->flags & flags) == flags && (needle == NULL || strstr (m->text, needle)))
        n++;
    }
  return n;
}

typedef struct {
  E2eAccount        *a;
  guint              n;
  PurpleMessageFlags flags;
} CountWait;

static gboolean
enough_received (gpointer data)
{
  CountWait *w = data;
  return w->a->received->len >= w->n;
}

gboolean
e2e_account_wait_received (E2eAccount *a, guint n, guint timeout_ms)
{
  CountWait w = { a, n, 0 };
  return e2e_wait (enough_received, &w, timeout_ms);
}

static gboolean
enough_written (gpointer data)
{
  CountWait *w = data;
  return e2e_count_written (w->a, w->flags, NULL) >= w->n;
}

gboolean
e2e_account_wait_written (E2eAccount *a, PurpleMessageFlags flags, guint n, guint timeout_ms)
{
  CountWait w = { a, n, flags };
  return e2e_wait (enough_written, &w, timeout_ms);
}

/* --- the server's view -------------------------------------------------------------------- */

guint
e2e_server_count_body (AmmTestServer *server, const char *user, const char *body)
{
  g_autoptr(JsonNode) node = amm_test_server_messages (server, user);
  JsonArray *arr;
  guint n = 0;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return 0;
  arr = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonNode *item = json_array_get_element (arr, i);
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (item) ? json_node_get_object (item) : NULL;
      if (o && json_object_has_member (o, "body")
          && g_strcmp0 (json_object_get_string_member_with_default (o, "body", ""), body) == 0)
        n++;
    }
  return n;
}

typedef struct {
  AmmTestServer *server;
  const char    *user;
  const char    *body;
  guint          n;
  gint64         next_poll;
} ServerWait;

static gboolean
server_has (gpointer data)
{
  ServerWait *w = data;
  gint64 now = g_get_monotonic_time ();

  if (now < w->next_poll)
    return FALSE;
  w->next_poll = now + 20 * 1000;
  return e2e_server_count_body (w->server, w->user, w->body) >= w->n;
}

gboolean
e2e_server_wait_body (AmmTestServer *server, const char *user, const char *body, guint n,
                      guint timeout_ms)
{
  ServerWait w = { server, user, body, n, 0 };
  if (e2e_wait (server_has, &w, timeout_ms))
    return TRUE;
  return e2e_server_count_body (server, user, body) >= n;
}
