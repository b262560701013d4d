/* amm-time.c: ISO-8601 helpers (see amm-time.h). */
#include "amm-time.h"

#include <string.h>

#include "amm-error.h"

GDateTime *
amm_time_parse (const char *iso, GError **error)
{
  GDateTime *dt = NULL;

  /* g_date_time_new_from_iso8601 with a NULL default zone rejects times without a zone. */
  if (iso != NULL && *iso != '\0' && g_utf8_validate (iso, -1, NULL))
    dt = g_date_time_new_from_iso8601 (iso, NULL);
  if (dt == NULL)
    {
      if (iso == NULL)
        g_set_error_literal (error, AMM_ERROR, AMM_ERROR_MALFORMED, "missing timestamp");
      else
        {
          g_autofree char *shown = g_utf8_make_valid (iso, MIN (strlen (iso), 64));
          g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED,
                       "invalid ISO-8601 timestamp \"%s\"", shown);
        }
    }
  return dt;
}

char *
amm_time_format (GDateTime *dt)
{
  g_autoptr (GDateTime) utc = NULL;
  g_autofree char *head = NULL;

  if (dt == NULL)
    return NULL;
  utc = g_date_time_to_utc (dt);
  if (utc == NULL)
    return NULL;
  head = g_date_time_format (utc, "%Y-%m-%dT%H:%M:%S");
  if (head == NULL)
    return NULL;
  return g_strdup_printf ("%s.%03dZ", head, g_date_time_get_microsecond (utc) / 1000);
}

char *
amm_time_format_now (void)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  return amm_time_format (now);
}

char *
amm_time_normalize (const char *iso, GError **error)
{
  g_autoptr (GDateTime) dt = amm_time_parse (iso, error);

  if (dt == NULL)
    return NULL;
  return amm_time_format (dt);
}

gint64
amm_time_to_unix_ms (GDateTime *dt)
{
  g_return_val_if_fail (dt != NULL, 0);
  /* the microsecond part is always in [0, 1e6), so this floors */
  return g_date_time_to_unix (dt) * 1000 + g_date_time_get_microsecond (dt) / 1000;
}

GDateTime *
amm_time_from_unix_ms (gint64 ms)
{
  gint64 secs = ms / 1000;
  gint64 rem = ms % 1000;
  g_autoptr (GDateTime) whole = NULL;

  if (rem < 0)
    {
      rem += 1000;
      secs -= 1;
    }
  whole = g_date_time_new_from_unix_utc (secs);
  if (whole == NULL)
    return NULL;
  return g_date_time_add (whole, rem * G_TIME_SPAN_MILLISECOND);
}

GDateTime *
amm_time_add_ms (GDateTime *dt, gint64 ms)
{
  g_return_val_if_fail (dt != NULL, NULL);
  if (ms > G_MAXINT64 / G_TIME_SPAN_MILLISECOND || ms < G_MININT64 / G_TIME_SPAN_MILLISECOND)
    return NULL;
  return g_date_time_add (dt, ms * G_TIME_SPAN_MILLISECOND);
}

char *
amm_time_string_add_ms (const char *iso, gint64 ms, GError **error)
{
  g_autoptr (GDateTime) dt = amm_time_parse (iso, error);
  g_autoptr (GDateTime) later = NULL;

  if (dt == NULL)
    return NULL;
  later = amm_time_add_ms (dt, ms);
  if (later == NULL)
    {
      g_set_error_literal (error, AMM_ERROR, AMM_ERROR_MALFORMED, "timestamp out of range");
      return NULL;
    }
  return amm_time_format (later);
}

int
amm_time_compare (GDateTime *a, GDateTime *b)
{
  if (a == NULL || b == NULL)
    return (a != NULL) - (b != NULL);
  return g_date_time_compare (a, b);
}

int
amm_time_compare_strings (const char *a, const char *b)
{
  g_autoptr (GDateTime) da = amm_time_parse (a, NULL);
  g_autoptr (GDateTime) db = amm_time_parse (b, NULL);

  return amm_time_compare (da, db);
}
