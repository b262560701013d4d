/* amm-prpl.c: the libpurple plugin: PurplePluginInfo, PurplePluginProtocolInfo, options,
 * status types. Everything else lives in the other amm-*.c files. */
/* A loadable plugin: PURPLE_INIT_PLUGIN exports purple_init_plugin only with this. */
#ifndef PURPLE_PLUGINS
#define PURPLE_PLUGINS
#endif

#include <glib.h>

#include <account.h>
#include <accountopt.h>
#include <connection.h>
#include <debug.h>
#include <plugin.h>
#include <prpl.h>
#include <status.h>
#include <version.h>

#include "amm-buddy.h"
#include "amm-chat.h"
#include "amm-connection.h"
#include "amm-im.h"
#include "amm-read.h"
#include "amm-roomlist.h"
#include "amm-typing.h"
#include "amm-settings.h"
#include "amm-xfer.h"

#define AMM_PLUGIN_ID      "prpl-amm"
#define AMM_PLUGIN_NAME    "AMM"
#define AMM_PLUGIN_VERSION "0.1.0"

static const char *
amm_list_icon (PurpleAccount *account, PurpleBuddy *buddy)
{
  return "amm";
}

static GList *
amm_status_types (PurpleAccount *account)
{
  GList *types = NULL;

  types = g_list_append (types, purple_status_type_new_full (PURPLE_STATUS_AVAILABLE, NULL, NULL,
                                                             TRUE, TRUE, FALSE));
  types = g_list_append (types, purple_status_type_new_full (PURPLE_STATUS_OFFLINE, NULL, NULL,
                                                             TRUE, TRUE, FALSE));
  return types;
}

static const char *
amm_normalize (const PurpleAccount *account, const char *who)
{
  static char buf[512];
  g_autofree char *norm = amm_purple_normalize_address (who);

  g_strlcpy (buf, norm, sizeof buf);
  return buf;
}

/* AMM has no presence: a buddy is never "online", but messages to them are always stored. */
static gboolean
amm_offline_message (const PurpleBuddy *buddy)
{
  return TRUE;
}

static GHashTable *
amm_account_text_table (PurpleAccount *account)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);

  g_hash_table_insert (table, "login_label", g_strdup ("AMM address (user@example.com)"));
  return table;
}

/* Every module's entries for a buddy-list node, appended (amm-chat.c, amm-xfer.c). */
static GList *
amm_blist_node_menu (PurpleBlistNode *node)
{
  return g_list_concat (amm_chat_blist_node_menu (node), amm_xfer_blist_node_menu (node));
}

static PurplePluginProtocolInfo prpl_info = {
  .options = OPT_PROTO_CHAT_TOPIC, /* a password is required */
  .icon_spec = NO_BUDDY_ICONS,
  .list_icon = amm_list_icon,
  .status_types = amm_status_types,
  .login = amm_connection_login,
  .close = amm_connection_close,
  .send_im = amm_im_send,
  .normalize = amm_normalize,
  .offline_message = amm_offline_message,
  .get_account_text_table = amm_account_text_table,
  /* groups, typing, buddies (amm-chat.c, amm-roomlist.c, amm-typing.c, amm-buddy.c) */
  .chat_info = amm_chat_info,
  .chat_info_defaults = amm_chat_info_defaults,
  .get_chat_name = amm_chat_get_name,
  .join_chat = amm_chat_join,
  .chat_invite = amm_chat_invite,
  .chat_leave = amm_chat_leave,
  .chat_send = amm_chat_send,
  .set_chat_topic = amm_chat_set_topic,
  .blist_node_menu = amm_blist_node_menu,
  .roomlist_get_list = amm_roomlist_get_list,
  .send_typing = amm_purple_typing_send_im,
  .convo_closed = amm_purple_typing_convo_closed,
  .add_buddy = amm_buddy_add,
  .get_info = amm_buddy_get_info,
  /* attachments as file transfers (amm-xfer.c) */
  .can_receive_file = amm_xfer_can_receive,
  .send_file = amm_xfer_send_file,
  .new_xfer = amm_xfer_new_xfer,
  .struct_size = sizeof (PurplePluginProtocolInfo),
};

static gboolean
plugin_load (PurplePlugin *plugin)
{
  purple_debug_info ("amm", "purple-amm %s loaded\n", AMM_PLUGIN_VERSION);
  amm_chat_plugin_load (plugin);
  amm_purple_typing_plugin_load (plugin);
  amm_read_plugin_load (plugin);
  return TRUE;
}

static gboolean
plugin_unload (PurplePlugin *plugin)
{
  amm_read_plugin_unload (plugin);
  amm_purple_typing_plugin_unload (plugin);
  amm_chat_plugin_unload (plugin);
  return TRUE;
}

static PurplePluginInfo info = {
  .magic = PURPLE_PLUGIN_MAGIC,
  .major_version = PURPLE_MAJOR_VERSION,
  .minor_version = PURPLE_MINOR_VERSION,
  .type = PURPLE_PLUGIN_PROTOCOL,
  .priority = PURPLE_PRIORITY_DEFAULT,
  .id = AMM_PLUGIN_ID,
  .name = AMM_PLUGIN_NAME,
  .version = AMM_PLUGIN_VERSION,
  .summary = "Avaya Multimedia Messaging (AMM) protocol plugin",
  .description = "Instant messages with Avaya Multimedia Messaging servers (AMM 2.1, 3 and 3.2): "
                 "push notifications over WebSocket, SSE or long polling, offline messages, "
                 "messages sent from your other devices.",
  .author = "purple-amm developers",
  .homepage = "https://github.com/purple-amm/purple-amm",
  .load = plugin_load,
  .unload = plugin_unload,
  .extra_info = &prpl_info,
};

static void
plugin_init (PurplePlugin *plugin)
{
  prpl_info.protocol_options = amm_settings_account_options ();
}

PURPLE_INIT_PLUGIN (amm, plugin_init, info)
