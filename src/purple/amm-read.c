/* amm-read.c: read state (see amm-read.h). */
#include "amm-read.h"

#include <account.h>
#include <debug.h>

#include "amm-conversations.h"
#include "amm-settings.h"

#define AMM_PRPL_ID "prpl-amm"
#define THREAD_KEY  "amm-thread"

struct _AmmReadState {
  GHashTable *pending;  /* thread id → GPtrArray of message ids delivered unread, not yet seen */
};

void
amm_read_init (AmmPurpleAccount *pa)
{
  pa->read = g_new0 (struct _AmmReadState, 1);
  pa->read->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                             (GDestroyNotify) g_ptr_array_unref);
}

void
amm_read_cleanup (AmmPurpleAccount *pa)
{
  if (pa->read == NULL)
    return;
  g_hash_table_unref (pa->read->pending);
  g_clear_pointer (&pa->read, g_free);
}

static gboolean
report_read (AmmPurpleAccount *pa)
{
  return pa->account && purple_account_get_bool (pa->account, AMM_OPT_REPORT_READ, TRUE);
}

/* Does the UI know about focus? Pidgin and Finch do; Bitlbee (and a headless core) do not. */
static gboolean
ui_has_focus_notion (PurpleConversation *pconv)
{
  PurpleConversationUiOps *ops = pconv ? purple_conversation_get_ui_ops (pconv) : NULL;
  return ops != NULL && ops->has_focus != NULL;
}

static void
mark_pending (AmmPurpleAccount *pa, const char *thread_id)
{
  GPtrArray *ids = g_hash_table_lookup (pa->read->pending, thread_id);

  if (ids == NULL)
    return;
  if (report_read (pa))
    for (guint i = 0; i < ids->len; i++)
      amm_client_mark_read (pa->client, thread_id, g_ptr_array_index (ids, i));
  purple_debug_misc ("amm", "%s: %u message(s) of %s seen%s\n", pa->self_address, ids->len,
                     thread_id, report_read (pa) ? "" : " (not reported: report-read is off)");
  g_hash_table_remove (pa->read->pending, thread_id);
}

void
amm_read_delivered (AmmPurpleAccount *pa, PurpleConversation *pconv, const char *thread_id,
                    AmmMessage *msg)
{
  GPtrArray *ids;

  if (pa->read == NULL || thread_id == NULL || msg == NULL || msg->id == NULL)
    return;
  if (pconv)
    purple_conversation_set_data (pconv, THREAD_KEY, (gpointer) g_intern_string (thread_id));
  if (msg->read)
    return;
  ids = g_hash_table_lookup (pa->read->pending, thread_id);
  if (ids == NULL)
    {
      ids = g_ptr_array_new_with_free_func (g_free);
      g_hash_table_insert (pa->read->pending, g_strdup (thread_id), ids);
    }
  g_ptr_array_add (ids, g_strdup (msg->id));
  if (!ui_has_focus_notion (pconv) || purple_conversation_has_focus (pconv))
    mark_pending (pa, thread_id);
}

static gboolean
is_ours (PurpleConversation *conv, AmmPurpleAccount **out)
{
  PurpleAccount *account = purple_conversation_get_account (conv);
  AmmPurpleAccount *pa;

  if (account == NULL || g_strcmp0 (purple_account_get_protocol_id (account), AMM_PRPL_ID) != 0)
    return FALSE;
  pa = amm_purple_account_from_gc (purple_account_get_connection (account));
  if (pa == NULL || amm_purple_account_is_closed (pa) || pa->read == NULL)
    return FALSE;
  *out = pa;
  return TRUE;
}

void
amm_read_message_read (AmmPurpleAccount *pa, AmmConversation *conv, AmmMessage *msg)
{
  const char *thread = msg && msg->thread_id ? msg->thread_id : (conv ? conv->id : NULL);
  GPtrArray *ids;

  if (pa->read == NULL || thread == NULL)
    return;
  ids = g_hash_table_lookup (pa->read->pending, thread);
  if (ids && msg && msg->id)
    for (guint i = 0; i < ids->len; i++)
      if (g_strcmp0 (g_ptr_array_index (ids, i), msg->id) == 0)
        {
          g_ptr_array_remove_index (ids, i);
          break;
        }
  if (ids && ids->len > 0)
    return;
  g_hash_table_remove (pa->read->pending, thread);

  /* Nothing unread is left: clear the unseen state of the conversation showing it. */
  for (GList *l = purple_get_conversations (); l; l = l->next)
    {
      PurpleConversation *c = l->data;
      if (purple_conversation_get_account (c) == pa->account
          && purple_conversation_get_data (c, THREAD_KEY) == g_intern_string (thread))
        {
          purple_debug_misc ("amm", "%s: %s read on another device\n", pa->self_address, thread);
          purple_conversation_set_data (c, "unseen-count", GINT_TO_POINTER (0));
          purple_conversation_update (c, PURPLE_CONV_UPDATE_UNSEEN);
        }
    }
}

/* Pidgin and Finch clear "unseen-count" and emit UPDATE_UNSEEN when the user looks at a
 * conversation (focus). */
static void
on_conversation_updated (PurpleConversation *conv, PurpleConvUpdateType type, gpointer data)
{
  AmmPurpleAccount *pa = NULL;
  const char *thread;

  if (type != PURPLE_CONV_UPDATE_UNSEEN || !is_ours (conv, &pa))
    return;
  if (GPOINTER_TO_INT (purple_conversation_get_data (conv, "unseen-count")) != 0)
    return;
  thread = purple_conversation_get_data (conv, THREAD_KEY);
  if (thread)
    mark_pending (pa, thread);
}

static gboolean read_signals_connected;

void
amm_read_plugin_load (PurplePlugin *plugin)
{
}

void
amm_read_connect_signals (PurplePlugin *plugin)
{
  if (read_signals_connected)
    return;
  read_signals_connected = TRUE;
  purple_signal_connect (purple_conversations_get_handle (), "conversation-updated", plugin,
                         PURPLE_CALLBACK (on_conversation_updated), NULL);
}

void
amm_read_plugin_unload (PurplePlugin *plugin)
{
  purple_signals_disconnect_by_handle (plugin);
  read_signals_connected = FALSE;
}
