/* amm-connection.c: login, close and the core's connection-level signals. */
#include "amm-connection.h"
#include "amm-xfer.h"

#include <stdio.h>
#include <string.h>
#include <account.h>
#include <debug.h>

#include "amm-buddy.h"
#include "amm-chat.h"
#include "amm-errors.h"
#include "amm-fork.h"
#include "amm-im.h"
#include "amm-read.h"
#include "amm-typing.h"
#include "amm-proxy.h"
#include "amm-settings.h"

AmmPurpleAccount *
amm_purple_account_ref (AmmPurpleAccount *pa)
{
  g_atomic_int_inc (&pa->ref_count);
  return pa;
}

void
amm_purple_account_unref (AmmPurpleAccount *pa)
{
  if (pa == NULL || !g_atomic_int_dec_and_test (&pa->ref_count))
    return;
  g_clear_object (&pa->client);
  g_clear_object (&pa->cancellable);
  g_free (pa->host);
  g_free (pa->self_address);
  g_free (pa);
}

gboolean
amm_purple_account_is_closed (AmmPurpleAccount *pa)
{
  return pa == NULL || pa->gc == NULL || g_cancellable_is_cancelled (pa->cancellable);
}

AmmPurpleAccount *
amm_purple_account_from_gc (PurpleConnection *gc)
{
  return gc ? purple_connection_get_protocol_data (gc) : NULL;
}

char *
amm_purple_normalize_address (const char *address)
{
  g_autofree char *trimmed = g_strstrip (g_strdup (address ? address : ""));
  return g_ascii_strdown (trimmed, -1);
}

/* --- signals of the core ------------------------------------------------------------------ */

static void
on_cursor_changed (AmmClient *client, const char *cursor, gpointer user_data)
{
  AmmPurpleAccount *pa = user_data;

  if (amm_purple_account_is_closed (pa) || cursor == NULL)
    return;
  purple_debug_misc ("amm", "%s: cursor now %s\n", pa->self_address, cursor);
  purple_account_set_string (pa->account, AMM_OPT_CURSOR, cursor);
}

static void
on_connection_lost (AmmClient *client, GError *error, gpointer user_data)
{
  AmmPurpleAccount *pa = user_data;

  if (amm_purple_account_is_closed (pa))
    return;
  amm_purple_connection_error (pa->gc, error, pa->host);
}

static void
on_channel_changed (AmmClient *client, AmmChannelKind kind, gboolean up, gpointer user_data)
{
  AmmPurpleAccount *pa = user_data;

  if (amm_purple_account_is_closed (pa))
    return;
  purple_debug_info ("amm", "%s: notification channel %s is %s\n", pa->self_address,
                     amm_channel_kind_to_string (kind), up ? "up" : "down");
}

static void
on_message_received (AmmClient *client, AmmConversation *conv, AmmMessage *msg,
                     gboolean from_self, gpointer user_data)
{
  AmmPurpleAccount *pa = user_data;

  if (amm_purple_account_is_closed (pa))
    return;
  /* libpurple's signals may let a plugin close the account synchronously: keep `pa` alive */
  amm_purple_account_ref (pa);
  amm_im_message_received (pa, conv, msg, from_self);
  if (!amm_purple_account_is_closed (pa))
    amm_xfer_message_received (pa, conv, msg, from_self);  /* attachments (amm-xfer.c) */
  amm_purple_account_unref (pa);
}

static void
on_typing (AmmClient *client, const char *thread_id, const char *address, guint state,
           gpointer user_data)
{
  AmmPurpleAccount *pa = user_data;

  if (amm_purple_account_is_closed (pa))
    return;
  amm_purple_account_ref (pa);
  amm_purple_typing_received (pa, thread_id, address, state);
  amm_purple_account_unref (pa);
}

static void
on_message_read (AmmClient *client, AmmConversation *conv, AmmMessage *msg, gpointer user_data)
{
  AmmPurpleAccount *pa = user_data;

  if (amm_purple_account_is_closed (pa))
    return;
  amm_purple_account_ref (pa);
  amm_read_message_read (pa, conv, msg);
  amm_purple_account_unref (pa);
}

static void
on_conversation_changed (AmmClient *client, AmmConversation *conv, gpointer user_data)
{
  AmmPurpleAccount *pa = user_data;

  if (amm_purple_account_is_closed (pa))
    return;
  amm_purple_account_ref (pa);
  amm_chat_conversation_changed (pa, conv);
  amm_purple_account_unref (pa);
}

/* Connect `handler` to the core's `signal` if the core has it. */
static gulong
connect_if_present (AmmPurpleAccount *pa, const char *signal, GCallback handler)
{
  if (g_signal_lookup (signal, AMM_TYPE_CLIENT) == 0)
    {
      purple_debug_warning ("amm", "the core has no \"%s\" signal\n", signal);
      return 0;
    }
  return g_signal_connect (pa->client, signal, handler, pa);
}

/* --- login -------------------------------------------------------------------------------- */

static void
connect_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  AmmPurpleAccount *pa = user_data;
  AmmClient *client = AMM_CLIENT (source);
  g_autoptr(GError) error = NULL;
  const char *cursor;
  const char *self;
  gboolean ok;

  ok = amm_client_connect_finish (client, result, &error);
  if (amm_purple_error_is_cancelled (error) || amm_purple_account_is_closed (pa))
    goto out;

  if (!ok)
    {
      amm_purple_connection_error (pa->gc, error, pa->host);
      goto out;
    }

  self = amm_client_get_self_address (client);
  if (self && *self)
    {
      g_free (pa->self_address);
      pa->self_address = g_strdup (self);
    }
  purple_debug_info ("amm", "%s: connected to %s, AMM API %s\n", pa->self_address, pa->host,
                     amm_version_to_string (amm_client_get_version (client)));

  purple_connection_set_state (pa->gc, PURPLE_CONNECTED);
  /* A signed-on handler may have closed the account already. */
  if (amm_purple_account_is_closed (pa))
    goto out;
  amm_buddy_signed_on (pa);

  cursor = purple_account_get_string (pa->account, AMM_OPT_CURSOR, NULL);
  if (cursor != NULL && *cursor == '\0')
    cursor = NULL;
  purple_debug_info ("amm", "%s: starting sync from %s\n", pa->self_address,
                     cursor ? cursor : "(first login)");
  amm_client_start_sync (client, cursor);

out:
  amm_purple_account_unref (pa);
}

/* Test hook: $AMM_TEST_BACKOFF = "base_ms:max_ms:attempts" shortens the reconnect back-off so
 * that tests see a lost connection in a second instead of a minute. */
static void
apply_test_backoff (AmmClient *client)
{
  const char *spec = g_getenv ("AMM_TEST_BACKOFF");
  guint base = 0, max = 0, attempts = 0;

  if (spec && sscanf (spec, "%u:%u:%u", &base, &max, &attempts) == 3 && base > 0 && max >= base)
    {
      purple_debug_info ("amm", "test back-off: %u ms .. %u ms, %u attempts\n", base, max, attempts);
      amm_client_set_backoff (client, base, max, attempts);
    }
}

void
amm_connection_login (PurpleAccount *account)
{
  PurpleConnection *gc = purple_account_get_connection (account);
  g_autoptr(GError) error = NULL;
  g_autoptr(AmmSettings) settings = NULL;
  AmmPurpleAccount *pa;

  /* Bitlbee -F: a forked child must not share the main loop's wake-up fd with its parent. */
  amm_fork_guard_check ();

  pa = g_new0 (AmmPurpleAccount, 1);
  pa->ref_count = 1;
  pa->gc = gc;
  pa->account = account;
  pa->cancellable = g_cancellable_new ();
  pa->self_address = g_strdup (purple_account_get_username (account));
  amm_im_init (pa);
  amm_chat_init (pa);
  amm_read_init (pa);
  amm_buddy_init (pa);
  amm_purple_typing_init (pa);
  purple_connection_set_protocol_data (gc, pa);
  amm_chat_connect_signals (purple_connection_get_prpl (gc));
  amm_read_connect_signals (purple_connection_get_prpl (gc));
  amm_purple_typing_connect_signals (purple_connection_get_prpl (gc));

  /* libpurple hands us HTML (Pidgin markup, Bitlbee's escaped text) and we strip it once. */
  gc->flags |= PURPLE_CONNECTION_HTML | PURPLE_CONNECTION_NO_BGCOLOR | PURPLE_CONNECTION_NO_FONTSIZE
               | PURPLE_CONNECTION_NO_URLDESC | PURPLE_CONNECTION_NO_IMAGES;

  settings = amm_settings_from_account (account, &error);
  if (settings == NULL)
    {
      amm_purple_connection_error (gc, error, NULL);
      return;
    }
  pa->host = g_strdup (settings->host);

  pa->client = amm_client_new (settings, &error);
  if (pa->client == NULL)
    {
      amm_purple_connection_error (gc, error, pa->host);
      return;
    }

  {
    g_autofree char *proxy_desc = NULL;
    g_autoptr(GProxyResolver) resolver = amm_proxy_resolver_for_account (account, &proxy_desc);
    amm_client_set_proxy_resolver (pa->client, resolver);
    purple_debug_info ("amm", "%s: proxy: %s\n", pa->self_address, proxy_desc);
  }
  apply_test_backoff (pa->client);

  pa->message_handler = g_signal_connect (pa->client, "message-received",
                                          G_CALLBACK (on_message_received), pa);
  pa->cursor_handler = g_signal_connect (pa->client, "cursor-changed",
                                         G_CALLBACK (on_cursor_changed), pa);
  pa->lost_handler = g_signal_connect (pa->client, "connection-lost",
                                       G_CALLBACK (on_connection_lost), pa);
  pa->channel_handler = g_signal_connect (pa->client, "channel-changed",
                                          G_CALLBACK (on_channel_changed), pa);
  pa->typing_handler = connect_if_present (pa, "typing", G_CALLBACK (on_typing));
  pa->read_handler = connect_if_present (pa, "message-read", G_CALLBACK (on_message_read));
  pa->changed_handler = connect_if_present (pa, "conversation-changed",
                                            G_CALLBACK (on_conversation_changed));

  purple_debug_info ("amm", "%s: connecting to %s://%s:%u (API %s, poll %u min)\n",
                     pa->self_address, settings->use_tls ? "https" : "http", settings->host,
                     (guint) settings->port, amm_version_to_string (settings->version),
                     settings->poll_minutes);
  purple_connection_update_progress (gc, "Connecting", 0, 2);
  amm_client_connect_async (pa->client, pa->cancellable, connect_cb, amm_purple_account_ref (pa));
}

/* --- close -------------------------------------------------------------------------------- */

void
amm_connection_close (PurpleConnection *gc)
{
  AmmPurpleAccount *pa = amm_purple_account_from_gc (gc);

  if (pa == NULL)
    return;

  purple_debug_info ("amm", "%s: closing\n", pa->self_address);

  /* Undelivered queued messages are reported while the account is still usable. */
  amm_im_cleanup (pa);

  pa->gc = NULL;
  pa->account = NULL;
  g_cancellable_cancel (pa->cancellable);
  if (pa->client)
    {
      amm_client_shutdown (pa->client);
      g_clear_signal_handler (&pa->message_handler, pa->client);
      g_clear_signal_handler (&pa->cursor_handler, pa->client);
      g_clear_signal_handler (&pa->lost_handler, pa->client);
      g_clear_signal_handler (&pa->channel_handler, pa->client);
      g_clear_signal_handler (&pa->typing_handler, pa->client);
      g_clear_signal_handler (&pa->read_handler, pa->client);
      g_clear_signal_handler (&pa->changed_handler, pa->client);
    }
  amm_chat_cleanup (pa);
  amm_read_cleanup (pa);
  amm_buddy_cleanup (pa);
  amm_purple_typing_cleanup (pa);
  purple_connection_set_protocol_data (gc, NULL);
  amm_purple_account_unref (pa);
}
