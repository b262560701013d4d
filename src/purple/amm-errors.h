/* amm-errors.h: the ONE mapping from a core GError to a libpurple connection error.
 *
 * Every place in the plugin that reports an error to libpurple (login, a lost
 * connection, a failed send) goes through these functions, so an error code
 * means the same thing everywhere.
 */
#pragma once

#include <glib.h>
#include <connection.h>

G_BEGIN_DECLS

/* The PurpleConnectionError for an AMM_ERROR (or a stray GIO/TLS) error.
 * Transient errors (network, timeout, 5xx, 429, lost channel) map to
 * PURPLE_CONNECTION_ERROR_NETWORK_ERROR so that clients reconnect by themselves. */
PurpleConnectionError amm_purple_error_reason (const GError *error);

/* The text shown to the user. `host` (nullable) is named in certificate errors when the
 * core's message does not already name it. Never contains credentials. Newly allocated. */
char *amm_purple_error_text (const GError *error, const char *host);

/* Report `error` on `gc` (once; libpurple ignores a second report). */
void amm_purple_connection_error (PurpleConnection *gc, const GError *error, const char *host);

/* TRUE if `error` is a cancellation (the account is closing): callers return at once. */
gboolean amm_purple_error_is_cancelled (const GError *error);

G_END_DECLS
