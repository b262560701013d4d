/* amm-typing.c: typing notifications both ways (see amm-typing.h). */
#include "amm-typing.h"

#include <account.h>
#include <debug.h>
#include <server.h>

#include "amm-chat.h"
#include "amm-conversations.h"

#define AMM_PRPL_ID "prpl-amm"
#define CHAT_TYPING_SIGNAL "chat-conversation-typing"
/* Safety timeout of an incoming "typing" in an IM; the core sends NONE after 60 s. */
#define IM_TYPING_TIMEOUT_S 65
/* Pidgin re-sends PURPLE_TYPING after this many seconds while the user keeps typing. */
#define TYPE_AGAIN_S 4

void
amm_purple_typing_init (AmmPurpleAccount *pa)
{
  pa->typing_watched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

void
amm_purple_typing_cleanup (AmmPurpleAccount *pa)
{
  g_clear_pointer (&pa->typing_watched, g_hash_table_unref);
}

void
amm_purple_typing_watch (AmmPurpleAccount *pa, const char *thread_id, gboolean watch)
{
  if (pa->typing_watched == NULL || thread_id == NULL || pa->client == NULL)
    return;
  if (watch == g_hash_table_contains (pa->typing_watched, thread_id))
    return;
  if (watch)
    g_hash_table_add (pa->typing_watched, g_strdup (thread_id));
  else
    g_hash_table_remove (pa->typing_watched, thread_id);
  amm_client_watch_typing (pa->client, thread_id, watch);
}

static AmmTypingState
from_purple (PurpleTypingState state)
{
  switch (state)
    {
    case PURPLE_TYPING:
      return AMM_TYPING_COMPOSING;
    case PURPLE_TYPED:
      return AMM_TYPING_PAUSED;
    default:
      return AMM_TYPING_NONE;
    }
}

/* The 1:1 conversation with `who`, NULL if there is none yet. */
static const char *
direct_thread (AmmPurpleAccount *pa, const char *who)
{
  g_autofree char *key = amm_purple_normalize_address (who);
  AmmConversation *conv = amm_client_find_direct_conversation (pa->client, who);

  if (conv && conv->id)
    return conv->id;
  return pa->direct_threads ? g_hash_table_lookup (pa->direct_threads, key) : NULL;
}

unsigned int
amm_purple_typing_send_im (PurpleConnection *gc, const char *name, PurpleTypingState state)
{
  AmmPurpleAccount *pa = amm_purple_account_from_gc (gc);
  const char *thread;

  if (pa == NULL || amm_purple_account_is_closed (pa) || pa->client == NULL)
    return 0;
  thread = direct_thread (pa, name);
  if (thread == NULL)
    return 0;  /* no conversation yet: nothing to tell */
  amm_purple_typing_watch (pa, thread, TRUE);
  amm_client_send_typing (pa->client, thread, from_purple (state));
  return state == PURPLE_TYPING ? TYPE_AGAIN_S : 0;
}

void
amm_purple_typing_convo_closed (PurpleConnection *gc, const char *who)
{
  AmmPurpleAccount *pa = amm_purple_account_from_gc (gc);
  const char *thread;

  if (pa == NULL || amm_purple_account_is_closed (pa) || pa->client == NULL)
    return;
  thread = direct_thread (pa, who);
  if (thread)
    amm_purple_typing_watch (pa, thread, FALSE);
}

void
amm_purple_typing_received (AmmPurpleAccount *pa, const char *thread_id, const char *address, guint state)
{
  PurpleConversation *c;
  g_autofree char *peer = NULL;

  if (amm_purple_account_is_closed (pa) || address == NULL || thread_id == NULL)
    return;
  if (g_ascii_strcasecmp (address, pa->self_address) == 0)
    return;

  c = amm_chat_find_open (pa, thread_id);
  if (c)
    {
      PurpleConvChat *chat = PURPLE_CONV_CHAT (c);
      PurpleConvChatBuddy *cb = purple_conv_chat_cb_find (chat, address);
      PurpleConvChatBuddyFlags flags;

      if (cb == NULL)
        return;
      flags = cb->flags;
      if (state == AMM_TYPING_COMPOSING)
        flags |= PURPLE_CBFLAGS_TYPING;
      else
        flags &= ~PURPLE_CBFLAGS_TYPING;
      if (flags != cb->flags)
        purple_conv_chat_user_set_flags (chat, address, flags);
      return;
    }

  peer = amm_purple_normalize_address (address);
  switch (state)
    {
    case AMM_TYPING_COMPOSING:
      serv_got_typing (pa->gc, peer, IM_TYPING_TIMEOUT_S, PURPLE_TYPING);
      break;
    case AMM_TYPING_PAUSED:
      serv_got_typing (pa->gc, peer, IM_TYPING_TIMEOUT_S, PURPLE_TYPED);
      break;
    default:
      serv_got_typing_stopped (pa->gc, peer);
      break;
    }
}

/* --- chats: the "chat-conversation-typing" signal ----------------------------------------- */

static gboolean registered_signal;

static gpointer
on_chat_typing (PurpleConversation *conv, PurpleTypingState state, gpointer data)
{
  PurpleAccount *account = conv ? purple_conversation_get_account (conv) : NULL;
  AmmPurpleAccount *pa;
  const char *thread;

  if (account == NULL || g_strcmp0 (purple_account_get_protocol_id (account), AMM_PRPL_ID) != 0
      || purple_conversation_get_type (conv) != PURPLE_CONV_TYPE_CHAT)
    return NULL;
  pa = amm_purple_account_from_gc (purple_account_get_connection (account));
  if (pa == NULL || amm_purple_account_is_closed (pa) || pa->client == NULL)
    return NULL;
  thread = amm_chat_thread_of_conversation (conv);
  if (thread == NULL)
    return NULL;
  amm_client_send_typing (pa->client, thread, from_purple (state));
  /* the emitter reads GPOINTER_TO_UINT: seconds until it sends PURPLE_TYPING again */
  return GUINT_TO_POINTER (state == PURPLE_TYPING ? TYPE_AGAIN_S : 0);
}

void
amm_purple_typing_plugin_load (PurplePlugin *plugin)
{
}

void
amm_purple_typing_connect_signals (PurplePlugin *plugin)
{
  void *handle = purple_conversations_get_handle ();

  if (registered_signal)
    return;

  /* libpurple 2 cannot tell whether a signal exists without a critical, so the signal is
   * registered here, at the first login (after UI and helper plugins are loaded; a helper that
   * registers it again later takes it over). */
  purple_signal_register (handle, CHAT_TYPING_SIGNAL, purple_marshal_POINTER__POINTER_INT,
                          purple_value_new (PURPLE_TYPE_POINTER), 2,
                          purple_value_new (PURPLE_TYPE_SUBTYPE, PURPLE_SUBTYPE_CONVERSATION),
                          purple_value_new (PURPLE_TYPE_INT));
  registered_signal = TRUE;
  purple_signal_connect (handle, CHAT_TYPING_SIGNAL, plugin, PURPLE_CALLBACK (on_chat_typing), NULL);
}

void
amm_purple_typing_plugin_unload (PurplePlugin *plugin)
{
  /* The signal stays registered: at quit libpurple has already dropped the conversation
   * signals (purple_conversations_uninit runs before plugins unload). The handler is
   * disconnected: a reload connects it again (as amm-chat.c and amm-read.c do). */
  purple_signals_disconnect_by_handle (plugin);
  registered_signal = FALSE;
}
