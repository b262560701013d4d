/* amm-im.h: one-to-one messages: sending (send_im, ordered per peer) and delivering
 * incoming messages into libpurple. */
#pragma once

#include <glib.h>
#include <connection.h>
#include <conversation.h>
#include "amm-connection.h"

G_BEGIN_DECLS

void amm_im_init (AmmPurpleAccount *pa);
/* Drops the queued (not yet started) sends, writing each one's text into its IM as not
 * delivered. The send in flight finishes (cancelled) on its own. */
void amm_im_cleanup (AmmPurpleAccount *pa);

/* PurplePluginProtocolInfo.send_im */
int amm_im_send (PurpleConnection *gc, const char *who, const char *message, PurpleMessageFlags flags);

/* The core's ::message-received. */
void amm_im_message_received (AmmPurpleAccount *pa, AmmConversation *conv, AmmMessage *msg,
                              gboolean from_self);

G_END_DECLS
