/* main.c: amm-server's command line (see --help and tests/amm-server/README.md). */
#include <glib-unix.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "amm-protocol.h"
#include "server.h"

static const char description[] =
  "An AMM-compatible test server (HTTP/HTTPS REST, WebSocket, Server-Sent Events and\n"
  "AMM 2.1 long polling) following docs/protocol.md. Users come from the seed file;\n"
  "the seeded users are alice, bob, carol and dave @example.com (passwords NAME-pw).\n"
  "\n"
  "API levels (--api): 3.2 = resources.v4 with the conversationsFilter.v1 and\n"
  "addressesToValidate.v1 request types; 3 = resources.v4 without them (GET listing with\n"
  "?after=, GET validateAddresses); 2.1 = resources.v4 is answered 406, resources.v3 is served\n"
  "and clients long-poll (no notificationService). A 3.x server also serves resources.v3.\n"
  "\n"
  "Control interface (--control-port, loopback only, JSON in and out):\n"
  "  POST /control/send {\"from\",\"to\":[..],\"threadId\"?,\"body\"}\n"
  "                                   send as a user; answers the stored message\n"
  "  GET  /control/messages?user=ADDR  {\"messages\":[..]} every message the user can see\n"
  "                                   (events included), oldest first, with threadId\n"
  "  GET  /control/conversations?user=ADDR  {\"conversations\":[..]} (left ones included)\n"
  "  GET  /control/stats               {\"requests\":N,\"channels\":{ADDR:N},\"longPolls\":N}\n"
  "  POST /control/drop-channels?user=ADDR  close that user's WebSocket/SSE channels (1001)\n"
  "  POST /control/leave {\"user\",\"threadId\"}           the user leaves (LEFT event)\n"
  "  POST /control/add-participants {\"user\",\"threadId\",\"addresses\":[..]}  (JOINED event)\n"
  "  POST /control/subject {\"user\",\"threadId\",\"subject\"}  (SUBJECT_CHANGE event)\n"
  "  POST /control/close {\"user\",\"threadId\"}           close the conversation (CLOSED event)\n"
  "  POST /control/mark-read {\"user\",\"messageIds\":[..]}  as if another device of the user read them\n"
  "  POST /control/typing {\"user\",\"threadId\",\"state\"}  relay a chatState as the user\n"
  "  POST /control/shutdown            save the state and exit\n"
  "\n"
  "Fault switches (control port; see README.md \"Fault switches\"):\n"
  "  POST /control/fault {\"name\":N, \"path\"?:\"/aem\", \"method\"?, \"user\"?, \"count\"?, \"skip\"?, ...}\n"
  "    request faults, for the next `count` matching REST requests (default: until cleared):\n"
  "      status {status?:503, retryAfter?}   html {status?:502}   bad-json   content-type\n"
  "      {contentType?:text/plain}   truncate   trickle {bytesPerSecond?:1}   stall {ms?}\n"
  "      reset (before the handler)   store-reset (after it: a send is stored, no answer)\n"
  "    actions: restart {downMs?:300}   drop-channels {user?}\n"
  "      ws-garbage {frame: text|binary|unknown-key|huge|truncated-json, count?, size?, user?}\n"
  "  GET  /control/fault               the faults in force and their hits\n"
  "  DELETE /control/fault[?name=N]    clear them (held answers go out; all: truncateDownloads too)\n"
  "  POST /control/fault {\"truncateDownloads\":bool}  attachment downloads cut in half\n"
  "\n"
  "SIGTERM and SIGINT save the state, close the channels and exit 0.";

/* soup_server_disconnect() closes each connection synchronously, and closing a TLS connection
 * whose handshake is still running waits for that handshake, i.e. forever when the client went
 * quiet mid-handshake. The state is saved and the channels closed by then, so after a short
 * grace the process just leaves. */
#define EXIT_GRACE_MS 300

static gpointer
exit_watchdog (gpointer data)
{
  g_usleep (EXIT_GRACE_MS * 1000);
  amm_log ("connections still closing after %d ms (a stalled TLS handshake?); exiting", EXIT_GRACE_MS);
  _exit (0);
  return NULL;
}

static gboolean
on_signal (gpointer data)
{
  amm_server_shutdown (data);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  AmmServerOptions opt = {
    .port = AMM_DEFAULT_PORT,
    .control_port = -1,
    .max_message_count = 50,
    .max_text_length = 10000,
    .ping_interval = 30,
    .max_ids_limit = 100,
  };
  g_autofree char *host = NULL, *cert = NULL, *key = NULL, *seed = NULL, *state = NULL;
  g_autofree char *api = NULL, *port_file = NULL, *bot = NULL;
  gboolean tls = FALSE, no_websocket = FALSE, verbose = FALSE;
  gboolean no_state = FALSE;
  int port = AMM_DEFAULT_PORT, control_port = -1;
  int max_message_count = 50, max_text_length = 10000, ping_interval = 30;
  gint64 max_image = 10485760, max_video = 104857600, max_audio = 20971520, max_generic = 10485760;
  gboolean no_rich_content = FALSE, no_conversation_ids = FALSE;
  int max_ids_limit = 100;
  GOptionEntry entries[] = {
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, "IP address to listen on (default 127.0.0.1)", "ADDR" },
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "Port to listen on (default 8443; 0 = ephemeral)", "N" },
    { "tls", 0, 0, G_OPTION_ARG_NONE, &tls, "Serve HTTPS and wss:// (with --cert and --key)", NULL },
    { "cert", 0, 0, G_OPTION_ARG_FILENAME, &cert, "TLS certificate (default build/tls/server.pem)", "FILE" },
    { "key", 0, 0, G_OPTION_ARG_FILENAME, &key, "TLS private key (default build/tls/server-key.pem)", "FILE" },
    { "seed", 0, 0, G_OPTION_ARG_FILENAME, &seed, "Users and domains (default tests/amm-server/seed.json)", "FILE" },
    { "state", 0, 0, G_OPTION_ARG_FILENAME, &state, "State file: loaded at start if it exists, saved ~100 ms after a change and at exit", "FILE" },
    { "no-state", 0, 0, G_OPTION_ARG_NONE, &no_state, "Ignore --state: load and save nothing (benchmarks)", NULL },
    { "api", 0, 0, G_OPTION_ARG_STRING, &api, "Highest AMM API offered: 3.2 (default), 3 or 2.1", "3.2|3|2.1" },
    { "no-websocket", 0, 0, G_OPTION_ARG_NONE, &no_websocket, "Refuse WebSocket handshakes with 403 (clients fall back to SSE)", NULL },
    { "control-port", 0, 0, G_OPTION_ARG_INT, &control_port, "Loopback-only control port (0 = ephemeral; default: none)", "N" },
    { "port-file", 0, 0, G_OPTION_ARG_FILENAME, &port_file, "Write \"PORT CONTROLPORT\\n\" here once listening", "FILE" },
    { "bot", 0, 0, G_OPTION_ARG_STRING, &bot, "This seeded user answers every 1:1 message after ~200 ms", "ADDRESS" },
    { "max-message-count", 0, 0, G_OPTION_ARG_INT, &max_message_count, "Messages embedded per conversation and page cap (default 50)", "N" },
    { "max-text-length", 0, 0, G_OPTION_ARG_INT, &max_text_length, "Longest message body in characters (default 10000)", "N" },
    { "ping-interval", 0, 0, G_OPTION_ARG_INT, &ping_interval, "Seconds between SSE Ping events (default 30)", "N" },
    { "max-image-size", 0, 0, G_OPTION_ARG_INT64, &max_image, "Largest image attachment in bytes (default 10485760; 0 = no limit)", "N" },
    { "max-video-size", 0, 0, G_OPTION_ARG_INT64, &max_video, "Largest video attachment in bytes (default 104857600; 0 = no limit)", "N" },
    { "max-audio-size", 0, 0, G_OPTION_ARG_INT64, &max_audio, "Largest audio attachment in bytes (default 20971520; 0 = no limit)", "N" },
    { "max-generic-size", 0, 0, G_OPTION_ARG_INT64, &max_generic, "Largest other attachment in bytes (default 10485760; 0 = no limit)", "N" },
    { "no-rich-content", 0, 0, G_OPTION_ARG_NONE, &no_rich_content, "richContent false: only image, video and audio attachments (others 415)", NULL },
    { "max-ids-limit", 0, 0, G_OPTION_ARG_INT, &max_ids_limit, "Most conversation ids in one by-id listing, announced as maxIdsLimit (default 100; 0 = not announced, no limit)", "N" },
    { "no-conversation-ids", 0, 0, G_OPTION_ARG_NONE, &no_conversation_ids, "No conversations.ids.v1 on GET conversations (406), as a server without it", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log every request (method, path, status, user, bytes; never credentials)", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- AMM test server");
  g_autoptr (GError) error = NULL;
  AmmServer *server;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context, description);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("amm-server: %s\n", error->message);
    return 2;
  }
  if (!api || g_str_equal (api, "3.2"))
    opt.api = AMM_API_3_2;
  else if (g_str_equal (api, "3"))
    opt.api = AMM_API_3;
  else if (g_str_equal (api, "2.1"))
    opt.api = AMM_API_2_1;
  else {
    g_printerr ("amm-server: --api must be 3.2, 3 or 2.1\n");
    return 2;
  }
  if (port < 0 || port > 65535 || control_port > 65535 || max_message_count < 1
      || max_text_length < 0 || ping_interval < 1 || max_ids_limit < 0) {
    g_printerr ("amm-server: bad numeric option\n");
    return 2;
  }
  opt.host = host ? host : (char *) "127.0.0.1";
  opt.port = port;
  opt.tls = tls;
  opt.cert_file = cert ? cert : (char *) "build/tls/server.pem";
  opt.key_file = key ? key : (char *) "build/tls/server-key.pem";
  opt.seed_file = seed ? seed : (char *) "tests/amm-server/seed.json";
  opt.state_file = no_state ? NULL : state;
  opt.no_websocket = no_websocket;
  opt.control_port = control_port;
  opt.port_file = port_file;
  opt.bot = bot;
  opt.max_message_count = max_message_count;
  opt.max_text_length = max_text_length;
  opt.ping_interval = ping_interval;
  opt.verbose = verbose;
  if (max_image < 0 || max_video < 0 || max_audio < 0 || max_generic < 0) {
    g_printerr ("amm-server: attachment limits must be >= 0\n");
    return 2;
  }
  opt.max_image_size = max_image;
  opt.max_video_size = max_video;
  opt.max_audio_size = max_audio;
  opt.max_generic_size = max_generic;
  opt.no_rich_content = no_rich_content;
  opt.max_ids_limit = max_ids_limit;
  opt.no_conversation_ids = no_conversation_ids;

  server = amm_server_new (&opt, &error);
  if (!server) {
    g_printerr ("amm-server: %s\n", error->message);
    return 1;
  }
  /* before listening: a test may stop the server as soon as it announces its port */
  g_unix_signal_add (SIGTERM, on_signal, server);
  g_unix_signal_add (SIGINT, on_signal, server);
  if (!amm_server_listen (server, &error)) {
    g_printerr ("amm-server: %s\n", error->message);
    return 1;
  }
  g_main_loop_run (server->loop);
  /* changes made during the shutdown grace period */
  if (server->state->save_id && !amm_state_save (server->state, &error))
    amm_log ("cannot save the state: %s", error->message);
  g_thread_unref (g_thread_new ("exit-watchdog", exit_watchdog, NULL));
  amm_server_free (server);
  return 0;
}
