/* amm-proxy.c: libpurple proxy settings → GProxyResolver (see amm-proxy.h). */
#include "amm-proxy.h"

#include <string.h>
#include <proxy.h>

GProxyResolver *
amm_proxy_resolver_for_account (PurpleAccount *account, char **description)
{
  PurpleProxyInfo *info = purple_proxy_get_setup (account);
  const char *scheme;
  const char *host;
  const char *user;
  const char *pass;
  int port;
  g_autofree char *userinfo = NULL;
  g_autofree char *uri = NULL;

  if (description)
    *description = g_strdup ("none");
  if (info == NULL)
    return NULL;

  switch (purple_proxy_info_get_type (info))
    {
    case PURPLE_PROXY_HTTP:   scheme = "http"; break;
    case PURPLE_PROXY_SOCKS4: scheme = "socks4"; break;
    case PURPLE_PROXY_SOCKS5: scheme = "socks5"; break;
    case PURPLE_PROXY_TOR:    scheme = "socks5"; break; /* GIO's SOCKS5 resolves names remotely */
    default:                  return NULL;              /* none, or an unset environment */
    }

  host = purple_proxy_info_get_host (info);
  if (host == NULL || *host == '\0')
    return NULL;
  port = purple_proxy_info_get_port (info);
  user = purple_proxy_info_get_username (info);
  pass = purple_proxy_info_get_password (info);

  if (user && *user)
    {
      g_autofree char *u = g_uri_escape_string (user, NULL, FALSE);
      g_autofree char *p = (pass && *pass) ? g_uri_escape_string (pass, NULL, FALSE) : NULL;
      userinfo = p ? g_strdup_printf ("%s:%s@", u, p) : g_strdup_printf ("%s@", u);
    }

  uri = g_strdup_printf ("%s://%s%s%s%s:%d", scheme, userinfo ? userinfo : "",
                         strchr (host, ':') ? "[" : "", host, strchr (host, ':') ? "]" : "",
                         port > 0 ? port : (g_str_equal (scheme, "http") ? 8080 : 1080));
  if (description)
    {
      g_free (*description);
      *description = g_strdup_printf ("%s://%s:%d%s", scheme, host, port,
                                      userinfo ? " (with credentials)" : "");
    }
  return g_simple_proxy_resolver_new (uri, NULL);
}
