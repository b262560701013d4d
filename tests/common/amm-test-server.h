/* amm-test-server.h: start and drive tests/amm-server from a test process.
 *
 * The server binary is found through $AMM_SERVER (set by tests/run-tests.sh), else
 * build/amm-server relative to the current directory. TLS material comes from
 * $AMM_TLS_DIR (default build/tls): ca.pem, server.pem, server-key.pem.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _AmmTestServer AmmTestServer;

/* Start a server with the committed seed (tests/amm-server/seed.json) on an ephemeral
 * loopback port, plus extra command-line arguments (NULL-terminated), e.g.
 * amm_test_server_start ("--api", "2.1", NULL) or ("--tls", NULL) for HTTPS with the test CA.
 * Blocks until the server is ready; aborts the test on failure. */
AmmTestServer *amm_test_server_start (const char *first_arg, ...) G_GNUC_NULL_TERMINATED;
AmmTestServer *amm_test_server_startv (const char * const *args);

guint16     amm_test_server_get_port (AmmTestServer *s);
gboolean    amm_test_server_is_tls (AmmTestServer *s);
const char *amm_test_server_get_base_url (AmmTestServer *s);   /* "http(s)://127.0.0.1:PORT" */
const char *amm_test_server_get_ca_file (AmmTestServer *s);    /* absolute path of the test CA */

/* Synchronous control calls (their own SoupSession and GMainContext). Return the parsed JSON
 * response (NULL for an empty body); *status gets the HTTP status when non-NULL. */
JsonNode *amm_test_server_control (AmmTestServer *s, const char *method, const char *path,
                                   const char *json_body, guint *status);

/* Send as another user. to: NULL-terminated addresses (ignored when thread_id is set).
 * Returns the stored message JSON (owned by caller). */
JsonNode *amm_test_server_send (AmmTestServer *s, const char *from, const char * const *to,
                                const char *thread_id, const char *body);

/* Every message visible to `user`, oldest first, as a JSON array node (owned by caller). */
JsonNode *amm_test_server_messages (AmmTestServer *s, const char *user);

/* Stop: SIGTERM, wait. Restart on the same port, keeping state (a state file is always used). */
void amm_test_server_stop (AmmTestServer *s);
void amm_test_server_restart (AmmTestServer *s);
/* Stop and free. */
void amm_test_server_free (AmmTestServer *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmTestServer, amm_test_server_free)

G_END_DECLS
