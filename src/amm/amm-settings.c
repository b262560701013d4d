/* amm-settings.c: AmmSettings and AmmChannelKind helpers. */
#include <string.h>
#include "amm-client.h"
#include "amm-protocol.h"

AmmSettings *
amm_settings_new (void)
{
  AmmSettings *s = g_new0 (AmmSettings, 1);
  s->port = AMM_DEFAULT_PORT;
  s->use_tls = TRUE;
  s->version = AMM_VERSION_AUTO;
  return s;
}

AmmSettings *
amm_settings_copy (const AmmSettings *s)
{
  if (s == NULL)
    return NULL;
  AmmSettings *c = g_new0 (AmmSettings, 1);
  *c = *s;
  c->username = g_strdup (s->username);
  c->password = g_strdup (s->password);
  c->host = g_strdup (s->host);
  c->ca_file = g_strdup (s->ca_file);
  c->trusted_hosts = g_strdup (s->trusted_hosts);
  c->cert_fingerprint = g_strdup (s->cert_fingerprint);
  return c;
}

void
amm_settings_free (AmmSettings *s)
{
  if (s == NULL)
    return;
  g_free (s->username);
  if (s->password) {
    memset (s->password, 0, strlen (s->password));
    g_free (s->password);
  }
  g_free (s->host);
  g_free (s->ca_file);
  g_free (s->trusted_hosts);
  g_free (s->cert_fingerprint);
  g_free (s);
}

const char *
amm_channel_kind_to_string (AmmChannelKind kind)
{
  switch (kind) {
  case AMM_CHANNEL_NONE: return "none";
  case AMM_CHANNEL_WEBSOCKET: return "websocket";
  case AMM_CHANNEL_SSE: return "sse";
  case AMM_CHANNEL_LONG_POLL: return "long-poll";
  case AMM_CHANNEL_POLL: return "poll";
  }
  return "unknown";
}
