/* test-pin.c: the pinned certificate fingerprint (AmmSettings.cert_fingerprint, the account
 * option "cert-fingerprint") against the test server with the self-signed "untrusted"
 * certificate and with the CA-signed one. */
#include <string.h>
#include <gio/gio.h>
#include "amm-client.h"
#include "amm-error.h"
#include "amm-pin.h"
#include "amm-test-server.h"
#include "amm-test-loop.h"

#define ALICE "alice@example.com"
#define BOB "bob@example.com"
#define WAIT_MS 10000

typedef struct {
  gboolean done, ok;
  GError *error;
} Op;

static gboolean
op_done (gpointer data)
{
  return ((Op *) data)->done;
}

static void
on_connect (GObject *src, GAsyncResult *res, gpointer data)
{
  Op *op = data;
  op->ok = amm_client_connect_finish (AMM_CLIENT (src), res, &op->error);
  op->done = TRUE;
}

static gboolean
connect_client (AmmClient *client, GError **error)
{
  Op op = { 0 };
  amm_client_connect_async (client, NULL, on_connect, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
  if (!op.ok)
    g_propagate_error (error, op.error);
  return op.ok;
}

static char *
tls_file (const char *name)
{
  const char *dir = g_getenv ("AMM_TLS_DIR");
  g_autofree char *path = g_build_filename (dir && *dir ? dir : "build/tls", name, NULL);
  return g_canonicalize_filename (path, NULL);
}

static char *
fingerprint_of (const char *name)
{
  g_autofree char *path = tls_file (name);
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsCertificate) cert = g_tls_certificate_new_from_file (path, &error);
  g_assert_no_error (error);
  return amm_pin_fingerprint (cert);
}

static AmmTestServer *
untrusted_server (void)
{
  return amm_test_server_start ("--tls", "--cert", "untrusted.pem", "--key", "untrusted-key.pem", NULL);
}

static AmmSettings *
settings_for (AmmTestServer *server, const char *pin)
{
  AmmSettings *s = amm_settings_new ();
  s->username = g_strdup (ALICE);
  s->password = g_strdup ("alice-pw");
  s->host = g_strdup ("127.0.0.1");
  s->port = amm_test_server_get_port (server);
  s->use_tls = TRUE;
  s->cert_fingerprint = g_strdup (pin);
  return s;
}

static void
test_normalize (void)
{
  g_autofree char *fp = fingerprint_of ("untrusted.pem");
  g_autofree char *a = amm_pin_normalize (fp, NULL);
  g_autofree char *lower = g_ascii_strdown (fp, -1);
  g_auto (GStrv) parts = g_strsplit (lower, ":", -1);
  g_autofree char *bare = g_strjoinv ("", parts);
  g_autofree char *b = amm_pin_normalize (bare, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (strlen (fp), ==, 64 + 31);
  g_assert_cmpstr (a, ==, bare);
  g_assert_cmpstr (b, ==, bare);
  g_assert_null (amm_pin_normalize ("12:34", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* SHA-1 length, and a non-hex digit */
  g_assert_null (amm_pin_normalize ("0123456789abcdef0123456789abcdef01234567", &error));
  g_clear_error (&error);
  bare[10] = 'x';
  g_assert_null (amm_pin_normalize (bare, &error));
  g_clear_error (&error);
  /* a bad pin is an invalid setting, not a silent "no pin" */
  {
    g_autoptr (AmmSettings) s = amm_settings_new ();
    s->username = g_strdup (ALICE);
    s->host = g_strdup ("127.0.0.1");
    s->cert_fingerprint = g_strdup ("not a fingerprint");
    g_assert_null (amm_client_new (s, &error));
    g_assert_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS);
  }
}

typedef struct {
  guint received;
  gboolean up;
  char *body;
} Watch;

static void
on_message (AmmClient *c, AmmConversation *conv, AmmMessage *msg, gboolean from_self, gpointer data)
{
  Watch *w = data;
  w->received++;
  g_free (w->body);
  w->body = g_strdup (msg->body);
}

static void
on_channel (AmmClient *c, guint kind, gboolean up, gpointer data)
{
  ((Watch *) data)->up = up && kind == AMM_CHANNEL_WEBSOCKET;
}

static gboolean
is_up (gpointer data)
{
  return ((Watch *) data)->up;
}

static gboolean
got_one (gpointer data)
{
  return ((Watch *) data)->received > 0;
}

/* the pinned self-signed certificate: REST and the wss:// channel work */
static void
test_pinned_works (void)
{
  g_autoptr (AmmTestServer) server = untrusted_server ();
  g_autofree char *fp = fingerprint_of ("untrusted.pem");
  g_autoptr (AmmSettings) s = settings_for (server, fp);
  g_autoptr (GError) error = NULL;
  AmmClient *c = amm_client_new (s, &error);
  Watch w = { 0 };

  g_assert_no_error (error);
  g_assert_true (connect_client (c, &error));
  g_assert_no_error (error);
  g_signal_connect (c, "message-received", G_CALLBACK (on_message), &w);
  g_signal_connect (c, "channel-changed", G_CALLBACK (on_channel), &w);
  amm_client_start_sync (c, NULL);
  g_assert_true (amm_test_wait_for (is_up, &w, WAIT_MS));
  {
    const char *to[] = { ALICE, NULL };
    JsonNode *n = amm_test_server_send (server, BOB, to, NULL, "over a pinned certificate");
    json_node_unref (n);
  }
  g_assert_true (amm_test_wait_for (got_one, &w, WAIT_MS));
  g_assert_cmpstr (w.body, ==, "over a pinned certificate");
  amm_client_shutdown (c);
  g_object_unref (c);
  g_free (w.body);
}

/* a wrong pin: refused, and the message names the host, the problem and the real fingerprint */
static void
test_wrong_pin_refused (void)
{
  g_autoptr (AmmTestServer) server = untrusted_server ();
  g_autofree char *real = fingerprint_of ("untrusted.pem");
  g_autofree char *other = fingerprint_of ("server.pem");
  g_autoptr (AmmSettings) s = settings_for (server, other);
  g_autoptr (GError) error = NULL;
  AmmClient *c = amm_client_new (s, &error);

  g_assert_no_error (error);
  g_assert_false (connect_client (c, &error));
  g_assert_error (error, AMM_ERROR, AMM_ERROR_TLS);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
  g_assert_nonnull (strstr (error->message, real));
  g_assert_nonnull (strstr (error->message, "CA file"));
  g_object_unref (c);
}

/* no pin, no CA: the message says what to do and shows the fingerprint to pin */
static void
test_untrusted_message (void)
{
  g_autoptr (AmmTestServer) server = untrusted_server ();
  g_autofree char *real = fingerprint_of ("untrusted.pem");
  g_autoptr (AmmSettings) s = settings_for (server, NULL);
  g_autoptr (GError) error = NULL;
  AmmClient *c = amm_client_new (s, &error);

  g_assert_false (connect_client (c, &error));
  g_assert_error (error, AMM_ERROR, AMM_ERROR_TLS);
  g_assert_nonnull (strstr (error->message, "unknown issuer"));
  g_assert_nonnull (strstr (error->message, real));
  g_assert_nonnull (strstr (error->message, "fingerprint"));
  g_object_unref (c);
}

/* a pin overrides the CA: a certificate the CA file would accept is refused when it is not the
 * pinned one */
static void
test_pin_overrides_ca (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--tls", NULL);
  g_autofree char *wrong = fingerprint_of ("untrusted.pem");
  g_autofree char *right = fingerprint_of ("server.pem");
  g_autoptr (AmmSettings) s = settings_for (server, wrong);
  g_autoptr (GError) error = NULL;
  AmmClient *c;

  s->ca_file = g_strdup (amm_test_server_get_ca_file (server));
  c = amm_client_new (s, &error);
  g_assert_false (connect_client (c, &error));
  g_assert_error (error, AMM_ERROR, AMM_ERROR_TLS);
  g_clear_error (&error);
  g_object_unref (c);

  g_free (s->cert_fingerprint);
  s->cert_fingerprint = g_strdup (right);
  c = amm_client_new (s, &error);
  g_assert_true (connect_client (c, &error));
  g_assert_no_error (error);
  g_object_unref (c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pin/normalize", test_normalize);
  g_test_add_func ("/pin/pinned-works", test_pinned_works);
  g_test_add_func ("/pin/wrong-pin-refused", test_wrong_pin_refused);
  g_test_add_func ("/pin/untrusted-message", test_untrusted_message);
  g_test_add_func ("/pin/overrides-ca", test_pin_overrides_ca);
  return g_test_run ();
}
