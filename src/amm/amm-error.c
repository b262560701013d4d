/* amm-error.c: the AMM_ERROR domain. */
#include "amm-error.h"

#include <gio/gio.h>

G_DEFINE_QUARK (amm-error-quark, amm_error)

gboolean
amm_error_is_transient (const GError *error)
{
  if (error == NULL)
    return FALSE;

  if (error->domain == AMM_ERROR)
    {
      switch ((AmmErrorCode) error->code)
        {
        case AMM_ERROR_NETWORK:
        case AMM_ERROR_TIMEOUT:
        case AMM_ERROR_SERVER:
        case AMM_ERROR_RATE_LIMITED:
        case AMM_ERROR_CONNECTION_LOST:
          return TRUE;
        default:
          return FALSE;
        }
    }

  /* Errors straight from GIO, should one reach a caller unmapped. */
  if (error->domain == G_IO_ERROR)
    {
      switch (error->code)
        {
        case G_IO_ERROR_TIMED_OUT:
        case G_IO_ERROR_CONNECTION_REFUSED:
        case G_IO_ERROR_CONNECTION_CLOSED:
        case G_IO_ERROR_NETWORK_UNREACHABLE:
        case G_IO_ERROR_HOST_UNREACHABLE:
        case G_IO_ERROR_HOST_NOT_FOUND:
        case G_IO_ERROR_NOT_CONNECTED:
          return TRUE;
        default:
          return FALSE;
        }
    }

  if (error->domain == G_RESOLVER_ERROR)
    return error->code == G_RESOLVER_ERROR_TEMPORARY_FAILURE ||
           error->code == G_RESOLVER_ERROR_NOT_FOUND;

  return FALSE;
}
