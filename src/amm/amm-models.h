/* amm-models.h: typed AMM documents, parsed from json-glib nodes.
 *
 * Every parser is total: a missing member or a member of the wrong type is an
 * AMM_ERROR_MALFORMED GError naming the member, never a critical or a crash.
 * Optional members get the documented default. Models are reference counted
 * (amm_*_ref / amm_*_unref) and work with g_autoptr.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  AMM_VERSION_AUTO = 0,
  AMM_VERSION_2_1,
  AMM_VERSION_3,
  AMM_VERSION_3_2,
} AmmVersion;

const char *amm_version_to_string (AmmVersion version);      /* "2.1", "3", "3.2", "auto" */
gboolean    amm_version_from_string (const char *s, AmmVersion *out);

/* One of an entity's phoneNumbers: {type, value, primary, verified?, canonicalForm?, customType?}.
 * `value` is required (non-empty); the others are optional (absent = the default below), and a
 * member of the wrong type is an error like anywhere else. */
typedef struct {
  char    *type;           /* nullable, e.g. "WORK", "MOBILE", "HOME", "OTHER" */
  char    *value;          /* never NULL, the number as the directory stores it */
  gboolean primary;        /* default FALSE */
  gboolean verified;       /* default FALSE */
  char    *canonical_form; /* nullable, e.g. "+15550101" */
  char    *custom_type;    /* nullable: the user's own label */
} AmmPhoneNumber;

/* A person or address: EntityV1 on the wire. */
typedef struct {
  char *address;
  char *given_name;   /* nullable */
  char *surname;      /* nullable */
  char *type;         /* nullable, e.g. "CONTACT"; echoed back in "to" */
  GPtrArray *phone_numbers; /* of AmmPhoneNumber*, wire order, never NULL (empty when absent) */
} AmmEntity;

/* An attachment: PartV1. */
typedef struct {
  char  *part_id;
  char  *mime_type;
  gint64 size;        /* -1 when unknown */
  char  *disposition; /* nullable */
  char  *media;       /* nullable: download URL, resolved absolute */
} AmmPart;

typedef enum {
  AMM_EVENT_MESSAGE,
  AMM_EVENT_START,
  AMM_EVENT_JOINED,
  AMM_EVENT_LEFT,
  AMM_EVENT_SUBJECT_CHANGE,
  AMM_EVENT_CLOSED,
  AMM_EVENT_SESSION,
  AMM_EVENT_UNKNOWN,
} AmmEventType;

typedef struct {
  char        *id;
  char        *thread_id;
  char        *subject;            /* never NULL ("" when absent) */
  char        *body;               /* never NULL ("" when absent) */
  AmmEntity   *from;
  GPtrArray   *to;                 /* of AmmEntity*, never NULL */
  GPtrArray   *parts;              /* of AmmPart*, never NULL */
  GDateTime   *received_date;
  GDateTime   *last_modified_date;
  char        *last_modified_str;  /* the wire string, for cursors */
  AmmEventType event_type;
  GPtrArray   *event_participants; /* of AmmEntity*, never NULL */
  gboolean     read;
} AmmMessage;

typedef struct {
  char      *id;
  char      *href;                 /* resolved absolute; nullable */
  char      *subject;              /* never NULL */
  gboolean   active;
  gboolean   closed;
  char      *last_updated_str;     /* nullable */
  GDateTime *last_updated;         /* nullable */
  guint      unread_count;
  gboolean   multiparty;
  char      *participants_href;    /* nullable */
  GPtrArray *messages;             /* of AmmMessage*, newest first, never NULL */
} AmmConversation;

typedef struct {
  GPtrArray *conversations;        /* of AmmConversation* */
  char      *last_updated;         /* the wire string; nullable if the server sent none */
  gboolean   more_search_results;
} AmmConversationList;

typedef struct {
  guint64 max_text_length;         /* 0 = no limit announced */
  guint64 max_image_size;
  guint64 max_video_size;
  guint64 max_audio_size;
  guint64 max_generic_attachment_size;
  gboolean rich_content;
} AmmLimits;

/* The discovery document, resources.v4 (3, 3.2) or resources.v3 (2.1). */
typedef struct {
  AmmVersion version;              /* as negotiated by the parser's caller */
  char      *self;
  GStrv      domains;              /* never NULL */
  guint      request_timeout_recommended; /* seconds, default 30 */
  char      *conversations_href;
  GStrv      conversations_request_types; /* never NULL */
  guint      max_message_count;    /* default 15 */
  guint      max_ids_limit;        /* conversationsResource.limits.maxIdsLimit; 0 = not announced */
  char      *messages_href;        /* nullable */
  char      *outbox_href;
  AmmLimits  limits;
  char      *mark_as_read_if_href;       /* nullable */
  char      *mark_as_read_batch_href;    /* nullable */
  guint      mark_as_read_max_batch;     /* 0 = not announced */
  char      *validate_addresses_href;    /* nullable */
  GStrv      validate_request_types;     /* never NULL */
  char      *websocket_href;       /* nullable */
  char      *sse_href;             /* nullable */
  char      *session_href;         /* nullable */
  char      *session_username;     /* nullable */
} AmmResources;

/* One frame of the notification channel (WebSocket or SSE). */
typedef enum {
  AMM_FRAME_DISCOVERY,
  AMM_FRAME_SUBSCRIBED,
  AMM_FRAME_UNSUBSCRIBED,
  AMM_FRAME_RESOURCE_STATE,
  AMM_FRAME_NOTIFIED,
  AMM_FRAME_NOTIFICATION,
  AMM_FRAME_PONG,
  AMM_FRAME_UNKNOWN,
} AmmFrameType;

typedef struct {
  AmmFrameType type;
  char        *name;          /* the top-level key */
  char        *request_id;    /* pong, notified; nullable */
  char        *command_url;   /* discovery; nullable */
  char        *service;       /* notification, subscribed: first resource's service; nullable */
  char        *resource;      /* nullable */
  char        *entity_tag;    /* notification contents.entityTag / resourceState; nullable */
  JsonNode    *contents;      /* notification contents; nullable */
} AmmFrame;

/* An error.v1 body. */
typedef struct {
  char *error_code;   /* nullable */
  char *error_msg;    /* nullable */
  char *display_msg;  /* nullable */
} AmmErrorBody;

/* Parsers. `base` (nullable) resolves relative hrefs. */
AmmResources        *amm_resources_parse (JsonNode *root, AmmVersion wire_version, const char *base, GError **error);
AmmConversationList *amm_conversation_list_parse (JsonNode *root, const char *base, GError **error);
AmmConversation     *amm_conversation_parse (JsonNode *node, const char *base, GError **error);
AmmMessage          *amm_message_parse (JsonNode *node, const char *base, GError **error);
AmmPart             *amm_part_parse (JsonNode *node, const char *base, GError **error);
AmmEntity           *amm_entity_parse (JsonNode *node, GError **error);
AmmFrame            *amm_frame_parse (const char *text, gsize length, GError **error);
AmmErrorBody        *amm_error_body_parse (const char *text, gsize length, GError **error);

/* The version the resources document proves: 3.2 if both request types are offered, else 3
 * (for a resources.v4 document), 2.1 for resources.v3. */
AmmVersion amm_resources_detect_version (const AmmResources *resources);

/* Display name "Given Surname", falling back to the address. Newly allocated. */
char *amm_entity_display_name (const AmmEntity *entity);

/* Added: a new entity with only an address (e.g. to build a "to" list). */
AmmEntity *amm_entity_new (const char *address);

/* A copy of `conv` that holds only its newest `n` messages (the messages themselves are shared,
 * not copied): what a cache keeps of a conversation. */
AmmConversation *amm_conversation_copy_newest (const AmmConversation *conv, guint n);

/* Phone numbers. amm_phone_number_free is NULL-safe. */
void                  amm_phone_number_free (AmmPhoneNumber *phone);
AmmPhoneNumber       *amm_phone_number_copy (const AmmPhoneNumber *phone);
/* The label of a number for display: its customType if set, else its type in title case
 * ("WORK" → "Work"), else "Phone". Newly allocated. */
char                 *amm_phone_number_label (const AmmPhoneNumber *phone);
/* The entity's primary number, else its first; NULL when it has none (or entity is NULL). */
const AmmPhoneNumber *amm_entity_primary_phone (const AmmEntity *entity);

/* Added: event.type wire strings. Unknown or NULL -> AMM_EVENT_UNKNOWN; to_string gives
 * "MESSAGE", "START", … and "UNKNOWN" for AMM_EVENT_UNKNOWN. */
AmmEventType amm_event_type_from_string (const char *wire);
const char  *amm_event_type_to_string (AmmEventType type);

/* Ref counting. */
AmmEntity           *amm_entity_ref (AmmEntity *e);
void                 amm_entity_unref (AmmEntity *e);
AmmPart             *amm_part_ref (AmmPart *p);
void                 amm_part_unref (AmmPart *p);
AmmMessage          *amm_message_ref (AmmMessage *m);
void                 amm_message_unref (AmmMessage *m);
AmmConversation     *amm_conversation_ref (AmmConversation *c);
void                 amm_conversation_unref (AmmConversation *c);
AmmConversationList *amm_conversation_list_ref (AmmConversationList *l);
void                 amm_conversation_list_unref (AmmConversationList *l);
AmmResources        *amm_resources_ref (AmmResources *r);
void                 amm_resources_unref (AmmResources *r);
AmmFrame            *amm_frame_ref (AmmFrame *f);
void                 amm_frame_unref (AmmFrame *f);
void                 amm_error_body_free (AmmErrorBody *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmEntity, amm_entity_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmPhoneNumber, amm_phone_number_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmPart, amm_part_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmMessage, amm_message_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmConversation, amm_conversation_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmConversationList, amm_conversation_list_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmResources, amm_resources_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmFrame, amm_frame_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AmmErrorBody, amm_error_body_free)

G_END_DECLS
