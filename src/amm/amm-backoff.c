/* amm-backoff.c: see amm-backoff.h. */
#include "amm-backoff.h"

void
amm_backoff_init (AmmBackoff *b, guint base_ms, guint max_ms, guint max_attempts)
{
  b->base_ms = base_ms;
  b->max_ms = MAX (max_ms, base_ms);
  b->max_attempts = max_attempts;
  b->failures = 0;
}

gboolean
amm_backoff_fail (AmmBackoff *b)
{
  b->failures++;
  return b->max_attempts > 0 && b->failures >= b->max_attempts;
}

guint
amm_backoff_delay_ms (const AmmBackoff *b, guint min_ms)
{
  guint n = b->failures;
  guint64 d = b->base_ms;
  for (guint i = 0; i < n && d < b->max_ms; i++)
    d *= 2;
  d = MIN (d, (guint64) b->max_ms);
  d = (guint64) ((double) d * g_random_double_range (0.5, 1.0));
  return (guint) MAX (d, (guint64) min_ms);
}

void
amm_backoff_reset (AmmBackoff *b)
{
  b->failures = 0;
}
