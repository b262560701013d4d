/* amm-pin.c: see amm-pin.h. */
#include "amm-pin.h"

#include <string.h>

char *
amm_pin_normalize (const char *text, GError **error)
{
  GString *hex = g_string_new (NULL);

  for (const char *p = text ? text : ""; *p; p++)
    {
      if (*p == ':' || *p == ' ' || *p == '\t')
        continue;
      if (!g_ascii_isxdigit (*p))
        break;
      g_string_append_c (hex, g_ascii_tolower (*p));
    }
  if (hex->len != 64 || strspn (text, "0123456789abcdefABCDEF: \t") != strlen (text))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "“%s” is not a SHA-256 certificate fingerprint (64 hexadecimal digits, "
                   "colons allowed)", text ? text : "");
      g_string_free (hex, TRUE);
      return NULL;
    }
  return g_string_free (hex, FALSE);
}

static char *
cert_sha256_hex (GTlsCertificate *cert)
{
  g_autoptr (GByteArray) der = NULL;

  if (cert == NULL)
    return NULL;
  g_object_get (cert, "certificate", &der, NULL);
  if (der == NULL)
    return NULL;
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, der->data, der->len);
}

char *
amm_pin_fingerprint (GTlsCertificate *cert)
{
  g_autofree char *hex = cert_sha256_hex (cert);
  GString *out;

  if (hex == NULL)
    return NULL;
  out = g_string_new (NULL);
  for (guint i = 0; hex[i]; i += 2)
    g_string_append_printf (out, "%s%c%c", i ? ":" : "", g_ascii_toupper (hex[i]),
                            g_ascii_toupper (hex[i + 1]));
  return g_string_free (out, FALSE);
}

/* --- the database ---------------------------------------------------------------------- */

#define AMM_TYPE_PIN_DATABASE (amm_pin_database_get_type ())
G_DECLARE_FINAL_TYPE (AmmPinDatabase, amm_pin_database, AMM, PIN_DATABASE, GTlsDatabase)

struct _AmmPinDatabase {
  GTlsDatabase parent;
  char        *pin;
};

G_DEFINE_TYPE (AmmPinDatabase, amm_pin_database, G_TYPE_TLS_DATABASE)

static GTlsCertificateFlags
pin_verify_chain (GTlsDatabase *db, GTlsCertificate *chain, const char *purpose,
                  GSocketConnectable *identity, GTlsInteraction *interaction,
                  GTlsDatabaseVerifyFlags flags, GCancellable *cancellable, GError **error)
{
  AmmPinDatabase *self = AMM_PIN_DATABASE (db);
  g_autofree char *hex = cert_sha256_hex (chain);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return G_TLS_CERTIFICATE_GENERIC_ERROR;
  /* the leaf certificate is the pinned one: trusted, whoever issued it */
  if (hex != NULL && self->pin != NULL && strcmp (hex, self->pin) == 0)
    return 0;
  return G_TLS_CERTIFICATE_UNKNOWN_CA;
}

static void
amm_pin_database_finalize (GObject *object)
{
  g_free (AMM_PIN_DATABASE (object)->pin);
  G_OBJECT_CLASS (amm_pin_database_parent_class)->finalize (object);
}

static void
amm_pin_database_class_init (AmmPinDatabaseClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = amm_pin_database_finalize;
  G_TLS_DATABASE_CLASS (klass)->verify_chain = pin_verify_chain;
}

static void
amm_pin_database_init (AmmPinDatabase *self)
{
}

GTlsDatabase *
amm_pin_database_new (const char *pin_hex)
{
  AmmPinDatabase *self = g_object_new (AMM_TYPE_PIN_DATABASE, NULL);
  self->pin = g_strdup (pin_hex);
  return G_TLS_DATABASE (self);
}
