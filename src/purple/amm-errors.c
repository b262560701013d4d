/* amm-errors.c: the one GError → PurpleConnectionError mapping (see amm-errors.h). */
#include "amm-errors.h"

#include <string.h>
#include <gio/gio.h>
#include <debug.h>

#include "amm-error.h"

gboolean
amm_purple_error_is_cancelled (const GError *error)
{
  return error != NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* The core reports every certificate problem as AMM_ERROR_TLS; its message says which. */
static PurpleConnectionError
tls_reason (const GError *error)
{
  g_autofree char *lower = g_ascii_strdown (error->message ? error->message : "", -1);

  if (strstr (lower, "hostname") || strstr (lower, "host name") || strstr (lower, "identity")
      || strstr (lower, "does not match"))
    return PURPLE_CONNECTION_ERROR_CERT_HOSTNAME_MISMATCH;
  if (strstr (lower, "expired"))
    return PURPLE_CONNECTION_ERROR_CERT_EXPIRED;
  if (strstr (lower, "not yet valid") || strstr (lower, "not activated"))
    return PURPLE_CONNECTION_ERROR_CERT_NOT_ACTIVATED;
  if (strstr (lower, "self-signed") || strstr (lower, "self signed"))
    return PURPLE_CONNECTION_ERROR_CERT_SELF_SIGNED;
  if (strstr (lower, "untrusted") || strstr (lower, "not trusted") || strstr (lower, "unknown ca")
      || strstr (lower, "unknown certificate authority") || strstr (lower, "issuer"))
    return PURPLE_CONNECTION_ERROR_CERT_UNTRUSTED;
  return PURPLE_CONNECTION_ERROR_CERT_OTHER_ERROR;
}

PurpleConnectionError
amm_purple_error_reason (const GError *error)
{
  if (error == NULL)
    return PURPLE_CONNECTION_ERROR_OTHER_ERROR;

  if (error->domain == AMM_ERROR)
    {
      switch ((AmmErrorCode) error->code)
        {
        case AMM_ERROR_NETWORK:
        case AMM_ERROR_TIMEOUT:
        case AMM_ERROR_SERVER:
        case AMM_ERROR_RATE_LIMITED:
        case AMM_ERROR_CONNECTION_LOST:
          return PURPLE_CONNECTION_ERROR_NETWORK_ERROR;
        case AMM_ERROR_AUTH:
          return PURPLE_CONNECTION_ERROR_AUTHENTICATION_FAILED;
        case AMM_ERROR_TLS:
          return tls_reason (error);
        case AMM_ERROR_INVALID_SETTINGS:
        case AMM_ERROR_UNSUPPORTED:
        case AMM_ERROR_NOT_ACCEPTABLE:
        case AMM_ERROR_NOT_FOUND:
          return PURPLE_CONNECTION_ERROR_INVALID_SETTINGS;
        case AMM_ERROR_REJECTED:
        case AMM_ERROR_FORBIDDEN:
        case AMM_ERROR_TOO_LARGE:
        case AMM_ERROR_MALFORMED:
          return PURPLE_CONNECTION_ERROR_OTHER_ERROR;
        }
      return amm_error_is_transient (error) ? PURPLE_CONNECTION_ERROR_NETWORK_ERROR
                                            : PURPLE_CONNECTION_ERROR_OTHER_ERROR;
    }

  /* Errors the core should have wrapped; map them sensibly all the same. */
  if (error->domain == G_TLS_ERROR)
    return PURPLE_CONNECTION_ERROR_CERT_OTHER_ERROR;
  if (error->domain == G_IO_ERROR || error->domain == G_RESOLVER_ERROR)
    return PURPLE_CONNECTION_ERROR_NETWORK_ERROR;
  return PURPLE_CONNECTION_ERROR_OTHER_ERROR;
}

char *
amm_purple_error_text (const GError *error, const char *host)
{
  const char *msg;
  PurpleConnectionError reason;

  if (error == NULL)
    return g_strdup ("Unknown error");

  msg = (error->message && *error->message) ? error->message : "Unknown error";
  reason = amm_purple_error_reason (error);

  if (reason >= PURPLE_CONNECTION_ERROR_CERT_NOT_PROVIDED
      && reason <= PURPLE_CONNECTION_ERROR_CERT_OTHER_ERROR
      && host && *host && strstr (msg, host) == NULL)
    return g_strdup_printf ("Certificate problem with %s: %s", host, msg);

  return g_strdup (msg);
}

void
amm_purple_connection_error (PurpleConnection *gc, const GError *error, const char *host)
{
  PurpleConnectionError reason = amm_purple_error_reason (error);
  g_autofree char *text = amm_purple_error_text (error, host);

  purple_debug_warning ("amm", "connection error (%s %d → reason %d): %s\n",
                        error ? g_quark_to_string (error->domain) : "none",
                        error ? error->code : -1, (int) reason, text);
  purple_connection_error_reason (gc, reason, text);
}
