/* amm-xfer.h: AMM attachments as libpurple file transfers.
 *
 * Sending (IMs: send_file / new_xfer; group conversations: the "Send file…" entry of the
 * chat's buddy-list menu) uploads through the core (amm-upload.c), streamed, with the xfer's
 * progress bar and cancel. Receiving offers every attachment of a delivered message as a
 * RECEIVE transfer ("bob wants to send you photo.jpg (2.1 MB)"); accepting downloads it
 * through the core to the chosen file, declining downloads nothing. Small JPEGs are also shown
 * inline. The xfers run over HTTP, not a socket: purple_xfer_start (xfer, -1, NULL, 0) and
 * our own start/cancel functions.
 */
#pragma once

#include <glib.h>
#include <blist.h>
#include <connection.h>
#include <ft.h>
#include "amm-client.h"
#include "amm-connection.h"

G_BEGIN_DECLS

/* JPEGs up to this size are shown inline as well as offered. */
#define AMM_XFER_INLINE_MAX_BYTES (256 * 1024)

/* PurplePluginProtocolInfo members */
gboolean    amm_xfer_can_receive (PurpleConnection *gc, const char *who);
void        amm_xfer_send_file (PurpleConnection *gc, const char *who, const char *file);
PurpleXfer *amm_xfer_new_xfer (PurpleConnection *gc, const char *who);

/* Entries for the buddy-list menu of a node ("Send file…" on a group conversation); the
 * caller appends them to its own. */
GList *amm_xfer_blist_node_menu (PurpleBlistNode *node);

/* Send `path` into the group conversation `thread_id` (the chat menu's action). */
void amm_xfer_send_to_thread (AmmPurpleAccount *pa, const char *thread_id, const char *path);

/* A delivered message: offer its attachments, show small JPEGs inline. Called after the
 * message's text was written (amm-connection.c). */
void amm_xfer_message_received (AmmPurpleAccount *pa, AmmConversation *conv, AmmMessage *msg,
                                gboolean from_self);

/* The text shown for a message with attachments and no body: "[photo.jpg, 2.1 MB]". */
char *amm_xfer_describe_parts (const AmmMessage *msg);

G_END_DECLS
