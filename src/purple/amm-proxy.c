/* amm-proxy.c: libpurple proxy settings → GProxyResolver (see amm-proxy.h). */
#include "amm-proxy.h"

#include <string.h>
#include <proxy.h>

static const char *
env_first (const char *a, const char *b)
{
  const char *v = g_getenv (a);
  if (v == NULL || *v == '\0')
    v = g_getenv (b);
  return (v && *v) ? v : NULL;
}

/* A proxy URL from the environment, with a scheme ("host:3128" means http://host:3128). */
static char *
env_proxy_uri (const char *value)
{
  if (value == NULL)
    return NULL;
  if (strstr (value, "://") == NULL)
    return g_strconcat ("http://", value, NULL);
  return g_strdup (value);
}

static char *
strip_credentials (const char *uri)
{
  g_autoptr(GUri) u = g_uri_parse (uri, G_URI_FLAGS_NONE, NULL);
  if (u == NULL)
    return g_strdup ("(unparsable)");
  return g_strdup_printf ("%s://%s:%d%s", g_uri_get_scheme (u), g_uri_get_host (u),
                          g_uri_get_port (u), g_uri_get_userinfo (u) ? " (with credentials)" : "");
}

/* "Use environmental settings": https_proxy for https:// and wss://, http_proxy for http:// and
 * ws://, all_proxy as the default, no_proxy as hosts to reach directly. Without any of them:
 * direct connections. (libpurple's own reading of the environment knows http_proxy only.) */
static GProxyResolver *
resolver_from_environment (char **description)
{
  g_autofree char *https = env_proxy_uri (env_first ("https_proxy", "HTTPS_PROXY"));
  g_autofree char *http = env_proxy_uri (env_first ("http_proxy", "HTTP_PROXY"));
  g_autofree char *all = env_proxy_uri (env_first ("all_proxy", "ALL_PROXY"));
  const char *no_proxy = env_first ("no_proxy", "NO_PROXY");
  g_auto(GStrv) ignore = NULL;
  GProxyResolver *resolver;
  GString *desc;

  if (https == NULL && http == NULL && all == NULL)
    return NULL;
  if (no_proxy)
    {
      ignore = g_strsplit (no_proxy, ",", -1);
      for (guint i = 0; ignore[i]; i++)
        g_strstrip (ignore[i]);
    }
  resolver = g_simple_proxy_resolver_new (all, ignore);
  desc = g_string_new ("environment:");
  if (https)
    {
      g_autofree char *d = strip_credentials (https);
      g_simple_proxy_resolver_set_uri_proxy (G_SIMPLE_PROXY_RESOLVER (resolver), "https", https);
      g_simple_proxy_resolver_set_uri_proxy (G_SIMPLE_PROXY_RESOLVER (resolver), "wss", https);
      g_string_append_printf (desc, " https %s", d);
    }
  if (http)
    {
      g_autofree char *d = strip_credentials (http);
      g_simple_proxy_resolver_set_uri_proxy (G_SIMPLE_PROXY_RESOLVER (resolver), "http", http);
      g_simple_proxy_resolver_set_uri_proxy (G_SIMPLE_PROXY_RESOLVER (resolver), "ws", http);
      g_string_append_printf (desc, " http %s", d);
    }
  if (all)
    {
      g_autofree char *d = strip_credentials (all);
      g_string_append_printf (desc, " all %s", d);
    }
  if (no_proxy)
    g_string_append_printf (desc, " (no_proxy %s)", no_proxy);
  if (description)
    {
      g_free (*description);
      *description = g_string_free (desc, FALSE);
    }
  else
    g_string_free (desc, TRUE);
  return resolver;
}

GProxyResolver *
amm_proxy_resolver_for_account (PurpleAccount *account, char **description)
{
  PurpleProxyInfo *own = purple_account_get_proxy_info (account);
  PurpleProxyInfo *info;

  /* The account's setting, else the global one; "use environment" is read here rather than by
   * purple_proxy_get_setup(), which knows only http_proxy. */
  if (own == NULL || purple_proxy_info_get_type (own) == PURPLE_PROXY_USE_GLOBAL)
    own = purple_global_proxy_get_info ();
  if (own != NULL && purple_proxy_info_get_type (own) == PURPLE_PROXY_USE_ENVVAR)
    {
      if (description)
        *description = g_strdup ("environment: none set");
      return resolver_from_environment (description);
    }
  info = purple_proxy_get_setup (account);
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
