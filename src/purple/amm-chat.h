/* amm-chat.h: AMM conversations with more than two participants as libpurple chats.
 *
 * Chat ids come from a counter; a table maps thread id <-> chat id (never a string hash).
 * A chat the user starts is a "draft" (no thread id) until its first message creates the
 * conversation on the server. Closing a chat window forgets the window only; leaving on the
 * server is the explicit /leave command or the buddy-list menu entry. */
#pragma once

#include <glib.h>
#include <blist.h>
#include <connection.h>
#include <conversation.h>
#include <plugin.h>
#include <roomlist.h>
#include "amm-connection.h"

G_BEGIN_DECLS

void amm_chat_init (AmmPurpleAccount *pa);
void amm_chat_cleanup (AmmPurpleAccount *pa);
/* plugin load/unload: the /leave command and libpurple signal handlers */
void amm_chat_plugin_load (PurplePlugin *plugin);
void amm_chat_plugin_unload (PurplePlugin *plugin);
/* libpurple's conversation signals exist only after the core is up: called at login, once. */
void amm_chat_connect_signals (PurplePlugin *plugin);

/* A message of the core's ::message-received: TRUE if it belongs to a group conversation
 * (and was handled here), FALSE for a 1:1 conversation (amm-im.c). */
gboolean amm_chat_message_received (AmmPurpleAccount *pa, AmmConversation *conv, AmmMessage *msg,
                                    gboolean from_self);
/* The core's ::conversation-changed. */
void amm_chat_conversation_changed (AmmPurpleAccount *pa, AmmConversation *conv);

/* The open chat of a thread, NULL if none. */
PurpleConversation *amm_chat_find_open (AmmPurpleAccount *pa, const char *thread_id);
/* The thread of a chat conversation (NULL for a draft or an unknown chat). */
const char *amm_chat_thread_of_conversation (PurpleConversation *conv);

/* PurplePluginProtocolInfo members */
GList      *amm_chat_info (PurpleConnection *gc);
GHashTable *amm_chat_info_defaults (PurpleConnection *gc, const char *name);
char       *amm_chat_get_name (GHashTable *components);
void        amm_chat_join (PurpleConnection *gc, GHashTable *components);
void        amm_chat_invite (PurpleConnection *gc, int id, const char *message, const char *who);
void        amm_chat_leave (PurpleConnection *gc, int id);
int         amm_chat_send (PurpleConnection *gc, int id, const char *message, PurpleMessageFlags flags);
void        amm_chat_set_topic (PurpleConnection *gc, int id, const char *topic);
GList      *amm_chat_blist_node_menu (PurpleBlistNode *node);

G_END_DECLS
