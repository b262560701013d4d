/* server-longpoll.c: AMM 2.1 long polling (docs/protocol.md §9): GET C?after=ISO with
 * Avaya-Request-Timeout is held until something of the user changes or the timeout. */
#include "server.h"

struct _AmmLongPoll {
  AmmServer *server;
  SoupServerMessage *msg;
  char *user;
  char *content_type;
  char *base;
  gint64 after;
  guint timeout_id;
};

static void
poll_free (AmmLongPoll *p)
{
  if (p->timeout_id)
    g_source_remove (p->timeout_id);
  g_signal_handlers_disconnect_by_data (p->msg, p);
  g_object_unref (p->msg);
  g_free (p->user);
  g_free (p->content_type);
  g_free (p->base);
  g_free (p);
}

static void
poll_remove (AmmLongPoll *p)
{
  p->server->long_polls = g_list_remove (p->server->long_polls, p);
  poll_free (p);
}

static void
poll_answer (AmmLongPoll *p)
{
  g_autoptr (JsonNode) doc = amm_rest_list_document (p->server, p->user, p->base, TRUE, p->after);
  SoupServerMessage *msg = g_object_ref (p->msg);
  g_autofree char *type = g_strdup (p->content_type);

  poll_remove (p);
  amm_respond_json (msg, 200, type, doc);
  soup_server_message_unpause (msg);
  g_object_unref (msg);
}

static gboolean
poll_timeout (gpointer data)
{
  AmmLongPoll *p = data;

  p->timeout_id = 0;
  poll_answer (p);
  return G_SOURCE_REMOVE;
}

/* The client went away while the request was held. */
static void
poll_gone (SoupServerMessage *msg, gpointer data)
{
  AmmLongPoll *p = data;

  if (p->server->opt.verbose)
    amm_log ("long poll of %s: client gone", p->user);
  poll_remove (p);
}

gboolean
amm_long_poll_hold (AmmServer *server, SoupServerMessage *msg, const char *user,
                    const char *content_type, gint64 after, guint timeout_s)
{
  AmmLongPoll *p;

  if (server->shutting_down)
    return FALSE;
  p = g_new0 (AmmLongPoll, 1);
  p->server = server;
  p->msg = g_object_ref (msg);
  p->user = g_strdup (user);
  p->content_type = g_strdup (content_type);
  p->base = amm_request_base (server, msg, FALSE);
  p->after = after;
  p->timeout_id = g_timeout_add_seconds (timeout_s, poll_timeout, p);
  g_signal_connect (msg, "finished", G_CALLBACK (poll_gone), p);
  g_signal_connect (msg, "disconnected", G_CALLBACK (poll_gone), p);
  server->long_polls = g_list_prepend (server->long_polls, p);
  soup_server_message_pause (msg);
  return TRUE;
}

void
amm_long_poll_wake (AmmServer *server, const char *user)
{
  GList *l = server->long_polls;

  while (l) {
    AmmLongPoll *p = l->data;
    l = l->next;
    if (!user || g_ascii_strcasecmp (p->user, user) == 0)
      poll_answer (p);
  }
}

void
amm_long_poll_finish_all (AmmServer *server)
{
  amm_long_poll_wake (server, NULL);
}

guint
amm_long_poll_count (AmmServer *server)
{
  return g_list_length (server->long_polls);
}
