/* amm-roomlist.c: the room list = the user's active conversations (see amm-roomlist.h). */
#include "amm-roomlist.h"

#include <debug.h>
#include <notify.h>

#include "amm-buddy.h"
#include "amm-connection.h"
#include "amm-conversations.h"
#include "amm-errors.h"

typedef struct {
  AmmPurpleAccount *pa;
  PurpleRoomlist   *list;
} ListData;

static char *
participants_text (AmmPurpleAccount *pa, AmmConversation *conv)
{
  g_autoptr(GPtrArray) ents = amm_client_get_participants (pa->client, conv->id);
  GString *s = g_string_new (NULL);

  for (guint i = 0; ents && i < ents->len; i++)
    {
      AmmEntity *e = g_ptr_array_index (ents, i);
      g_autofree char *name = NULL;
      amm_buddy_remember_entity (pa, e);
      if (g_ascii_strcasecmp (e->address, pa->self_address) == 0)
        continue;
      name = amm_entity_display_name (e);
      if (s->len)
        g_string_append (s, ", ");
      g_string_append (s, name);
    }
  return g_string_free (s, FALSE);
}

static void
list_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ListData *ld = user_data;
  AmmPurpleAccount *pa = ld->pa;
  g_autoptr(GError) error = NULL;
  g_autoptr(AmmConversationList) list = NULL;

  list = amm_client_list_conversations_finish (AMM_CLIENT (source), result, &error);
  if (amm_purple_error_is_cancelled (error) || amm_purple_account_is_closed (pa))
    goto out;
  if (list == NULL)
    {
      g_autofree char *why = amm_purple_error_text (error, pa->host);
      purple_notify_error (pa->gc, "AMM conversations", "Could not list your conversations", why);
    }
  for (guint i = 0; list && i < list->conversations->len; i++)
    {
      AmmConversation *conv = g_ptr_array_index (list->conversations, i);
      g_autofree char *people = NULL;
      PurpleRoomlistRoom *room;

      if (!conv->active || conv->id == NULL)
        continue;
      people = participants_text (pa, conv);
      room = purple_roomlist_room_new (PURPLE_ROOMLIST_ROOMTYPE_ROOM,
                                       *conv->subject ? conv->subject : people, NULL);
      purple_roomlist_room_add_field (ld->list, room, conv->id);
      purple_roomlist_room_add_field (ld->list, room, conv->subject);
      purple_roomlist_room_add_field (ld->list, room, people);
      purple_roomlist_room_add_field (ld->list, room, GUINT_TO_POINTER (conv->unread_count));
      purple_roomlist_room_add (ld->list, room);
    }
  purple_roomlist_set_in_progress (ld->list, FALSE);
out:
  purple_roomlist_unref (ld->list);
  amm_purple_account_unref (pa);
  g_free (ld);
}

PurpleRoomlist *
amm_roomlist_get_list (PurpleConnection *gc)
{
  AmmPurpleAccount *pa = amm_purple_account_from_gc (gc);
  PurpleRoomlist *list;
  GList *fields = NULL;
  ListData *ld;

  if (pa == NULL || amm_purple_account_is_closed (pa) || pa->client == NULL)
    return NULL;
  list = purple_roomlist_new (pa->account);
  /* "thread" (hidden) is the join_chat component that reopens the conversation. */
  fields = g_list_append (fields, purple_roomlist_field_new (PURPLE_ROOMLIST_FIELD_STRING, "",
                                                             "thread", TRUE));
  fields = g_list_append (fields, purple_roomlist_field_new (PURPLE_ROOMLIST_FIELD_STRING,
                                                             "Subject", "subject", FALSE));
  fields = g_list_append (fields, purple_roomlist_field_new (PURPLE_ROOMLIST_FIELD_STRING,
                                                             "Participants", "participants", FALSE));
  fields = g_list_append (fields, purple_roomlist_field_new (PURPLE_ROOMLIST_FIELD_INT,
                                                             "Unread", "unread", FALSE));
  purple_roomlist_set_fields (list, fields);
  purple_roomlist_set_in_progress (list, TRUE);

  ld = g_new0 (ListData, 1);
  ld->pa = amm_purple_account_ref (pa);
  ld->list = list;
  purple_roomlist_ref (list);
  amm_client_list_conversations_async (pa->client, NULL, pa->cancellable, list_cb, ld);
  return list;
}
