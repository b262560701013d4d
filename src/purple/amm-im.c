/* amm-im.c: send_im with a per-peer queue, and incoming message delivery. */
#include "amm-im.h"

#include <errno.h>
#include <string.h>
#include <account.h>
#include <debug.h>
#include <server.h>
#include <version.h>

#include "amm-buddy.h"
#include "amm-chat.h"
#include "amm-conversations.h"
#include "amm-errors.h"
#include "amm-markup.h"
#include "amm-read.h"
#include "amm-typing.h"
#include "amm-xfer.h"

#if !PURPLE_VERSION_CHECK(2, 12, 0)
#define PURPLE_MESSAGE_REMOTE_SEND 0x10000
#endif

/* One message waiting to be sent (or in flight). */
typedef struct {
  AmmPurpleAccount *pa;   /* a reference while in flight */
  char             *who;  /* the peer as the user gave it */
  char             *key;  /* normalised peer */
  char             *text; /* the exact text typed */
} AmmPendingSend;

/* Sends to one peer go one at a time, in order: the second message to a new peer must
 * reuse the conversation the first one created. */
typedef struct {
  GQueue   waiting;       /* of AmmPendingSend*, not yet started */
  gboolean busy;          /* one send in flight (owned by its callback) */
  AmmPendingSend *validating;  /* the in-flight send while its address is validated (not owned) */
} AmmSendQueue;

static void
pending_send_free (AmmPendingSend *ps)
{
  if (ps == NULL)
    return;
  g_free (ps->who);
  g_free (ps->key);
  g_free (ps->text);
  g_free (ps);
}

static void
send_queue_free (AmmSendQueue *q)
{
  g_queue_clear_full (&q->waiting, (GDestroyNotify) pending_send_free);
  g_free (q);
}

void
amm_im_init (AmmPurpleAccount *pa)
{
  pa->send_queues = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) send_queue_free);
  pa->direct_threads = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static PurpleConversation *
get_im (PurpleAccount *account, const char *who)
{
  PurpleConversation *conv;

  conv = purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, who, account);
  if (conv == NULL)
    conv = purple_conversation_new (PURPLE_CONV_TYPE_IM, account, who);
  return conv;
}

/* Tell the user, in the IM, that `text` did not reach `who`, and why. */
static void
write_not_delivered (PurpleAccount *account, const char *who, const char *text, const char *why)
{
  PurpleConversation *conv = get_im (account, who);
  g_autofree char *why_html = amm_markup_text_to_html (why);
  g_autofree char *text_html = amm_markup_text_to_html (text);
  g_autofree char *msg = g_strdup_printf ("The message was not delivered: %s<br>Undelivered text:<br>%s",
                                          why_html, text_html);

  if (conv)
    purple_conversation_write (conv, NULL, msg, PURPLE_MESSAGE_ERROR, time (NULL));
}

void
amm_im_cleanup (AmmPurpleAccount *pa)
{
  GHashTableIter iter;
  gpointer value;

  if (pa->send_queues && pa->account)
    {
      g_hash_table_iter_init (&iter, pa->send_queues);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          AmmSendQueue *q = value;
          AmmPendingSend *ps;

          while ((ps = g_queue_pop_head (&q->waiting)) != NULL)
            {
              purple_debug_warning ("amm", "%s: dropping a queued message to %s: account closing\n",
                                    pa->self_address, ps->who);
              write_not_delivered (pa->account, ps->who, ps->text, "the account was disconnected");
              pending_send_free (ps);
            }
          /* a first message waiting for its address validation: reported here, freed by
           * first_send_validated() when the cancelled validation completes */
          if (q->validating)
            {
              write_not_delivered (pa->account, q->validating->who, q->validating->text,
                                   "the account was disconnected");
              q->validating = NULL;
            }
        }
    }
  g_clear_pointer (&pa->send_queues, g_hash_table_unref);
  g_clear_pointer (&pa->direct_threads, g_hash_table_unref);
}

/* The conversation to send to `key`: the core's newest 1:1 conversation with the peer, else the
 * one this session last used with them; NULL starts a new conversation. */
static char *
find_thread (AmmPurpleAccount *pa, const char *who, const char *key)
{
  AmmConversation *conv = amm_client_find_direct_conversation (pa->client, who);
  const char *known;

  if (conv != NULL && conv->id != NULL)
    return g_strdup (conv->id);
  known = g_hash_table_lookup (pa->direct_threads, key);
  return known ? g_strdup (known) : NULL;
}

static void send_next (AmmPurpleAccount *pa, const char *key);

static void
send_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  AmmPendingSend *ps = user_data;
  AmmPurpleAccount *pa = ps->pa;
  g_autoptr(GError) error = NULL;
  g_autoptr(AmmMessage) msg = NULL;
  AmmSendQueue *q;

  msg = amm_client_send_text_finish (AMM_CLIENT (source), result, &error);
  if (amm_purple_error_is_cancelled (error) || amm_purple_account_is_closed (pa))
    {
      purple_debug_info ("amm", "send to %s ended by close\n", ps->who);
      goto out;
    }

  if (msg == NULL)
    {
      g_autofree char *why = amm_purple_error_text (error, pa->host);
      purple_debug_warning ("amm", "%s: message to %s not delivered: %s\n", pa->self_address,
                            ps->who, why);
      write_not_delivered (pa->account, ps->who, ps->text, why);
    }
  else
    {
      purple_debug_misc ("amm", "%s: message %s delivered to %s in %s\n", pa->self_address,
                         msg->id ? msg->id : "?", ps->who, msg->thread_id ? msg->thread_id : "?");
      if (msg->thread_id)
        {
          g_hash_table_insert (pa->direct_threads, g_strdup (ps->key), g_strdup (msg->thread_id));
          amm_purple_typing_watch (pa, msg->thread_id, TRUE);
        }
    }

  q = g_hash_table_lookup (pa->send_queues, ps->key);
  if (q)
    q->busy = FALSE;
  send_next (pa, ps->key);

out:
  amm_purple_account_unref (pa);
  pending_send_free (ps);
}

/* The first message to a new address waited for its validation. */
static void
first_send_validated (AmmPurpleAccount *pa, GStrv invalid, const GError *error, gpointer user_data)
{
  AmmPendingSend *ps = user_data;
  AmmSendQueue *q;

  if (amm_purple_account_is_closed (pa))
    {
      /* amm_im_cleanup() reported the text as not delivered */
      amm_purple_account_unref (ps->pa);
      pending_send_free (ps);
      return;
    }
  q = g_hash_table_lookup (pa->send_queues, ps->key);
  if (q && q->validating == ps)
    q->validating = NULL;
  if (invalid || amm_purple_error_is_cancelled (error))
    {
      g_autofree char *why = invalid ? amm_buddy_invalid_text (invalid)
                                     : amm_purple_error_text (error, pa->host);
      AmmPendingSend *next;

      purple_debug_info ("amm", "%s: not sending to %s: %s\n", pa->self_address, ps->who, why);
      write_not_delivered (pa->account, ps->who, ps->text, why);
      while (q && (next = g_queue_pop_head (&q->waiting)) != NULL)
        {
          write_not_delivered (pa->account, next->who, next->text, why);
          pending_send_free (next);
        }
      if (q)
        q->busy = FALSE;
      g_hash_table_remove (pa->send_queues, ps->key);
      amm_purple_account_unref (ps->pa);
      pending_send_free (ps);
      return;
    }
  if (error)
    purple_debug_warning ("amm", "%s: could not validate %s (%s): sending anyway\n",
                          pa->self_address, ps->who, error->message);
  else
    {
      g_autofree char *display = amm_buddy_display_name (pa, ps->who);
      if (purple_find_buddy (pa->account, ps->who) && g_strcmp0 (display, ps->who) != 0)
        serv_got_alias (pa->gc, ps->who, display);
    }
  {
    const char *to[] = { pa->self_address, ps->who, NULL };
    purple_debug_misc ("amm", "%s: sending %zu bytes to %s in a new conversation\n",
                       pa->self_address, strlen (ps->text), ps->who);
    amm_client_send_text_async (pa->client, NULL, to, ps->text, pa->cancellable, send_cb, ps);
  }
}

static void
send_next (AmmPurpleAccount *pa, const char *key)
{
  AmmSendQueue *q = g_hash_table_lookup (pa->send_queues, key);
  AmmPendingSend *ps;
  g_autofree char *thread = NULL;

  if (q == NULL || q->busy)
    return;
  ps = g_queue_pop_head (&q->waiting);
  if (ps == NULL)
    {
      g_hash_table_remove (pa->send_queues, key);
      return;
    }

  q->busy = TRUE;
  ps->pa = amm_purple_account_ref (pa);
  thread = find_thread (pa, ps->who, ps->key);
  if (thread == NULL && !amm_buddy_is_known (pa, ps->who))
    {
      /* A new address: validate it before the first message (amm-buddy.c). */
      const char *addresses[] = { ps->who, NULL };
      q->validating = ps;
      amm_buddy_validate (pa, addresses, first_send_validated, ps);
      return;
    }
  {
    const char *to[] = { pa->self_address, ps->who, NULL };
    purple_debug_misc ("amm", "%s: sending %zu bytes to %s in %s\n", pa->self_address,
                       strlen (ps->text), ps->who, thread ? thread : "a new conversation");
    amm_client_send_text_async (pa->client, thread, to, ps->text,
                                pa->cancellable, send_cb, ps);
  }
}

int
amm_im_send (PurpleConnection *gc, const char *who, const char *message, PurpleMessageFlags flags)
{
  AmmPurpleAccount *pa = amm_purple_account_from_gc (gc);
  AmmPendingSend *ps;
  AmmSendQueue *q;
  g_autofree char *text = NULL;
  g_autofree char *key = NULL;

  if (pa == NULL || amm_purple_account_is_closed (pa) || pa->client == NULL)
    return -ENOTCONN;

  text = amm_markup_html_to_text (message);
  if (*text == '\0')
    return 0;  /* nothing to send (e.g. only an image) */
  {
    g_autoptr(GError) too_long = NULL;
    if (!amm_client_check_text (pa->client, text, &too_long))
      {
        /* refused before sending; the text is written back, not lost */
        g_autofree char *why = amm_purple_error_text (too_long, pa->host);
        write_not_delivered (pa->account, who, text, why);
        return 0;
      }
  }

  key = amm_purple_normalize_address (who);
  ps = g_new0 (AmmPendingSend, 1);
  ps->who = g_strdup (who);
  ps->key = g_strdup (key);
  ps->text = g_steal_pointer (&text);

  q = g_hash_table_lookup (pa->send_queues, key);
  if (q == NULL)
    {
      q = g_new0 (AmmSendQueue, 1);
      g_queue_init (&q->waiting);
      g_hash_table_insert (pa->send_queues, g_strdup (key), q);
    }
  g_queue_push_tail (&q->waiting, ps);
  send_next (pa, key);
  return 1;
}

/* --- incoming ----------------------------------------------------------------------------- */

static void
add_participant (GPtrArray *seen, const char *address)
{
  g_autofree char *norm = NULL;

  if (address == NULL || *address == '\0')
    return;
  norm = amm_purple_normalize_address (address);
  for (guint i = 0; i < seen->len; i++)
    if (strcmp (g_ptr_array_index (seen, i), norm) == 0)
      return;
  g_ptr_array_add (seen, g_steal_pointer (&norm));
}

/* Distinct participants, normalised: the message's "to" (every participant, sender included),
 * else the core's view of the conversation. */
static GPtrArray *
participants_of (AmmPurpleAccount *pa, AmmConversation *conv, AmmMessage *msg)
{
  GPtrArray *seen = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; msg->to && i < msg->to->len; i++)
    {
      AmmEntity *e = g_ptr_array_index (msg->to, i);
      add_participant (seen, e ? e->address : NULL);
    }
  if (seen->len == 0 && msg->thread_id)
    {
      g_autoptr(GPtrArray) core = amm_client_conversation_participants (pa->client, msg->thread_id);
      for (guint i = 0; core && i < core->len; i++)
        add_participant (seen, g_ptr_array_index (core, i));
    }
  if (msg->from)
    add_participant (seen, msg->from->address);
  return seen;
}

void
amm_im_message_received (AmmPurpleAccount *pa, AmmConversation *conv, AmmMessage *msg,
                         gboolean from_self)
{
  g_autoptr(GPtrArray) people = NULL;
  g_autofree char *self = NULL;
  g_autofree char *html = NULL;
  g_autofree char *body = NULL;
  const char *peer = NULL;
  const char *thread_id;
  time_t when;

  if (msg == NULL)
    return;
  thread_id = msg->thread_id ? msg->thread_id : (conv ? conv->id : NULL);

  /* Conversations of more than two participants are chats (amm-chat.c). */
  if (amm_chat_message_received (pa, conv, msg, from_self))
    return;

  if (msg->event_type != AMM_EVENT_MESSAGE)
    {
      purple_debug_misc ("amm", "%s: event %d in %s not shown (only messages are, for now)\n",
                         pa->self_address, (int) msg->event_type, thread_id ? thread_id : "?");
      return;
    }

  self = amm_purple_normalize_address (pa->self_address);
  people = participants_of (pa, conv, msg);

  if (people->len > 2)
    {
      purple_debug_info ("amm", "%s: message %s in group conversation %s (%u participants) not shown: "
                         "group conversations are not supported yet\n", pa->self_address,
                         msg->id ? msg->id : "?", thread_id ? thread_id : "?", people->len);
      return;
    }
  for (guint i = 0; i < people->len; i++)
    if (strcmp (g_ptr_array_index (people, i), self) != 0)
      peer = g_ptr_array_index (people, i);
  if (peer == NULL)
    peer = self;  /* a note to oneself */

  if (thread_id)
    g_hash_table_insert (pa->direct_threads, g_strdup (peer), g_strdup (thread_id));
  amm_buddy_remember_entity (pa, msg->from);
  for (guint i = 0; i < msg->to->len; i++)
    amm_buddy_remember_entity (pa, g_ptr_array_index (msg->to, i));

  if (*msg->body == '\0' && msg->parts && msg->parts->len > 0)
    body = amm_xfer_describe_parts (msg);  /* offered as file transfers (amm-xfer.c) */
  else
    body = g_strdup (msg->body);
  html = amm_markup_text_to_html (body);
  when = msg->received_date ? (time_t) g_date_time_to_unix (msg->received_date) : time (NULL);

  if (!from_self && msg->read)
    {
      /* Read on another device: history in an open window, without notification; skipped
       * when no window is open. */
      PurpleConversation *open = purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, peer,
                                                                        pa->account);
      if (open)
        purple_conv_im_write (PURPLE_CONV_IM (open), peer, html,
                              PURPLE_MESSAGE_RECV | PURPLE_MESSAGE_DELAYED, when);
      return;
    }
  if (!from_self)
    {
      PurpleConversation *shown;

      purple_debug_misc ("amm", "%s: message %s from %s\n", pa->self_address,
                         msg->id ? msg->id : "?", peer);
      serv_got_im (pa->gc, peer, html, PURPLE_MESSAGE_RECV, when);
      shown = purple_find_conversation_with_account (PURPLE_CONV_TYPE_IM, peer, pa->account);
      if (shown && !amm_purple_account_is_closed (pa))
        {
          amm_read_delivered (pa, shown, thread_id, msg);
          amm_purple_typing_watch (pa, thread_id, TRUE);
        }
    }
  else
    {
      PurpleConversation *pconv = get_im (pa->account, peer);

      purple_debug_misc ("amm", "%s: message %s to %s sent from another device\n",
                         pa->self_address, msg->id ? msg->id : "?", peer);
      if (pconv)
        purple_conv_im_write (PURPLE_CONV_IM (pconv), pa->self_address, html,
                              PURPLE_MESSAGE_SEND | PURPLE_MESSAGE_REMOTE_SEND, when);
    }
}
