/* amm-settings.h: the account options (their keys are a contract with README and `make demo`)
 * and their translation into the core's AmmSettings. */
#pragma once

#include <glib.h>
#include <account.h>
#include "amm-client.h"

G_BEGIN_DECLS

#define AMM_OPT_SERVER        "server"         /* string, "" = the domain of the address */
#define AMM_OPT_PORT          "port"           /* int, default 8443 */
#define AMM_OPT_USE_TLS       "use-tls"        /* bool, default TRUE */
#define AMM_OPT_CA_FILE       "ca-file"        /* string, "" = system CAs only */
#define AMM_OPT_CERT_FINGERPRINT "cert-fingerprint" /* string, "" = none; SHA-256 of the one
                                                        server certificate to accept */
#define AMM_OPT_API_VERSION   "api-version"    /* list: auto, 3.2, 3, 2.1 */
#define AMM_OPT_POLL_INTERVAL "poll-interval"  /* int minutes, 0 = push */
#define AMM_OPT_REPORT_READ   "report-read"    /* bool, default TRUE: tell the server what was read */
#define AMM_OPT_TRUSTED_HOSTS "trusted-hosts"  /* string, "" = none: comma-separated host[:port]
                                                  that the server's links may point to */
#define AMM_OPT_CURSOR        "amm-cursor"     /* string: the sync cursor (not a user option) */

#define AMM_DEFAULT_API_VERSION "auto"

/* The account options for PurplePluginProtocolInfo.protocol_options. */
GList *amm_settings_account_options (void);

/* Validate the account's options and build the core settings. On a bad setting returns NULL
 * with an AMM_ERROR_INVALID_SETTINGS error that says which setting and why. */
AmmSettings *amm_settings_from_account (PurpleAccount *account, GError **error);

G_END_DECLS
