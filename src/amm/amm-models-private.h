/* amm-models-private.h: shared by the amm-models*.c files only. Not part of the API. */
#pragma once

#include "amm-models.h"

G_BEGIN_DECLS

/* Allocation of empty models (every "never NULL" member set). */
AmmEntity       *amm_entity_alloc (void);
AmmPart         *amm_part_alloc (void);
AmmMessage      *amm_message_alloc (void);
AmmConversation *amm_conversation_alloc (void);

/* Path-aware parsers: `path` names the node in error messages ("conversations[2].messages[0]"). */
AmmEntity       *amm_entity_parse_at (JsonNode *node, const char *path, GError **error);
AmmPart         *amm_part_parse_at (JsonNode *node, const char *base, const char *path, GError **error);
AmmMessage      *amm_message_parse_at (JsonNode *node, const char *base, const char *path,
                                       const char *default_thread_id, GError **error);
AmmConversation *amm_conversation_parse_at (JsonNode *node, const char *base, const char *path,
                                            GError **error);

/* A required non-empty string member ("…: empty string" when ""). NULL on error. */
const char      *amm_models_require_nonempty (JsonObject *obj, const char *path, const char *member,
                                               GError **error);

G_END_DECLS
