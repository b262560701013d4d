/* amm-chat.c: group conversations as libpurple chats (see amm-chat.h). */
#include "amm-chat.h"

#include <errno.h>
#include <string.h>
#include <account.h>
#include <cmds.h>
#include <debug.h>
#include <notify.h>
#include <prpl.h>
#include <server.h>
#include <version.h>

#include "amm-buddy.h"
#include "amm-conversations.h"
#include "amm-errors.h"
#include "amm-markup.h"
#include "amm-read.h"
#include "amm-typing.h"
#include "amm-xfer.h"

#if !PURPLE_VERSION_CHECK(2, 12, 0)
#define PURPLE_MESSAGE_REMOTE_SEND 0x10000
#endif

#define AMM_PRPL_ID "prpl-amm"
/* the client's cache holds as many of each conversation's newest messages */
#define HISTORY_ON_OPEN AMM_CLIENT_CACHED_MESSAGES

typedef struct {
  int        id;
  char      *thread_id;  /* NULL while a draft */
  char      *name;       /* the libpurple conversation name: the thread id, or amm-new-N */
  char      *subject;
  GPtrArray *draft_to;   /* of char*: participants of a draft, self not included */
  gboolean   left;       /* left on the server */
  gboolean   closed;     /* closed on the server: read-only */
  GQueue     sends;      /* of char*: texts waiting to be sent, in order */
  gboolean   busy;       /* one send in flight */
} AmmChat;

struct _AmmChats {
  GHashTable *by_id;      /* GINT_TO_POINTER (id) → AmmChat* (owned) */
  GHashTable *by_thread;  /* thread id → AmmChat* */
};

static void
chat_free (AmmChat *chat)
{
  g_free (chat->thread_id);
  g_free (chat->name);
  g_free (chat->subject);
  if (chat->draft_to)
    g_ptr_array_unref (chat->draft_to);
  g_queue_clear_full (&chat->sends, g_free);
  g_free (chat);
}

void
amm_chat_init (AmmPurpleAccount *pa)
{
  pa->chats = g_new0 (struct _AmmChats, 1);
  pa->chats->by_id = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                            (GDestroyNotify) chat_free);
  pa->chats->by_thread = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

void
amm_chat_cleanup (AmmPurpleAccount *pa)
{
  if (pa->chats == NULL)
    return;
  g_hash_table_unref (pa->chats->by_thread);
  g_hash_table_unref (pa->chats->by_id);
  g_clear_pointer (&pa->chats, g_free);
}

static gboolean
is_amm_account (PurpleAccount *account)
{
  return account && g_strcmp0 (purple_account_get_protocol_id (account), AMM_PRPL_ID) == 0;
}

static AmmPurpleAccount *
pa_of_conversation (PurpleConversation *conv)
{
  PurpleAccount *account = conv ? purple_conversation_get_account (conv) : NULL;
  AmmPurpleAccount *pa;

  if (!is_amm_account (account))
    return NULL;
  pa = amm_purple_account_from_gc (purple_account_get_connection (account));
  return (pa && !amm_purple_account_is_closed (pa) && pa->chats) ? pa : NULL;
}

static AmmChat *
chat_by_id (AmmPurpleAccount *pa, int id)
{
  return pa && pa->chats ? g_hash_table_lookup (pa->chats->by_id, GINT_TO_POINTER (id)) : NULL;
}

static AmmChat *
chat_by_thread (AmmPurpleAccount *pa, const char *thread_id)
{
  return pa && pa->chats && thread_id ? g_hash_table_lookup (pa->chats->by_thread, thread_id) : NULL;
}

/* Chat ids are unique in the process, never reused: libpurple keeps the windows of left
 * chats (and those of a previous connection of the account) with their ids, and
 * purple_find_chat() finds them too. */
static int chat_next_id;

/* The chat's open window: NULL when there is none, when the window found by id has left
 * (a previous connection's, or after /leave), or when it is another conversation's. */
static PurpleConversation *
open_window (AmmPurpleAccount *pa, AmmChat *chat)
{
  PurpleConversation *c;

  if (pa == NULL || pa->gc == NULL || chat == NULL)
    return NULL;
  c = purple_find_chat (pa->gc, chat->id);
  if (c == NULL || purple_conv_chat_has_left (PURPLE_CONV_CHAT (c))
      || g_strcmp0 (purple_conversation_get_name (c), chat->name) != 0)
    return NULL;
  return c;
}

static AmmChat *
chat_new (AmmPurpleAccount *pa, const char *thread_id, const char *subject)
{
  AmmChat *chat = g_new0 (AmmChat, 1);

  chat->id = ++chat_next_id;
  chat->thread_id = g_strdup (thread_id);
  chat->name = thread_id ? g_strdup (thread_id) : g_strdup_printf ("amm-new-%d", chat->id);
  chat->subject = g_strdup (subject ? subject : "");
  g_queue_init (&chat->sends);
  g_hash_table_insert (pa->chats->by_id, GINT_TO_POINTER (chat->id), chat);
  if (thread_id)
    g_hash_table_insert (pa->chats->by_thread, g_strdup (thread_id), chat);
  return chat;
}

static gboolean
same_address (const char *a, const char *b)
{
  return a && b && g_ascii_strcasecmp (a, b) == 0;
}

static void
add_unique (GPtrArray *list, const char *address)
{
  if (address == NULL || *address == '\0')
    return;
  for (guint i = 0; i < list->len; i++)
    if (same_address (g_ptr_array_index (list, i), address))
      return;
  g_ptr_array_add (list, g_strdup (address));
}

/* The participant addresses (self included) of a chat as the core knows them. */
static GPtrArray *
chat_participants (AmmPurpleAccount *pa, AmmChat *chat)
{
  GPtrArray *list = g_ptr_array_new_with_free_func (g_free);

  add_unique (list, pa->self_address);
  if (chat->thread_id)
    {
      g_autoptr(GPtrArray) ents = amm_client_get_participants (pa->client, chat->thread_id);
      for (guint i = 0; ents && i < ents->len; i++)
        {
          AmmEntity *e = g_ptr_array_index (ents, i);
          amm_buddy_remember_entity (pa, e);
          add_unique (list, e->address);
        }
    }
  for (guint i = 0; chat->draft_to && i < chat->draft_to->len; i++)
    add_unique (list, g_ptr_array_index (chat->draft_to, i));
  return list;
}

/* --- writing into a chat ------------------------------------------------------------------ */

static void
write_system (PurpleConversation *c, const char *text, time_t when)
{
  g_autofree char *html = amm_markup_text_to_html (text);

  if (c)
    purple_conversation_write (c, NULL, html, PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_NO_LINKIFY,
                               when ? when : time (NULL));
}

static void
write_error (PurpleConversation *c, const char *text)
{
  g_autofree char *html = amm_markup_text_to_html (text);

  if (c)
    purple_conversation_write (c, NULL, html, PURPLE_MESSAGE_ERROR, time (NULL));
}

/* `text` was not sent, and why: written with the text so that nothing is lost. */
static void
write_not_sent (PurpleConversation *c, const char *text, const char *why)
{
  g_autofree char *why_html = amm_markup_text_to_html (why);
  g_autofree char *text_html = amm_markup_text_to_html (text);
  g_autofree char *msg = g_strdup_printf ("The message was not delivered: %s<br>Undelivered text:<br>%s",
                                          why_html, text_html);
  if (c)
    purple_conversation_write (c, NULL, msg, PURPLE_MESSAGE_ERROR, time (NULL));
}

static time_t
message_time (AmmMessage *msg)
{
  return msg && msg->received_date ? (time_t) g_date_time_to_unix (msg->received_date) : time (NULL);
}

static void
add_user (AmmPurpleAccount *pa, PurpleConversation *c, const char *address)
{
  PurpleConvChat *chat = PURPLE_CONV_CHAT (c);
  PurpleConvChatBuddy *cb;
  g_autofree char *display = NULL;

  if (address == NULL || *address == '\0' || purple_conv_chat_find_user (chat, address))
    return;
  purple_conv_chat_add_user (chat, address, NULL, PURPLE_CBFLAGS_NONE, FALSE);
  /* libpurple 2 takes aliases only from the buddy list: set the display name on the chat
   * buddy, then make the UI redraw it (chat_update_user). The address stays the key. */
  display = amm_buddy_display_name (pa, address);
  cb = purple_conv_chat_cb_find (chat, address);
  if (cb && g_strcmp0 (display, address) != 0)
    {
      g_free (cb->alias);
      cb->alias = g_steal_pointer (&display);
      purple_conv_chat_user_set_flags (chat, address, cb->flags);
    }
}

static void
set_title (AmmPurpleAccount *pa, AmmChat *chat, PurpleConversation *c)
{
  g_autoptr(GPtrArray) people = NULL;
  GString *title;

  if (chat->subject && *chat->subject)
    {
      purple_conversation_set_title (c, chat->subject);
      return;
    }
  people = chat_participants (pa, chat);
  title = g_string_new (NULL);
  for (guint i = 0; i < people->len; i++)
    {
      g_autofree char *name = NULL;
      if (same_address (g_ptr_array_index (people, i), pa->self_address))
        continue;
      name = amm_buddy_display_name (pa, g_ptr_array_index (people, i));
      if (title->len)
        g_string_append (title, ", ");
      g_string_append (title, name);
    }
  purple_conversation_set_title (c, title->len ? title->str : chat->name);
  g_string_free (title, TRUE);
}

static void
sync_users (AmmPurpleAccount *pa, AmmChat *chat, PurpleConversation *c)
{
  g_autoptr(GPtrArray) people = chat_participants (pa, chat);
  PurpleConvChat *pchat = PURPLE_CONV_CHAT (c);
  GList *gone = NULL;

  for (GList *l = purple_conv_chat_get_users (pchat); l; l = l->next)
    {
      PurpleConvChatBuddy *cb = l->data;
      gboolean present = FALSE;
      for (guint i = 0; i < people->len; i++)
        if (same_address (cb->name, g_ptr_array_index (people, i)))
          present = TRUE;
      if (!present)
        gone = g_list_prepend (gone, g_strdup (cb->name));
    }
  for (GList *l = gone; l; l = l->next)
    purple_conv_chat_remove_user (pchat, l->data, NULL);
  g_list_free_full (gone, g_free);
  for (guint i = 0; i < people->len; i++)
    add_user (pa, c, g_ptr_array_index (people, i));
}

/* The chat's window, opened (serv_got_joined_chat) when it is not. */
static PurpleConversation *
ensure_open (AmmPurpleAccount *pa, AmmChat *chat)
{
  PurpleConversation *c = open_window (pa, chat);

  if (c)
    return c;
  c = serv_got_joined_chat (pa->gc, chat->id, chat->name);
  if (c == NULL)
    return NULL;
  sync_users (pa, chat, c);
  if (chat->subject && *chat->subject)
    purple_conv_chat_set_topic (PURPLE_CONV_CHAT (c), NULL, chat->subject);
  set_title (pa, chat, c);
  if (chat->thread_id)
    amm_purple_typing_watch (pa, chat->thread_id, TRUE);
  if (chat->closed)
    write_system (c, "This conversation was closed on the server: it is read-only.", 0);
  return c;
}

PurpleConversation *
amm_chat_find_open (AmmPurpleAccount *pa, const char *thread_id)
{
  AmmChat *chat = chat_by_thread (pa, thread_id);
  return open_window (pa, chat);
}

const char *
amm_chat_thread_of_conversation (PurpleConversation *conv)
{
  AmmPurpleAccount *pa = pa_of_conversation (conv);
  AmmChat *chat;

  if (pa == NULL || purple_conversation_get_type (conv) != PURPLE_CONV_TYPE_CHAT)
    return NULL;
  chat = chat_by_id (pa, purple_conv_chat_get_id (PURPLE_CONV_CHAT (conv)));
  return chat ? chat->thread_id : NULL;
}

/* --- incoming ----------------------------------------------------------------------------- */

static gboolean
conversation_is_group (AmmPurpleAccount *pa, AmmConversation *conv, AmmMessage *msg)
{
  g_autoptr(GPtrArray) people = g_ptr_array_new_with_free_func (g_free);
  const char *thread = msg ? msg->thread_id : NULL;

  if (conv && conv->multiparty)
    return TRUE;
  if (thread == NULL && conv)
    thread = conv->id;
  for (guint i = 0; msg && i < msg->to->len; i++)
    add_unique (people, ((AmmEntity *) g_ptr_array_index (msg->to, i))->address);
  if (msg && msg->from)
    add_unique (people, msg->from->address);
  for (guint i = 0; msg && i < msg->event_participants->len; i++)
    add_unique (people, ((AmmEntity *) g_ptr_array_index (msg->event_participants, i))->address);
  if (thread)
    {
      g_autoptr(GPtrArray) ents = amm_client_get_participants (pa->client, thread);
      for (guint i = 0; ents && i < ents->len; i++)
        add_unique (people, ((AmmEntity *) g_ptr_array_index (ents, i))->address);
    }
  return people->len > 2;
}

static void
remember_message_entities (AmmPurpleAccount *pa, AmmMessage *msg)
{
  amm_buddy_remember_entity (pa, msg->from);
  for (guint i = 0; i < msg->to->len; i++)
    amm_buddy_remember_entity (pa, g_ptr_array_index (msg->to, i));
  for (guint i = 0; i < msg->event_participants->len; i++)
    amm_buddy_remember_entity (pa, g_ptr_array_index (msg->event_participants, i));
}

static char *
message_html (AmmMessage *msg)
{
  g_autofree char *body = NULL;

  if (*msg->body == '\0' && msg->parts && msg->parts->len > 0)
    body = amm_xfer_describe_parts (msg);  /* offered as file transfers (amm-xfer.c) */
  else
    body = g_strdup (msg->body);
  return amm_markup_text_to_html (body);
}

static void
mark_left (AmmPurpleAccount *pa, AmmChat *chat, time_t when)
{
  PurpleConversation *c;

  if (chat->left)
    return;
  chat->left = TRUE;
  c = open_window (pa, chat);
  if (chat->thread_id)
    amm_purple_typing_watch (pa, chat->thread_id, FALSE);
  if (c)
    {
      write_system (c, "You left this conversation on the server.", when);
      serv_got_chat_left (pa->gc, chat->id);
    }
}

static void
mark_closed (AmmPurpleAccount *pa, AmmChat *chat, time_t when)
{
  PurpleConversation *c;

  if (chat->closed)
    return;
  chat->closed = TRUE;
  c = open_window (pa, chat);
  if (c)
    write_system (c, "This conversation was closed on the server: it is read-only now.", when);
}

static void
handle_message (AmmPurpleAccount *pa, AmmChat *chat, AmmMessage *msg, gboolean from_self)
{
  g_autofree char *html = message_html (msg);
  const char *from = msg->from && msg->from->address ? msg->from->address : pa->self_address;
  time_t when = message_time (msg);
  PurpleConversation *c;

  if (chat->left)
    return;
  if (msg->read && !from_self)
    {
      /* read on another device: history in an open window, no notification; else skipped */
      c = open_window (pa, chat);
      if (c)
        purple_conv_chat_write (PURPLE_CONV_CHAT (c), from, html,
                                PURPLE_MESSAGE_RECV | PURPLE_MESSAGE_DELAYED, when);
      return;
    }
  c = ensure_open (pa, chat);
  if (c == NULL)
    return;
  add_user (pa, c, from);
  if (from_self)
    purple_conv_chat_write (PURPLE_CONV_CHAT (c), pa->self_address, html,
                            PURPLE_MESSAGE_SEND | PURPLE_MESSAGE_REMOTE_SEND, when);
  else
    serv_got_chat_in (pa->gc, chat->id, from, PURPLE_MESSAGE_RECV, html, when);
  c = open_window (pa, chat);
  if (c)
    amm_read_delivered (pa, c, chat->thread_id, msg);
}

static void
handle_joined (AmmPurpleAccount *pa, AmmChat *chat, AmmMessage *msg)
{
  PurpleConversation *c = open_window (pa, chat);
  gboolean self_joined = FALSE;

  for (guint i = 0; i < msg->event_participants->len; i++)
    if (same_address (((AmmEntity *) g_ptr_array_index (msg->event_participants, i))->address,
                      pa->self_address))
      self_joined = TRUE;
  if (self_joined)
    chat->left = FALSE;
  if (c == NULL && self_joined && !msg->read && !chat->left)
    c = ensure_open (pa, chat);
  if (c == NULL)
    return;
  for (guint i = 0; i < msg->event_participants->len; i++)
    {
      AmmEntity *e = g_ptr_array_index (msg->event_participants, i);
      g_autofree char *name = amm_entity_display_name (e);
      g_autofree char *line = g_strdup_printf ("%s joined", name);
      add_user (pa, c, e->address);
      write_system (c, line, message_time (msg));
    }
}

static void
handle_left (AmmPurpleAccount *pa, AmmChat *chat, AmmMessage *msg)
{
  PurpleConversation *c = open_window (pa, chat);

  for (guint i = 0; i < msg->event_participants->len; i++)
    {
      AmmEntity *e = g_ptr_array_index (msg->event_participants, i);
      if (same_address (e->address, pa->self_address))
        {
          mark_left (pa, chat, message_time (msg));
          c = NULL;
          continue;
        }
      if (c)
        {
          g_autofree char *name = amm_entity_display_name (e);
          g_autofree char *line = g_strdup_printf ("%s left", name);
          if (purple_conv_chat_find_user (PURPLE_CONV_CHAT (c), e->address))
            purple_conv_chat_remove_user (PURPLE_CONV_CHAT (c), e->address, NULL);
          write_system (c, line, message_time (msg));
        }
    }
}

static void
handle_subject (AmmPurpleAccount *pa, AmmChat *chat, AmmMessage *msg)
{
  PurpleConversation *c = open_window (pa, chat);
  g_autofree char *who = msg->from ? amm_entity_display_name (msg->from) : g_strdup ("Someone");
  g_autofree char *line = NULL;

  g_free (chat->subject);
  chat->subject = g_strdup (msg->subject);
  if (c == NULL)
    return;
  purple_conv_chat_set_topic (PURPLE_CONV_CHAT (c), msg->from ? msg->from->address : NULL,
                              chat->subject);
  set_title (pa, chat, c);
  if (*chat->subject)
    line = g_strdup_printf ("%s changed the subject to \"%s\"", who, chat->subject);
  else
    line = g_strdup_printf ("%s removed the subject", who);
  write_system (c, line, message_time (msg));
}

gboolean
amm_chat_message_received (AmmPurpleAccount *pa, AmmConversation *conv, AmmMessage *msg,
                           gboolean from_self)
{
  const char *thread;
  AmmChat *chat;

  if (pa->chats == NULL || msg == NULL)
    return FALSE;
  thread = msg->thread_id ? msg->thread_id : (conv ? conv->id : NULL);
  if (thread == NULL)
    return FALSE;
  remember_message_entities (pa, msg);
  chat = chat_by_thread (pa, thread);
  if (chat == NULL)
    {
      if (!conversation_is_group (pa, conv, msg))
        return FALSE;
      chat = chat_new (pa, thread, conv ? conv->subject : NULL);
      purple_debug_info ("amm", "%s: group conversation %s is chat %d\n", pa->self_address,
                         thread, chat->id);
    }
  if (conv && conv->closed && !chat->closed && msg->event_type != AMM_EVENT_CLOSED)
    chat->closed = TRUE;

  switch (msg->event_type)
    {
    case AMM_EVENT_MESSAGE:
      handle_message (pa, chat, msg, from_self);
      break;
    case AMM_EVENT_JOINED:
      handle_joined (pa, chat, msg);
      break;
    case AMM_EVENT_LEFT:
      handle_left (pa, chat, msg);
      break;
    case AMM_EVENT_SUBJECT_CHANGE:
      handle_subject (pa, chat, msg);
      break;
    case AMM_EVENT_CLOSED:
      mark_closed (pa, chat, message_time (msg));
      break;
    default:
      break;
    }
  return TRUE;
}

void
amm_chat_conversation_changed (AmmPurpleAccount *pa, AmmConversation *conv)
{
  AmmChat *chat;
  PurpleConversation *c;

  if (pa->chats == NULL || conv == NULL || conv->id == NULL)
    return;
  chat = chat_by_thread (pa, conv->id);
  if (chat == NULL)
    return;
  if (conv->closed)
    mark_closed (pa, chat, 0);
  c = open_window (pa, chat);
  if (c == NULL || chat->left)
    return;
  if (conv->subject && g_strcmp0 (conv->subject, chat->subject) != 0)
    {
      g_free (chat->subject);
      chat->subject = g_strdup (conv->subject);
      purple_conv_chat_set_topic (PURPLE_CONV_CHAT (c), NULL, chat->subject);
    }
  sync_users (pa, chat, c);
  set_title (pa, chat, c);
}

/* --- sending ------------------------------------------------------------------------------ */

typedef struct {
  AmmPurpleAccount *pa;
  int               id;
  char             *text;
} ChatOp;

static ChatOp *
chat_op_new (AmmPurpleAccount *pa, int id, const char *text)
{
  ChatOp *op = g_new0 (ChatOp, 1);
  op->pa = amm_purple_account_ref (pa);
  op->id = id;
  op->text = g_strdup (text);
  return op;
}

static void
chat_op_free (ChatOp *op)
{
  amm_purple_account_unref (op->pa);
  g_free (op->text);
  g_free (op);
}

static void pump (AmmPurpleAccount *pa, AmmChat *chat);

static void
bind_thread (AmmPurpleAccount *pa, AmmChat *chat, const char *thread_id)
{
  PurpleConversation *c;

  if (chat->thread_id || thread_id == NULL)
    return;
  chat->thread_id = g_strdup (thread_id);
  g_hash_table_insert (pa->chats->by_thread, g_strdup (thread_id), chat);
  purple_debug_info ("amm", "%s: chat %d is conversation %s\n", pa->self_address, chat->id, thread_id);
  c = open_window (pa, chat);
  g_free (chat->name);
  chat->name = g_strdup (thread_id);
  if (c)
    {
      purple_conversation_set_name (c, thread_id);
      set_title (pa, chat, c);
      amm_purple_typing_watch (pa, thread_id, TRUE);
    }
}

static void
send_done (GObject *source, GAsyncResult *result, gpointer user_data, gboolean start)
{
  ChatOp *op = user_data;
  AmmPurpleAccount *pa = op->pa;
  g_autoptr(GError) error = NULL;
  g_autoptr(AmmMessage) msg = NULL;
  AmmChat *chat;

  if (start)
    msg = amm_client_start_conversation_finish (AMM_CLIENT (source), result, &error);
  else
    msg = amm_client_send_text_finish (AMM_CLIENT (source), result, &error);
  if (amm_purple_error_is_cancelled (error) || amm_purple_account_is_closed (pa))
    goto out;
  chat = chat_by_id (pa, op->id);
  if (chat == NULL)
    goto out;
  if (msg == NULL)
    {
      g_autofree char *why = amm_purple_error_text (error, pa->host);
      purple_debug_warning ("amm", "%s: message to chat %d not delivered: %s\n", pa->self_address,
                            op->id, why);
      write_not_sent (ensure_open (pa, chat), op->text, why);
    }
  else if (start)
    bind_thread (pa, chat, msg->thread_id);
  chat->busy = FALSE;
  pump (pa, chat);
out:
  chat_op_free (op);
}

static void
start_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  send_done (source, result, user_data, TRUE);
}

static void
send_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  send_done (source, result, user_data, FALSE);
}

static void
pump (AmmPurpleAccount *pa, AmmChat *chat)
{
  g_autofree char *text = NULL;
  ChatOp *op;

  if (chat->busy || g_queue_is_empty (&chat->sends))
    return;
  text = g_queue_pop_head (&chat->sends);
  chat->busy = TRUE;
  op = chat_op_new (pa, chat->id, text);
  if (chat->thread_id == NULL)
    {
      g_autoptr(GPtrArray) to = g_ptr_array_new ();
      for (guint i = 0; chat->draft_to && i < chat->draft_to->len; i++)
        g_ptr_array_add (to, g_ptr_array_index (chat->draft_to, i));
      g_ptr_array_add (to, NULL);
      amm_client_start_conversation_async (pa->client, (const char * const *) to->pdata,
                                           chat->subject ? chat->subject : "", text,
                                           pa->cancellable, start_cb, op);
    }
  else
    {
      const char *to[] = { pa->self_address, NULL };
      amm_client_send_text_async (pa->client, chat->thread_id, to, text, pa->cancellable,
                                  send_cb, op);
    }
}

static void leave_on_server (AmmPurpleAccount *pa, AmmChat *chat);

int
amm_chat_send (PurpleConnection *gc, int id, const char *message, PurpleMessageFlags flags)
{
  AmmPurpleAccount *pa = amm_purple_account_from_gc (gc);
  AmmChat *chat = chat_by_id (pa, id);
  g_autofree char *text = NULL;
  g_autofree char *html = NULL;
  g_autoptr(GError) error = NULL;
  PurpleConversation *c;

  if (pa == NULL || amm_purple_account_is_closed (pa) || pa->client == NULL)
    return -ENOTCONN;
  if (chat == NULL)
    return -EINVAL;
  c = open_window (pa, chat);
  text = amm_markup_html_to_text (message);
  if (*text == '\0')
    return 0;
  /* Bitlbee (IRC) has no /leave: the text "/leave" (irssi: /say /leave) does the same. */
  if (g_strcmp0 (text, "/leave") == 0 || g_strcmp0 (text, "/amm-leave") == 0)
    {
      leave_on_server (pa, chat);
      return 0;
    }
  if (chat->closed)
    {
      write_not_sent (c, text, "this conversation was closed on the server; it is read-only");
      return 0;
    }
  if (chat->left)
    {
      write_not_sent (c, text, "you left this conversation");
      return 0;
    }
  if (!amm_client_check_text (pa->client, text, &error))
    {
      g_autofree char *why = amm_purple_error_text (error, pa->host);
      write_not_sent (c, text, why);
      return 0;
    }
  html = amm_markup_text_to_html (text);
  if (c)
    purple_conv_chat_write (PURPLE_CONV_CHAT (c), pa->self_address, html, PURPLE_MESSAGE_SEND,
                            time (NULL));
  g_queue_push_tail (&chat->sends, g_steal_pointer (&text));
  pump (pa, chat);
  return 0;
}

/* --- starting and reopening --------------------------------------------------------------- */

GList *
amm_chat_info (PurpleConnection *gc)
{
  GList *m = NULL;
  struct proto_chat_entry *pce;

  pce = g_new0 (struct proto_chat_entry, 1);
  pce->label = "_Participants (comma-separated addresses):";
  pce->identifier = "participants";
  m = g_list_append (m, pce);

  pce = g_new0 (struct proto_chat_entry, 1);
  pce->label = "_Subject (optional):";
  pce->identifier = "subject";
  m = g_list_append (m, pce);

  pce = g_new0 (struct proto_chat_entry, 1);
  pce->label = "_Conversation id (to reopen one):";
  pce->identifier = "thread";
  m = g_list_append (m, pce);
  return m;
}

GHashTable *
amm_chat_info_defaults (PurpleConnection *gc, const char *name)
{
  GHashTable *defaults = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);

  if (name && *name)
    {
      /* Bitlbee's "chat add amm <thread>", or addresses */
      if (strchr (name, '@'))
        g_hash_table_insert (defaults, "participants", g_strdup (name));
      else
        g_hash_table_insert (defaults, "thread", g_strdup (name));
    }
  return defaults;
}

char *
amm_chat_get_name (GHashTable *components)
{
  const char *thread = g_hash_table_lookup (components, "thread");
  const char *people = g_hash_table_lookup (components, "participants");

  if (thread && *thread)
    return g_strdup (thread);
  return g_strdup (people ? people : "");
}

static GHashTable *
copy_components (GHashTable *components)
{
  GHashTable *copy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter iter;
  gpointer k, v;

  g_hash_table_iter_init (&iter, components);
  while (g_hash_table_iter_next (&iter, &k, &v))
    g_hash_table_insert (copy, g_strdup (k), g_strdup (v));
  return copy;
}

static void
join_failed (AmmPurpleAccount *pa, GHashTable *components, const char *primary, const char *why)
{
  purple_notify_error (pa->gc, "AMM conversation", primary, why);
  purple_serv_got_join_chat_failed (pa->gc, components);
}

typedef struct {
  GHashTable *components;
  GPtrArray  *to;
} JoinData;

static void
join_data_free (JoinData *jd)
{
  g_hash_table_unref (jd->components);
  g_ptr_array_unref (jd->to);
  g_free (jd);
}

static void
draft_validated (AmmPurpleAccount *pa, GStrv invalid, const GError *error, gpointer user_data)
{
  JoinData *jd = user_data;
  const char *subject = g_hash_table_lookup (jd->components, "subject");
  AmmChat *chat;
  PurpleConversation *c;

  if (amm_purple_account_is_closed (pa) || pa->chats == NULL)
    {
      join_data_free (jd);
      return;
    }
  if (invalid || error)
    {
      g_autofree char *why = invalid ? amm_buddy_invalid_text (invalid)
                                     : amm_purple_error_text (error, pa->host);
      join_failed (pa, jd->components, "Cannot start the conversation", why);
      join_data_free (jd);
      return;
    }
  if (subject)
    {
      g_autoptr(GError) err = NULL;
      if (!amm_client_check_subject (pa->client, subject, &err))
        {
          join_failed (pa, jd->components, "Cannot start the conversation", err->message);
          join_data_free (jd);
          return;
        }
    }
  chat = chat_new (pa, NULL, subject);
  chat->draft_to = g_ptr_array_ref (jd->to);
  c = ensure_open (pa, chat);
  if (c)
    write_system (c, "New conversation: it is created on the server with your first message.", 0);
  join_data_free (jd);
}

static void
write_history (AmmPurpleAccount *pa, AmmChat *chat, AmmConversation *conv, PurpleConversation *c)
{
  guint shown = 0;

  if (conv == NULL || c == NULL)
    return;
  for (guint i = conv->messages->len; i > 0 && shown < HISTORY_ON_OPEN; i--)
    {
      AmmMessage *m = g_ptr_array_index (conv->messages, i - 1);
      g_autofree char *html = NULL;
      if (m->event_type != AMM_EVENT_MESSAGE)
        continue;
      html = message_html (m);
      purple_conv_chat_write (PURPLE_CONV_CHAT (c),
                              m->from && m->from->address ? m->from->address : pa->self_address,
                              html, PURPLE_MESSAGE_RECV | PURPLE_MESSAGE_DELAYED | PURPLE_MESSAGE_NO_LOG,
                              message_time (m));
      shown++;
    }
}

/* Open a known conversation: a chat, or the IM of a 1:1 conversation. */
static void
open_conversation (AmmPurpleAccount *pa, AmmConversation *conv, GHashTable *components)
{
  AmmChat *chat = chat_by_thread (pa, conv->id);
  PurpleConversation *c;

  if (chat == NULL && !conversation_is_group (pa, conv, conv->messages->len
                                                      ? g_ptr_array_index (conv->messages, 0) : NULL))
    {
      g_autoptr(GPtrArray) people = amm_client_get_participants (pa->client, conv->id);
      for (guint i = 0; people && i < people->len; i++)
        {
          AmmEntity *e = g_ptr_array_index (people, i);
          if (!same_address (e->address, pa->self_address))
            {
              g_autofree char *peer = amm_purple_normalize_address (e->address);
              PurpleConversation *im = purple_find_conversation_with_account (
                  PURPLE_CONV_TYPE_IM, peer, pa->account);
              if (im == NULL)
                im = purple_conversation_new (PURPLE_CONV_TYPE_IM, pa->account, peer);
              if (im)
                purple_conversation_present (im);
              purple_serv_got_join_chat_failed (pa->gc, components);  /* not a chat */
              return;
            }
        }
    }
  if (chat == NULL)
    chat = chat_new (pa, conv->id, conv->subject);
  if (chat->left || !conv->active)
    {
      join_failed (pa, components, "Cannot open the conversation", "You are no longer a participant.");
      return;
    }
  if (conv->closed)
    chat->closed = TRUE;
  c = open_window (pa, chat);
  if (c)
    {
      purple_conversation_present (c);
      return;
    }
  c = ensure_open (pa, chat);
  write_history (pa, chat, conv, c);
}

/* Does the cached conversation hold the history shown on open? An incremental listing may
 * embed only what changed since the last one (docs/protocol.md §6), so the cache can hold
 * fewer messages than that: then the newest are fetched. */
static gboolean
history_cached (AmmConversation *conv)
{
  guint n = conv->messages->len;
  AmmMessage *oldest = n > 0 ? g_ptr_array_index (conv->messages, n - 1) : NULL;

  return n >= HISTORY_ON_OPEN || (oldest && oldest->event_type == AMM_EVENT_START);
}

typedef struct {
  AmmPurpleAccount *pa;
  GHashTable       *components;
} FetchData;

static void
fetch_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  FetchData *fd = user_data;
  AmmPurpleAccount *pa = fd->pa;
  g_autoptr(GError) error = NULL;
  g_autoptr(AmmConversation) conv = NULL;

  conv = amm_client_fetch_messages_finish (AMM_CLIENT (source), result, &error);
  if (amm_purple_error_is_cancelled (error) || amm_purple_account_is_closed (pa))
    goto out;
  if (conv == NULL)
    {
      /* a known conversation still opens, with the history the client has, when the server
       * could not answer now; a refusal (gone, not a participant) is the answer */
      AmmConversation *cached = amm_error_is_transient (error)
                                ? amm_client_lookup_conversation (pa->client,
                                                                  g_hash_table_lookup (fd->components, "thread"))
                                : NULL;
      if (cached)
        open_conversation (pa, cached, fd->components);
      else
        {
          g_autofree char *why = amm_purple_error_text (error, pa->host);
          join_failed (pa, fd->components, "Cannot open the conversation", why);
        }
    }
  else
    open_conversation (pa, conv, fd->components);
out:
  g_hash_table_unref (fd->components);
  amm_purple_account_unref (pa);
  g_free (fd);
}

void
amm_chat_join (PurpleConnection *gc, GHashTable *components)
{
  AmmPurpleAccount *pa = amm_purple_account_from_gc (gc);
  const char *thread = g_hash_table_lookup (components, "thread");
  const char *people = g_hash_table_lookup (components, "participants");

  if (pa == NULL || amm_purple_account_is_closed (pa) || pa->chats == NULL)
    return;

  if (thread && *thread)
    {
      AmmChat *chat = chat_by_thread (pa, thread);
      AmmConversation *conv = amm_client_lookup_conversation (pa->client, thread);
      FetchData *fd;

      if (chat && !chat->left && open_window (pa, chat))
        {
          purple_conversation_present (open_window (pa, chat));
          return;
        }
      if (conv && history_cached (conv))
        {
          open_conversation (pa, conv, components);
          return;
        }
      fd = g_new0 (FetchData, 1);
      fd->pa = amm_purple_account_ref (pa);
      fd->components = copy_components (components);
      amm_client_fetch_messages_async (pa->client, thread, NULL, NULL, HISTORY_ON_OPEN,
                                       pa->cancellable, fetch_cb, fd);
      return;
    }

  if (people && *people)
    {
      g_auto(GStrv) parts = g_regex_split_simple ("[,;\\s]+", people, 0, 0);
      JoinData *jd = g_new0 (JoinData, 1);
      g_autoptr(GPtrArray) query = g_ptr_array_new ();

      jd->components = copy_components (components);
      jd->to = g_ptr_array_new_with_free_func (g_free);
      for (guint i = 0; parts[i]; i++)
        if (*parts[i] && !same_address (parts[i], pa->self_address))
          add_unique (jd->to, parts[i]);
      if (jd->to->len == 0)
        {
          join_failed (pa, jd->components, "Cannot start the conversation",
                       "Give the addresses of the other participants, separated by commas.");
          join_data_free (jd);
          return;
        }
      for (guint i = 0; i < jd->to->len; i++)
        g_ptr_array_add (query, g_ptr_array_index (jd->to, i));
      g_ptr_array_add (query, NULL);
      amm_buddy_validate (pa, (const char * const *) query->pdata, draft_validated, jd);
      return;
    }

  join_failed (pa, components, "Cannot start the conversation",
               "Give the participants' addresses (or a conversation id to reopen).");
}

/* --- invite ------------------------------------------------------------------------------- */

typedef struct {
  int   id;
  char *who;
} InviteData;

static void
add_participants_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ChatOp *op = user_data;
  AmmPurpleAccount *pa = op->pa;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) added = NULL;
  AmmChat *chat;
  PurpleConversation *c;

  added = amm_client_add_participants_finish (AMM_CLIENT (source), result, &error);
  if (amm_purple_error_is_cancelled (error) || amm_purple_account_is_closed (pa))
    goto out;
  chat = chat_by_id (pa, op->id);
  c = chat ? open_window (pa, chat) : NULL;
  if (added == NULL)
    {
      g_autofree char *why = amm_purple_error_text (error, pa->host);
      g_autofree char *line = g_strdup_printf ("Could not add %s: %s", op->text, why);
      write_error (c, line);
    }
  else if (c)
    for (guint i = 0; i < added->len; i++)
      {
        AmmEntity *e = g_ptr_array_index (added, i);
        amm_buddy_remember_entity (pa, e);
        add_user (pa, c, e->address);
      }
out:
  chat_op_free (op);
}

static void
invite_validated (AmmPurpleAccount *pa, GStrv invalid, const GError *error, gpointer user_data)
{
  InviteData *inv = user_data;
  AmmChat *chat = amm_purple_account_is_closed (pa) ? NULL : chat_by_id (pa, inv->id);
  PurpleConversation *c = chat ? open_window (pa, chat) : NULL;

  if (chat == NULL)
    goto out;
  if (invalid || error)
    {
      g_autofree char *why = invalid ? amm_buddy_invalid_text (invalid)
                                     : amm_purple_error_text (error, pa->host);
      g_autofree char *line = g_strdup_printf ("Could not add %s: %s", inv->who, why);
      g_autofree char *primary = g_strdup_printf ("Cannot add %s", inv->who);
      write_error (c, line);
      purple_notify_error (pa->gc, "Invalid AMM address", primary, why);
      goto out;
    }
  if (chat->thread_id == NULL)
    {
      if (chat->draft_to == NULL)
        chat->draft_to = g_ptr_array_new_with_free_func (g_free);
      add_unique (chat->draft_to, inv->who);
      if (c)
        add_user (pa, c, inv->who);
    }
  else
    {
      const char *who[] = { inv->who, NULL };
      amm_client_add_participants_async (pa->client, chat->thread_id, who, pa->cancellable,
                                         add_participants_cb, chat_op_new (pa, chat->id, inv->who));
    }
out:
  g_free (inv->who);
  g_free (inv);
}

void
amm_chat_invite (PurpleConnection *gc, int id, const char *message, const char *who)
{
  AmmPurpleAccount *pa = amm_purple_account_from_gc (gc);
  AmmChat *chat = chat_by_id (pa, id);
  PurpleConversation *c;
  InviteData *inv;
  g_autofree char *addr = NULL;

  if (pa == NULL || amm_purple_account_is_closed (pa) || chat == NULL || who == NULL)
    return;
  c = open_window (pa, chat);
  addr = g_strstrip (g_strdup (who));
  if (chat->closed || chat->left)
    {
      g_autofree char *line = g_strdup_printf ("Could not add %s: %s", addr,
                                               chat->closed ? "this conversation is closed"
                                                            : "you left this conversation");
      write_error (c, line);
      return;
    }
  inv = g_new0 (InviteData, 1);
  inv->id = id;
  inv->who = g_steal_pointer (&addr);
  {
    const char *addresses[] = { inv->who, NULL };
    amm_buddy_validate (pa, addresses, invite_validated, inv);
  }
}

/* --- leaving ------------------------------------------------------------------------------ */

void
amm_chat_leave (PurpleConnection *gc, int id)
{
  AmmPurpleAccount *pa = amm_purple_account_from_gc (gc);
  AmmChat *chat = chat_by_id (pa, id);

  /* The window closes; the conversation stays (a new message reopens it). */
  if (pa == NULL || chat == NULL)
    return;
  purple_debug_info ("amm", "%s: chat %d window closed (not leaving %s on the server)\n",
                     pa->self_address, id, chat->thread_id ? chat->thread_id : "the draft");
  if (chat->thread_id && !amm_purple_account_is_closed (pa))
    amm_purple_typing_watch (pa, chat->thread_id, FALSE);
}

static void
leave_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ChatOp *op = user_data;
  AmmPurpleAccount *pa = op->pa;
  g_autoptr(GError) error = NULL;
  AmmChat *chat;
  gboolean ok;

  ok = amm_client_leave_finish (AMM_CLIENT (source), result, &error);
  if (amm_purple_error_is_cancelled (error) || amm_purple_account_is_closed (pa))
    goto out;
  chat = chat_by_id (pa, op->id);
  if (chat == NULL)
    goto out;
  if (!ok)
    {
      g_autofree char *why = amm_purple_error_text (error, pa->host);
      g_autofree char *line = g_strdup_printf ("Could not leave the conversation: %s", why);
      PurpleConversation *c = open_window (pa, chat);
      if (c)
        write_error (c, line);
      else
        purple_notify_error (pa->gc, "AMM conversation", "Could not leave the conversation", why);
      goto out;
    }
  mark_left (pa, chat, 0);
out:
  chat_op_free (op);
}

static void
leave_on_server (AmmPurpleAccount *pa, AmmChat *chat)
{
  if (chat->left)
    return;
  if (chat->thread_id == NULL)
    {
      mark_left (pa, chat, 0);  /* a draft: nothing on the server yet */
      return;
    }
  purple_debug_info ("amm", "%s: leaving %s on the server\n", pa->self_address, chat->thread_id);
  amm_client_leave_async (pa->client, chat->thread_id, pa->cancellable, leave_cb,
                          chat_op_new (pa, chat->id, NULL));
}

static PurpleCmdRet
cmd_leave (PurpleConversation *conv, const gchar *cmd, gchar **args, gchar **error, void *data)
{
  AmmPurpleAccount *pa = pa_of_conversation (conv);
  AmmChat *chat;

  if (pa == NULL || purple_conversation_get_type (conv) != PURPLE_CONV_TYPE_CHAT)
    return PURPLE_CMD_RET_FAILED;
  chat = chat_by_id (pa, purple_conv_chat_get_id (PURPLE_CONV_CHAT (conv)));
  if (chat == NULL)
    return PURPLE_CMD_RET_FAILED;
  leave_on_server (pa, chat);
  return PURPLE_CMD_RET_OK;
}

static PurpleCmdRet
cmd_topic (PurpleConversation *conv, const gchar *cmd, gchar **args, gchar **error, void *data)
{
  AmmPurpleAccount *pa = pa_of_conversation (conv);

  if (pa == NULL || purple_conversation_get_type (conv) != PURPLE_CONV_TYPE_CHAT)
    return PURPLE_CMD_RET_FAILED;
  amm_chat_set_topic (pa->gc, purple_conv_chat_get_id (PURPLE_CONV_CHAT (conv)),
                      args && args[0] ? args[0] : "");
  return PURPLE_CMD_RET_OK;
}

static void
menu_leave_cb (PurpleBlistNode *node, gpointer data)
{
  PurpleChat *pchat = (PurpleChat *) node;
  PurpleAccount *account = purple_chat_get_account (pchat);
  AmmPurpleAccount *pa;
  const char *thread;
  AmmChat *chat;

  if (!is_amm_account (account))
    return;
  pa = amm_purple_account_from_gc (purple_account_get_connection (account));
  if (pa == NULL || amm_purple_account_is_closed (pa) || pa->chats == NULL)
    return;
  thread = g_hash_table_lookup (purple_chat_get_components (pchat), "thread");
  if (thread == NULL || *thread == '\0')
    return;
  chat = chat_by_thread (pa, thread);
  if (chat == NULL)
    chat = chat_new (pa, thread, NULL);
  leave_on_server (pa, chat);
}

GList *
amm_chat_blist_node_menu (PurpleBlistNode *node)
{
  PurpleChat *pchat;
  const char *thread;

  if (!PURPLE_BLIST_NODE_IS_CHAT (node))
    return NULL;
  pchat = (PurpleChat *) node;
  thread = g_hash_table_lookup (purple_chat_get_components (pchat), "thread");
  if (thread == NULL || *thread == '\0')
    return NULL;
  return g_list_append (NULL, purple_menu_action_new ("Leave conversation on the server",
                                                      PURPLE_CALLBACK (menu_leave_cb), NULL, NULL));
}

/* --- subject ------------------------------------------------------------------------------ */

static void
subject_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ChatOp *op = user_data;
  AmmPurpleAccount *pa = op->pa;
  g_autoptr(GError) error = NULL;
  AmmChat *chat;
  PurpleConversation *c;

  if (!amm_client_set_subject_finish (AMM_CLIENT (source), result, &error)
      && (amm_purple_error_is_cancelled (error) || amm_purple_account_is_closed (pa)))
    goto out;
  if (amm_purple_account_is_closed (pa))
    goto out;
  chat = chat_by_id (pa, op->id);
  c = chat ? open_window (pa, chat) : NULL;
  if (chat == NULL)
    goto out;
  if (error)
    {
      g_autofree char *why = amm_purple_error_text (error, pa->host);
      g_autofree char *line = g_strdup_printf ("The subject was not changed: %s\nSubject: %s", why,
                                               op->text);
      write_error (c, line);
      goto out;
    }
  g_free (chat->subject);
  chat->subject = g_strdup (op->text);
  if (c)
    {
      purple_conv_chat_set_topic (PURPLE_CONV_CHAT (c), pa->self_address, chat->subject);
      set_title (pa, chat, c);
    }
out:
  chat_op_free (op);
}

void
amm_chat_set_topic (PurpleConnection *gc, int id, const char *topic)
{
  AmmPurpleAccount *pa = amm_purple_account_from_gc (gc);
  AmmChat *chat = chat_by_id (pa, id);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  PurpleConversation *c;

  if (pa == NULL || amm_purple_account_is_closed (pa) || chat == NULL)
    return;
  c = open_window (pa, chat);
  text = amm_markup_html_to_text (topic ? topic : "");
  g_strstrip (text);
  if (chat->closed || chat->left)
    {
      g_autofree char *line = g_strdup_printf ("The subject was not changed: %s\nSubject: %s",
                                               chat->closed ? "this conversation is closed"
                                                            : "you left this conversation", text);
      write_error (c, line);
      return;
    }
  if (!amm_client_check_subject (pa->client, text, &error))
    {
      g_autofree char *line = g_strdup_printf ("The subject was not changed: %s\nSubject: %s",
                                               error->message, text);
      write_error (c, line);
      return;
    }
  if (chat->thread_id == NULL)
    {
      g_free (chat->subject);
      chat->subject = g_strdup (text);
      if (c)
        {
          purple_conv_chat_set_topic (PURPLE_CONV_CHAT (c), pa->self_address, text);
          set_title (pa, chat, c);
        }
      return;
    }
  amm_client_set_subject_async (pa->client, chat->thread_id, text, pa->cancellable, subject_cb,
                                chat_op_new (pa, chat->id, text));
}

/* --- plugin-wide: commands and signals ---------------------------------------------------- */

static PurpleCmdId leave_cmd, amm_leave_cmd, topic_cmd;

/* libpurple writes "X left the room" with the local time when a chat user is removed; AMM
 * chats write their own line with the server's time and the display name. */
static gboolean
on_chat_buddy_leaving (PurpleConversation *conv, const char *name, const char *reason, gpointer data)
{
  return is_amm_account (purple_conversation_get_account (conv));
}

void
amm_chat_plugin_load (PurplePlugin *plugin)
{
  PurpleCmdFlag flags = PURPLE_CMD_FLAG_CHAT | PURPLE_CMD_FLAG_PRPL_ONLY;

  /* No libpurple UI (Pidgin, Finch) has a built-in "leave"; the prpl priority wins over
   * plugins' defaults. "/amm-leave" is an alias that never clashes. */
  leave_cmd = purple_cmd_register ("leave", "", PURPLE_CMD_P_PRPL, flags, AMM_PRPL_ID, cmd_leave,
                                   "leave: leave this conversation on the server (closing the "
                                   "window does not).", NULL);
  amm_leave_cmd = purple_cmd_register ("amm-leave", "", PURPLE_CMD_P_PRPL, flags, AMM_PRPL_ID,
                                       cmd_leave, "amm-leave: same as /leave.", NULL);
  topic_cmd = purple_cmd_register ("topic", "s", PURPLE_CMD_P_PRPL, flags, AMM_PRPL_ID, cmd_topic,
                                   "topic &lt;subject&gt;: change the conversation's subject.", NULL);
}

static gboolean chat_signals_connected;

void
amm_chat_connect_signals (PurplePlugin *plugin)
{
  if (chat_signals_connected)
    return;
  chat_signals_connected = TRUE;
  purple_signal_connect (purple_conversations_get_handle (), "chat-buddy-leaving", plugin,
                         PURPLE_CALLBACK (on_chat_buddy_leaving), NULL);
}

void
amm_chat_plugin_unload (PurplePlugin *plugin)
{
  if (leave_cmd)
    purple_cmd_unregister (leave_cmd);
  if (amm_leave_cmd)
    purple_cmd_unregister (amm_leave_cmd);
  if (topic_cmd)
    purple_cmd_unregister (topic_cmd);
  leave_cmd = amm_leave_cmd = topic_cmd = 0;
  purple_signals_disconnect_by_handle (plugin);
  chat_signals_connected = FALSE;
}
