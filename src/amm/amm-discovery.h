/* amm-discovery.h: discovery and version negotiation (docs/protocol.md §3).
 *
 * GET {base}/aem/resources with resources.v4 (406 → resources.v3 when negotiating), the
 * 3.2/3 detection, a forced version, the required members, and the sessionManagement
 * username check (logout + one more discovery on a mismatch).
 */
#pragma once

#include <libsoup/soup.h>
#include "amm-models.h"

G_BEGIN_DECLS

/* `want`: AMM_VERSION_AUTO negotiates; otherwise that version or AMM_ERROR_UNSUPPORTED.
 * `need_channel`: a 3.x document must announce a notification channel.
 * The result's `version` is the negotiated version. Cancelled by c1 or c2 (nullable). */
void          amm_discovery_run_async  (SoupSession *session, const char *base_url, const char *auth,
                                        const char *username, AmmVersion want, gboolean need_channel,
                                        GCancellable *c1, GCancellable *c2,
                                        GAsyncReadyCallback callback, gpointer user_data);
AmmResources *amm_discovery_run_finish (GAsyncResult *result, GError **error);

G_END_DECLS
