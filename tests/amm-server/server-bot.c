/* server-bot.c: --bot ADDRESS, a seeded user who answers every 1:1 message (for `make demo`). */
#include "server.h"

typedef struct {
  AmmServer *server;
  char *thread_id;
  char *text;
} BotReply;

static gboolean
bot_reply (gpointer data)
{
  BotReply *r = data;
  AmmUser *bot = amm_state_find_user (r->server->state, r->server->opt.bot);
  g_autoptr (GError) error = NULL;
  g_autofree char *body = NULL;
  AmmMessage *m;

  if (bot && !r->server->shutting_down) {
    body = g_strdup_printf ("%s got: %s", bot->given_name, r->text);
    m = amm_state_send (r->server->state, bot->address, NULL, r->thread_id, "", body, NULL, NULL,
                        NULL, 0, NULL, NULL, &error);
    if (m)
      amm_server_changed (r->server, amm_state_find_conversation (r->server->state, m->thread_id),
                          m, NULL);
    else
      amm_log ("bot: cannot answer in %s: %s", r->thread_id, error->message);
  }
  g_free (r->thread_id);
  g_free (r->text);
  g_free (r);
  return G_SOURCE_REMOVE;
}

void
amm_bot_consider (AmmServer *server, AmmConversation *conv, AmmMessage *msg)
{
  guint active = 0;
  BotReply *r;

  if (!server->opt.bot || !conv || !msg || g_strcmp0 (msg->event_type, "MESSAGE") != 0
      || g_ascii_strcasecmp (msg->from, server->opt.bot) == 0
      || !amm_conversation_is_active_participant (conv, server->opt.bot))
    return;
  for (guint i = 0; i < conv->participants->len; i++)
    active += ((AmmParticipant *) conv->participants->pdata[i])->active ? 1 : 0;
  if (active != 2)
    return;
  r = g_new0 (BotReply, 1);
  r->server = server;
  r->thread_id = g_strdup (conv->id);
  r->text = g_strdup (msg->body);
  g_timeout_add (200, bot_reply, r);
}
