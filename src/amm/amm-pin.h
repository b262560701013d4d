/* amm-pin.h: a pinned server certificate (account option "cert-fingerprint").
 *
 * With a pin the session trusts exactly one certificate: the one whose SHA-256 fingerprint (of
 * its DER encoding) is the pin, whatever its issuer; every other certificate is refused, even
 * one a system CA would accept. There is never a fallback to plain HTTP. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* "AB:CD:…" or "abcd…" (64 hex digits, colons, spaces allowed) → 64 lower-case hex digits.
 * NULL with G_IO_ERROR_INVALID_ARGUMENT when it is not a SHA-256 fingerprint. */
char *amm_pin_normalize (const char *text, GError **error);

/* The SHA-256 fingerprint of a certificate, "AB:CD:…" (upper case, colons). */
char *amm_pin_fingerprint (GTlsCertificate *cert);

/* A GTlsDatabase that accepts only the certificate with this fingerprint (normalized form). */
GTlsDatabase *amm_pin_database_new (const char *pin_hex);

G_END_DECLS
