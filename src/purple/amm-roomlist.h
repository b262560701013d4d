/* amm-roomlist.h: the room list: the user's active conversations (subject, participants,
 * unread count); picking one calls join_chat with its "thread". */
#pragma once

#include <connection.h>
#include <roomlist.h>

G_BEGIN_DECLS

PurpleRoomlist *amm_roomlist_get_list (PurpleConnection *gc);

G_END_DECLS
