/* server.c: the server object: setup, listening, change propagation, shutdown. */
#include "server.h"

AmmServer *
amm_server_new (AmmServerOptions *opt, GError **error)
{
  AmmServer *server = g_new0 (AmmServer, 1);

  server->opt = *opt;
  server->state = amm_state_new_from_seed (opt->seed_file, error);
  if (!server->state) {
    g_free (server);
    return NULL;
  }
  if (opt->state_file && !amm_state_load (server->state, opt->state_file, error)) {
    amm_state_free (server->state);
    g_free (server);
    return NULL;
  }
  if (opt->bot && !amm_state_find_user (server->state, opt->bot)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "--bot %s is not a seeded user", opt->bot);
    amm_state_free (server->state);
    g_free (server);
    return NULL;
  }
  server->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  server->loop = g_main_loop_new (NULL, FALSE);
  return server;
}

static GSocketAddress *
listen_address (const char *host, int port, GError **error)
{
  g_autoptr (GInetAddress) addr = NULL;

  if (g_ascii_strcasecmp (host, "localhost") == 0)
    addr = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else
    addr = g_inet_address_new_from_string (host);
  if (!addr) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "--host %s is not an IP address", host);
    return NULL;
  }
  return g_inet_socket_address_new (addr, port);
}

gboolean
amm_server_listen (AmmServer *server, GError **error)
{
  g_autoptr (GTlsCertificate) cert = NULL;
  g_autoptr (GSocketAddress) addr = NULL;

  if (server->opt.tls) {
    cert = g_tls_certificate_new_from_files (server->opt.cert_file, server->opt.key_file, error);
    if (!cert)
      return FALSE;
  }
  server->soup = soup_server_new ("server-header", "amm-server ", "tls-certificate", cert, NULL);
  amm_install_request_hooks (server);
  amm_rest_install (server);
  amm_media_install (server);
  amm_channel_install (server);
  amm_faults_install (server);

  if (!(addr = listen_address (server->opt.host, server->opt.port, error)))
    return FALSE;
  if (!soup_server_listen (server->soup, addr, server->opt.tls ? SOUP_SERVER_LISTEN_HTTPS : 0,
                           error))
    return FALSE;
  server->port = amm_listening_port (server->soup);

  if (!amm_control_listen (server, error))
    return FALSE;

  if (server->opt.port_file) {
    g_autofree char *text = g_strdup_printf ("%u %u\n", server->port, server->control_port);
    if (!g_file_set_contents (server->opt.port_file, text, -1, error))
      return FALSE;
  }
  amm_log ("serving AMM %s on %s://%s:%u%s%s (control port %u)",
           server->opt.api == AMM_API_3_2 ? "3.2" : server->opt.api == AMM_API_3 ? "3" : "2.1",
           server->opt.tls ? "https" : "http", server->opt.host, server->port,
           server->opt.no_websocket ? ", WebSocket refused" : "",
           server->opt.bot ? ", with a bot" : "", server->control_port);
  return TRUE;
}

void
amm_server_changed (AmmServer *server, AmmConversation *conv, AmmMessage *msg, const char *extra)
{
  amm_state_schedule_save (server->state);
  for (guint i = 0; conv && i < conv->participants->len; i++) {
    AmmParticipant *p = conv->participants->pdata[i];
    AmmUser *u;

    if (!p->active && !(extra && g_ascii_strcasecmp (extra, p->address) == 0))
      continue;
    u = amm_state_find_user (server->state, p->address);
    if (!u)
      continue;
    u->entity_tag++;
    amm_channel_notify_conversation (server, u->address);
    amm_long_poll_wake (server, u->address);
  }
  amm_bot_consider (server, conv, msg);
}

static gboolean
quit_idle (gpointer data)
{
  AmmServer *server = data;

  g_main_loop_quit (server->loop);
  return G_SOURCE_REMOVE;
}

void
amm_server_shutdown (AmmServer *server)
{
  g_autoptr (GError) error = NULL;

  if (server->shutting_down)
    return;
  server->shutting_down = TRUE;
  amm_log ("shutting down");
  if (!amm_state_save (server->state, &error))
    amm_log ("cannot save the state: %s", error->message);
  amm_long_poll_finish_all (server);
  amm_channel_close_all (server);
  /* Give close frames and the last answers a moment to leave. */
  g_timeout_add (150, quit_idle, server);
}

void
amm_server_free (AmmServer *server)
{
  if (!server)
    return;
  if (server->soup) {
    soup_server_disconnect (server->soup);
    g_object_unref (server->soup);
  }
  if (server->control) {
    soup_server_disconnect (server->control);
    g_object_unref (server->control);
  }
  if (server->channels)
    g_hash_table_unref (server->channels);
  g_hash_table_unref (server->sessions);
  amm_state_free (server->state);
  g_main_loop_unref (server->loop);
  g_free (server->media);
  g_free (server);
}
