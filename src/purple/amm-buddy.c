/* amm-buddy.c: address validation, add_buddy, get_info, aliases and "available" presence. */
#include "amm-buddy.h"

#include <string.h>
#include <account.h>
#include <debug.h>
#include <notify.h>
#include <prpl.h>
#include <server.h>

#include "amm-conversations.h"
#include "amm-errors.h"

void
amm_buddy_init (AmmPurpleAccount *pa)
{
  pa->known_addresses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

void
amm_buddy_cleanup (AmmPurpleAccount *pa)
{
  g_clear_pointer (&pa->known_addresses, g_hash_table_unref);
}

static void
set_available (PurpleAccount *account, const char *name)
{
  purple_prpl_got_user_status (account, name, "available", NULL);
}

void
amm_buddy_signed_on (AmmPurpleAccount *pa)
{
  GSList *buddies;

  if (amm_purple_account_is_closed (pa))
    return;
  /* AMM has no presence; messages are always stored. Shown as available so that Pidgin and
   * Finch (which hide offline buddies by default) list them. */
  buddies = purple_find_buddies (pa->account, NULL);
  for (GSList *l = buddies; l; l = l->next)
    set_available (pa->account, purple_buddy_get_name (l->data));
  g_slist_free (buddies);
}

/* amm_purple_normalize_address (address) is address itself: no upper case, no white space
 * around it. */
static gboolean
is_normal_address (const char *address)
{
  gsize n = strlen (address);

  if (n == 0 || g_ascii_isspace (address[0]) || g_ascii_isspace (address[n - 1]))
    return FALSE;
  for (const char *p = address; *p; p++)
    if (g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

/* `s` without the white space around it: its start, and its length in *len. */
static const char *
strip_span (const char *s, gsize *len)
{
  gsize n;

  while (g_ascii_isspace (*s))
    s++;
  n = strlen (s);
  while (n > 0 && g_ascii_isspace (s[n - 1]))
    n--;
  *len = n;
  return s;
}

/* Is `name` what amm_entity_display_name (entity) gives ("Given Surname", either alone, else
 * the address)? Compared without building it. */
static gboolean
is_display_name (const char *name, const AmmEntity *entity)
{
  gsize gl, sl, nl = strlen (name);
  const char *g = strip_span (entity->given_name ? entity->given_name : "", &gl);
  const char *s = strip_span (entity->surname ? entity->surname : "", &sl);

  if (gl > 0 && sl > 0)
    return nl == gl + 1 + sl && strncmp (name, g, gl) == 0 && name[gl] == ' '
           && strncmp (name + gl + 1, s, sl) == 0;
  if (gl > 0 || sl > 0)
    return nl == gl + sl && strncmp (name, gl > 0 ? g : s, nl) == 0;
  return strcmp (name, entity->address) == 0;
}

static gboolean
has_name (const AmmEntity *entity)
{
  gsize gl, sl;

  strip_span (entity->given_name ? entity->given_name : "", &gl);
  strip_span (entity->surname ? entity->surname : "", &sl);
  return gl > 0 || sl > 0;
}

void
amm_buddy_remember_entity (AmmPurpleAccount *pa, const AmmEntity *entity)
{
  g_autofree char *key = NULL;
  char *name;
  const char *old;

  if (entity == NULL || entity->address == NULL || *entity->address == '\0'
      || pa->known_addresses == NULL)
    return;
  if (is_normal_address (entity->address))
    {
      /* every message repeats its sender and participants: nothing to allocate for those the
       * account knows already, under the same name (or with none to learn) */
      old = g_hash_table_lookup (pa->known_addresses, entity->address);
      if (old != NULL && (!has_name (entity) || is_display_name (old, entity)))
        return;
    }
  key = amm_purple_normalize_address (entity->address);
  name = amm_entity_display_name (entity);
  old = g_hash_table_lookup (pa->known_addresses, key);
  if (name == NULL || g_ascii_strcasecmp (name, entity->address) == 0)
    {
      g_free (name);
      /* keep a name learnt earlier */
      if (old == NULL)
        g_hash_table_insert (pa->known_addresses, g_steal_pointer (&key), g_strdup (""));
      return;
    }
  g_hash_table_insert (pa->known_addresses, g_steal_pointer (&key), name);
}

gboolean
amm_buddy_is_known (AmmPurpleAccount *pa, const char *address)
{
  g_autofree char *key = amm_purple_normalize_address (address);
  return pa->known_addresses && g_hash_table_contains (pa->known_addresses, key);
}

char *
amm_buddy_display_name (AmmPurpleAccount *pa, const char *address)
{
  g_autofree char *key = amm_purple_normalize_address (address);
  const char *name = pa->known_addresses ? g_hash_table_lookup (pa->known_addresses, key) : NULL;

  return g_strdup (name && *name ? name : address);
}

char *
amm_buddy_invalid_text (GStrv invalid)
{
  guint n = invalid ? g_strv_length (invalid) : 0;
  g_autofree char *list = NULL;

  if (n == 0)
    return g_strdup ("");
  if (n == 1)
    return g_strdup_printf ("%s is not a valid AMM address", invalid[0]);
  list = g_strjoinv (", ", invalid);
  return g_strdup_printf ("%s are not valid AMM addresses", list);
}

/* --- validation --------------------------------------------------------------------------- */

typedef struct {
  AmmPurpleAccount *pa;
  AmmBuddyValidated callback;
  gpointer          user_data;
} ValidateData;

static void
validate_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ValidateData *vd = user_data;
  AmmPurpleAccount *pa = vd->pa;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) results = NULL;
  g_autoptr(GPtrArray) invalid = g_ptr_array_new_with_free_func (g_free);

  results = amm_client_validate_addresses_finish (AMM_CLIENT (source), result, &error);
  if (amm_purple_error_is_cancelled (error) || amm_purple_account_is_closed (pa))
    {
      /* The callback is always called (it owns user_data): it sees the cancellation, checks
       * amm_purple_account_is_closed() first and frees its data. */
      g_autoptr(GError) cancelled = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                         "Operation was cancelled");
      vd->callback (pa, NULL, cancelled, vd->user_data);
      goto out;
    }

  for (guint i = 0; results && i < results->len; i++)
    {
      AmmValidation *v = g_ptr_array_index (results, i);
      if (v->entity == NULL)
        g_ptr_array_add (invalid, g_strdup (v->query));
      else
        {
          g_autofree char *key = amm_purple_normalize_address (v->query);
          amm_buddy_remember_entity (pa, v->entity);
          /* the query may differ in case from the canonical address */
          if (!g_hash_table_contains (pa->known_addresses, key))
            g_hash_table_insert (pa->known_addresses, g_steal_pointer (&key),
                                 amm_entity_display_name (v->entity));
        }
    }
  if (invalid->len > 0)
    {
      g_ptr_array_add (invalid, NULL);
      vd->callback (pa, (GStrv) invalid->pdata, NULL, vd->user_data);
    }
  else
    vd->callback (pa, NULL, results ? NULL : error, vd->user_data);

out:
  amm_purple_account_unref (pa);
  g_free (vd);
}

void
amm_buddy_validate (AmmPurpleAccount *pa, const char * const *addresses,
                    AmmBuddyValidated callback, gpointer user_data)
{
  ValidateData *vd = g_new0 (ValidateData, 1);

  vd->pa = amm_purple_account_ref (pa);
  vd->callback = callback;
  vd->user_data = user_data;
  amm_client_validate_addresses_async (pa->client, addresses, pa->cancellable, validate_cb, vd);
}

/* --- add_buddy ---------------------------------------------------------------------------- */

static void
add_buddy_validated (AmmPurpleAccount *pa, GStrv invalid, const GError *error, gpointer user_data)
{
  g_autofree char *name = user_data;
  PurpleBuddy *buddy;

  if (amm_purple_account_is_closed (pa))
    return;
  buddy = purple_find_buddy (pa->account, name);
  if (invalid)
    {
      g_autofree char *primary = g_strdup_printf ("Cannot add %s", name);
      g_autofree char *secondary = amm_buddy_invalid_text (invalid);
      purple_debug_info ("amm", "%s: buddy %s refused: not a valid address\n", pa->self_address, name);
      if (buddy)
        purple_blist_remove_buddy (buddy);
      purple_notify_error (pa->gc, "Invalid AMM address", primary, secondary);
      return;
    }
  if (error)
    {
      /* validation unavailable: keep the buddy, it may well be valid */
      purple_debug_warning ("amm", "%s: could not validate %s: %s\n", pa->self_address, name,
                            error->message);
    }
  else if (buddy)
    {
      g_autofree char *display = amm_buddy_display_name (pa, name);
      if (g_ascii_strcasecmp (display, name) != 0)
        serv_got_alias (pa->gc, name, display);
    }
  set_available (pa->account, name);
}

void
amm_buddy_add (PurpleConnection *gc, PurpleBuddy *buddy, PurpleGroup *group)
{
  AmmPurpleAccount *pa = amm_purple_account_from_gc (gc);
  const char *name = purple_buddy_get_name (buddy);
  const char *addresses[] = { name, NULL };

  if (pa == NULL || amm_purple_account_is_closed (pa) || name == NULL)
    return;
  amm_buddy_validate (pa, addresses, add_buddy_validated, g_strdup (name));
}

/* --- get_info ----------------------------------------------------------------------------- */

/* One row per phone number, labelled by its type: "Work phone" → "+1 555 0101 (primary)".
 * The primary mark only when there is more than one number. */
static void
add_phone_numbers (PurpleNotifyUserInfo *info, const AmmEntity *entity)
{
  guint n = entity->phone_numbers ? entity->phone_numbers->len : 0;

  for (guint i = 0; i < n; i++)
    {
      const AmmPhoneNumber *p = g_ptr_array_index (entity->phone_numbers, i);
      g_autofree char *label = amm_phone_number_label (p);
      g_autofree char *key = NULL;
      g_autofree char *value = NULL;

      if (p->value == NULL || *p->value == '\0')
        continue;
      {
        g_autofree char *lower = g_ascii_strdown (label, -1);
        /* "Work" → "Work phone"; "Phone", "Desk phone" stay as they are */
        key = g_str_has_suffix (lower, "phone") ? g_strdup (label) : g_strdup_printf ("%s phone", label);
      }
      value = n > 1 && p->primary ? g_strdup_printf ("%s (primary)", p->value) : g_strdup (p->value);
      purple_notify_user_info_add_pair_plaintext (info, key, value);
    }
}

static void
get_info_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ValidateData *vd = user_data;
  AmmPurpleAccount *pa = vd->pa;
  g_autofree char *who = vd->user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) results = NULL;
  PurpleNotifyUserInfo *info;
  AmmValidation *v = NULL;

  results = amm_client_validate_addresses_finish (AMM_CLIENT (source), result, &error);
  if (amm_purple_error_is_cancelled (error) || amm_purple_account_is_closed (pa))
    goto out;

  info = purple_notify_user_info_new ();
  if (results && results->len > 0)
    v = g_ptr_array_index (results, 0);
  if (v && v->entity)
    {
      g_autofree char *name = amm_entity_display_name (v->entity);
      amm_buddy_remember_entity (pa, v->entity);
      purple_notify_user_info_add_pair_plaintext (info, "Name", name);
      purple_notify_user_info_add_pair_plaintext (info, "Address", v->entity->address);
      if (v->entity->given_name)
        purple_notify_user_info_add_pair_plaintext (info, "Given name", v->entity->given_name);
      if (v->entity->surname)
        purple_notify_user_info_add_pair_plaintext (info, "Surname", v->entity->surname);
      add_phone_numbers (info, v->entity);
    }
  else if (v)
    {
      purple_notify_user_info_add_pair_plaintext (info, "Address", who);
      purple_notify_user_info_add_pair_plaintext (info, "Status", "Not a valid AMM address");
    }
  else
    {
      g_autofree char *why = amm_purple_error_text (error, pa->host);
      purple_notify_user_info_add_pair_plaintext (info, "Address", who);
      purple_notify_user_info_add_pair_plaintext (info, "Error", why);
    }
  purple_notify_userinfo (pa->gc, who, info, NULL, NULL);
  purple_notify_user_info_destroy (info);

out:
  amm_purple_account_unref (pa);
  g_free (vd);
}

void
amm_buddy_get_info (PurpleConnection *gc, const char *who)
{
  AmmPurpleAccount *pa = amm_purple_account_from_gc (gc);
  const char *addresses[] = { who, NULL };
  ValidateData *vd;

  if (pa == NULL || amm_purple_account_is_closed (pa) || who == NULL)
    return;
  vd = g_new0 (ValidateData, 1);
  vd->pa = amm_purple_account_ref (pa);
  vd->user_data = g_strdup (who);
  amm_client_validate_addresses_async (pa->client, addresses, pa->cancellable, get_info_cb, vd);
}
