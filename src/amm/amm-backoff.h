/* amm-backoff.h: exponential back-off with jitter (docs/protocol.md §8).
 *
 * delay(n) = min(max, base × 2^n) × a random factor in [0.5, 1.0]; n counts failures in a row.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint base_ms;
  guint max_ms;
  guint max_attempts;
  guint failures;     /* failures in a row */
} AmmBackoff;

void     amm_backoff_init (AmmBackoff *b, guint base_ms, guint max_ms, guint max_attempts);
/* Record a failure; TRUE if the attempts are used up. */
gboolean amm_backoff_fail (AmmBackoff *b);
/* The delay before the next attempt: base × 2^failures, capped, jittered; at least `min_ms`. */
guint    amm_backoff_delay_ms (const AmmBackoff *b, guint min_ms);
void     amm_backoff_reset (AmmBackoff *b);

G_END_DECLS
