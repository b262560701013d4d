/* amm-conv-private.h: the state shared by amm-conversations.c, amm-read-marks.c and
 * amm-typing.c (one AmmConvState per AmmClient). Private to src/amm/. */
#pragma once

#include "amm-client-private.h"
#include "amm-conversations.h"

G_BEGIN_DECLS

struct _AmmConvState {
  /* amm-conversations.c */
  GHashTable *infos;             /* thread id → ConvInfo* */
  GHashTable *unread_delivered;  /* ids of messages delivered unread (set) */
  GHashTable *read_here;         /* ids this client marked read (set, bounded): never "message-read" */

  /* amm-read-marks.c */
  GQueue      read_queue;        /* char* message ids, oldest first */
  GHashTable *read_queued;       /* the same ids (set; the queue owns the strings) */
  guint       read_timer;
  guint       read_in_flight;

  /* amm-typing.c */
  GHashTable *typing_watched;    /* thread ids (set) */
  GHashTable *typing_out;        /* thread id → TypingOut* */
  GHashTable *typing_in;         /* "thread\naddress" → TypingIn* */
  guint       typing_expiry_ms;
  guint       typing_idle_ms;    /* own COMPOSING falls back to PAUSED after this much quiet */
};

/* amm-conversations.c */
/* The user read `message_id` on this client (amm_client_mark_read): no "message-read" for it,
 * whether it was delivered already or is being delivered right now (marked from within the
 * "message-received" handler, before the client records the delivery). */
void amm_conv_forget_unread (AmmClient *self, const char *message_id);

/* amm-read-marks.c */
void amm_read_marks_init (AmmConvState *st);
void amm_read_marks_stop (AmmConvState *st);
void amm_read_marks_clear (AmmConvState *st);

/* amm-typing.c */
void amm_typing_init (AmmConvState *st);
void amm_typing_stop (AmmConvState *st);
void amm_typing_clear (AmmConvState *st);
void amm_typing_message_arrived (AmmClient *self, const char *thread_id, const char *address);

G_END_DECLS
