/* amm-proxy.h: libpurple's proxy settings (account, else global) as a GProxyResolver for the
 * core's libsoup session. libsoup ignores libpurple's settings by itself; and the system
 * resolver looks proxies up in a worker thread for every connection (see platform-notes.md:
 * under Bitlbee -F that wake-up can be swallowed by the parent process). */
#pragma once

#include <gio/gio.h>
#include <account.h>

G_BEGIN_DECLS

/* NULL for direct connections (no proxy), else a GSimpleProxyResolver (owned by the caller).
 * *description (nullable) gets a loggable summary without credentials. */
GProxyResolver *amm_proxy_resolver_for_account (PurpleAccount *account, char **description);

G_END_DECLS
