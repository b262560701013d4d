/* amm-connection.h: per-PurpleConnection state, login and close.
 *
 * The state is reference counted: the PurpleConnection's protocol data holds one reference,
 * and every async operation holds one. close() clears `gc` and `account` and cancels
 * everything, so a callback that runs later sees amm_purple_account_is_closed() and returns
 * without touching libpurple.
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>
#include <connection.h>
#include "amm-client.h"

G_BEGIN_DECLS

typedef struct _AmmPurpleAccount AmmPurpleAccount;

struct _AmmPurpleAccount {
  gint              ref_count;
  PurpleConnection *gc;            /* NULL once closed */
  PurpleAccount    *account;       /* NULL once closed */
  AmmClient        *client;        /* owned; kept until the last reference goes */
  GCancellable     *cancellable;   /* cancelled by close() */
  char             *host;          /* the server host, named in error texts */
  char             *self_address;  /* the user's own AMM address */
  gulong            message_handler;
  gulong            cursor_handler;
  gulong            lost_handler;
  gulong            channel_handler;
  GHashTable       *send_queues;   /* normalised peer → per-peer send queue (amm-im.c) */
  GHashTable       *direct_threads;/* normalised peer → thread id of the last 1:1 conversation */
  /* Group conversations, typing, read state, buddies (amm-chat.c, amm-typing.c, amm-read.c,
   * amm-buddy.c); each module owns its state and its handlers. */
  struct _AmmChats *chats;
  struct _AmmReadState *read;
  GHashTable       *known_addresses; /* normalised address → display name ("" = unknown): validated or seen */
  gulong            typing_handler;
  gulong            read_handler;
  gulong            changed_handler;
  GHashTable       *typing_watched;  /* thread ids whose chatState is watched (amm-typing.c) */
};

AmmPurpleAccount *amm_purple_account_ref (AmmPurpleAccount *pa);
void              amm_purple_account_unref (AmmPurpleAccount *pa);
gboolean          amm_purple_account_is_closed (AmmPurpleAccount *pa);
AmmPurpleAccount *amm_purple_account_from_gc (PurpleConnection *gc);

/* The normalised form of an AMM address (ASCII lower case). Newly allocated. */
char *amm_purple_normalize_address (const char *address);

/* PurplePluginProtocolInfo.login / .close */
void amm_connection_login (PurpleAccount *account);
void amm_connection_close (PurpleConnection *gc);

G_END_DECLS
