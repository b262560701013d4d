/* amm-test-server.c: start, drive and stop tests/amm-server from a test process. */
#include "amm-test-server.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef AMM_SOURCE_DIR
#define AMM_SOURCE_DIR "."
#endif

#define START_TIMEOUT_US (15 * G_USEC_PER_SEC)
#define STOP_TIMEOUT_MS 10000

struct _AmmTestServer {
  char *tmpdir;
  char *port_file;
  char *state_file;
  char **extra_args;
  GSubprocess *proc;
  guint16 port;
  guint16 control_port;
  gboolean tls;
  char *base_url;
  char *ca_file;
  char *tls_dir;
  GMainContext *context;
  SoupSession *session;   /* created and used only with `context` pushed */
};

static char *
absolute (const char *path)
{
  return g_canonicalize_filename (path, NULL);
}

static char *
server_binary (void)
{
  const char *env = g_getenv ("AMM_SERVER");

  return absolute (env && *env ? env : "build/amm-server");
}

static char *
seed_file (void)
{
  const char *src = g_getenv ("AMM_SOURCE_DIR");

  return g_build_filename (src && *src ? src : AMM_SOURCE_DIR, "tests", "amm-server", "seed.json",
                           NULL);
}

static gboolean
has_arg (char **args, const char *name)
{
  for (guint i = 0; args && args[i]; i++)
    if (g_str_equal (args[i], name))
      return TRUE;
  return FALSE;
}

/* The server dies with the test process, even when the test crashes or aborts (SIGTERM: it
 * saves and exits within ~0.5 s). PR_SET_PDEATHSIG follows the forking thread, and a parent
 * that died before the prctl() would never signal, hence the getppid() check. */
static void
child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
  if (getppid () != (pid_t) GPOINTER_TO_INT (data))
    raise (SIGTERM);
}

/* Builds argv and starts the process; waits for the port file. */
static void
spawn (AmmTestServer *s, guint16 port)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  gint64 deadline;

  g_remove (s->port_file);
  g_ptr_array_add (argv, server_binary ());
  g_ptr_array_add (argv, g_strdup ("--port"));
  g_ptr_array_add (argv, g_strdup_printf ("%u", port));
  g_ptr_array_add (argv, g_strdup ("--control-port"));
  g_ptr_array_add (argv, g_strdup ("0"));
  g_ptr_array_add (argv, g_strdup ("--port-file"));
  g_ptr_array_add (argv, g_strdup (s->port_file));
  g_ptr_array_add (argv, g_strdup ("--state"));
  g_ptr_array_add (argv, g_strdup (s->state_file));
  g_ptr_array_add (argv, g_strdup ("--seed"));
  g_ptr_array_add (argv, seed_file ());
  if (s->tls && !has_arg (s->extra_args, "--cert")) {
    g_ptr_array_add (argv, g_strdup ("--cert"));
    g_ptr_array_add (argv, g_build_filename (s->tls_dir, "server.pem", NULL));
  }
  if (s->tls && !has_arg (s->extra_args, "--key")) {
    g_ptr_array_add (argv, g_strdup ("--key"));
    g_ptr_array_add (argv, g_build_filename (s->tls_dir, "server-key.pem", NULL));
  }
  if (g_getenv ("AMM_SERVER_VERBOSE"))
    g_ptr_array_add (argv, g_strdup ("-v"));
  for (guint i = 0; s->extra_args[i]; i++) {
    const char *arg = s->extra_args[i];
    gboolean file_arg = i > 0 && (g_str_equal (s->extra_args[i - 1], "--cert")
                                  || g_str_equal (s->extra_args[i - 1], "--key"));

    /* "--cert untrusted.pem": a bare name is looked up in the TLS directory. */
    if (file_arg && !g_path_is_absolute (arg) && !g_file_test (arg, G_FILE_TEST_EXISTS))
      g_ptr_array_add (argv, g_build_filename (s->tls_dir, arg, NULL));
    else
      g_ptr_array_add (argv, g_strdup (arg));
  }
  g_ptr_array_add (argv, NULL);

  {
    g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
    g_subprocess_launcher_set_child_setup (launcher, child_setup, GINT_TO_POINTER (getpid ()),
                                           NULL);
    s->proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  }
  if (!s->proc)
    g_error ("amm-test-server: cannot start %s: %s", (char *) argv->pdata[0], error->message);

  deadline = g_get_monotonic_time () + START_TIMEOUT_US;
  for (;;) {
    g_autofree char *text = NULL;
    unsigned p = 0, c = 0;

    if (g_file_get_contents (s->port_file, &text, NULL, NULL) && strchr (text, '\n')
        && sscanf (text, "%u %u", &p, &c) == 2 && p > 0) {
      s->port = p;
      s->control_port = c;
      break;
    }
    if (!g_subprocess_get_identifier (s->proc))
      g_error ("amm-test-server: %s exited before listening", (char *) argv->pdata[0]);
    if (g_get_monotonic_time () > deadline)
      g_error ("amm-test-server: no port file from %s after %d s", (char *) argv->pdata[0],
               (int) (START_TIMEOUT_US / G_USEC_PER_SEC));
    g_usleep (10 * 1000);
  }
  g_free (s->base_url);
  s->base_url = g_strdup_printf ("%s://127.0.0.1:%u", s->tls ? "https" : "http", s->port);
}

AmmTestServer *
amm_test_server_startv (const char * const *args)
{
  AmmTestServer *s = g_new0 (AmmTestServer, 1);
  g_autoptr (GError) error = NULL;
  const char *tls_env = g_getenv ("AMM_TLS_DIR");

  s->tmpdir = g_dir_make_tmp ("amm-test-server-XXXXXX", &error);
  if (!s->tmpdir)
    g_error ("amm-test-server: %s", error->message);
  s->port_file = g_build_filename (s->tmpdir, "ports", NULL);
  s->state_file = g_build_filename (s->tmpdir, "state.json", NULL);
  s->extra_args = g_strdupv ((char **) (args ? args : (const char * const[]) { NULL }));
  s->tls = has_arg (s->extra_args, "--tls");
  s->tls_dir = absolute (tls_env && *tls_env ? tls_env : "build/tls");
  s->ca_file = g_build_filename (s->tls_dir, "ca.pem", NULL);
  s->context = g_main_context_new ();
  spawn (s, 0);
  return s;
}

AmmTestServer *
amm_test_server_start (const char *first_arg, ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  va_list ap;
  const char *a;

  va_start (ap, first_arg);
  for (a = first_arg; a; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  return amm_test_server_startv ((const char * const *) args->pdata);
}

guint16
amm_test_server_get_port (AmmTestServer *s)
{
  return s->port;
}

gboolean
amm_test_server_is_tls (AmmTestServer *s)
{
  return s->tls;
}

const char *
amm_test_server_get_base_url (AmmTestServer *s)
{
  return s->base_url;
}

const char *
amm_test_server_get_ca_file (AmmTestServer *s)
{
  return s->ca_file;
}

/* ---- control calls ---- */

JsonNode *
amm_test_server_control (AmmTestServer *s, const char *method, const char *path,
                         const char *json_body, guint *status)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", s->control_port, path);
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GBytes) reply = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = NULL;
  JsonNode *result = NULL;
  gsize len = 0;
  const char *data;

  if (status)
    *status = 0;
  g_main_context_push_thread_default (s->context);
  if (!s->session)
    s->session = soup_session_new_with_options ("timeout", 30, "proxy-resolver", NULL, NULL);
  msg = soup_message_new (method, url);
  if (!msg)
    g_error ("amm-test-server: bad control URL %s", url);
  if (json_body) {
    g_autoptr (GBytes) body = g_bytes_new (json_body, strlen (json_body));
    soup_message_set_request_body_from_bytes (msg, "application/json", body);
  }
  reply = soup_session_send_and_read (s->session, msg, NULL, &error);
  g_main_context_pop_thread_default (s->context);

  if (!reply) {
    g_printerr ("amm-test-server: control %s %s failed: %s\n", method, path, error->message);
    return NULL;
  }
  if (status)
    *status = soup_message_get_status (msg);
  data = g_bytes_get_data (reply, &len);
  if (len == 0)
    return NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, data, len, &error)) {
    g_printerr ("amm-test-server: control %s %s: bad JSON: %s\n", method, path, error->message);
    return NULL;
  }
  result = json_node_copy (json_parser_get_root (parser));
  return result;
}

JsonNode *
amm_test_server_send (AmmTestServer *s, const char *from, const char * const *to,
                      const char *thread_id, const char *body)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;
  JsonNode *reply;
  guint status = 0;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "from");
  json_builder_add_string_value (b, from);
  json_builder_set_member_name (b, "to");
  json_builder_begin_array (b);
  for (guint i = 0; to && to[i]; i++)
    json_builder_add_string_value (b, to[i]);
  json_builder_end_array (b);
  if (thread_id) {
    json_builder_set_member_name (b, "threadId");
    json_builder_add_string_value (b, thread_id);
  }
  json_builder_set_member_name (b, "body");
  json_builder_add_string_value (b, body);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, FALSE);

  reply = amm_test_server_control (s, "POST", "/control/send", text, &status);
  if (status != 200) {
    g_autofree char *got = reply ? json_to_string (reply, FALSE) : g_strdup ("(nothing)");
    g_error ("amm-test-server: send from %s failed: %u %s", from, status, got);
  }
  return reply;
}

JsonNode *
amm_test_server_messages (AmmTestServer *s, const char *user)
{
  g_autofree char *escaped = g_uri_escape_string (user, NULL, FALSE);
  g_autofree char *path = g_strdup_printf ("/control/messages?user=%s", escaped);
  g_autoptr (JsonNode) reply = NULL;
  JsonNode *messages;
  guint status = 0;

  reply = amm_test_server_control (s, "GET", path, NULL, &status);
  if (status != 200 || !reply || !JSON_NODE_HOLDS_OBJECT (reply))
    g_error ("amm-test-server: messages of %s failed: %u", user, status);
  messages = json_object_get_member (json_node_get_object (reply), "messages");
  if (!messages || !JSON_NODE_HOLDS_ARRAY (messages))
    g_error ("amm-test-server: messages of %s: no array", user);
  return json_node_copy (messages);
}

/* ---- stop / restart ---- */

static void
wait_done (GObject *source, GAsyncResult *res, gpointer data)
{
  gboolean *done = data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), res, NULL);
  *done = TRUE;
}

static gboolean
wait_timeout (gpointer data)
{
  gboolean *timed_out = data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* Fails the running test (the program goes on), or the program outside a test. */
static void
server_failed (char *what)
{
  g_printerr ("amm-test-server: ERROR: the server %s after SIGTERM\n", what);
  if (g_test_get_path () && *g_test_get_path ()) {
    g_test_message ("the test server %s", what);
    g_test_fail ();
  } else {
    g_error ("amm-test-server: the server %s", what);
  }
  g_free (what);
}

void
amm_test_server_stop (AmmTestServer *s)
{
  gboolean done = FALSE, timed_out = FALSE;
  GSource *timer;

  if (!s->proc)
    return;
  g_main_context_push_thread_default (s->context);
  g_subprocess_send_signal (s->proc, SIGTERM);
  g_subprocess_wait_async (s->proc, NULL, wait_done, &done);
  timer = g_timeout_source_new (STOP_TIMEOUT_MS);
  g_source_set_callback (timer, wait_timeout, &timed_out, NULL);
  g_source_attach (timer, s->context);
  while (!done && !timed_out)
    g_main_context_iteration (s->context, TRUE);
  if (!done) {
    g_printerr ("amm-test-server: no exit after SIGTERM; killing\n");
    g_subprocess_force_exit (s->proc);
    while (!done)
      g_main_context_iteration (s->context, TRUE);
  }
  g_source_destroy (timer);
  g_source_unref (timer);
  g_main_context_pop_thread_default (s->context);
  /* SIGTERM makes the server save and exit 0; anything else is a sanitizer's report (ASan,
   * UBSan, LeakSanitizer at exit: make check-asan) or a crash, printed on its stderr above. */
  if (!timed_out && g_subprocess_get_if_exited (s->proc) && g_subprocess_get_exit_status (s->proc) != 0)
    server_failed (g_strdup_printf ("exited with status %d", g_subprocess_get_exit_status (s->proc)));
  else if (!timed_out && g_subprocess_get_if_signaled (s->proc))
    server_failed (g_strdup_printf ("was killed by signal %d", g_subprocess_get_term_sig (s->proc)));
  g_clear_object (&s->proc);
}

void
amm_test_server_restart (AmmTestServer *s)
{
  guint16 port = s->port;

  amm_test_server_stop (s);
  spawn (s, port);
}

void
amm_test_server_free (AmmTestServer *s)
{
  if (!s)
    return;
  amm_test_server_stop (s);
  if (s->session) {
    g_main_context_push_thread_default (s->context);
    g_clear_object (&s->session);
    g_main_context_pop_thread_default (s->context);
  }
  g_main_context_unref (s->context);
  g_remove (s->port_file);
  g_remove (s->state_file);
  g_rmdir (s->tmpdir);
  g_free (s->tmpdir);
  g_free (s->port_file);
  g_free (s->state_file);
  g_strfreev (s->extra_args);
  g_free (s->base_url);
  g_free (s->ca_file);
  g_free (s->tls_dir);
  g_free (s);
}
