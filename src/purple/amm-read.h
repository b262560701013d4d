/* amm-read.h: read state.
 *
 * A message delivered unread is marked read on the server (amm_client_mark_read, batched by the
 * core) once the user has seen it: at once when the conversation has focus, else when the UI
 * clears the conversation's unseen state (Pidgin and Finch: "conversation-updated" with
 * PURPLE_CONV_UPDATE_UNSEEN and "unseen-count" 0 on focus). A UI with no notion of focus
 * (Bitlbee, no has_focus) sees what is delivered. Account option "report-read" turns reporting
 * off. Messages read on another device (the core's ::message-read) clear the unseen state. */
#pragma once

#include <glib.h>
#include <conversation.h>
#include <plugin.h>
#include "amm-connection.h"

G_BEGIN_DECLS

void amm_read_init (AmmPurpleAccount *pa);
void amm_read_cleanup (AmmPurpleAccount *pa);
void amm_read_plugin_load (PurplePlugin *plugin);
void amm_read_plugin_unload (PurplePlugin *plugin);
/* Called at login, once (libpurple's conversation signals exist only after the core is up). */
void amm_read_connect_signals (PurplePlugin *plugin);

/* `msg` (of thread `thread_id`) was shown in `pconv`. */
void amm_read_delivered (AmmPurpleAccount *pa, PurpleConversation *pconv, const char *thread_id,
                         AmmMessage *msg);
/* The core's ::message-read. */
void amm_read_message_read (AmmPurpleAccount *pa, AmmConversation *conv, AmmMessage *msg);

G_END_DECLS
