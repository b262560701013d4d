/* amm-settings.c: account options → AmmSettings (see amm-settings.h). */
#include "amm-settings.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <accountopt.h>

#include "amm-pin.h"
#include "amm-http.h"
#include "amm-protocol.h"

static PurpleKeyValuePair *
kvp (const char *label, const char *value)
{
  PurpleKeyValuePair *p = g_new0 (PurpleKeyValuePair, 1);
  p->key = g_strdup (label);
  p->value = g_strdup (value);
  return p;
}

GList *
amm_settings_account_options (void)
{
  GList *opts = NULL;
  GList *versions = NULL;

  opts = g_list_append (opts, purple_account_option_string_new (
      "Server (empty: the domain of the address)", AMM_OPT_SERVER, ""));
  opts = g_list_append (opts, purple_account_option_int_new ("Port", AMM_OPT_PORT, AMM_DEFAULT_PORT));
  opts = g_list_append (opts, purple_account_option_bool_new ("Use TLS (HTTPS)", AMM_OPT_USE_TLS, TRUE));
  opts = g_list_append (opts, purple_account_option_string_new (
      "Extra trusted CA certificates (PEM file)", AMM_OPT_CA_FILE, ""));
  opts = g_list_append (opts, purple_account_option_string_new (
      "Pinned certificate SHA-256 fingerprint (only this certificate is accepted)",
      AMM_OPT_CERT_FINGERPRINT, ""));

  /* The first entry is the default. */
  versions = g_list_append (versions, kvp ("Automatic", AMM_DEFAULT_API_VERSION));
  versions = g_list_append (versions, kvp ("3.2", "3.2"));
  versions = g_list_append (versions, kvp ("3", "3"));
  versions = g_list_append (versions, kvp ("2.1", "2.1"));
  opts = g_list_append (opts, purple_account_option_list_new ("API version", AMM_OPT_API_VERSION, versions));

  opts = g_list_append (opts, purple_account_option_int_new (
      "Poll interval in minutes (0: push)", AMM_OPT_POLL_INTERVAL, 0));
  opts = g_list_append (opts, purple_account_option_bool_new (
      "Tell the server which messages I have read", AMM_OPT_REPORT_READ, TRUE));
  opts = g_list_append (opts, purple_account_option_string_new (
      "Other trusted hosts of this deployment (host[:port], comma-separated)", AMM_OPT_TRUSTED_HOSTS, ""));
  return opts;
}

static char *
resolve_ca_path (const char *path)
{
  if (g_str_has_prefix (path, "~/"))
    return g_build_filename (g_get_home_dir (), path + 2, NULL);
  if (!g_path_is_absolute (path))
    {
      g_autofree char *cwd = g_get_current_dir ();
      return g_canonicalize_filename (path, cwd);
    }
  return g_strdup (path);
}

AmmSettings *
amm_settings_from_account (PurpleAccount *account, GError **error)
{
  g_autoptr(AmmSettings) s = amm_settings_new ();
  const char *username = purple_account_get_username (account);
  const char *password = purple_account_get_password (account);
  const char *server = purple_account_get_string (account, AMM_OPT_SERVER, "");
  int port = purple_account_get_int (account, AMM_OPT_PORT, AMM_DEFAULT_PORT);
  const char *ca_file = purple_account_get_string (account, AMM_OPT_CA_FILE, "");
  const char *version = purple_account_get_string (account, AMM_OPT_API_VERSION, AMM_DEFAULT_API_VERSION);
  int poll = purple_account_get_int (account, AMM_OPT_POLL_INTERVAL, 0);
  g_autofree char *host = NULL;
  const char *at;

  if (username == NULL || *username == '\0')
    {
      g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS, "The AMM address is empty");
      return NULL;
    }
  at = strrchr (username, '@');

  host = g_strstrip (g_strdup (server ? server : ""));
  if (*host == '\0')
    {
      if (at == NULL || at[1] == '\0')
        {
          g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS,
                       "The address “%s” has no domain part (user@domain) and no server is set",
                       username);
          return NULL;
        }
      g_free (host);
      host = g_strdup (at + 1);
    }
  if (strpbrk (host, "/ \t\r\n") != NULL)
    {
      g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS,
                   "The server “%s” is not a host name (give the port in the Port option)", host);
      return NULL;
    }

  if (port <= 0 || port > 65535)
    {
      g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS,
                   "The port %d is not a valid port number (1–65535)", port);
      return NULL;
    }

  if (poll < 0)
    {
      g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS,
                   "The poll interval %d is negative (0 means push notifications)", poll);
      return NULL;
    }

  if (version == NULL || *version == '\0')
    version = AMM_DEFAULT_API_VERSION;
  if (!amm_version_from_string (version, &s->version))
    {
      g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS,
                   "Unknown API version “%s” (auto, 3.2, 3 or 2.1)", version);
      return NULL;
    }

  {
    const char *raw_pin = purple_account_get_string (account, AMM_OPT_CERT_FINGERPRINT, "");
    g_autofree char *pin = g_strstrip (g_strdup (raw_pin ? raw_pin : ""));
    g_clear_pointer (&s->cert_fingerprint, g_free);
    if (*pin != '\0')
      {
        g_autoptr(GError) local = NULL;
        s->cert_fingerprint = amm_pin_normalize (pin, &local);
        if (s->cert_fingerprint == NULL)
          {
            g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS,
                         "Certificate fingerprint: %s", local->message);
            return NULL;
          }
      }
  }

  g_clear_pointer (&s->ca_file, g_free);
  if (ca_file && *ca_file)
    {
      g_autofree char *path = resolve_ca_path (ca_file);
      if (g_access (path, R_OK) != 0 || !g_file_test (path, G_FILE_TEST_IS_REGULAR))
        {
          int errsv = errno;
          g_set_error (error, AMM_ERROR, AMM_ERROR_INVALID_SETTINGS,
                       "The CA file “%s” cannot be read: %s", path,
                       errsv ? g_strerror (errsv) : "not a regular file");
          return NULL;
        }
      s->ca_file = g_steal_pointer (&path);
    }

  {
    const char *trusted = purple_account_get_string (account, AMM_OPT_TRUSTED_HOSTS, "");
    g_autofree char *list = g_strstrip (g_strdup (trusted ? trusted : ""));
    g_autoptr(GError) local = NULL;

    if (!amm_http_trusted_hosts_validate (list, &local))
      {
        g_propagate_error (error, g_steal_pointer (&local));
        return NULL;
      }
    g_free (s->trusted_hosts);
    s->trusted_hosts = *list ? g_steal_pointer (&list) : NULL;
  }

  g_free (s->username);
  s->username = g_strdup (username);
  g_free (s->password);
  s->password = g_strdup (password ? password : "");
  g_free (s->host);
  s->host = g_steal_pointer (&host);
  s->port = (guint16) port;
  s->use_tls = purple_account_get_bool (account, AMM_OPT_USE_TLS, TRUE);
  s->poll_minutes = (guint) poll;

  return g_steal_pointer (&s);
}
