/* amm-json.h: safe json-glib accessors that report problems as AMM_ERROR_MALFORMED.
 *
 * None of these functions ever emits a critical, whatever the input: every node type is
 * checked before a json_node_get_* call. Error messages name the member by its path,
 * e.g. "conversation.flags.active: expected boolean, got string".
 *
 * Paths: `path` is the path of the object being read ("conversation.flags"), NULL or ""
 * for the top level; the member name is appended ("conversation.flags.active").
 *
 * Optional members: an absent member and a member whose value is JSON null are the
 * same thing: the default is used. A present member of the wrong type is an error.
 * Required members: absent or null is an error ("…: missing required member").
 *
 * Returned strings, objects and arrays are borrowed from the node (transfer none).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Documents nested deeper than this are rejected by amm_json_parse* (stack safety). */
#define AMM_JSON_MAX_DEPTH 128

/* Parse `length` bytes of `text` (length -1: NUL-terminated) into a JSON value.
 * Empty or whitespace-only text, invalid JSON, invalid UTF-8, nesting deeper than
 * AMM_JSON_MAX_DEPTH, or an integer literal outside the 64-bit range (json-glib would wrap
 * it silently) are AMM_ERROR_MALFORMED. Returns a new node (json_node_unref / g_autoptr). */
JsonNode   *amm_json_parse (const char *text, gssize length, GError **error);

/* As amm_json_parse, and the value must be an object ("expected a JSON object, got array"). */
JsonNode   *amm_json_parse_object (const char *text, gssize length, GError **error);

/* "object", "array", "null", "string", "integer", "number", "boolean"; "missing" for NULL. */
const char *amm_json_node_type_name (JsonNode *node);

/* The path of a member: "path.member" (or "member" when path is NULL/""). Newly allocated. */
char       *amm_json_member_path (const char *path, const char *member);
/* The path of an array element: "path[index]". Newly allocated. */
char       *amm_json_element_path (const char *path, guint index);

/* Set a MALFORMED error "path: expected <expected>, got <type of node>". Always returns FALSE. */
gboolean    amm_json_set_type_error (GError **error, const char *path, const char *expected, JsonNode *node);

/* Node-level checks: `node` itself must hold the type; `path` names it. */
JsonObject *amm_json_node_get_object (JsonNode *node, const char *path, GError **error);
JsonArray  *amm_json_node_get_array (JsonNode *node, const char *path, GError **error);
const char *amm_json_node_get_string (JsonNode *node, const char *path, GError **error);
gboolean    amm_json_node_get_int (JsonNode *node, const char *path, gint64 *out, GError **error);

/* The member node, or NULL when absent or JSON null. Never fails. */
JsonNode   *amm_json_get_member (JsonObject *obj, const char *member);

/* Strings. Required: NULL on error. Optional: *out = default_value when absent/null. */
const char *amm_json_require_string (JsonObject *obj, const char *path, const char *member, GError **error);
gboolean    amm_json_opt_string (JsonObject *obj, const char *path, const char *member,
                                 const char *default_value, const char **out, GError **error);

/* Booleans. */
gboolean    amm_json_require_boolean (JsonObject *obj, const char *path, const char *member,
                                      gboolean *out, GError **error);
gboolean    amm_json_opt_boolean (JsonObject *obj, const char *path, const char *member,
                                  gboolean default_value, gboolean *out, GError **error);

/* Integers: a JSON integer, or a number with no fractional part within the gint64 range.
 * Strings, booleans, fractional numbers are errors. */
gboolean    amm_json_require_int (JsonObject *obj, const char *path, const char *member,
                                  gint64 *out, GError **error);
gboolean    amm_json_opt_int (JsonObject *obj, const char *path, const char *member,
                              gint64 default_value, gint64 *out, GError **error);
/* Non-negative integers no larger than `max` ("…: integer out of range (0..max)"). */
gboolean    amm_json_opt_uint (JsonObject *obj, const char *path, const char *member,
                               guint64 max, guint64 default_value, guint64 *out, GError **error);

/* Objects and arrays. Required: NULL on error. Optional: TRUE with *out = NULL when absent/null. */
JsonObject *amm_json_require_object (JsonObject *obj, const char *path, const char *member, GError **error);
gboolean    amm_json_opt_object (JsonObject *obj, const char *path, const char *member,
                                 JsonObject **out, GError **error);
JsonArray  *amm_json_require_array (JsonObject *obj, const char *path, const char *member, GError **error);
gboolean    amm_json_opt_array (JsonObject *obj, const char *path, const char *member,
                                JsonArray **out, GError **error);

/* An optional array of strings as a new GStrv (never NULL: empty when absent/null).
 * A non-string element is an error naming it ("domains[2]: expected string, got integer").
 * Returns NULL on error. */
GStrv       amm_json_opt_string_array (JsonObject *obj, const char *path, const char *member, GError **error);

/* Element i of an array as an object; NULL (with error naming "path[i]") otherwise. */
JsonObject *amm_json_array_get_object (JsonArray *array, const char *path, guint index, GError **error);

/* Resolve an href against `base` (nullable). An href with a scheme is kept verbatim; a relative
 * one is resolved with g_uri_resolve_relative (kept as it is when base is NULL). An empty href
 * or one that cannot be resolved is a MALFORMED error naming `path`. Newly allocated. */
char       *amm_json_resolve_href (const char *base, const char *href, const char *path, GError **error);

/* A required/optional member holding an href string, resolved as above.
 * Optional: *out = NULL when absent, null or "". */
char       *amm_json_require_href (JsonObject *obj, const char *path, const char *member,
                                   const char *base, GError **error);
gboolean    amm_json_opt_href (JsonObject *obj, const char *path, const char *member,
                               const char *base, char **out, GError **error);

G_END_DECLS
