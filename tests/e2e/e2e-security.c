/* e2e-security.c: what a hostile peer or a curious log reader gets, end to end.
 *
 * - A full debug log of a session (libpurple's debug output through a capturing debug UI, and
 *   every GLib log message of every domain and level, libsoup's included) never
 *   contains the password, the Authorization header's value or the session cookie's value.
 * - Incoming text with <script>, <img src=…>, IMHTML tags (<font>, <a href>), control characters
 *   and U+202E is shown as text: escaped, control characters removed.
 */
#include <string.h>
#include <debug.h>

#include "harness.h"

#define ALICE    "alice@example.com"
#define BOB      "bob@example.com"
#define ALICE_PW "alice-pw"
#define LOGIN_MS   10000
#define DELIVER_MS 10000

static GString *captured; /* everything logged, by libpurple and by GLib */

static void
debug_print (PurpleDebugLevel level, const char *category, const char *arg_s)
{
  g_string_append_printf (captured, "purple %d %s: %s", (int) level, category ? category : "-", arg_s);
  if (g_getenv ("AMM_E2E_VERBOSE"))
    g_printerr ("%s: %s", category ? category : "-", arg_s);
}

static gboolean
debug_enabled (PurpleDebugLevel level, const char *category)
{
  return TRUE;
}

static PurpleDebugUiOps debug_ops = { debug_print, debug_enabled, NULL, NULL, NULL, NULL };

static GLogWriterOutput
capture_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (fields[i].length < 0)
      g_string_append_printf (captured, "glib %s=%s ", fields[i].key, (const char *) fields[i].value);
  g_string_append_c (captured, '\n');
  if (level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) {
    if (!g_getenv ("AMM_E2E_VERBOSE"))
      return G_LOG_WRITER_HANDLED;
  }
  return g_log_writer_default (level, fields, n_fields, data);
}

static gboolean
contains (const char *haystack, const char *needle)
{
  return needle && *needle && strstr (haystack, needle) != NULL;
}

static void
test_debug_log_clean (void)
{
  g_autoptr(AmmTestServer) server = amm_test_server_start ("--api", "3.2", NULL);
  E2eAccount *alice = e2e_account_new (ALICE, ALICE_PW, server, NULL);
  E2eAccount *bob = e2e_account_new (BOB, "bob-pw", server, NULL);
  const char *to_alice[] = { ALICE, NULL };

  g_string_truncate (captured, 0);
  g_assert_true (e2e_account_login (alice, LOGIN_MS));
  g_assert_true (e2e_account_login (bob, LOGIN_MS));
  g_autoptr(JsonNode) sent = amm_test_server_send (server, BOB, to_alice, NULL, "hello alice");
  g_assert_nonnull (sent);
  g_assert_true (e2e_account_wait_received (alice, 1, DELIVER_MS));
  e2e_account_send (alice, BOB, "hello bob");
  g_assert_true (e2e_account_wait_received (bob, 1, DELIVER_MS));
  e2e_account_free (alice);
  e2e_account_free (bob);
  /* a failed login too (the same account, re-created with a wrong password): the wrong password must not show either */
  E2eAccount *wrong = e2e_account_new (ALICE, "wrong-secret-pw", server, NULL);
  e2e_account_connect (wrong);
  g_assert_true (e2e_account_wait_error (wrong, LOGIN_MS));
  e2e_account_free (wrong);

  /* the log is real: the session shows up in it */
  g_assert_true (contains (captured->str, "amm"));
  g_assert_true (contains (captured->str, "glib ")); /* GLib log messages were captured too */
  g_assert_true (contains (captured->str, "hello") || contains (captured->str, "message"));
  g_test_message ("captured %" G_GSIZE_FORMAT " bytes of debug log", captured->len);

  g_autofree char *plain = g_strdup_printf ("%s:%s", ALICE, ALICE_PW);
  g_autofree char *b64 = g_base64_encode ((const guchar *) plain, strlen (plain));
  g_autofree char *wrong_plain = g_strdup_printf ("%s:%s", ALICE, "wrong-secret-pw");
  g_autofree char *wrong_b64 = g_base64_encode ((const guchar *) wrong_plain, strlen (wrong_plain));
  g_assert_false (contains (captured->str, ALICE_PW));
  g_assert_false (contains (captured->str, "bob-pw"));
  g_assert_false (contains (captured->str, "wrong-secret-pw"));
  g_assert_false (contains (captured->str, b64));
  g_assert_false (contains (captured->str, wrong_b64));
  g_assert_false (contains (captured->str, "Authorization: Basic"));
  g_assert_false (contains (captured->str, "AMMSESSIONID="));
  g_assert_false (contains (captured->str, "Cookie:"));
}

/* --- hostile incoming text ------------------------------------------------------------------ */

typedef struct {
  const char *body;     /* as the peer sent it */
  const char *shown;    /* the text the user must see (html unescaped) */
  const char *never;    /* must not appear raw in the HTML handed to libpurple */
} Hostile;

static const Hostile hostile[] = {
  { "<script>alert(1)</script>", "<script>alert(1)</script>", "<script" },
  { "<img src=\"http://evil.example/x.png\">", "<img src=\"http://evil.example/x.png\">", "<img" },
  { "<font size=\"7\" color=\"red\">BIG</font>", "<font size=\"7\" color=\"red\">BIG</font>", "<font" },
  { "<a href=\"http://evil.example/\">click</a>", "<a href=\"http://evil.example/\">click</a>", "<a " },
  { "bell\x07 esc\x1b[31mred nul-ish\x01\x02 del\x7f end", "bell esc[31mred nul-ish del end", "\x1b" },
  { "tab\tand\nnewline", "tab\tand\nnewline", NULL },
  { "file \xe2\x80\xae" "fdp.exe", "file fdp.exe", "\xe2\x80\xae" },
  { "&lt;b&gt; &amp; &#60;i&#62;", "&lt;b&gt; &amp; &#60;i&#62;", "<b>" },
};

static void
test_hostile_text (void)
{
  g_autoptr(AmmTestServer) server = amm_test_server_start ("--api", "3.2", NULL);
  E2eAccount *alice = e2e_account_new (ALICE, ALICE_PW, server, NULL);
  const char *to_alice[] = { ALICE, NULL };

  g_assert_true (e2e_account_login (alice, LOGIN_MS));
  for (guint i = 0; i < G_N_ELEMENTS (hostile); i++)
    {
      g_autoptr(JsonNode) sent = amm_test_server_send (server, BOB, to_alice, NULL, hostile[i].body);
      g_assert_nonnull (sent);
      g_assert_true (e2e_account_wait_received (alice, i + 1, DELIVER_MS));
    }
  g_assert_cmpuint (alice->received->len, ==, G_N_ELEMENTS (hostile));
  for (guint i = 0; i < G_N_ELEMENTS (hostile); i++)
    {
      E2eMessage *m = g_ptr_array_index (alice->received, i);
      g_test_message ("%u: html %s", i, m->html);
      g_assert_cmpstr (m->text, ==, hostile[i].shown);
      if (hostile[i].never)
        g_assert_null (strstr (m->html, hostile[i].never));
      for (const char *p = m->html; *p; p++)
        g_assert_true ((guchar) *p >= 0x20 || *p == '\t');
      g_assert_null (strstr (m->html, "\x7f"));
      g_assert_null (strstr (m->html, "\xe2\x80\xae"));
    }
  e2e_account_free (alice);
}

/* Regression (fuzz/fuzz-markup.c): a numeric entity beyond Unicode in what the UI hands over
 * used to become invalid UTF-8 in the sent body. */
static void
test_outgoing_entities_valid_utf8 (void)
{
  g_autoptr(AmmTestServer) server = amm_test_server_start ("--api", "3.2", NULL);
  E2eAccount *alice = e2e_account_new (ALICE, ALICE_PW, server, NULL);
  const char *body = NULL;

  g_assert_true (e2e_account_login (alice, LOGIN_MS));
  e2e_account_send_html (alice, BOB, "a&#99999999;b&#x7FFFFFFF;c &amp;#0; &lt;");
  for (guint tries = 0; tries < 100 && body == NULL; tries++)
    {
      g_autoptr(JsonNode) all = amm_test_server_messages (server, BOB);
      JsonArray *arr = json_node_get_array (all);

      for (guint i = 0; i < json_array_get_length (arr) && body == NULL; i++)
        {
          const char *b = json_object_get_string_member_with_default (
              json_array_get_object_element (arr, i), "body", "");
          if (g_str_has_prefix (b, "a") && g_str_has_suffix (b, "c &#0; <"))
            body = g_intern_string (b);
        }
      if (body == NULL)
        e2e_run_for (100);
    }
  g_assert_nonnull (body);
  g_assert_true (g_utf8_validate (body, -1, NULL));
  g_assert_nonnull (strstr (body, "\xef\xbf\xbd")); /* U+FFFD where the entity was */
  e2e_account_free (alice);
}

int
main (int argc, char **argv)
{
  int ret;

  /* every GLib log message of every domain, debug level and libsoup's included, reaches the
   * writer below (G_MESSAGES_DEBUG only filters the default writer); the server child stays quiet */
  g_unsetenv ("G_MESSAGES_DEBUG");
  captured = g_string_new (NULL);
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (capture_writer, NULL, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  e2e_init ();
  purple_debug_set_ui_ops (&debug_ops);
  purple_debug_set_enabled (TRUE);
  purple_debug_set_verbose (TRUE);
  purple_debug_set_unsafe (TRUE); /* libpurple's own "unsafe" debug output too */

  g_test_add_func ("/e2e/security/debug-log-has-no-secrets", test_debug_log_clean);
  g_test_add_func ("/e2e/security/hostile-text-shown-as-text", test_hostile_text);
  g_test_add_func ("/e2e/security/outgoing-entities-valid-utf8", test_outgoing_entities_valid_utf8);

  ret = g_test_run ();
  e2e_shutdown ();
  g_string_free (captured, TRUE);
  return ret;
}
