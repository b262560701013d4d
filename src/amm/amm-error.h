/* amm-error.h: the one GError domain of the AMM client core. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define AMM_ERROR (amm_error_quark ())
GQuark amm_error_quark (void);

typedef enum {
  AMM_ERROR_NETWORK,          /* unreachable, refused, reset, DNS: transient */
  AMM_ERROR_TIMEOUT,          /* no answer in time: transient */
  AMM_ERROR_SERVER,           /* 5xx: transient */
  AMM_ERROR_RATE_LIMITED,     /* 429: transient */
  AMM_ERROR_AUTH,             /* 401 / 403 on discovery: wrong credentials */
  AMM_ERROR_TLS,              /* certificate not trusted, handshake failed */
  AMM_ERROR_NOT_ACCEPTABLE,   /* 406: media type / version not offered */
  AMM_ERROR_UNSUPPORTED,      /* no API version both sides speak */
  AMM_ERROR_REJECTED,         /* other 4xx: the server refused the request */
  AMM_ERROR_NOT_FOUND,        /* 404 */
  AMM_ERROR_FORBIDDEN,        /* 403 outside discovery: not a participant */
  AMM_ERROR_TOO_LARGE,        /* 413, or a response over the size cap */
  AMM_ERROR_MALFORMED,        /* not JSON, missing member, wrong type */
  AMM_ERROR_INVALID_SETTINGS, /* bad host/port/CA file, not an AMM server */
  AMM_ERROR_CONNECTION_LOST,  /* the notification channel could not be restored */
} AmmErrorCode;

/* TRUE for errors a later retry may cure (network, timeout, 5xx, 429, lost channel). */
gboolean amm_error_is_transient (const GError *error);

G_END_DECLS
