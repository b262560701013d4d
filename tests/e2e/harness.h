/* harness.h: a headless libpurple for end-to-end tests and benchmarks.
 *
 * One libpurple core per process (temp user dir, GLib event loop), the AMM plugin loaded from
 * $AMM_PLUGIN_DIR (default "build"), and helpers to create AMM accounts against an
 * AmmTestServer, connect them, send IMs through the plugin's send_im (as a real client does)
 * and record what libpurple shows. Every wait iterates the main loop and gives up after a
 * timeout: a test fails instead of hanging.
 */
#pragma once

#include <glib.h>
#include <purple.h>
#include "amm-test-server.h"

G_BEGIN_DECLS

#define E2E_UI_ID "amm-e2e"

/* A message libpurple showed. */
typedef struct {
  char              *who;        /* sender (received) or the "who" of the write */
  char              *conv_name;  /* the IM conversation's name (the peer); nullable */
  char              *html;       /* as libpurple passed it */
  char              *text;       /* html unescaped: <br> → newline, entities decoded */
  time_t             mtime;      /* the message time (written messages only; else 0) */
  PurpleMessageFlags flags;
  gint64             arrival_us; /* g_get_monotonic_time () at arrival */
} E2eMessage;

typedef struct {
  const char *api_version;   /* "auto" (NULL), "3.2", "3", "2.1" */
  gboolean    no_ca_file;    /* TLS server: do not give the test CA */
  int         poll_interval; /* minutes, 0 = push */
  const char *host;          /* NULL: 127.0.0.1 */
  int         port;          /* 0: the server's port */
} E2eAccountOptions;

typedef struct {
  PurpleAccount        *account;
  char                 *username;
  GPtrArray            *received;     /* of E2eMessage*: "received-im-msg" */
  GPtrArray            *written;      /* of E2eMessage*: "wrote-im-msg" (any write into an IM) */
  guint                 signed_on;    /* "signed-on" count */
  guint                 signed_off;   /* "signed-off" count */
  guint                 errors;       /* "connection-error" count */
  PurpleConnectionError last_error;
  char                 *last_error_text;
} E2eAccount;

/* Drop GLib debug/info messages (GTest prints them all) unless $AMM_E2E_VERBOSE is set.
 * Call right after g_test_init(), before anything else logs. */
void e2e_install_log_filter (void);

/* Initialise libpurple once per process (later calls do nothing). Aborts if the AMM plugin
 * cannot be found. */
void e2e_init (void);
/* Quit libpurple and remove the temp user dir. */
void e2e_shutdown (void);

/* Create (or re-create, with fresh settings and no cursor) the account `username` of the AMM
 * plugin, pointing at `server`. opts may be NULL. Not connected yet. */
E2eAccount *e2e_account_new (const char *username, const char *password, AmmTestServer *server,
                             const E2eAccountOptions *opts);
/* Disconnect, delete the libpurple account, free. */
void e2e_account_free (E2eAccount *a);

/* Start connecting (enables the account). Waits first for an earlier connection to be gone. */
void     e2e_account_connect (E2eAccount *a);
/* Wait until signed on (TRUE) or a connection error / timeout (FALSE). Counts only events
 * after the last e2e_account_connect(). */
gboolean e2e_account_wait_signed_on (E2eAccount *a, guint timeout_ms);
/* connect + wait_signed_on */
gboolean e2e_account_login (E2eAccount *a, guint timeout_ms);
/* Wait for a connection error after the last connect (TRUE), FALSE on timeout. */
gboolean e2e_account_wait_error (E2eAccount *a, guint timeout_ms);
/* purple_account_disconnect, synchronous. */
void     e2e_account_disconnect (E2eAccount *a);
gboolean e2e_account_is_connected (E2eAccount *a);

/* Send `text` (plain text, escaped into HTML as Pidgin does) to `to` through purple_conv_im_send. */
void e2e_account_send (E2eAccount *a, const char *to, const char *text);

/* Send `html` as it is (as Pidgin, Finch or Bitlbee would hand it over) through purple_conv_im_send. */
void e2e_account_send_html (E2eAccount *a, const char *to, const char *html);

/* The stored sync cursor ("amm-cursor"), NULL when none. */
const char *e2e_account_cursor (E2eAccount *a);

/* Forget the recorded messages. */
void e2e_account_clear (E2eAccount *a);
/* Record received and written messages (the default) or not: a benchmark that counts them
 * itself turns it off, so that its figures hold the plugin's memory and time only. */
void e2e_set_recording (gboolean on);

/* Messages received from `sender` (NULL: anyone) with exactly `text` (NULL: any). */
guint e2e_count_received (E2eAccount *a, const char *sender, const char *text);
/* Written messages with all of `flags` set and containing `needle` in their text (NULL: any). */
guint e2e_count_written (E2eAccount *a, PurpleMessageFlags flags, const char *needle);
/* Wait until at least n messages were received. */
gboolean e2e_account_wait_received (E2eAccount *a, guint n, guint timeout_ms);
/* Wait until at least n messages with all of `flags` were written. */
gboolean e2e_account_wait_written (E2eAccount *a, PurpleMessageFlags flags, guint n, guint timeout_ms);

/* Iterate the main loop until cond(data) or the timeout; returns cond(data). */
typedef gboolean (*E2eCondition) (gpointer data);
gboolean e2e_wait (E2eCondition cond, gpointer data, guint timeout_ms);
/* Iterate the main loop for ms milliseconds. */
void e2e_run_for (guint ms);

/* libpurple HTML → text, for comparisons: <br> → newline, then purple_unescape_html. */
char *e2e_html_to_text (const char *html);
/* text → HTML as a UI hands it to libpurple (escaped, newlines as <br>). */
char *e2e_text_to_html (const char *text);

/* Wait until `user`'s server-side messages contain `n` messages with body `body`. */
gboolean e2e_server_wait_body (AmmTestServer *server, const char *user, const char *body,
                               guint n, guint timeout_ms);
/* The number of server-side messages of `user` with body `body`. */
guint e2e_server_count_body (AmmTestServer *server, const char *user, const char *body);

G_END_DECLS
