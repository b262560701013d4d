/* server.h: the AMM test server object shared by its modules. */
#pragma once

#include <libsoup/soup.h>

#include "server-state.h"

G_BEGIN_DECLS

typedef enum {
  AMM_API_2_1 = 21,
  AMM_API_3 = 30,
  AMM_API_3_2 = 32,
} AmmApiLevel;

typedef struct {
  char *host;
  int port;
  gboolean tls;
  char *cert_file;
  char *key_file;
  char *seed_file;
  char *state_file;
  AmmApiLevel api;
  gboolean no_websocket;
  int control_port;          /* -1: no control port */
  char *port_file;
  char *bot;
  int max_message_count;
  int max_text_length;
  int ping_interval;
  gboolean verbose;
} AmmServerOptions;

typedef struct _AmmChannel AmmChannel;
typedef struct _AmmLongPoll AmmLongPoll;

typedef struct {
  AmmServerOptions opt;
  AmmState *state;
  SoupServer *soup;
  SoupServer *control;
  GMainLoop *loop;
  GHashTable *sessions;      /* cookie value -> address (owned strings) */
  GHashTable *channels;      /* channel id -> AmmChannel */
  GList *long_polls;         /* AmmLongPoll */
  guint64 requests;
  guint16 port;
  guint16 control_port;
  gboolean shutting_down;
} AmmServer;

/* server.c */
AmmServer *amm_server_new (AmmServerOptions *opt, GError **error);
gboolean   amm_server_listen (AmmServer *server, GError **error);
void       amm_server_shutdown (AmmServer *server);
void       amm_server_free (AmmServer *server);
/* After a change to conv (msg: the new message, may be NULL): save, bump the entity tags of
 * every participant (plus `extra`, e.g. one who just left), notify channels, wake long polls,
 * let the bot answer. */
void       amm_server_changed (AmmServer *server, AmmConversation *conv, AmmMessage *msg,
                               const char *extra);

/* server-util.c */
void        amm_log (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
char       *amm_request_base (AmmServer *server, SoupServerMessage *msg, gboolean websocket);
void        amm_respond_json (SoupServerMessage *msg, guint status, const char *content_type,
                              JsonNode *node);
void        amm_respond_error (SoupServerMessage *msg, guint status, const char *error_code,
                               const char *error_msg, const char *display_msg);
void        amm_respond_fault (SoupServerMessage *msg, const GError *error);
void        amm_respond_empty (SoupServerMessage *msg, guint status);
/* The authenticated user from Basic auth or the session cookie, or NULL.
 * *via_basic is set when Basic credentials were used. */
AmmUser    *amm_authenticate (AmmServer *server, SoupServerMessage *msg, gboolean *via_basic);
void        amm_respond_unauthorized (SoupServerMessage *msg);
/* Authenticates a REST request, setting the session cookie when needed; answers 401 and
 * returns NULL on failure. */
AmmUser    *amm_require_user (AmmServer *server, SoupServerMessage *msg);
void        amm_session_remove (AmmServer *server, SoupServerMessage *msg);
/* Content-Type must be one of types (NULL-terminated), else 415 is answered and FALSE. */
gboolean    amm_check_content_type (SoupServerMessage *msg, const char * const *types,
                                    const char **matched);
/* Picks the first type in `types` the Accept header allows; NULL after answering 406. */
const char *amm_negotiate (SoupServerMessage *msg, const char * const *types);
/* Parses the request body as a JSON object; answers 400 and returns NULL otherwise. */
JsonObject *amm_parse_body_object (SoupServerMessage *msg, JsonNode **root);
void        amm_install_request_hooks (AmmServer *server);
const char *amm_message_user (SoupServerMessage *msg);
void        amm_message_set_user (SoupServerMessage *msg, const char *address);

/* server-rest.c */
void amm_rest_install (AmmServer *server);
JsonNode *amm_rest_list_document (AmmServer *server, const char *user, const char *base,
                                  gboolean incremental, gint64 after);

/* server-channel.c */
void  amm_channel_install (AmmServer *server);
void  amm_channel_notify_conversation (AmmServer *server, const char *user);
guint amm_channel_drop_user (AmmServer *server, const char *user);
void  amm_channel_close_all (AmmServer *server);
guint amm_channel_count_for (AmmServer *server, const char *user);

/* server-longpoll.c */
gboolean amm_long_poll_hold (AmmServer *server, SoupServerMessage *msg, const char *user,
                             const char *content_type, gint64 after, guint timeout_s);
void     amm_long_poll_wake (AmmServer *server, const char *user);
void     amm_long_poll_finish_all (AmmServer *server);
guint    amm_long_poll_count (AmmServer *server);

/* server-control.c */
gboolean amm_control_listen (AmmServer *server, GError **error);

/* server-bot.c */
void amm_bot_consider (AmmServer *server, AmmConversation *conv, AmmMessage *msg);

G_END_DECLS
