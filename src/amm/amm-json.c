/* amm-json.c: safe json-glib accessors (see amm-json.h). */
#include "amm-json.h"

#include <string.h>

#include "amm-error.h"

/* ---- parsing ---------------------------------------------------------------------------- */

/* TRUE when the integer literal text[0..len) (optional '-', then digits) fits a gint64. */
static gboolean
integer_literal_fits (const char *text, gsize len)
{
  gboolean negative = FALSE;
  const char *limit;
  gsize limit_len;

  if (len > 0 && text[0] == '-')
    {
      negative = TRUE;
      text++;
      len--;
    }
  while (len > 1 && text[0] == '0')
    {
      text++;
      len--;
    }
  limit = negative ? "9223372036854775808" : "9223372036854775807";
  limit_len = strlen (limit);
  if (len < limit_len)
    return TRUE;
  if (len > limit_len)
    return FALSE;
  return memcmp (text, limit, len) <= 0;
}

/* A cheap lexical pass before json-glib sees the text: json-glib recurses without a depth
 * limit and wraps integer literals that overflow gint64 without a word. */
static gboolean
prescan (const char *text, gsize length, GError **error)
{
  gsize i = 0;
  guint depth = 0;
  gboolean in_string = FALSE;

  while (i < length)
    {
      char c = text[i];

      if (c == '\0')
        {
          g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED,
                       "invalid JSON: NUL byte at offset %" G_GSIZE_FORMAT, i);
          return FALSE;
        }
      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
          i++;
          continue;
        }
      if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        {
          if (++depth > AMM_JSON_MAX_DEPTH)
            {
              g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED,
                           "invalid JSON: nested deeper than %d levels", AMM_JSON_MAX_DEPTH);
              return FALSE;
            }
        }
      else if (c == '}' || c == ']')
        {
          if (depth > 0)
            depth--;
        }
      else if (c == '-' || g_ascii_isdigit (c))
        {
          gsize start = i, end;
          gboolean is_integer = TRUE;

          end = i + 1;
          while (end < length && (g_ascii_isdigit (text[end]) || text[end] == '.' ||
                                  text[end] == 'e' || text[end] == 'E' ||
                                  text[end] == '+' || text[end] == '-'))
            {
              if (!g_ascii_isdigit (text[end]))
                is_integer = FALSE;
              end++;
            }
          if (is_integer && !integer_literal_fits (text + start, end - start))
            {
              g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED,
                           "invalid JSON: integer out of range at offset %" G_GSIZE_FORMAT, start);
              return FALSE;
            }
          i = end;
          continue;
        }
      i++;
    }
  return TRUE;
}

JsonNode *
amm_json_parse (const char *text, gssize length, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) local = NULL;
  JsonNode *root;
  gsize len;

  if (text == NULL)
    len = 0;
  else if (length < 0)
    len = strlen (text);
  else
    len = (gsize) length;

  if (len == 0)
    {
      g_set_error_literal (error, AMM_ERROR, AMM_ERROR_MALFORMED, "empty body, expected JSON");
      return NULL;
    }
  if (!prescan (text, len, error))
    return NULL;

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, text, (gssize) len, &local))
    {
      g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED, "invalid JSON: %s",
                   local != NULL ? local->message : "parse error");
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL)
    {
      g_set_error_literal (error, AMM_ERROR, AMM_ERROR_MALFORMED, "empty body, expected JSON");
      return NULL;
    }
  return json_node_ref (root);
}

JsonNode *
amm_json_parse_object (const char *text, gssize length, GError **error)
{
  JsonNode *root = amm_json_parse (text, length, error);

  if (root == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED,
                   "expected a JSON object, got %s", amm_json_node_type_name (root));
      json_node_unref (root);
      return NULL;
    }
  return root;
}

/* ---- names and paths -------------------------------------------------------------------- */

const char *
amm_json_node_type_name (JsonNode *node)
{
  if (node == NULL)
    return "missing";
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      return "object";
    case JSON_NODE_ARRAY:
      return "array";
    case JSON_NODE_NULL:
      return "null";
    case JSON_NODE_VALUE:
      {
        GType t = json_node_get_value_type (node);
        if (t == G_TYPE_STRING)
          return "string";
        if (t == G_TYPE_INT64)
          return "integer";
        if (t == G_TYPE_DOUBLE)
          return "number";
        if (t == G_TYPE_BOOLEAN)
          return "boolean";
        return "value";
      }
    default:
      return "unknown";
    }
}

char *
amm_json_member_path (const char *path, const char *member)
{
  if (path == NULL || *path == '\0')
    return g_strdup (member);
  return g_strconcat (path, ".", member, NULL);
}

char *
amm_json_element_path (const char *path, guint index)
{
  return g_strdup_printf ("%s[%u]", path != NULL ? path : "", index);
}

gboolean
amm_json_set_type_error (GError **error, const char *path, const char *expected, JsonNode *node)
{
  const char *p = (path != NULL && *path != '\0') ? path : "document";

  if (node == NULL)
    g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED, "%s: missing required member", p);
  else
    g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED, "%s: expected %s, got %s",
                 p, expected, amm_json_node_type_name (node));
  return FALSE;
}

/* Reports what the object really holds: absent is "missing required member", a JSON null
 * is "expected string, got null". */
static gboolean
set_member_error (GError **error, JsonObject *obj, const char *path, const char *member,
                  const char *expected)
{
  g_autofree char *full = amm_json_member_path (path, member);
  JsonNode *raw = (obj != NULL && member != NULL) ? json_object_get_member (obj, member) : NULL;

  return amm_json_set_type_error (error, full, expected, raw);
}

/* ---- node-level ------------------------------------------------------------------------- */

static gboolean
node_is_string (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_STRING;
}

static gboolean
node_is_boolean (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_BOOLEAN;
}

/* TRUE with *out set when node is an integer (or an integral double in range). */
static gboolean
node_to_int (JsonNode *node, gint64 *out)
{
  GType t;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  t = json_node_get_value_type (node);
  if (t == G_TYPE_INT64)
    {
      *out = json_node_get_int (node);
      return TRUE;
    }
  if (t == G_TYPE_DOUBLE)
    {
      double d = json_node_get_double (node);
      /* -2^63 <= d < 2^63 (both exact in a double; NaN fails both), then whole. No libm. */
      if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == (double) (gint64) d)
        {
          *out = (gint64) d;
          return TRUE;
        }
    }
  return FALSE;
}

JsonObject *
amm_json_node_get_object (JsonNode *node, const char *path, GError **error)
{
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      amm_json_set_type_error (error, path, "object", node);
      return NULL;
    }
  return json_node_get_object (node);
}

JsonArray *
amm_json_node_get_array (JsonNode *node, const char *path, GError **error)
{
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      amm_json_set_type_error (error, path, "array", node);
      return NULL;
    }
  return json_node_get_array (node);
}

const char *
amm_json_node_get_string (JsonNode *node, const char *path, GError **error)
{
  const char *s;

  if (!node_is_string (node))
    {
      amm_json_set_type_error (error, path, "string", node);
      return NULL;
    }
  s = json_node_get_string (node);
  return s != NULL ? s : "";
}

gboolean
amm_json_node_get_int (JsonNode *node, const char *path, gint64 *out, GError **error)
{
  gint64 v;

  if (!node_to_int (node, &v))
    return amm_json_set_type_error (error, path, "integer", node);
  if (out != NULL)
    *out = v;
  return TRUE;
}

/* ---- members ---------------------------------------------------------------------------- */

JsonNode *
amm_json_get_member (JsonObject *obj, const char *member)
{
  JsonNode *node;

  if (obj == NULL || member == NULL)
    return NULL;
  node = json_object_get_member (obj, member);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return node;
}

const char *
amm_json_require_string (JsonObject *obj, const char *path, const char *member, GError **error)
{
  JsonNode *node = amm_json_get_member (obj, member);
  const char *s;

  if (!node_is_string (node))
    {
      set_member_error (error, obj, path, member, "string");
      return NULL;
    }
  s = json_node_get_string (node);
  return s != NULL ? s : "";
}

gboolean
amm_json_opt_string (JsonObject *obj, const char *path, const char *member,
                     const char *default_value, const char **out, GError **error)
{
  JsonNode *node = amm_json_get_member (obj, member);
  const char *s = default_value;

  if (node != NULL)
    {
      if (!node_is_string (node))
        return set_member_error (error, obj, path, member, "string");
      s = json_node_get_string (node);
      if (s == NULL)
        s = "";
    }
  if (out != NULL)
    *out = s;
  return TRUE;
}

gboolean
amm_json_require_boolean (JsonObject *obj, const char *path, const char *member,
                          gboolean *out, GError **error)
{
  JsonNode *node = amm_json_get_member (obj, member);

  if (!node_is_boolean (node))
    return set_member_error (error, obj, path, member, "boolean");
  if (out != NULL)
    *out = json_node_get_boolean (node);
  return TRUE;
}

gboolean
amm_json_opt_boolean (JsonObject *obj, const char *path, const char *member,
                      gboolean default_value, gboolean *out, GError **error)
{
  JsonNode *node = amm_json_get_member (obj, member);
  gboolean v = default_value;

  if (node != NULL)
    {
      if (!node_is_boolean (node))
        return set_member_error (error, obj, path, member, "boolean");
      v = json_node_get_boolean (node);
    }
  if (out != NULL)
    *out = v;
  return TRUE;
}

gboolean
amm_json_require_int (JsonObject *obj, const char *path, const char *member,
                      gint64 *out, GError **error)
{
  JsonNode *node = amm_json_get_member (obj, member);
  gint64 v;

  if (!node_to_int (node, &v))
    return set_member_error (error, obj, path, member, "integer");
  if (out != NULL)
    *out = v;
  return TRUE;
}

gboolean
amm_json_opt_int (JsonObject *obj, const char *path, const char *member,
                  gint64 default_value, gint64 *out, GError **error)
{
  JsonNode *node = amm_json_get_member (obj, member);
  gint64 v = default_value;

  if (node != NULL && !node_to_int (node, &v))
    return set_member_error (error, obj, path, member, "integer");
  if (out != NULL)
    *out = v;
  return TRUE;
}

gboolean
amm_json_opt_uint (JsonObject *obj, const char *path, const char *member,
                   guint64 max, guint64 default_value, guint64 *out, GError **error)
{
  JsonNode *node = amm_json_get_member (obj, member);
  guint64 v = default_value;

  if (node != NULL)
    {
      gint64 i;

      if (!node_to_int (node, &i))
        return set_member_error (error, obj, path, member, "integer");
      if (i < 0 || (guint64) i > max)
        {
          g_autofree char *full = amm_json_member_path (path, member);
          g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED,
                       "%s: integer out of range (0..%" G_GUINT64_FORMAT ")", full, max);
          return FALSE;
        }
      v = (guint64) i;
    }
  if (out != NULL)
    *out = v;
  return TRUE;
}

JsonObject *
amm_json_require_object (JsonObject *obj, const char *path, const char *member, GError **error)
{
  JsonNode *node = amm_json_get_member (obj, member);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      set_member_error (error, obj, path, member, "object");
      return NULL;
    }
  return json_node_get_object (node);
}

gboolean
amm_json_opt_object (JsonObject *obj, const char *path, const char *member,
                     JsonObject **out, GError **error)
{
  JsonNode *node = amm_json_get_member (obj, member);
  JsonObject *o = NULL;

  if (node != NULL)
    {
      if (!JSON_NODE_HOLDS_OBJECT (node))
        return set_member_error (error, obj, path, member, "object");
      o = json_node_get_object (node);
    }
  if (out != NULL)
    *out = o;
  return TRUE;
}

JsonArray *
amm_json_require_array (JsonObject *obj, const char *path, const char *member, GError **error)
{
  JsonNode *node = amm_json_get_member (obj, member);

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      set_member_error (error, obj, path, member, "array");
      return NULL;
    }
  return json_node_get_array (node);
}

gboolean
amm_json_opt_array (JsonObject *obj, const char *path, const char *member,
                    JsonArray **out, GError **error)
{
  JsonNode *node = amm_json_get_member (obj, member);
  JsonArray *a = NULL;

  if (node != NULL)
    {
      if (!JSON_NODE_HOLDS_ARRAY (node))
        return set_member_error (error, obj, path, member, "array");
      a = json_node_get_array (node);
    }
  if (out != NULL)
    *out = a;
  return TRUE;
}

GStrv
amm_json_opt_string_array (JsonObject *obj, const char *path, const char *member, GError **error)
{
  JsonArray *array = NULL;
  g_autoptr (GStrvBuilder) builder = NULL;
  guint i, n;

  if (!amm_json_opt_array (obj, path, member, &array, error))
    return NULL;

  builder = g_strv_builder_new ();
  n = array != NULL ? json_array_get_length (array) : 0;
  for (i = 0; i < n; i++)
    {
      JsonNode *el = json_array_get_element (array, i);

      if (!node_is_string (el))
        {
          g_autofree char *mpath = amm_json_member_path (path, member);
          g_autofree char *epath = amm_json_element_path (mpath, i);
          amm_json_set_type_error (error, epath, "string", el);
          return NULL;
        }
      g_strv_builder_add (builder, json_node_get_string (el) != NULL ? json_node_get_string (el) : "");
    }
  return g_strv_builder_end (builder);
}

JsonObject *
amm_json_array_get_object (JsonArray *array, const char *path, guint index, GError **error)
{
  JsonNode *el = NULL;

  if (array != NULL && index < json_array_get_length (array))
    el = json_array_get_element (array, index);
  if (el == NULL || !JSON_NODE_HOLDS_OBJECT (el))
    {
      g_autofree char *epath = amm_json_element_path (path, index);
      amm_json_set_type_error (error, epath, "object", el);
      return NULL;
    }
  return json_node_get_object (el);
}

/* ---- hrefs ------------------------------------------------------------------------------ */

char *
amm_json_resolve_href (const char *base, const char *href, const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  char *resolved;
  const char *p = (path != NULL && *path != '\0') ? path : "href";

  if (href == NULL || *href == '\0')
    {
      g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED, "%s: empty URL", p);
      return NULL;
    }
  if (g_uri_peek_scheme (href) != NULL || base == NULL || *base == '\0')
    return g_strdup (href);

  resolved = g_uri_resolve_relative (base, href, G_URI_FLAGS_NONE, &local);
  if (resolved == NULL)
    {
      g_set_error (error, AMM_ERROR, AMM_ERROR_MALFORMED, "%s: cannot resolve URL \"%s\": %s",
                   p, href, local != NULL ? local->message : "invalid");
      return NULL;
    }
  return resolved;
}

char *
amm_json_require_href (JsonObject *obj, const char *path, const char *member,
                       const char *base, GError **error)
{
  const char *s = amm_json_require_string (obj, path, member, error);
  g_autofree char *full = NULL;

  if (s == NULL)
    return NULL;
  full = amm_json_member_path (path, member);
  return amm_json_resolve_href (base, s, full, error);
}

gboolean
amm_json_opt_href (JsonObject *obj, const char *path, const char *member,
                   const char *base, char **out, GError **error)
{
  const char *s = NULL;
  g_autofree char *full = NULL;
  char *resolved;

  *out = NULL;
  if (!amm_json_opt_string (obj, path, member, NULL, &s, error))
    return FALSE;
  if (s == NULL || *s == '\0')
    return TRUE;
  full = amm_json_member_path (path, member);
  resolved = amm_json_resolve_href (base, s, full, error);
  if (resolved == NULL)
    return FALSE;
  *out = resolved;
  return TRUE;
}
