/* server-state.h: the test server's data model (users, conversations, messages, the
 * server clock, per-user entity tags) and its persistence. No HTTP here. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define AMM_FAULT amm_fault_quark ()
GQuark amm_fault_quark (void);

/* Failures of state operations; each maps to an HTTP status and an error.v1 errorCode. */
typedef enum {
  AMM_FAULT_BAD_REQUEST,          /* 400 INVALID_PARAMETER */
  AMM_FAULT_MESSAGE_EMPTY,        /* 400 MESSAGE_EMPTY */
  AMM_FAULT_PARTICIPANT_INVALID,  /* 400 PARTICIPANT_ADDRESS_INVALID */
  AMM_FAULT_FORBIDDEN,            /* 403 FORBIDDEN */
  AMM_FAULT_NOT_FOUND,            /* 404 CONVERSATION_NOT_FOUND */
  AMM_FAULT_BODY_TOO_LONG,        /* 413 BODY_LENGTH_EXCEEDED */
  AMM_FAULT_SUBJECT_TOO_LONG,     /* 400 SUBJECT_LENGTH_EXCEEDED */
  AMM_FAULT_CLOSED,               /* 403 CONVERSATION_CLOSED */
} AmmFault;

/* The longest subject (characters); Avaya's SDK hard-codes 50. */
#define AMM_SERVER_MAX_SUBJECT_LENGTH 50

guint       amm_fault_status (int code);
const char *amm_fault_error_code (int code);

typedef struct {
  char *address;        /* as seeded */
  char *password;
  char *given_name;
  char *surname;
  JsonNode *phone_numbers;  /* nullable */
  guint64 entity_tag;   /* bumped on every change the user can see */
} AmmUser;

typedef struct {
  char *address;
  gboolean active;
  gint64 left_at;       /* ms; 0 while active */
  gint64 last_accessed; /* ms; 0 = never */
  gint64 read_changed;  /* ms of the participant's last read mark (their view changed); 0 = never */
} AmmParticipant;

typedef struct {
  char *id;
  char *mime_type;
  char *disposition;    /* as sent: 'attachment; filename="x"' or 'inline; ...' */
  gsize size;
} AmmPart;

AmmPart *amm_part_new (const char *mime_type, const char *disposition, gsize size);
void     amm_part_free (AmmPart *part);

typedef struct {
  char *id;
  char *thread_id;
  char *from;
  char **to;            /* participants when stored, sender included */
  char *subject;
  char *body;
  char *in_reply_to;    /* nullable */
  char *importance;
  char *sensitivity;
  char *event_type;     /* MESSAGE, START, JOINED, LEFT, SUBJECT_CHANGE */
  char **event_participants; /* nullable */
  gint64 received;
  gint64 modified;
  GHashTable *read_by;  /* lower-case address set */
  GHashTable *read_at;  /* lower-case address -> gint64* ms when that reader marked it read
                           (their view's lastModifiedDate); absent for read-at-creation */
  GPtrArray *parts;     /* AmmPart */
} AmmMessage;

typedef struct {
  char *id;
  char *subject;
  char *owner;
  GPtrArray *participants;  /* AmmParticipant */
  GPtrArray *messages;      /* AmmMessage, oldest first */
  gint64 last_updated;
  gboolean closed;
} AmmConversation;

typedef struct {
  char **domains;
  GPtrArray *users;            /* AmmUser, seed order */
  GPtrArray *conversations;    /* AmmConversation, creation order */
  GHashTable *conversation_by_id;
  GHashTable *message_by_id;
  GHashTable *media;           /* part id -> GBytes (memory only, not persisted) */
  guint64 next_part;
  gint64 clock;                /* last timestamp handed out (ms) */
  guint64 next_conversation;
  guint64 next_message;
  char *path;                  /* state file, nullable */
  guint save_id;               /* pending debounced save (amm_state_schedule_save), 0: none */
} AmmState;

AmmState *amm_state_new_from_seed (const char *seed_file, GError **error);
gboolean  amm_state_load (AmmState *state, const char *path, GError **error);
/* Writes the state file now (no-op without one) and cancels any pending debounced save:
 * for shutdown, SIGTERM and /control/shutdown. */
gboolean  amm_state_save (AmmState *state, GError **error);
/* After a change: saves once, AMM_STATE_SAVE_DELAY_MS later (one pending save at a time), so
 * a burst of changes costs one write. A SIGKILL may lose the changes of that window. */
#define AMM_STATE_SAVE_DELAY_MS 100
void      amm_state_schedule_save (AmmState *state);
void      amm_state_free (AmmState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmState, amm_state_free)

/* Strictly increasing server clock, ms since the epoch. */
gint64 amm_state_tick (AmmState *state);
char  *amm_time_format (gint64 ms);
gboolean amm_time_parse (const char *iso, gint64 *ms);

AmmUser *amm_state_find_user (AmmState *state, const char *address);
AmmUser *amm_state_authenticate (AmmState *state, const char *address, const char *password);
AmmConversation *amm_state_find_conversation (AmmState *state, const char *id);
AmmMessage *amm_state_find_message (AmmState *state, const char *id);
AmmParticipant *amm_conversation_find_participant (AmmConversation *conv, const char *address);
gboolean amm_conversation_is_active_participant (AmmConversation *conv, const char *address);

/* Conversations the user is or was part of, creation order. */
GPtrArray *amm_state_user_conversations (AmmState *state, const char *address);
/* The messages the user can see (up to when they left), oldest first. */
GPtrArray *amm_conversation_visible_messages (AmmConversation *conv, const char *address);
gint64 amm_conversation_last_updated_for (AmmConversation *conv, const char *address);
/* Newest change among all the user's conversations; 0 when none. */
gint64 amm_state_user_last_updated (AmmState *state, const char *address);

/* Sends `body` from `from`: thread_id NULL starts a conversation with `to` (sender added).
 * parts: nullable AmmParts (ids assigned here; taken over on success) whose bytes are in
 * `media` (nullable, same order). Returns the stored message (owned by the state). */
AmmMessage *amm_state_send (AmmState *state, const char *from, const char * const *to,
                            const char *thread_id, const char *subject, const char *body,
                            const char *in_reply_to, const char *importance,
                            const char *sensitivity, gsize max_text_length,
                            GPtrArray *parts, GPtrArray *media, GError **error);
AmmMessage *amm_state_leave (AmmState *state, AmmConversation *conv, const char *address,
                             GError **error);
AmmMessage *amm_state_set_subject (AmmState *state, AmmConversation *conv, const char *by,
                                   const char *subject, GError **error);
/* Adds participants; returns the JOINED event or NULL with error. added: AmmUser* added */
AmmMessage *amm_state_add_participants (AmmState *state, AmmConversation *conv, const char *by,
                                        const char * const *addresses, GPtrArray *added,
                                        GError **error);
/* Mark read as `address` sees it: the message's lastModifiedDate for that reader and their
 * conversation's lastUpdated advance (server-conversations.c notifies only that reader). */
gboolean amm_state_mark_read (AmmState *state, AmmMessage *msg, const char *address);
/* Close (POST C/{id}/flags {closed:true}): a CLOSED event; NULL when already closed. */
AmmMessage *amm_state_close (AmmState *state, AmmConversation *conv, const char *by, GError **error);
/* lastModifiedDate of msg as `viewer` sees it. */
gint64 amm_message_modified_for (AmmMessage *msg, const char *viewer);
gboolean amm_state_mark_conversation_read (AmmState *state, AmmConversation *conv,
                                           const char *address);

/* JSON documents as `viewer` sees them. base: "http(s)://host:port". */
JsonNode *amm_json_entity (AmmState *state, const char *address, gboolean with_phones);
JsonNode *amm_json_message (AmmState *state, AmmMessage *msg, const char *viewer,
                            const char *base);
/* messages: the AmmMessages to embed, newest first. */
JsonNode *amm_json_conversation (AmmState *state, AmmConversation *conv, const char *viewer,
                                 const char *base, GPtrArray *messages);

/* The same for a document of many conversations or messages, built with one JsonBuilder:
 * each user's entity is built once per AmmJsonDoc and shared by reference wherever it
 * appears (from, to, event participants), and the viewer's read key is computed once. */
typedef struct _AmmJsonDoc AmmJsonDoc;
AmmJsonDoc *amm_json_doc_new (AmmState *state, const char *viewer, const char *base);
void        amm_json_doc_free (AmmJsonDoc *doc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmJsonDoc, amm_json_doc_free)
/* Add the message or conversation to `b` (as an array element or after a member name). */
void        amm_json_doc_add_message (AmmJsonDoc *doc, JsonBuilder *b, AmmMessage *msg);
void        amm_json_doc_add_conversation (AmmJsonDoc *doc, JsonBuilder *b, AmmConversation *conv,
                                           GPtrArray *messages);
/* Newest `max` visible messages, newest first. */
GPtrArray *amm_conversation_newest (AmmConversation *conv, const char *viewer, guint max);
/* What an incremental listing embeds (docs/protocol.md §6), newest first: the visible messages
 * received at or after `after`, and older ones `viewer` marked read at or after it (at most
 * `max` of these), plus the newest message received before `after` (the anchor) unless more
 * than `max` messages are new. */
GPtrArray *amm_conversation_changed_since (AmmConversation *conv, const char *viewer,
                                           gint64 after, guint max);

char *amm_conversations_href (const char *base);

G_END_DECLS
