/* e2e-proxy.c: libpurple's proxy settings (the account's and the global ones) through real
 * proxies on loopback: tinyproxy (HTTP CONNECT, with and without Basic auth) and microsocks
 * (SOCKS5, with and without a user name), plus "use environment" (https_proxy, no_proxy) and
 * "no proxy". Each test proves the traffic went through the proxy: tinyproxy's log names the
 * CONNECTs to the AMM server; for SOCKS5 the open WebSocket to the server belongs to the proxy
 * process (/proc). REST (login, send), the WebSocket channel and the listing all go through it. */
#include <errno.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <proxy.h>

#include "harness.h"

#define BOB "bob@example.com"
#define ALICE "alice@example.com"
#define WAIT_MS 10000

typedef struct {
  GSubprocess *proc;
  char        *dir;
  char        *log;   /* tinyproxy's stdout */
  guint16      port;
} Proxy;

static guint16
free_port (void)
{
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof a;
  guint16 port;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &a, sizeof a), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &a, &len), ==, 0);
  port = ntohs (a.sin_port);
  close (fd);
  return port;
}

static gboolean
can_connect (guint16 port)
{
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons (port),
                           .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  gboolean ok = connect (fd, (struct sockaddr *) &a, sizeof a) == 0;
  close (fd);
  return ok;
}

/* A proxy dies with the test, even when an assertion aborts it. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static GSubprocessLauncher *
launcher (GSubprocessFlags flags)
{
  GSubprocessLauncher *l = g_subprocess_launcher_new (flags);
  g_subprocess_launcher_set_child_setup (l, die_with_parent, NULL, NULL);
  return l;
}

static void
proxy_wait_listening (Proxy *p)
{
  for (int i = 0; i < 200 && !can_connect (p->port); i++)
    g_usleep (20000);
  g_assert_true (can_connect (p->port));
}

static Proxy *
tinyproxy_start (const char *user, const char *password)
{
  Proxy *p = g_new0 (Proxy, 1);
  g_autoptr (GError) error = NULL;
  g_autofree char *conf = NULL;
  g_autofree char *text = NULL;
  g_autoptr (GSubprocessLauncher) l = launcher (G_SUBPROCESS_FLAGS_STDERR_MERGE);

  p->dir = g_dir_make_tmp ("amm-tinyproxy-XXXXXX", &error);
  g_assert_no_error (error);
  p->port = free_port ();
  conf = g_build_filename (p->dir, "tinyproxy.conf", NULL);
  p->log = g_build_filename (p->dir, "tinyproxy.log", NULL);
  /* no ConnectPort line: CONNECT to any port (the AMM server's is ephemeral) */
  /* (tinyproxy's BasicAuth syntax takes only [A-Za-z0-9._-] in passwords) */
  text = g_strdup_printf ("Port %u\nListen 127.0.0.1\nTimeout 60\nLogLevel Connect\nMaxClients 20\n"
                          "Allow 127.0.0.1\nDisableViaHeader Yes\n%s%s%s%s",
                          p->port, user ? "BasicAuth " : "", user ? user : "", user ? " " : "",
                          user ? password : "");
  if (user)
    {
      char *t = g_strconcat (text, "\n", NULL);
      g_free (text);
      text = t;
    }
  g_assert_true (g_file_set_contents (conf, text, -1, NULL));
  g_subprocess_launcher_set_stdout_file_path (l, p->log);
  p->proc = g_subprocess_launcher_spawn (l, &error, "/usr/bin/tinyproxy", "-d", "-c", conf, NULL);
  g_assert_no_error (error);
  proxy_wait_listening (p);
  return p;
}

static Proxy *
microsocks_start (const char *user, const char *password)
{
  Proxy *p = g_new0 (Proxy, 1);
  g_autoptr (GError) error = NULL;
  g_autofree char *port = NULL;

  p->port = free_port ();
  port = g_strdup_printf ("%u", p->port);
  g_autoptr (GSubprocessLauncher) l = launcher (G_SUBPROCESS_FLAGS_NONE);
  if (user)
    p->proc = g_subprocess_launcher_spawn (l, &error, "/usr/bin/microsocks", "-i", "127.0.0.1",
                                           "-p", port, "-u", user, "-P", password, NULL);
  else
    p->proc = g_subprocess_launcher_spawn (l, &error, "/usr/bin/microsocks", "-i", "127.0.0.1",
                                           "-p", port, NULL);
  g_assert_no_error (error);
  proxy_wait_listening (p);
  return p;
}

static void
proxy_free (Proxy *p)
{
  if (p == NULL)
    return;
  g_subprocess_send_signal (p->proc, SIGTERM);
  g_subprocess_wait (p->proc, NULL, NULL);
  g_object_unref (p->proc);
  if (p->dir)
    {
      g_autofree char *conf = g_build_filename (p->dir, "tinyproxy.conf", NULL);
      g_unlink (conf);
      g_unlink (p->log);
      g_rmdir (p->dir);
    }
  g_free (p->log);
  g_free (p->dir);
  g_free (p);
}

/* tinyproxy's log lines "CONNECT 127.0.0.1:PORT" (the AMM server's port) */
static guint
tinyproxy_connects_to (Proxy *p, guint16 port)
{
  g_autofree char *log = NULL;
  g_autofree char *needle = g_strdup_printf ("CONNECT 127.0.0.1:%u ", port);
  guint n = 0;

  if (!g_file_get_contents (p->log, &log, NULL, NULL))
    return 0;
  for (const char *s = log; (s = strstr (s, needle)) != NULL; s += strlen (needle))
    n++;
  return n;
}

/* Established TCP connections from the proxy process to 127.0.0.1:port (its socket inodes
 * matched against /proc/net/tcp). */
static guint
proxy_connections_to (Proxy *p, guint16 port)
{
  const char *pid = g_subprocess_get_identifier (p->proc);
  g_autofree char *fddir = g_strdup_printf ("/proc/%s/fd", pid);
  g_autoptr (GHashTable) inodes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GDir) d = g_dir_open (fddir, 0, NULL);
  g_autofree char *tcp = NULL;
  g_auto (GStrv) lines = NULL;
  const char *name;
  guint n = 0;

  if (d == NULL)
    return 0;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (fddir, name, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);
      if (target && g_str_has_prefix (target, "socket:["))
        g_hash_table_add (inodes, g_strndup (target + 8, strlen (target) - 9));
    }
  if (!g_file_get_contents ("/proc/net/tcp", &tcp, NULL, NULL))
    return 0;
  lines = g_strsplit (tcp, "\n", -1);
  for (guint i = 1; lines[i]; i++)
    {
      /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
      g_auto (GStrv) f = g_strsplit_set (g_strstrip (lines[i]), " ", -1);
      GPtrArray *cols = g_ptr_array_new ();
      for (guint j = 0; f[j]; j++)
        if (*f[j])
          g_ptr_array_add (cols, f[j]);
      if (cols->len >= 10)
        {
          const char *rem = cols->pdata[2];
          const char *st = cols->pdata[3];
          const char *inode = cols->pdata[9];
          g_autofree char *want = g_strdup_printf ("0100007F:%04X", port);
          if (g_str_equal (rem, want) && g_str_equal (st, "01") && g_hash_table_contains (inodes, inode))
            n++;
        }
      g_ptr_array_unref (cols);
    }
  return n;
}

static void
set_account_proxy (E2eAccount *a, PurpleProxyType type, guint16 port, const char *user,
                   const char *password)
{
  PurpleProxyInfo *info = purple_proxy_info_new ();
  purple_proxy_info_set_type (info, type);
  purple_proxy_info_set_host (info, "127.0.0.1");
  purple_proxy_info_set_port (info, port);
  purple_proxy_info_set_username (info, user);
  purple_proxy_info_set_password (info, password);
  purple_account_set_proxy_info (a->account, info);
}

/* Log in, receive an IM over the channel and send one through REST. */
static void
exercise (E2eAccount *a, AmmTestServer *server, const char *tag)
{
  g_autofree char *in = g_strdup_printf ("to alice through the %s proxy", tag);
  g_autofree char *out = g_strdup_printf ("to bob through the %s proxy", tag);
  const char *to_alice[] = { ALICE, NULL };

  g_assert_true (e2e_account_login (a, WAIT_MS));
  json_node_unref (amm_test_server_send (server, BOB, to_alice, NULL, in));
  g_assert_true (e2e_account_wait_received (a, 1, WAIT_MS));
  g_assert_cmpuint (e2e_count_received (a, BOB, in), ==, 1);
  e2e_account_send (a, BOB, out);
  g_assert_true (e2e_server_wait_body (server, BOB, out, 1, WAIT_MS));
}

static void
check_http (const char *user, const char *password, gboolean global)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--tls", NULL);
  guint16 port = amm_test_server_get_port (server);
  Proxy *p = tinyproxy_start (user, password);
  E2eAccount *a = e2e_account_new (ALICE, "alice-pw", server, NULL);
  PurpleProxyInfo *g = purple_global_proxy_get_info ();

  if (global)
    {
      purple_proxy_info_set_type (g, PURPLE_PROXY_HTTP);
      purple_proxy_info_set_host (g, "127.0.0.1");
      purple_proxy_info_set_port (g, p->port);
      purple_proxy_info_set_username (g, user);
      purple_proxy_info_set_password (g, password);
    }
  else
    set_account_proxy (a, PURPLE_PROXY_HTTP, p->port, user, password);
  exercise (a, server, "HTTP");
  /* the login, the channel and the send each needed a CONNECT to the server through tinyproxy */
  g_assert_cmpuint (tinyproxy_connects_to (p, port), >=, 2);
  e2e_account_free (a);
  if (global)
    purple_proxy_info_set_type (g, PURPLE_PROXY_NONE);
  proxy_free (p);
}

static void test_http (void) { check_http (NULL, NULL, FALSE); }
static void test_http_auth (void) { check_http ("amm-user", "s3cret.pw", FALSE); }
static void test_http_global (void) { check_http (NULL, NULL, TRUE); }

/* a wrong proxy password: the proxy refuses (407) and the account does not sign on */
static void
test_http_auth_wrong (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--tls", NULL);
  Proxy *p = tinyproxy_start ("amm-user", "right");
  E2eAccount *a = e2e_account_new (ALICE, "alice-pw", server, NULL);

  set_account_proxy (a, PURPLE_PROXY_HTTP, p->port, "amm-user", "wrong");
  e2e_account_connect (a);
  g_assert_true (e2e_account_wait_error (a, WAIT_MS));
  g_assert_false (e2e_account_is_connected (a));
  e2e_account_free (a);
  proxy_free (p);
}

static void
check_socks (const char *user, const char *password)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--tls", NULL);
  guint16 port = amm_test_server_get_port (server);
  Proxy *p = microsocks_start (user, password);
  E2eAccount *a = e2e_account_new (ALICE, "alice-pw", server, NULL);

  set_account_proxy (a, PURPLE_PROXY_SOCKS5, p->port, user, password);
  exercise (a, server, "SOCKS5");
  /* the WebSocket to the server is a connection of the proxy process */
  g_assert_cmpuint (proxy_connections_to (p, port), >=, 1);
  e2e_account_free (a);
  proxy_free (p);
}

static void test_socks5 (void) { check_socks (NULL, NULL); }
static void test_socks5_auth (void) { check_socks ("amm-user", "s3cret"); }

/* "Use environmental settings": https_proxy is used; with the server in no_proxy it is not */
static void
test_environment (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--tls", NULL);
  guint16 port = amm_test_server_get_port (server);
  Proxy *p = tinyproxy_start (NULL, NULL);
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u", p->port);
  E2eAccount *a = e2e_account_new (ALICE, "alice-pw", server, NULL);
  guint before;

  g_setenv ("https_proxy", url, TRUE);
  g_unsetenv ("no_proxy");
  set_account_proxy (a, PURPLE_PROXY_USE_ENVVAR, 0, NULL, NULL);
  exercise (a, server, "environment's");
  before = tinyproxy_connects_to (p, port);
  g_assert_cmpuint (before, >=, 2);
  e2e_account_disconnect (a);

  g_setenv ("no_proxy", "localhost, 127.0.0.1", TRUE);
  e2e_account_clear (a);
  g_assert_true (e2e_account_login (a, WAIT_MS));
  g_assert_cmpuint (tinyproxy_connects_to (p, port), ==, before);
  g_unsetenv ("https_proxy");
  g_unsetenv ("no_proxy");
  e2e_account_free (a);
  proxy_free (p);
}

/* "No proxy" on the account overrides a global proxy: direct connections (a dead global proxy
 * port would make the login fail otherwise) */
static void
test_no_proxy_overrides_global (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--tls", NULL);
  E2eAccount *a = e2e_account_new (ALICE, "alice-pw", server, NULL);
  PurpleProxyInfo *g = purple_global_proxy_get_info ();

  purple_proxy_info_set_type (g, PURPLE_PROXY_HTTP);
  purple_proxy_info_set_host (g, "127.0.0.1");
  purple_proxy_info_set_port (g, free_port ()); /* nothing listens there */
  set_account_proxy (a, PURPLE_PROXY_NONE, 0, NULL, NULL);
  g_assert_true (e2e_account_login (a, WAIT_MS));
  e2e_account_free (a);
  purple_proxy_info_set_type (g, PURPLE_PROXY_NONE);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  e2e_install_log_filter ();
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  e2e_init ();

  g_test_add_func ("/e2e/proxy/http", test_http);
  g_test_add_func ("/e2e/proxy/http-auth", test_http_auth);
  g_test_add_func ("/e2e/proxy/http-auth-wrong", test_http_auth_wrong);
  g_test_add_func ("/e2e/proxy/http-global", test_http_global);
  g_test_add_func ("/e2e/proxy/socks5", test_socks5);
  g_test_add_func ("/e2e/proxy/socks5-auth", test_socks5_auth);
  g_test_add_func ("/e2e/proxy/environment", test_environment);
  g_test_add_func ("/e2e/proxy/none-overrides-global", test_no_proxy_overrides_global);
  ret = g_test_run ();
  e2e_shutdown ();
  return ret;
}
