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
  /* attachments (server-media.c); 0 = no limit */
  gint64 max_image_size;
  gint64 max_video_size;
  gint64 max_audio_size;
  gint64 max_generic_size;
  gboolean no_rich_content;  /* generic (non image/video/audio) attachments refused, 415 */
  int max_ids_limit;         /* conversationsResource.limits.maxIdsLimit; 0 = not announced, no limit */
  gboolean no_conversation_ids; /* no conversations.ids.v1 on GET C (406, as an older server) */
} AmmServerOptions;

typedef struct _AmmChannel AmmChannel;
typedef struct _AmmLongPoll AmmLongPoll;
typedef struct _AmmMedia AmmMedia;

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
  AmmMedia *media;           /* server-media.c: fault switches */
} AmmServer;

/* server.c */
AmmServer *amm_server_new (AmmServerOptions *opt, GError **error);
gboolean   amm_server_listen (AmmServer *server, GError **error);
void       amm_server_shutdown (AmmServer *server);
void       amm_server_free (AmmServer *server);
/* After a change to conv (msg: the new message, may be NULL): schedule a save, bump the entity tags of
 * every participant (plus `extra`, e.g. one who just left), notify channels, wake long polls,
 * let the bot answer. */
void       amm_server_changed (AmmServer *server, AmmConversation *conv, AmmMessage *msg,
                               const char *extra);

/* server-util.c */
void        amm_log (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
/* The port the SoupServer listens on (its first listening socket), or 0. */
guint16     amm_listening_port (SoupServer *soup);
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
/* Relay a chatState (contents nullable) as `user` to the other active participants' channels
 * subscribed to conv's chatState; returns how many channels got it. */
guint amm_channel_relay_chat_state (AmmServer *server, const char *user, AmmConversation *conv,
                                    JsonObject *contents);
/* A raw frame (faults): text or binary, to user's channels (NULL: all); how many got it. */
guint amm_channel_send_raw (AmmServer *server, const char *user, gboolean binary,
                            const char *data, gsize len);

/* server-longpoll.c */
gboolean amm_long_poll_hold (AmmServer *server, SoupServerMessage *msg, const char *user,
                             const char *content_type, gint64 after, guint timeout_s);
void     amm_long_poll_wake (AmmServer *server, const char *user);
void     amm_long_poll_finish_all (AmmServer *server);
guint    amm_long_poll_count (AmmServer *server);

/* server-control.c */
gboolean amm_control_listen (AmmServer *server, GError **error);

/* server-conversations.c: conversation rules beyond sending (close, read views, controls) */
/* The reader's own view changed (read marks): save, bump their entity tag, notify only their
 * channels and long polls. */
void     amm_server_reader_changed (AmmServer *server, const char *user);
/* POST C/{id}/flags (conversation.flags.v1 {closed:true}) → CLOSED event. */
void     amm_conv_handle_flags (AmmServer *server, SoupServerMessage *msg, AmmUser *user,
                                AmmConversation *conv, const char *base);
/* An outbox document carrying event.type SUBJECT_CHANGE (2.1 subject change): answers and
 * returns TRUE; FALSE when the document is an ordinary message. */
gboolean amm_conv_outbox_event (AmmServer *server, SoupServerMessage *msg, AmmUser *user,
                                JsonObject *doc, const char *thread_id, const char *type,
                                const char *base);
/* A message `user` may see (a participant, and not stored after they left). */
gboolean amm_conv_message_visible (AmmConversation *conv, AmmMessage *msg, const char *user);
/* markAsReadBatch requests served so far (counted for /control/stats). */
void     amm_conv_note_mark_batch (void);
guint64  amm_conv_mark_batches (void);
/* /control/leave, add-participants, subject, close, mark-read, typing; FALSE if not one. */
gboolean amm_conv_control (AmmServer *server, SoupServerMessage *msg, const char *path);

/* server-media.c: attachments (uploads spooled to disk, limits, downloads, faults) */
void     amm_media_install (AmmServer *server);
/* The request body: the spooled multipart upload (memory-mapped) or the accumulated body. */
GBytes  *amm_media_request_body (SoupServerMessage *msg, GError **error);
/* Checks one uploaded part against the limits; answers 400/413/415 and FALSE otherwise. */
gboolean amm_media_check_part (AmmServer *server, SoupServerMessage *msg, const char *mime,
                               gsize size);
/* Serves an attachment's bytes (streamed in chunks, Content-Length). */
void     amm_media_respond (AmmServer *server, SoupServerMessage *msg, const char *mime,
                            GBytes *bytes);
/* POST /control/send's optional "attachments": [{"filename","mimeType"?,"data" (base64),
 * "inline"?}] as parts and their bytes (empty arrays when absent); answers 400 and FALSE when
 * malformed. */
gboolean amm_media_control_attachments (SoupServerMessage *msg, JsonObject *o, GPtrArray **parts,
                                        GPtrArray **media);
/* POST /control/fault {"truncateDownloads":bool} */
void     amm_media_control_fault (AmmServer *server, SoupServerMessage *msg);
void     amm_media_clear_faults  (AmmServer *server);

/* server-faults.c: fault switches (tests/amm-server/README.md, "Fault switches") */
void     amm_faults_install (AmmServer *server);
/* GET/POST/DELETE /control/fault; FALSE if not one of ours (POST without "name"). */
gboolean amm_faults_control (AmmServer *server, SoupServerMessage *msg, const char *path,
                             GHashTable *query);

/* server-bot.c */
void amm_bot_consider (AmmServer *server, AmmConversation *conv, AmmMessage *msg);

G_END_DECLS
