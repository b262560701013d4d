/* amm-typing.h: typing notifications both ways.
 *
 * Out: IMs through send_typing (Pidgin, Finch and Bitlbee call it); chats through the
 * "chat-conversation-typing" signal (conv, PurpleTypingState) that the chat-typing helper
 * plugins emit (libpurple 2 has no chat typing callback; the signal is registered here when
 * nobody did). In: the core's ::typing → serv_got_typing (IMs) or PURPLE_CBFLAGS_TYPING on the
 * chat user (chats); AMM_TYPING_NONE (expiry) clears it. */
#pragma once

#include <glib.h>
#include <connection.h>
#include <conversation.h>
#include <plugin.h>
#include "amm-connection.h"

G_BEGIN_DECLS

void amm_purple_typing_init (AmmPurpleAccount *pa);
void amm_purple_typing_cleanup (AmmPurpleAccount *pa);
void amm_purple_typing_plugin_load (PurplePlugin *plugin);
void amm_purple_typing_plugin_unload (PurplePlugin *plugin);
/* Called at login, once: the chat typing signal. */
void amm_purple_typing_connect_signals (PurplePlugin *plugin);

/* Watch (or stop watching) the chatState of a conversation shown in a window. */
void amm_purple_typing_watch (AmmPurpleAccount *pa, const char *thread_id, gboolean watch);

/* PurplePluginProtocolInfo.send_typing / convo_closed */
unsigned int amm_purple_typing_send_im (PurpleConnection *gc, const char *name, PurpleTypingState state);
void         amm_purple_typing_convo_closed (PurpleConnection *gc, const char *who);

/* The core's ::typing. */
void amm_purple_typing_received (AmmPurpleAccount *pa, const char *thread_id, const char *address,
                          guint state);

G_END_DECLS
