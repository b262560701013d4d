/* amm-buddy.h: buddies and addresses: add_buddy validation, get_info, display names as aliases,
 * "available" presence once signed on (AMM has no presence), and the address check before the
 * first IM to a new address. */
#pragma once

#include <glib.h>
#include <blist.h>
#include <connection.h>
#include "amm-connection.h"

G_BEGIN_DECLS

void amm_buddy_init (AmmPurpleAccount *pa);
void amm_buddy_cleanup (AmmPurpleAccount *pa);
/* After sign-on: every buddy of the account is shown as available. */
void amm_buddy_signed_on (AmmPurpleAccount *pa);

/* Remember an address as valid/seen, with its display name (entity may carry none). */
void amm_buddy_remember_entity (AmmPurpleAccount *pa, const AmmEntity *entity);
gboolean amm_buddy_is_known (AmmPurpleAccount *pa, const char *address);
/* The display name of an address ("Given Surname"), else the address. Newly allocated. */
char *amm_buddy_display_name (AmmPurpleAccount *pa, const char *address);

/* Validate addresses (local pre-check, then the server). `invalid` lists the refused addresses
 * (NULL-terminated, NULL when all are valid); `error` is set when validation itself failed. */
typedef void (*AmmBuddyValidated) (AmmPurpleAccount *pa, GStrv invalid, const GError *error,
                                   gpointer user_data);
void amm_buddy_validate (AmmPurpleAccount *pa, const char * const *addresses,
                         AmmBuddyValidated callback, gpointer user_data);
/* "x is not a valid AMM address" / "x and y are not valid AMM addresses". Newly allocated. */
char *amm_buddy_invalid_text (GStrv invalid);

/* PurplePluginProtocolInfo.add_buddy / get_info */
void amm_buddy_add (PurpleConnection *gc, PurpleBuddy *buddy, PurpleGroup *group);
void amm_buddy_get_info (PurpleConnection *gc, const char *who);

G_END_DECLS
