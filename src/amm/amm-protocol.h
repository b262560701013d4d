/* amm-protocol.h: every AMM wire constant in one place (see docs/protocol.md).
 *
 * Shared by the client core and the test server. No code, only names.
 */
#pragma once

#define AMM_MEDIA_PREFIX "application/vnd.avaya.aem."
#define AMM_MEDIA(name) AMM_MEDIA_PREFIX name "+json"

#define AMM_TYPE_RESOURCES_V4          AMM_MEDIA ("resources.v4")
#define AMM_TYPE_RESOURCES_V3          AMM_MEDIA ("resources.v3")
#define AMM_TYPE_ERROR                 AMM_MEDIA ("error.v1")
#define AMM_TYPE_CONVERSATIONS_FILTER  AMM_MEDIA ("conversationsFilter.v1")
#define AMM_TYPE_CONVERSATIONS_V2      AMM_MEDIA ("conversations.v2")
#define AMM_TYPE_CONVERSATIONS_V1      AMM_MEDIA ("conversations.v1")
#define AMM_TYPE_CONVERSATION_IDS      AMM_MEDIA ("conversations.ids.v1")
#define AMM_TYPE_CONVERSATION_V2       AMM_MEDIA ("conversation.v2")
#define AMM_TYPE_CONVERSATION_V1       AMM_MEDIA ("conversation.v1")
#define AMM_TYPE_MESSAGE_V2            AMM_MEDIA ("message.v2")
#define AMM_TYPE_MESSAGE_V1            AMM_MEDIA ("message.v1")
#define AMM_TYPE_ADDRESSES_TO_VALIDATE AMM_MEDIA ("addressesToValidate.v1")
#define AMM_TYPE_VALIDATED_ADDRESSES   AMM_MEDIA ("validatedAddresses.v2")
#define AMM_TYPE_PARTICIPANTS          AMM_MEDIA ("participants.v1")
#define AMM_TYPE_MESSAGE_IDS           AMM_MEDIA ("messageIds.v1")
#define AMM_TYPE_SUBJECT               AMM_MEDIA ("subject.v1")
#define AMM_TYPE_ACCESS_TIME           AMM_MEDIA ("conversation.access.time.v1")
#define AMM_TYPE_CONVERSATION_FLAGS    AMM_MEDIA ("conversation.flags.v1")
#define AMM_TYPE_EVENT                 AMM_MEDIA ("event.v1")

#define AMM_DISCOVERY_PATH             "/aem/resources"
#define AMM_DEFAULT_PORT               8443

/* Headers */
#define AMM_HEADER_REQUEST_TIMEOUT     "Avaya-Request-Timeout"
#define AMM_SESSION_COOKIE             "AMMSESSIONID"

/* Notification channel */
#define AMM_CHANNEL_APPLICATION        "AMM"
#define AMM_CHANNEL_SERVICE_CONVERSATION "conversation"
#define AMM_CHANNEL_SERVICE_CHAT_STATE "chatState"
#define AMM_CHANNEL_VERSION            "1"
#define AMM_SSE_EVENT_NOTIFICATION     "CASNotification"
#define AMM_SSE_EVENT_PING             "Ping"

/* Timing decisions (docs/protocol.md §1, §8, §9) */
#define AMM_REST_TIMEOUT_SECONDS       30
#define AMM_PING_INTERVAL_SECONDS      30
#define AMM_PONG_TIMEOUT_SECONDS       15
#define AMM_SSE_DEAD_SECONDS           65
#define AMM_RECONNECT_BASE_MS          1000
#define AMM_RECONNECT_MAX_MS           60000
#define AMM_RECONNECT_MAX_ATTEMPTS     5
#define AMM_LONG_POLL_DEFAULT_SECONDS  30
#define AMM_LONG_POLL_GRACE_SECONDS    15
#define AMM_DEFAULT_MAX_MESSAGE_COUNT  15
#define AMM_MAX_RESPONSE_BYTES         (16 * 1024 * 1024)
/* Listings in two steps (docs/protocol.md §6 "Large listings"): ids per chunk when the server
 * announces no maxIdsLimit, and the most embedded messages a chunk may bring
 * (chunk size × maxMessageCount). */
#define AMM_DEFAULT_MAX_IDS_LIMIT      50
#define AMM_LISTING_CHUNK_MESSAGES     2500
/* Chunks requested ahead of the one being delivered (their answers are taken in order). */
#define AMM_LISTING_CHUNKS_AHEAD       2
#define AMM_EPOCH_TIMESTAMP            "1970-01-01T00:00:00.000Z"
