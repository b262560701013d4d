/* amm-send.h: posting a message to the outbox when the outcome may be unknown
 * (docs/protocol.md §7, "Sending when the outcome is unknown").
 *
 * One concern: a send whose request may have reached the server before the connection died
 * (reset, timeout, an answer cut short) is neither shown twice nor silently lost. Before it is
 * sent again, the client looks for it on the server: a message from the user, with the same
 * body, event type and thread (or, for a new conversation, the same participants), received at
 * or after the sync cursor the send started with, and not already claimed by another send.
 * Found: that is the send's result. Not found: it is sent again (at most AMM_SEND_MAX_POSTS
 * posts in all). A definite answer (an HTTP error status) is reported, except 503 and 429
 * ("not processed, come back later"), which are posted again after Retry-After (at most 10 s)
 * within the same limit.
 * Private to the client core.
 */
#pragma once

#include "amm-client.h"

G_BEGIN_DECLS

#define AMM_SEND_MAX_POSTS 3

typedef struct {
  const char *json;          /* the request body */
  const char *content_type;  /* and its media type */
  const char *accept;
  const char *thread_id;     /* NULL: a new conversation */
  GPtrArray  *recipients;    /* char*, self included: who takes part in a new conversation */
  const char *body;          /* the message text, to recognise it */
  const char *event_type;    /* NULL: an ordinary MESSAGE */
} AmmSendRequest;

/* Post `req` for `task` (a GTask whose source object is `client`; it gets the stored
 * AmmMessage*). Counts as a send in flight (listings hold their own echoes) until it ends. */
void amm_send_outbox (AmmClient *client, GTask *task, const AmmSendRequest *req);

/* Test hook: the verification retries' budget (ms; 0 restores the default 30 s). */
void amm_send_set_verify_budget (guint ms);

G_END_DECLS
