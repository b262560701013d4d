/* test-models.c: the AMM document parsers, JSON accessors, timestamps and error helpers.
 *
 * Runs under G_DEBUG=fatal-criticals: no input here may make the code under test emit a
 * critical. Documents are written with ' for " (see q()).
 */
#include <string.h>

#include <gio/gio.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "amm-error.h"
#include "amm-json.h"
#include "amm-models.h"
#include "amm-protocol.h"
#include "amm-time.h"

/* ---- helpers ---------------------------------------------------------------------------- */

/* The document with every ' turned into ". Owned by a pool freed at exit. */
static GPtrArray *strings;

static const char *
q (const char *s)
{
  char *d = g_strdup (s), *p;

  for (p = d; *p; p++)
    if (*p == '\'')
      *p = '"';
  g_ptr_array_add (strings, d);
  return d;
}

static JsonNode *
parse (const char *doc)
{
  GError *error = NULL;
  JsonNode *node = amm_json_parse (q (doc), -1, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

static void
assert_malformed (GError *error, const char *needle)
{
  g_assert_error (error, AMM_ERROR, AMM_ERROR_MALFORMED);
  g_assert_nonnull (error->message);
  g_assert_cmpstr (error->message, !=, "");
  if (needle != NULL && strstr (error->message, needle) == NULL)
    {
      g_printerr ("error message \"%s\" does not contain \"%s\"\n", error->message, needle);
      g_assert_not_reached ();
    }
}

/* Walk a dotted path with optional [i] to a node ("outbox.limits", "messages[0].from"). */
static JsonNode *
walk (JsonNode *node, const char *path)
{
  g_auto (GStrv) segs = NULL;
  guint i;

  if (path == NULL || *path == '\0')
    return node;
  segs = g_strsplit (path, ".", -1);
  for (i = 0; segs[i] != NULL && node != NULL; i++)
    {
      char *br = strchr (segs[i], '[');
      int index = -1;

      if (br != NULL)
        {
          index = atoi (br + 1);
          *br = '\0';
        }
      if (*segs[i] != '\0')
        {
          g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
          node = json_object_get_member (json_node_get_object (node), segs[i]);
        }
      if (node != NULL && index >= 0)
        {
          g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
          node = json_array_get_element (json_node_get_array (node), index);
        }
    }
  g_assert_nonnull (node);
  return node;
}

/* Set member `path` (its last segment a member name) to the JSON literal `value`
 * (' for "), or remove it when value is NULL. */
static void
set_at (JsonNode *root, const char *path, const char *value)
{
  g_autofree char *parent_path = g_strdup (path);
  char *dot = strrchr (parent_path, '.');
  const char *member;
  JsonNode *parent;
  JsonObject *obj;

  if (dot != NULL)
    {
      *dot = '\0';
      member = dot + 1;
      parent = walk (root, parent_path);
    }
  else
    {
      member = parent_path;
      parent = root;
    }
  g_assert_true (JSON_NODE_HOLDS_OBJECT (parent));
  obj = json_node_get_object (parent);
  if (value == NULL)
    json_object_remove_member (obj, member);
  else
    json_object_set_member (obj, member, parse (value));
}

typedef struct {
  const char *path;    /* member to change */
  const char *value;   /* JSON literal (' for "), NULL = remove */
  const char *needle;  /* expected in the error message; NULL = must parse */
} Mutation;

/* ---- documents -------------------------------------------------------------------------- */

static const char RESOURCES_V4[] =
  "{'self': 'alice@example.com', 'domains': ['example.com'],"
  " 'avayaRequestTimeout': {'recommended': 30, 'minimum': 5, 'maximum': 120},"
  " 'conversationsResource': {'href': 'https://h:8443/aem/conversations',"
  "   'capabilities': {'automaticLastAccessedDate': true, 'postSessionEvent': false, 'subjectChange': true},"
  "   'limits': {'maxMessageCount': 50, 'maxIdsLimit': 100},"
  "   'requestTypes': ['application/vnd.avaya.aem.conversationsFilter.v1+json']},"
  " 'messages': {'href': 'https://h:8443/aem/messages', 'capabilities': {'html': false}},"
  " 'outbox': {'href': 'https://h:8443/aem/outbox', 'capabilities': {'richContent': true},"
  "   'limits': {'maxTextLength': 10000, 'maxImageSize': 10485760, 'maxVideoSize': 104857600,"
  "              'maxAudioSize': 20971520, 'maxGenericAttachmentSize': 10485760}},"
  " 'services': {'markAsReadIf': {'href': 'https://h:8443/aem/services/markAsReadIf'},"
  "   'markAsReadBatch': {'href': 'https://h:8443/aem/services/markAsReadBatch', 'limits': {'maxBatchSize': 100}},"
  "   'validateAddresses': {'href': 'https://h:8443/aem/services/validateAddresses',"
  "     'requestTypes': ['application/vnd.avaya.aem.addressesToValidate.v1+json']}},"
  " 'notificationService': {'websocket': {'href': 'wss://h:8443/aem/notifications/websocket'},"
  "   'sse': {'href': 'https://h:8443/aem/notifications/sse'}},"
  " 'notifications': {'href': 'https://h:8443/aem/notifications'}, 'contacts': {'href': 'x'},"
  " 'picture': {'href': 'x'}, 'users': {'href': 'x'},"
  " 'sessionManagement': {'href': 'https://h:8443/aem/session', 'timeout': 1800, 'username': 'alice@example.com'}}";

static const char RESOURCES_V3[] =
  "{'self': 'alice@example.com', 'domains': ['example.com', 'example.org'],"
  " 'avayaRequestTimeout': {'recommended': 45},"
  " 'conversationsResource': {'href': 'https://h:8443/aem/conversations', 'limits': {'maxMessageCount': 20}},"
  " 'messages': 'https://h:8443/aem/messages',"
  " 'outbox': 'https://h:8443/aem/outbox',"
  " 'limits': {'maxTextLength': 5000, 'maxImageSize': 1000},"
  " 'capabilities': {'richContent': true},"
  " 'services': {'markAsReadIf': {'href': 'https://h:8443/aem/services/markAsReadIf'},"
  "   'markAsReadBatch': 'https://h:8443/aem/services/markAsReadBatch',"
  "   'validateAddresses': {'href': 'https://h:8443/aem/services/validateAddresses'}},"
  " 'sessionManagement': {'href': 'https://h:8443/aem/session', 'username': 'alice@example.com'}}";

static const char MESSAGE[] =
  "{'id': 'm7', 'href': 'https://h:8443/aem/conversations/c1/messages/m7', 'threadId': 'c1',"
  " 'subject': 'topic', 'body': 'hi',"
  " 'from': {'address': 'bob@example.com', 'givenName': 'Bob', 'surname': 'Builder', 'type': 'CONTACT'},"
  " 'to': [{'address': 'alice@example.com', 'type': 'CONTACT'}, {'address': 'bob@example.com'}],"
  " 'parts': [{'partId': 'p1', 'mimeType': 'image/jpeg', 'size': 949,"
  "            'disposition': 'attachment; filename=\\'photo.jpg\\'', 'media': '/aem/media/p1'}],"
  " 'receivedDate': '2026-11-27T07:45:40.728Z', 'lastModifiedDate': '2026-11-27T07:45:41.000Z',"
  " 'event': {'type': 'MESSAGE'},"
  " 'flags': {'read': true, 'importance': 'NORMAL', 'sensitivity': 'NORMAL'}}";

static const char CONVERSATION[] =
  "{'id': 'c1', 'href': 'https://h:8443/aem/conversations/c1', 'type': 'THREAD',"
  " 'subject': 'Lunch', 'owner': 'alice@example.com',"
  " 'flags': {'active': true, 'closed': false, 'sensitivity': 'NORMAL'},"
  " 'lastAccessedTime': '2026-11-27T07:40:00.000Z', 'lastUpdated': '2026-11-27T07:45:40.728Z',"
  " 'latestEntryTimestamp': '2026-11-27T07:45:40.728Z',"
  " 'totalCount': 12, 'unreadCount': 2, 'attachmentCount': 0, 'unreadAttachmentCount': 0,"
  " 'isMultiparty': true,"
  " 'participants': {'href': 'https://h:8443/aem/conversations/c1/participants'},"
  " 'messages': ["
  "   {'id': 'm2', 'threadId': 'c1', 'body': 'hello',"
  "    'from': {'address': 'bob@example.com'}, 'to': [{'address': 'alice@example.com'}, {'address': 'bob@example.com'}],"
  "    'parts': [], 'receivedDate': '2026-11-27T07:45:40.728Z', 'lastModifiedDate': '2026-11-27T07:45:40.728Z',"
  "    'event': {'type': 'MESSAGE'}, 'flags': {'read': false}},"
  "   {'id': 'm1', 'threadId': 'c1', 'body': '',"
  "    'from': {'address': 'alice@example.com'}, 'to': [{'address': 'alice@example.com'}, {'address': 'bob@example.com'}],"
  "    'parts': [], 'receivedDate': '2026-11-27T07:45:00.000Z', 'lastModifiedDate': '2026-11-27T07:45:00.000Z',"
  "    'event': {'type': 'START'}, 'flags': {'read': true}}]}";

static const char LIST[] =
  "{'conversations': ["
  "  {'id': 'c1', 'subject': '', 'flags': {'active': true, 'closed': false},"
  "   'lastUpdated': '2026-11-27T07:45:40.728Z',"
  "   'messages': [{'id': 'm1', 'threadId': 'c1', 'body': 'x', 'from': {'address': 'bob@example.com'},"
  "     'to': [{'address': 'alice@example.com'}], 'receivedDate': '2026-11-27T07:45:40.728Z',"
  "     'lastModifiedDate': '2026-11-27T07:45:40.728Z', 'event': {'type': 'MESSAGE'}, 'flags': {'read': false}, 'parts': []}]},"
  "  {'id': 'c2', 'subject': 'Left', 'flags': {'active': false, 'closed': false},"
  "   'lastUpdated': '2026-11-27T08:00:00Z',"
  "   'messages': [{'id': 'm9', 'threadId': 'c2', 'from': {'address': 'alice@example.com'},"
  "     'to': [{'address': 'alice@example.com'}], 'receivedDate': '2026-11-27T08:00:00Z',"
  "     'event': {'type': 'LEFT', 'participants': [{'address': 'alice@example.com'}]}, 'flags': {'read': true}}]}],"
  " 'lastUpdated': '2026-11-27T08:00:00.000Z', 'href': 'https://h:8443/aem/conversations', 'moreSearchResults': false}";

/* ---- amm-error -------------------------------------------------------------------------- */

static void
test_error_quark (void)
{
  g_assert_cmpstr (g_quark_to_string (AMM_ERROR), ==, "amm-error-quark");
  g_assert_cmpuint (AMM_ERROR, ==, amm_error_quark ());
}

static void
test_error_transient (void)
{
  static const struct { int code; gboolean transient; } cases[] = {
    { AMM_ERROR_NETWORK, TRUE }, { AMM_ERROR_TIMEOUT, TRUE }, { AMM_ERROR_SERVER, TRUE },
    { AMM_ERROR_RATE_LIMITED, TRUE }, { AMM_ERROR_CONNECTION_LOST, TRUE },
    { AMM_ERROR_AUTH, FALSE }, { AMM_ERROR_TLS, FALSE }, { AMM_ERROR_NOT_ACCEPTABLE, FALSE },
    { AMM_ERROR_UNSUPPORTED, FALSE }, { AMM_ERROR_REJECTED, FALSE }, { AMM_ERROR_NOT_FOUND, FALSE },
    { AMM_ERROR_FORBIDDEN, FALSE }, { AMM_ERROR_TOO_LARGE, FALSE }, { AMM_ERROR_MALFORMED, FALSE },
    { AMM_ERROR_INVALID_SETTINGS, FALSE },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) e = g_error_new_literal (AMM_ERROR, cases[i].code, "x");
      g_assert_cmpint (amm_error_is_transient (e), ==, cases[i].transient);
    }
  g_assert_false (amm_error_is_transient (NULL));
  {
    g_autoptr (GError) e = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "x");
    g_autoptr (GError) c = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "x");
    g_autoptr (GError) o = g_error_new_literal (G_FILE_ERROR, G_FILE_ERROR_NOENT, "x");
    g_assert_true (amm_error_is_transient (e));
    g_assert_false (amm_error_is_transient (c));
    g_assert_false (amm_error_is_transient (o));
  }
}

/* ---- amm-json --------------------------------------------------------------------------- */

static void
test_json_parse_valid (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) n = amm_json_parse ("[1, 2]", -1, &error);
  g_autoptr (JsonNode) o = NULL;
  g_autoptr (JsonNode) partial = NULL;

  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (n));
  o = amm_json_parse_object ("  {\"a\": 9223372036854775807, \"b\": -9223372036854775808} ", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (o), "a"), ==, G_MAXINT64);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (o), "b"), ==, G_MININT64);
  /* explicit length: the bytes after it are not looked at */
  partial = amm_json_parse_object ("{\"a\": 1}GARBAGE", 8, &error);
  g_assert_no_error (error);
  g_assert_nonnull (partial);
}

static void
test_json_parse_invalid (void)
{
  static const struct { const char *text; gssize len; const char *needle; } cases[] = {
    { "", -1, "empty" },
    { "   \n\t", -1, "empty" },
    { "not json", -1, "invalid JSON" },
    { "<html><body>502 Bad Gateway</body></html>", -1, "invalid JSON" },
    { "{\"a\": 1", -1, "invalid JSON" },
    { "{\"a\": 1} trailing", -1, "invalid JSON" },
    { "{\"a\": 99999999999999999999}", -1, "out of range" },
    { "{\"a\": -9223372036854775809}", -1, "out of range" },
    { "[9223372036854775808]", -1, "out of range" },
    { "\"\xff\xfe\"", -1, "invalid JSON" },
    { "{\"a\": 1}", 0, "empty" },
    { "{\"a\":\0 1}", 9, "NUL" },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      JsonNode *n = amm_json_parse (cases[i].text, cases[i].len, &error);
      g_assert_null (n);
      assert_malformed (error, cases[i].needle);
    }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_json_parse (NULL, -1, &error));
    assert_malformed (error, "empty");
  }
  {
    /* far deeper than any stack-safe recursion */
    GString *deep = g_string_new (NULL);
    g_autoptr (GError) error = NULL;
    int i2;

    for (i2 = 0; i2 < 100000; i2++)
      g_string_append_c (deep, '[');
    for (i2 = 0; i2 < 100000; i2++)
      g_string_append_c (deep, ']');
    g_assert_null (amm_json_parse (deep->str, deep->len, &error));
    assert_malformed (error, "nested");
    g_string_free (deep, TRUE);
  }
  {
    /* numbers inside strings are not integer literals; brackets inside strings do not nest */
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) n = amm_json_parse (q ("{'a': '99999999999999999999999 [[[[ \\' {{{'}"), -1, &error);
    g_assert_no_error (error);
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_json_parse_object ("[]", -1, &error));
    assert_malformed (error, "expected a JSON object, got array");
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_json_parse_object ("\"str\"", -1, &error));
    assert_malformed (error, "got string");
  }
}

static void
test_json_accessors (void)
{
  g_autoptr (JsonNode) root = parse ("{'s': 'x', 'e': '', 'b': true, 'i': 42, 'neg': -3, 'dw': 7.0, 'df': 7.5,"
                                     " 'big': 1e300, 'n': null, 'o': {'k': 1}, 'a': [1], 'is': '5'}");
  JsonObject *o = json_node_get_object (root);
  const char *s = NULL;
  gboolean b = FALSE;
  gint64 i = 0;
  guint64 u = 0;
  JsonObject *obj = NULL;
  JsonArray *arr = NULL;

  /* strings */
  g_assert_cmpstr (amm_json_require_string (o, "doc", "s", NULL), ==, "x");
  g_assert_cmpstr (amm_json_require_string (o, "doc", "e", NULL), ==, "");
  g_assert_true (amm_json_opt_string (o, "doc", "missing", "def", &s, NULL));
  g_assert_cmpstr (s, ==, "def");
  g_assert_true (amm_json_opt_string (o, "doc", "n", "def", &s, NULL));
  g_assert_cmpstr (s, ==, "def");
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_json_require_string (o, "doc", "i", &error));
    assert_malformed (error, "doc.i: expected string, got integer");
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_json_require_string (o, "doc", "missing", &error));
    assert_malformed (error, "doc.missing: missing required member");
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_json_require_string (o, NULL, "n", &error));
    assert_malformed (error, "n: expected string, got null");
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (amm_json_opt_string (o, "doc", "o", NULL, &s, &error));
    assert_malformed (error, "doc.o: expected string, got object");
  }

  /* booleans */
  g_assert_true (amm_json_require_boolean (o, NULL, "b", &b, NULL));
  g_assert_true (b);
  g_assert_true (amm_json_opt_boolean (o, NULL, "missing", TRUE, &b, NULL));
  g_assert_true (b);
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (amm_json_opt_boolean (o, "x.y", "s", FALSE, &b, &error));
    assert_malformed (error, "x.y.s: expected boolean, got string");
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (amm_json_require_boolean (o, NULL, "i", &b, &error));
    assert_malformed (error, "i: expected boolean, got integer");
  }

  /* integers */
  g_assert_true (amm_json_require_int (o, NULL, "i", &i, NULL));
  g_assert_cmpint (i, ==, 42);
  g_assert_true (amm_json_require_int (o, NULL, "dw", &i, NULL));
  g_assert_cmpint (i, ==, 7);
  g_assert_true (amm_json_opt_int (o, NULL, "missing", -1, &i, NULL));
  g_assert_cmpint (i, ==, -1);
  {
    static const char *bad[] = { "df", "big", "is", "b", "o", "a", "n" };
    gsize k;
    for (k = 0; k < G_N_ELEMENTS (bad); k++)
      {
        g_autoptr (GError) error = NULL;
        g_assert_false (amm_json_require_int (o, "doc", bad[k], &i, &error));
        assert_malformed (error, "expected integer");
      }
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (amm_json_opt_int (o, "doc", "df", 0, &i, &error));
    assert_malformed (error, "doc.df: expected integer, got number");
  }
  g_assert_true (amm_json_opt_uint (o, NULL, "i", 100, 0, &u, NULL));
  g_assert_cmpuint (u, ==, 42);
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (amm_json_opt_uint (o, "doc", "neg", G_MAXUINT64, 0, &u, &error));
    assert_malformed (error, "doc.neg: integer out of range");
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (amm_json_opt_uint (o, "doc", "i", 41, 0, &u, &error));
    assert_malformed (error, "doc.i: integer out of range");
  }

  /* objects and arrays */
  g_assert_nonnull (amm_json_require_object (o, NULL, "o", NULL));
  g_assert_true (amm_json_opt_object (o, NULL, "missing", &obj, NULL));
  g_assert_null (obj);
  g_assert_nonnull (amm_json_require_array (o, NULL, "a", NULL));
  g_assert_true (amm_json_opt_array (o, NULL, "n", &arr, NULL));
  g_assert_null (arr);
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_json_require_object (o, "p", "a", &error));
    assert_malformed (error, "p.a: expected object, got array");
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (amm_json_opt_array (o, "p", "o", &arr, &error));
    assert_malformed (error, "p.o: expected array, got object");
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_json_array_get_object (json_object_get_array_member (o, "a"), "p.a", 0, &error));
    assert_malformed (error, "p.a[0]: expected object, got integer");
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_json_array_get_object (json_object_get_array_member (o, "a"), "p.a", 5, &error));
    assert_malformed (error, "p.a[5]: missing");
  }

  /* NULL objects read as "everything absent" */
  g_assert_true (amm_json_opt_string (NULL, NULL, "x", "d", &s, NULL));
  g_assert_cmpstr (s, ==, "d");

  /* node-level */
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_json_node_get_object (NULL, "thing", &error));
    assert_malformed (error, "thing: missing required member");
  }
  g_assert_cmpstr (amm_json_node_type_name (NULL), ==, "missing");
  g_assert_cmpstr (amm_json_node_type_name (json_object_get_member (o, "dw")), ==, "number");
  g_assert_cmpstr (amm_json_node_type_name (json_object_get_member (o, "n")), ==, "null");
}

static void
test_json_string_array (void)
{
  g_autoptr (JsonNode) root = parse ("{'ok': ['a', 'b'], 'bad': ['a', 3], 'nul': [null], 'str': 'a'}");
  JsonObject *o = json_node_get_object (root);
  g_auto (GStrv) ok = amm_json_opt_string_array (o, "r", "ok", NULL);
  g_auto (GStrv) none = amm_json_opt_string_array (o, "r", "missing", NULL);

  g_assert_cmpuint (g_strv_length (ok), ==, 2);
  g_assert_cmpstr (ok[1], ==, "b");
  g_assert_nonnull (none);
  g_assert_cmpuint (g_strv_length (none), ==, 0);
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_json_opt_string_array (o, "r", "bad", &error));
    assert_malformed (error, "r.bad[1]: expected string, got integer");
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_json_opt_string_array (o, "r", "nul", &error));
    assert_malformed (error, "r.nul[0]: expected string, got null");
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_json_opt_string_array (o, NULL, "str", &error));
    assert_malformed (error, "str: expected array, got string");
  }
}

static void
test_json_href (void)
{
  static const struct { const char *base, *href, *expect; } cases[] = {
    { "https://h:8443", "/aem/outbox", "https://h:8443/aem/outbox" },
    { "https://h:8443/aem/resources", "outbox", "https://h:8443/aem/outbox" },
    { "http://127.0.0.1:1234", "/a?b=c", "http://127.0.0.1:1234/a?b=c" },
    { "https://h:8443", "https://other:1/x", "https://other:1/x" },
    { "https://h:8443", "wss://h:8443/ws?x=1", "wss://h:8443/ws?x=1" },
    { NULL, "/relative", "/relative" },
    { NULL, "https://abs/x", "https://abs/x" },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *r = amm_json_resolve_href (cases[i].base, cases[i].href, "x.href", &error);
      g_assert_no_error (error);
      g_assert_cmpstr (r, ==, cases[i].expect);
    }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_json_resolve_href ("https://h", "", "x.href", &error));
    assert_malformed (error, "x.href: empty URL");
  }
}

/* ---- amm-time --------------------------------------------------------------------------- */

static void
test_time_parse (void)
{
  static const struct { const char *in; const char *canonical; } ok[] = {
    { "2026-11-27T07:45:40.728Z", "2026-11-27T07:45:40.728Z" },
    { "2026-11-27T07:45:40Z", "2026-11-27T07:45:40.000Z" },
    { "2026-11-27T09:45:40.728+02:00", "2026-11-27T07:45:40.728Z" },
    { "2026-11-27T02:45:40.5-05:00", "2026-11-27T07:45:40.500Z" },
    { "2026-11-27T07:45:40.7289999Z", "2026-11-27T07:45:40.728Z" },
    { "1970-01-01T00:00:00.000Z", "1970-01-01T00:00:00.000Z" },
  };
  static const char *bad[] = {
    "garbage", "", "2026-11-27T07:45:40", "2026-11-27", "2026-13-01T00:00:00Z",
    "2026-02-30T00:00:00Z", "07:45:40Z", "2026-11-27T07:45:40.728Zjunk", "\xff\xfe",
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (ok); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GDateTime) dt = amm_time_parse (ok[i].in, &error);
      g_autofree char *s = NULL;

      g_assert_no_error (error);
      g_assert_nonnull (dt);
      s = amm_time_format (dt);
      g_assert_cmpstr (s, ==, ok[i].canonical);
    }
  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_null (amm_time_parse (bad[i], &error));
      assert_malformed (error, "timestamp");
    }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_time_parse (NULL, &error));
    assert_malformed (error, "timestamp");
  }
  {
    g_autofree char *n = amm_time_normalize ("2026-11-27T08:45:40+01:00", NULL);
    g_assert_cmpstr (n, ==, "2026-11-27T07:45:40.000Z");
  }
}

static void
test_time_format_arith (void)
{
  g_autoptr (GDateTime) epoch = amm_time_from_unix_ms (0);
  g_autoptr (GDateTime) before = amm_time_from_unix_ms (-1);
  g_autoptr (GDateTime) t = amm_time_parse ("2026-11-27T07:45:40.999Z", NULL);
  g_autoptr (GDateTime) t1 = amm_time_add_ms (t, 1);
  g_autofree char *s_epoch = amm_time_format (epoch);
  g_autofree char *s_before = amm_time_format (before);
  g_autofree char *s_t1 = amm_time_format (t1);
  g_autofree char *plus = amm_time_string_add_ms ("2026-11-27T07:45:40.728Z", 1, NULL);
  g_autofree char *minus = amm_time_string_add_ms ("2026-11-27T07:45:40.000Z", -1, NULL);
  g_autofree char *now = amm_time_format_now ();
  g_autoptr (GDateTime) now_dt = amm_time_parse (now, NULL);

  g_assert_cmpstr (s_epoch, ==, AMM_EPOCH_TIMESTAMP);
  g_assert_cmpstr (s_before, ==, "1969-12-31T23:59:59.999Z");
  g_assert_cmpint (amm_time_to_unix_ms (before), ==, -1);
  g_assert_cmpstr (s_t1, ==, "2026-11-27T07:45:41.000Z");
  g_assert_cmpstr (plus, ==, "2026-11-27T07:45:40.729Z");
  g_assert_cmpstr (minus, ==, "2026-11-27T07:45:39.999Z");
  g_assert_nonnull (now_dt);
  g_assert_true (g_str_has_suffix (now, "Z"));
  g_assert_cmpuint (strlen (now), ==, strlen ("2026-11-27T07:45:40.728Z"));
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_time_string_add_ms ("nope", 1, &error));
    assert_malformed (error, NULL);
  }
  g_assert_null (amm_time_add_ms (t, G_MAXINT64));

  g_assert_cmpint (amm_time_compare (t, t1), <, 0);
  g_assert_cmpint (amm_time_compare (t1, t), >, 0);
  g_assert_cmpint (amm_time_compare (NULL, t), <, 0);
  g_assert_cmpint (amm_time_compare (NULL, NULL), ==, 0);
  /* by instant, not by text */
  g_assert_cmpint (amm_time_compare_strings ("2026-11-27T09:45:40.728+02:00", "2026-11-27T07:45:40.728Z"), ==, 0);
  g_assert_cmpint (amm_time_compare_strings ("2026-11-27T07:45:40Z", "2026-11-27T07:45:40.001Z"), <, 0);
  g_assert_cmpint (amm_time_compare_strings ("garbage", "2026-11-27T07:45:40Z"), <, 0);
  g_assert_cmpint (amm_time_compare_strings (NULL, "garbage"), ==, 0);
}

/* ---- versions --------------------------------------------------------------------------- */

static void
test_version_strings (void)
{
  static const struct { AmmVersion v; const char *s; } cases[] = {
    { AMM_VERSION_AUTO, "auto" }, { AMM_VERSION_2_1, "2.1" }, { AMM_VERSION_3, "3" }, { AMM_VERSION_3_2, "3.2" },
  };
  gsize i;
  AmmVersion v;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_assert_cmpstr (amm_version_to_string (cases[i].v), ==, cases[i].s);
      v = (AmmVersion) 99;
      g_assert_true (amm_version_from_string (cases[i].s, &v));
      g_assert_cmpint (v, ==, cases[i].v);
    }
  g_assert_true (amm_version_from_string ("AUTO", &v));
  g_assert_cmpint (v, ==, AMM_VERSION_AUTO);
  g_assert_false (amm_version_from_string ("4", &v));
  g_assert_false (amm_version_from_string ("2", &v));
  g_assert_false (amm_version_from_string (NULL, &v));
  g_assert_cmpstr (amm_version_to_string ((AmmVersion) 42), ==, "auto");
}

/* ---- resources -------------------------------------------------------------------------- */

static AmmResources *
resources_from (const char *doc, AmmVersion version, const char *base, GError **error)
{
  g_autoptr (JsonNode) root = parse (doc);
  return amm_resources_parse (root, version, base, error);
}

static void
test_resources_v4_valid (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AmmResources) r = resources_from (RESOURCES_V4, AMM_VERSION_3_2, "https://h:8443", &error);

  g_assert_no_error (error);
  g_assert_nonnull (r);
  g_assert_cmpint (r->version, ==, AMM_VERSION_3_2);
  g_assert_cmpstr (r->self, ==, "alice@example.com");
  g_assert_cmpuint (g_strv_length (r->domains), ==, 1);
  g_assert_cmpstr (r->domains[0], ==, "example.com");
  g_assert_cmpuint (r->request_timeout_recommended, ==, 30);
  g_assert_cmpstr (r->conversations_href, ==, "https://h:8443/aem/conversations");
  g_assert_true (g_strv_contains ((const char * const *) r->conversations_request_types, AMM_TYPE_CONVERSATIONS_FILTER));
  g_assert_cmpuint (r->max_message_count, ==, 50);
  g_assert_cmpstr (r->messages_href, ==, "https://h:8443/aem/messages");
  g_assert_cmpstr (r->outbox_href, ==, "https://h:8443/aem/outbox");
  g_assert_cmpuint (r->limits.max_text_length, ==, 10000);
  g_assert_cmpuint (r->limits.max_image_size, ==, 10485760);
  g_assert_cmpuint (r->limits.max_video_size, ==, 104857600);
  g_assert_cmpuint (r->limits.max_audio_size, ==, 20971520);
  g_assert_cmpuint (r->limits.max_generic_attachment_size, ==, 10485760);
  g_assert_true (r->limits.rich_content);
  g_assert_cmpstr (r->mark_as_read_if_href, ==, "https://h:8443/aem/services/markAsReadIf");
  g_assert_cmpstr (r->mark_as_read_batch_href, ==, "https://h:8443/aem/services/markAsReadBatch");
  g_assert_cmpuint (r->mark_as_read_max_batch, ==, 100);
  g_assert_cmpstr (r->validate_addresses_href, ==, "https://h:8443/aem/services/validateAddresses");
  g_assert_true (g_strv_contains ((const char * const *) r->validate_request_types, AMM_TYPE_ADDRESSES_TO_VALIDATE));
  g_assert_cmpstr (r->websocket_href, ==, "wss://h:8443/aem/notifications/websocket");
  g_assert_cmpstr (r->sse_href, ==, "https://h:8443/aem/notifications/sse");
  g_assert_cmpstr (r->session_href, ==, "https://h:8443/aem/session");
  g_assert_cmpstr (r->session_username, ==, "alice@example.com");
  g_assert_cmpint (amm_resources_detect_version (r), ==, AMM_VERSION_3_2);
}

static void
test_resources_v4_defaults (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AmmResources) r =
    resources_from ("{'self': 'a@b.c', 'conversationsResource': {'href': 'https://h/c'},"
                    " 'outbox': {'href': 'https://h/o'}, 'unknownExtra': [1, {'x': null}]}",
                    AMM_VERSION_3, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (r->version, ==, AMM_VERSION_3);
  g_assert_nonnull (r->domains);
  g_assert_cmpuint (g_strv_length (r->domains), ==, 0);
  g_assert_nonnull (r->conversations_request_types);
  g_assert_nonnull (r->validate_request_types);
  g_assert_cmpuint (r->request_timeout_recommended, ==, AMM_LONG_POLL_DEFAULT_SECONDS);
  g_assert_cmpuint (r->max_message_count, ==, AMM_DEFAULT_MAX_MESSAGE_COUNT);
  g_assert_null (r->messages_href);
  g_assert_cmpuint (r->limits.max_text_length, ==, 0);
  g_assert_false (r->limits.rich_content);
  g_assert_null (r->mark_as_read_if_href);
  g_assert_cmpuint (r->mark_as_read_max_batch, ==, 0);
  g_assert_null (r->websocket_href);
  g_assert_null (r->sse_href);
  g_assert_null (r->session_href);
  g_assert_null (r->session_username);
  g_assert_cmpint (amm_resources_detect_version (r), ==, AMM_VERSION_3);
}

static void
run_mutations (const char *doc, const Mutation *muts, gsize n,
               gboolean (*fn) (JsonNode *root, GError **error))
{
  gsize i;

  for (i = 0; i < n; i++)
    {
      g_autoptr (JsonNode) root = parse (doc);
      g_autoptr (GError) error = NULL;
      gboolean ok;

      set_at (root, muts[i].path, muts[i].value);
      ok = fn (root, &error);
      if (muts[i].needle == NULL)
        {
          if (error != NULL)
            g_printerr ("mutation %s=%s: unexpected error: %s\n", muts[i].path,
                        muts[i].value ? muts[i].value : "(removed)", error->message);
          g_assert_no_error (error);
          g_assert_true (ok);
        }
      else
        {
          if (ok)
            g_printerr ("mutation %s=%s: parsed, expected \"%s\"\n", muts[i].path,
                        muts[i].value ? muts[i].value : "(removed)", muts[i].needle);
          g_assert_false (ok);
          assert_malformed (error, muts[i].needle);
        }
    }
}

static gboolean
parse_v4 (JsonNode *root, GError **error)
{
  g_autoptr (AmmResources) r = amm_resources_parse (root, AMM_VERSION_3, "https://h:8443", error);
  return r != NULL;
}

static gboolean
parse_v3 (JsonNode *root, GError **error)
{
  g_autoptr (AmmResources) r = amm_resources_parse (root, AMM_VERSION_2_1, "https://h:8443", error);
  return r != NULL;
}

static void
test_resources_v4_invalid (void)
{
  static const Mutation muts[] = {
    { "self", NULL, "self: missing required member" },
    { "self", "5", "self: expected string, got integer" },
    { "self", "null", "self: expected string, got null" },
    { "self", "''", "self: empty string" },
    { "domains", "'example.com'", "domains: expected array, got string" },
    { "domains", "['a', 1]", "domains[1]: expected string, got integer" },
    { "domains", "null", NULL },
    { "avayaRequestTimeout", "30", "avayaRequestTimeout: expected object, got integer" },
    { "avayaRequestTimeout.recommended", "'30'", "avayaRequestTimeout.recommended: expected integer, got string" },
    { "avayaRequestTimeout.recommended", "1.5", "avayaRequestTimeout.recommended: expected integer, got number" },
    { "avayaRequestTimeout.recommended", "60.0", NULL },
    { "avayaRequestTimeout.recommended", "-1", "avayaRequestTimeout.recommended: integer out of range" },
    { "avayaRequestTimeout.recommended", "99999999999", "avayaRequestTimeout.recommended: integer out of range" },
    { "conversationsResource", NULL, "conversationsResource: missing required member" },
    { "conversationsResource", "'https://h/c'", "conversationsResource: expected object, got string" },
    { "conversationsResource.href", NULL, "conversationsResource.href: missing required member" },
    { "conversationsResource.href", "true", "conversationsResource.href: expected string, got boolean" },
    { "conversationsResource.href", "''", "conversationsResource.href: empty URL" },
    { "conversationsResource.requestTypes", "{}", "conversationsResource.requestTypes: expected array, got object" },
    { "conversationsResource.requestTypes", "[null]", "conversationsResource.requestTypes[0]: expected string, got null" },
    { "conversationsResource.limits", "[]", "conversationsResource.limits: expected object, got array" },
    { "conversationsResource.limits.maxMessageCount", "'50'", "conversationsResource.limits.maxMessageCount: expected integer" },
    { "conversationsResource.limits.maxMessageCount", "1e300", "conversationsResource.limits.maxMessageCount: expected integer" },
    { "messages", "'https://h/m'", "messages: expected object, got string" },
    { "messages", NULL, NULL },
    { "messages.href", "{}", "messages.href: expected string, got object" },
    { "outbox", NULL, "outbox: missing required member" },
    { "outbox", "'https://h:8443/aem/outbox'", "outbox: expected object, got string" },
    { "outbox.href", NULL, "outbox.href: missing required member" },
    { "outbox.href", "42", "outbox.href: expected string, got integer" },
    { "outbox.limits", "true", "outbox.limits: expected object, got boolean" },
    { "outbox.limits.maxTextLength", "-5", "outbox.limits.maxTextLength: integer out of range" },
    { "outbox.limits.maxImageSize", "'big'", "outbox.limits.maxImageSize: expected integer, got string" },
    { "outbox.limits.maxVideoSize", "1.25", "outbox.limits.maxVideoSize: expected integer, got number" },
    { "outbox.limits.maxAudioSize", "[]", "outbox.limits.maxAudioSize: expected integer, got array" },
    { "outbox.limits.maxGenericAttachmentSize", "false", "outbox.limits.maxGenericAttachmentSize: expected integer" },
    { "outbox.limits", NULL, NULL },
    { "outbox.capabilities", "'x'", "outbox.capabilities: expected object, got string" },
    { "outbox.capabilities.richContent", "'yes'", "outbox.capabilities.richContent: expected boolean, got string" },
    { "services", "[]", "services: expected object, got array" },
    { "services", NULL, NULL },
    { "services.markAsReadIf", "5", "services.markAsReadIf: expected string or object, got integer" },
    { "services.markAsReadIf.href", "[]", "services.markAsReadIf.href: expected string, got array" },
    { "services.markAsReadBatch.limits.maxBatchSize", "true", "services.markAsReadBatch.limits.maxBatchSize: expected integer" },
    { "services.validateAddresses.requestTypes", "{}", "services.validateAddresses.requestTypes: expected array, got object" },
    { "services.validateAddresses.requestTypes", "[1]", "services.validateAddresses.requestTypes[0]: expected string" },
    { "notificationService", "[]", "notificationService: expected object, got array" },
    { "notificationService", NULL, NULL },
    { "notificationService.websocket", "'wss://x'", "notificationService.websocket: expected object, got string" },
    { "notificationService.websocket.href", "1", "notificationService.websocket.href: expected string, got integer" },
    { "notificationService.websocket.href", "''", NULL },
    { "notificationService.sse.href", "{}", "notificationService.sse.href: expected string, got object" },
    { "sessionManagement", "'s'", "sessionManagement: expected object, got string" },
    { "sessionManagement.href", "false", "sessionManagement.href: expected string, got boolean" },
    { "sessionManagement.username", "{}", "sessionManagement.username: expected string, got object" },
    { "sessionManagement.username", "null", NULL },
  };
  run_mutations (RESOURCES_V4, muts, G_N_ELEMENTS (muts), parse_v4);
}

static void
test_resources_v3 (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AmmResources) r = resources_from (RESOURCES_V3, AMM_VERSION_2_1, "https://h:8443", &error);

  g_assert_no_error (error);
  g_assert_cmpint (r->version, ==, AMM_VERSION_2_1);
  g_assert_cmpint (amm_resources_detect_version (r), ==, AMM_VERSION_2_1);
  g_assert_cmpstr (r->messages_href, ==, "https://h:8443/aem/messages");
  g_assert_cmpstr (r->outbox_href, ==, "https://h:8443/aem/outbox");
  g_assert_cmpuint (r->limits.max_text_length, ==, 5000);
  g_assert_cmpuint (r->limits.max_image_size, ==, 1000);
  g_assert_cmpuint (r->limits.max_video_size, ==, 0);
  g_assert_true (r->limits.rich_content);
  g_assert_cmpuint (r->request_timeout_recommended, ==, 45);
  g_assert_cmpuint (r->max_message_count, ==, 20);
  g_assert_cmpuint (g_strv_length (r->domains), ==, 2);
  g_assert_cmpstr (r->mark_as_read_batch_href, ==, "https://h:8443/aem/services/markAsReadBatch");
  g_assert_cmpstr (r->mark_as_read_if_href, ==, "https://h:8443/aem/services/markAsReadIf");
  g_assert_null (r->websocket_href);
  g_assert_null (r->sse_href);
}

static void
test_resources_v3_invalid (void)
{
  static const Mutation muts[] = {
    { "outbox", NULL, "outbox: missing required member" },
    { "outbox", "{'href': 'https://h/o'}", "outbox: expected string, got object" },
    { "outbox", "''", "outbox: empty URL" },
    { "outbox", "7", "outbox: expected string, got integer" },
    { "messages", "{'href': 'https://h/m'}", "messages: expected string, got object" },
    { "messages", NULL, NULL },
    { "limits", "'x'", "limits: expected object, got string" },
    { "limits.maxTextLength", "'1'", "limits.maxTextLength: expected integer, got string" },
    { "capabilities.richContent", "1", "capabilities.richContent: expected boolean, got integer" },
    { "capabilities", NULL, NULL },
    { "self", NULL, "self: missing required member" },
  };
  run_mutations (RESOURCES_V3, muts, G_N_ELEMENTS (muts), parse_v3);

  /* a v3 document read as v4 fails on its shape, and the other way round */
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (resources_from (RESOURCES_V3, AMM_VERSION_3, NULL, &error));
    assert_malformed (error, "messages: expected object, got string");
  }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (resources_from (RESOURCES_V4, AMM_VERSION_2_1, NULL, &error));
    assert_malformed (error, "expected string, got object");
  }
}

static void
test_resources_relative_hrefs (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AmmResources) r =
    resources_from ("{'self': 'a@b.c', 'conversationsResource': {'href': '/aem/conversations'},"
                    " 'messages': {'href': 'messages'}, 'outbox': {'href': '/aem/outbox'},"
                    " 'services': {'markAsReadIf': {'href': '/aem/services/markAsReadIf'},"
                    "              'validateAddresses': '/aem/services/validateAddresses'},"
                    " 'notificationService': {'websocket': {'href': '/aem/notifications/websocket'},"
                    "                         'sse': {'href': '/aem/notifications/sse'}},"
                    " 'sessionManagement': {'href': 'https://other:9/aem/session'}}",
                    AMM_VERSION_3, "https://h:8443/aem/resources", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (r->conversations_href, ==, "https://h:8443/aem/conversations");
  g_assert_cmpstr (r->messages_href, ==, "https://h:8443/aem/messages");
  g_assert_cmpstr (r->outbox_href, ==, "https://h:8443/aem/outbox");
  g_assert_cmpstr (r->mark_as_read_if_href, ==, "https://h:8443/aem/services/markAsReadIf");
  g_assert_cmpstr (r->validate_addresses_href, ==, "https://h:8443/aem/services/validateAddresses");
  /* a relative WebSocket href resolved against an https base becomes wss */
  g_assert_cmpstr (r->websocket_href, ==, "wss://h:8443/aem/notifications/websocket");
  g_assert_cmpstr (r->sse_href, ==, "https://h:8443/aem/notifications/sse");
  /* absolute hrefs are kept as they are */
  g_assert_cmpstr (r->session_href, ==, "https://other:9/aem/session");

  {
    g_autoptr (GError) e2 = NULL;
    g_autoptr (AmmResources) r2 =
      resources_from ("{'self': 'a@b.c', 'conversationsResource': {'href': '/c'}, 'outbox': {'href': '/o'},"
                      " 'notificationService': {'websocket': {'href': 'ws://x:1/ws?q=1'}}}",
                      AMM_VERSION_3, "http://127.0.0.1:5555", &e2);
    g_assert_no_error (e2);
    g_assert_cmpstr (r2->websocket_href, ==, "ws://x:1/ws?q=1");
    g_assert_cmpstr (r2->conversations_href, ==, "http://127.0.0.1:5555/c");
  }
  {
    g_autoptr (GError) e3 = NULL;
    g_autoptr (AmmResources) r3 =
      resources_from ("{'self': 'a@b.c', 'conversationsResource': {'href': '/c'}, 'outbox': {'href': '/o'},"
                      " 'notificationService': {'websocket': {'href': '/ws'}}}",
                      AMM_VERSION_3, "http://127.0.0.1:5555", &e3);
    g_assert_no_error (e3);
    g_assert_cmpstr (r3->websocket_href, ==, "ws://127.0.0.1:5555/ws");
  }
}

static void
test_resources_detect_version (void)
{
  static const struct { const char *conv_types; const char *validate; AmmVersion expect; } cases[] = {
    { "['application/vnd.avaya.aem.conversationsFilter.v1+json']",
      "{'href': 'https://h/v', 'requestTypes': ['application/vnd.avaya.aem.addressesToValidate.v1+json']}", AMM_VERSION_3_2 },
    { "['application/vnd.avaya.aem.conversationsFilter.v1+json']", "{'href': 'https://h/v'}", AMM_VERSION_3 },
    { "[]", "{'href': 'https://h/v', 'requestTypes': ['application/vnd.avaya.aem.addressesToValidate.v1+json']}", AMM_VERSION_3 },
    { "['other', 'application/vnd.avaya.aem.conversationsFilter.v1+json']",
      "{'href': 'https://h/v', 'requestTypes': ['x', 'application/vnd.avaya.aem.addressesToValidate.v1+json']}", AMM_VERSION_3_2 },
    { "['application/vnd.avaya.aem.conversationsFilter.v2+json']",
      "{'href': 'https://h/v', 'requestTypes': ['application/vnd.avaya.aem.addressesToValidate.v1+json']}", AMM_VERSION_3 },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *doc = g_strdup_printf (
        "{'self': 'a@b.c', 'conversationsResource': {'href': 'https://h/c', 'requestTypes': %s},"
        " 'outbox': {'href': 'https://h/o'}, 'services': {'validateAddresses': %s}}",
        cases[i].conv_types, cases[i].validate);
      g_autoptr (GError) error = NULL;
      g_autoptr (AmmResources) r = resources_from (doc, AMM_VERSION_3, NULL, &error);
      g_autoptr (AmmResources) a = resources_from (doc, AMM_VERSION_AUTO, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpint (r->version, ==, AMM_VERSION_3);   /* as the caller negotiated */
      g_assert_cmpint (amm_resources_detect_version (r), ==, cases[i].expect);
      g_assert_cmpint (a->version, ==, cases[i].expect); /* AUTO: as the document proves */
    }
  {
    /* AUTO recognises a resources.v3 shape */
    g_autoptr (GError) error = NULL;
    g_autoptr (AmmResources) r = resources_from (RESOURCES_V3, AMM_VERSION_AUTO, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (r->version, ==, AMM_VERSION_2_1);
    g_assert_cmpuint (r->limits.max_text_length, ==, 5000);
  }
  g_assert_cmpint (amm_resources_detect_version (NULL), ==, AMM_VERSION_AUTO);
}

static void
test_resources_not_object (void)
{
  static const char *docs[] = { "[]", "'resources'", "42", "null", "true" };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (docs); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) root = parse (docs[i]);
      g_assert_null (amm_resources_parse (root, AMM_VERSION_3, NULL, &error));
      assert_malformed (error, "expected object");
    }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_resources_parse (NULL, AMM_VERSION_3, NULL, &error));
    assert_malformed (error, NULL);
  }
  {
    /* an error.v1 document served with 200 is not a discovery document */
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) root = parse ("{'errorCode': 'X', 'errorMsg': 'y'}");
    g_assert_null (amm_resources_parse (root, AMM_VERSION_3, NULL, &error));
    assert_malformed (error, "self");
  }
}

/* ---- entities and parts ----------------------------------------------------------------- */

static void
test_entity (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) n = parse ("{'address': 'bob@example.com', 'givenName': 'Bob', 'surname': 'Builder',"
                                  " 'type': 'CONTACT', 'modalities': ['Text'], 'picture': null}");
  g_autoptr (AmmEntity) e = amm_entity_parse (n, &error);
  g_autofree char *name = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (e->address, ==, "bob@example.com");
  g_assert_cmpstr (e->given_name, ==, "Bob");
  g_assert_cmpstr (e->surname, ==, "Builder");
  g_assert_cmpstr (e->type, ==, "CONTACT");
  name = amm_entity_display_name (e);
  g_assert_cmpstr (name, ==, "Bob Builder");

  {
    static const struct { const char *doc; const char *needle; } bad[] = {
      { "{}", "entity.address: missing required member" },
      { "{'address': 5}", "entity.address: expected string, got integer" },
      { "{'address': ''}", "entity.address: empty string" },
      { "{'address': 'a@b', 'givenName': 1}", "entity.givenName: expected string, got integer" },
      { "{'address': 'a@b', 'surname': []}", "entity.surname: expected string, got array" },
      { "{'address': 'a@b', 'type': {}}", "entity.type: expected string, got object" },
      { "'a@b'", "entity: expected object, got string" },
      { "null", "entity: expected object, got null" },
    };
    gsize i;
    for (i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr (GError) e2 = NULL;
        g_autoptr (JsonNode) bn = parse (bad[i].doc);
        g_assert_null (amm_entity_parse (bn, &e2));
        assert_malformed (e2, bad[i].needle);
      }
  }
}

static void
test_entity_phone_numbers (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) n = parse ("{'address': 'bob@example.com', 'phoneNumbers': ["
                                  " {'type': 'WORK', 'value': '+1 555 0102', 'primary': false},"
                                  " {'type': 'MOBILE', 'value': '+1 555 0199', 'primary': true, 'verified': true,"
                                  "  'canonicalForm': '+15550199', 'customType': null, 'extra': 1},"
                                  " {'type': 'OTHER', 'value': '2020', 'customType': 'Desk phone'},"
                                  " {'value': '411', 'primary': null}]}");
  g_autoptr (AmmEntity) e = amm_entity_parse (n, &error);
  const AmmPhoneNumber *p;

  g_assert_no_error (error);
  g_assert_nonnull (e->phone_numbers);
  g_assert_cmpuint (e->phone_numbers->len, ==, 4);
  p = g_ptr_array_index (e->phone_numbers, 0);
  g_assert_cmpstr (p->type, ==, "WORK");
  g_assert_cmpstr (p->value, ==, "+1 555 0102");
  g_assert_false (p->primary);
  g_assert_false (p->verified);
  g_assert_null (p->canonical_form);
  g_assert_null (p->custom_type);
  p = g_ptr_array_index (e->phone_numbers, 1);
  g_assert_cmpstr (p->type, ==, "MOBILE");
  g_assert_true (p->primary);
  g_assert_true (p->verified);
  g_assert_cmpstr (p->canonical_form, ==, "+15550199");
  g_assert_null (p->custom_type);
  g_assert_true (amm_entity_primary_phone (e) == p);
  p = g_ptr_array_index (e->phone_numbers, 2);
  g_assert_cmpstr (p->custom_type, ==, "Desk phone");
  p = g_ptr_array_index (e->phone_numbers, 3);
  g_assert_null (p->type);
  g_assert_cmpstr (p->value, ==, "411");
  g_assert_false (p->primary);

  /* labels: customType, else the type in title case, else "Phone" */
  {
    g_autofree char *l0 = amm_phone_number_label (g_ptr_array_index (e->phone_numbers, 0));
    g_autofree char *l2 = amm_phone_number_label (g_ptr_array_index (e->phone_numbers, 2));
    g_autofree char *l3 = amm_phone_number_label (g_ptr_array_index (e->phone_numbers, 3));
    g_autofree char *ln = amm_phone_number_label (NULL);
    AmmPhoneNumber mobile = { .type = (char *) "MOBILE_PHONE", .value = (char *) "1" };
    g_autofree char *lm = amm_phone_number_label (&mobile);
    g_autoptr (AmmPhoneNumber) copy = amm_phone_number_copy (g_ptr_array_index (e->phone_numbers, 1));
    g_assert_cmpstr (l0, ==, "Work");
    g_assert_cmpstr (l2, ==, "Desk phone");
    g_assert_cmpstr (l3, ==, "Phone");
    g_assert_cmpstr (ln, ==, "Phone");
    g_assert_cmpstr (lm, ==, "Mobile phone");
    g_assert_cmpstr (copy->canonical_form, ==, "+15550199");
    g_assert_true (copy->primary && copy->verified);
  }

  /* absent, null and empty: an empty list, never NULL; no primary */
  {
    static const char *const empty[] = { "{'address': 'a@b'}", "{'address': 'a@b', 'phoneNumbers': null}",
                                         "{'address': 'a@b', 'phoneNumbers': []}" };
    for (gsize i = 0; i < G_N_ELEMENTS (empty); i++)
      {
        g_autoptr (GError) e2 = NULL;
        g_autoptr (JsonNode) en = parse (empty[i]);
        g_autoptr (AmmEntity) ee = amm_entity_parse (en, &e2);
        g_assert_no_error (e2);
        g_assert_nonnull (ee->phone_numbers);
        g_assert_cmpuint (ee->phone_numbers->len, ==, 0);
        g_assert_null (amm_entity_primary_phone (ee));
      }
    g_autoptr (AmmEntity) fresh = amm_entity_new ("a@b");
    g_assert_nonnull (fresh->phone_numbers);
    g_assert_cmpuint (fresh->phone_numbers->len, ==, 0);
    g_assert_null (amm_entity_primary_phone (NULL));
  }

  /* malformed: named by path, never a critical */
  {
    static const struct { const char *doc; const char *needle; } bad[] = {
      { "{'address': 'a@b', 'phoneNumbers': {}}", "entity.phoneNumbers: expected array, got object" },
      { "{'address': 'a@b', 'phoneNumbers': '+1 555'}", "entity.phoneNumbers: expected array, got string" },
      { "{'address': 'a@b', 'phoneNumbers': ['+1 555']}", "entity.phoneNumbers[0]: expected object, got string" },
      { "{'address': 'a@b', 'phoneNumbers': [null]}", "entity.phoneNumbers[0]: expected object, got null" },
      { "{'address': 'a@b', 'phoneNumbers': [{'type': 'WORK'}]}", "entity.phoneNumbers[0].value: missing required member" },
      { "{'address': 'a@b', 'phoneNumbers': [{'value': ''}]}", "entity.phoneNumbers[0].value: empty string" },
      { "{'address': 'a@b', 'phoneNumbers': [{'value': 5550101}]}", "entity.phoneNumbers[0].value: expected string, got integer" },
      { "{'address': 'a@b', 'phoneNumbers': [{'value': '1'}, {'value': '2', 'type': 3}]}",
        "entity.phoneNumbers[1].type: expected string, got integer" },
      { "{'address': 'a@b', 'phoneNumbers': [{'value': '1', 'primary': 'yes'}]}",
        "entity.phoneNumbers[0].primary: expected boolean, got string" },
      { "{'address': 'a@b', 'phoneNumbers': [{'value': '1', 'verified': 1}]}",
        "entity.phoneNumbers[0].verified: expected boolean, got integer" },
      { "{'address': 'a@b', 'phoneNumbers': [{'value': '1', 'canonicalForm': []}]}",
        "entity.phoneNumbers[0].canonicalForm: expected string, got array" },
      { "{'address': 'a@b', 'phoneNumbers': [{'value': '1', 'customType': {}}]}",
        "entity.phoneNumbers[0].customType: expected string, got object" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr (GError) e2 = NULL;
        g_autoptr (JsonNode) bn = parse (bad[i].doc);
        g_assert_null (amm_entity_parse (bn, &e2));
        assert_malformed (e2, bad[i].needle);
      }
  }

  /* inside a message (from/to) the path names the place */
  {
    g_autoptr (GError) e3 = NULL;
    g_autoptr (JsonNode) mn = parse ("{'id': 'm1', 'threadId': 't', 'from': {'address': 'a@b', 'phoneNumbers': [{}]},"
                                     " 'receivedDate': '2026-01-01T00:00:00Z', 'lastModifiedDate': '2026-01-01T00:00:00Z'}");
    g_assert_null (amm_message_parse (mn, NULL, &e3));
    assert_malformed (e3, "from.phoneNumbers[0].value: missing required member");
  }
}

static void
test_entity_display_name (void)
{
  static const struct { const char *given, *surname, *address, *expect; } cases[] = {
    { "Bob", "Builder", "bob@x", "Bob Builder" },
    { "Bob", NULL, "bob@x", "Bob" },
    { NULL, "Builder", "bob@x", "Builder" },
    { "  ", " ", "bob@x", "bob@x" },
    { NULL, NULL, "bob@x", "bob@x" },
    { " Bob ", " Builder ", "bob@x", "Bob Builder" },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (AmmEntity) e = amm_entity_new (cases[i].address);
      g_autofree char *name = NULL;

      e->given_name = g_strdup (cases[i].given);
      e->surname = g_strdup (cases[i].surname);
      name = amm_entity_display_name (e);
      g_assert_cmpstr (name, ==, cases[i].expect);
    }
  {
    g_autofree char *none = amm_entity_display_name (NULL);
    g_assert_cmpstr (none, ==, "");
  }
}

static void
test_part (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) n = parse ("{'partId': 'p1', 'mimeType': 'image/jpeg', 'size': 949,"
                                  " 'disposition': 'attachment; filename=\\'a.jpg\\'', 'duration': 3,"
                                  " 'media': '/aem/media/p1'}");
  g_autoptr (AmmPart) p = amm_part_parse (n, "https://h:8443", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (p->part_id, ==, "p1");
  g_assert_cmpstr (p->mime_type, ==, "image/jpeg");
  g_assert_cmpint (p->size, ==, 949);
  g_assert_cmpstr (p->disposition, ==, "attachment; filename=\"a.jpg\"");
  g_assert_cmpstr (p->media, ==, "https://h:8443/aem/media/p1");

  {
    g_autoptr (JsonNode) m = parse ("{'partId': 'p2'}");
    g_autoptr (AmmPart) d = amm_part_parse (m, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (d->size, ==, -1);
    g_assert_cmpstr (d->mime_type, ==, "application/octet-stream");
    g_assert_null (d->disposition);
    g_assert_null (d->media);
  }
  {
    static const struct { const char *doc; const char *needle; } bad[] = {
      { "{}", "part.partId: missing required member" },
      { "{'partId': 3}", "part.partId: expected string, got integer" },
      { "{'partId': 'p', 'size': '949'}", "part.size: expected integer, got string" },
      { "{'partId': 'p', 'size': -7}", "part.size: negative" },
      { "{'partId': 'p', 'size': 99.5}", "part.size: expected integer, got number" },
      { "{'partId': 'p', 'mimeType': false}", "part.mimeType: expected string, got boolean" },
      { "{'partId': 'p', 'media': {'href': 'x'}}", "part.media: expected string, got object" },
      { "[]", "part: expected object, got array" },
    };
    gsize i;
    for (i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr (GError) e2 = NULL;
        g_autoptr (JsonNode) bn = parse (bad[i].doc);
        g_assert_null (amm_part_parse (bn, "https://h", &e2));
        assert_malformed (e2, bad[i].needle);
      }
  }
}

/* ---- messages --------------------------------------------------------------------------- */

static void
test_message_valid (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) n = parse (MESSAGE);
  g_autoptr (AmmMessage) m = amm_message_parse (n, "https://h:8443", &error);
  g_autoptr (GDateTime) expect = amm_time_parse ("2026-11-27T07:45:40.728Z", NULL);
  AmmEntity *to0;
  AmmPart *p;

  g_assert_no_error (error);
  g_assert_cmpstr (m->id, ==, "m7");
  g_assert_cmpstr (m->thread_id, ==, "c1");
  g_assert_cmpstr (m->subject, ==, "topic");
  g_assert_cmpstr (m->body, ==, "hi");
  g_assert_cmpstr (m->from->address, ==, "bob@example.com");
  g_assert_cmpstr (m->from->given_name, ==, "Bob");
  g_assert_cmpuint (m->to->len, ==, 2);
  to0 = g_ptr_array_index (m->to, 0);
  g_assert_cmpstr (to0->address, ==, "alice@example.com");
  g_assert_cmpstr (to0->type, ==, "CONTACT");
  g_assert_cmpuint (m->parts->len, ==, 1);
  p = g_ptr_array_index (m->parts, 0);
  g_assert_cmpstr (p->media, ==, "https://h:8443/aem/media/p1");
  g_assert_true (g_date_time_equal (m->received_date, expect));
  g_assert_cmpstr (m->last_modified_str, ==, "2026-11-27T07:45:41.000Z");
  g_assert_cmpint (amm_time_compare (m->last_modified_date, m->received_date), >, 0);
  g_assert_cmpint (m->event_type, ==, AMM_EVENT_MESSAGE);
  g_assert_cmpuint (m->event_participants->len, ==, 0);
  g_assert_true (m->read);
}

static void
test_message_defaults (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) n = parse ("{'id': 'm1', 'threadId': 'c1', 'from': {'address': 'b@x'}, 'to': [],"
                                  " 'receivedDate': '2026-11-27T07:45:40+02:00', 'inReplyTo': 'm0',"
                                  " 'subject': null, 'body': null}");
  g_autoptr (AmmMessage) m = amm_message_parse (n, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (m->subject, ==, "");
  g_assert_cmpstr (m->body, ==, "");
  g_assert_nonnull (m->to);
  g_assert_cmpuint (m->to->len, ==, 0);
  g_assert_nonnull (m->parts);
  g_assert_cmpuint (m->parts->len, ==, 0);
  g_assert_nonnull (m->event_participants);
  g_assert_cmpint (m->event_type, ==, AMM_EVENT_MESSAGE);
  g_assert_false (m->read);
  /* lastModifiedDate falls back to receivedDate, string included */
  g_assert_cmpstr (m->last_modified_str, ==, "2026-11-27T07:45:40+02:00");
  g_assert_true (g_date_time_equal (m->last_modified_date, m->received_date));
  {
    g_autoptr (GDateTime) utc = amm_time_parse ("2026-11-27T05:45:40Z", NULL);
    g_assert_true (g_date_time_equal (m->received_date, utc));
  }
}

static gboolean
parse_message (JsonNode *root, GError **error)
{
  g_autoptr (AmmMessage) m = amm_message_parse (root, "https://h:8443", error);
  return m != NULL;
}

static void
test_message_invalid (void)
{
  static const Mutation muts[] = {
    { "id", NULL, "message.id: missing required member" },
    { "id", "7", "message.id: expected string, got integer" },
    { "id", "''", "message.id: empty string" },
    { "threadId", NULL, "message.threadId: missing required member" },
    { "threadId", "1", "message.threadId: expected string, got integer" },
    { "subject", "[]", "message.subject: expected string, got array" },
    { "body", "{}", "message.body: expected string, got object" },
    { "body", NULL, NULL },
    { "from", NULL, "message.from: missing required member" },
    { "from", "'bob@example.com'", "message.from: expected object, got string" },
    { "from.address", NULL, "message.from.address: missing required member" },
    { "from.address", "null", "message.from.address: expected string, got null" },
    { "from.givenName", "5", "message.from.givenName: expected string, got integer" },
    { "to", NULL, "message.to: missing required member" },
    { "to", "{'address': 'a@b'}", "message.to: expected array, got object" },
    { "to", "['alice@example.com']", "message.to[0]: expected object, got string" },
    { "to", "[{'address': 'a@b'}, {}]", "message.to[1].address: missing required member" },
    { "to", "[{'address': 'a@b'}, null]", "message.to[1]: expected object, got null" },
    { "parts", NULL, NULL },
    { "parts", "'none'", "message.parts: expected array, got string" },
    { "parts", "[{'mimeType': 'x'}]", "message.parts[0].partId: missing required member" },
    { "parts", "[{'partId': 'p', 'size': 'big'}]", "message.parts[0].size: expected integer, got string" },
    { "receivedDate", NULL, "message.receivedDate: missing required member" },
    { "receivedDate", "1764229540728", "message.receivedDate: expected string, got integer" },
    { "receivedDate", "'garbage'", "message.receivedDate: invalid ISO-8601 timestamp" },
    { "receivedDate", "'2026-11-27T07:45:40'", "message.receivedDate: invalid ISO-8601 timestamp" },
    { "receivedDate", "''", "message.receivedDate: invalid ISO-8601 timestamp" },
    { "lastModifiedDate", NULL, NULL },
    { "lastModifiedDate", "'yesterday'", "message.lastModifiedDate: invalid ISO-8601 timestamp" },
    { "lastModifiedDate", "true", "message.lastModifiedDate: expected string, got boolean" },
    { "event", NULL, NULL },
    { "event", "'MESSAGE'", "message.event: expected object, got string" },
    { "event.type", "3", "message.event.type: expected string, got integer" },
    { "event.type", "'TELEPORT'", NULL },
    { "event.participants", "{}", "message.event.participants: expected array, got object" },
    { "event.participants", "[{'address': 1}]", "message.event.participants[0].address: expected string, got integer" },
    { "flags", NULL, NULL },
    { "flags", "[]", "message.flags: expected object, got array" },
    { "flags.read", "'false'", "message.flags.read: expected boolean, got string" },
    { "flags.read", "0", "message.flags.read: expected boolean, got integer" },
  };
  run_mutations (MESSAGE, muts, G_N_ELEMENTS (muts), parse_message);

  {
    static const char *docs[] = { "[]", "'m'", "5", "null" };
    gsize i;
    for (i = 0; i < G_N_ELEMENTS (docs); i++)
      {
        g_autoptr (GError) error = NULL;
        g_autoptr (JsonNode) n = parse (docs[i]);
        g_assert_null (amm_message_parse (n, NULL, &error));
        assert_malformed (error, "message: expected object");
      }
  }
}

static void
test_message_events (void)
{
  static const struct { const char *wire; AmmEventType type; } cases[] = {
    { "MESSAGE", AMM_EVENT_MESSAGE }, { "START", AMM_EVENT_START }, { "JOINED", AMM_EVENT_JOINED },
    { "LEFT", AMM_EVENT_LEFT }, { "SUBJECT_CHANGE", AMM_EVENT_SUBJECT_CHANGE },
    { "CLOSED", AMM_EVENT_CLOSED }, { "SESSION", AMM_EVENT_SESSION }, { "message", AMM_EVENT_UNKNOWN },
    { "", AMM_EVENT_UNKNOWN }, { "ESCALATION", AMM_EVENT_UNKNOWN },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *doc = g_strdup_printf (
        "{'id': 'm1', 'threadId': 'c1', 'from': {'address': 'b@x'}, 'to': [{'address': 'b@x'}],"
        " 'receivedDate': '2026-11-27T07:45:40.728Z',"
        " 'event': {'type': '%s', 'participants': [{'address': 'carol@x', 'givenName': 'Carol'}]}}",
        cases[i].wire);
      g_autoptr (GError) error = NULL;
      g_autoptr (JsonNode) n = parse (doc);
      g_autoptr (AmmMessage) m = amm_message_parse (n, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpint (m->event_type, ==, cases[i].type);
      g_assert_cmpint (amm_event_type_from_string (cases[i].wire), ==, cases[i].type);
      g_assert_cmpuint (m->event_participants->len, ==, 1);
      g_assert_cmpstr (((AmmEntity *) g_ptr_array_index (m->event_participants, 0))->address, ==, "carol@x");
      if (cases[i].type != AMM_EVENT_UNKNOWN)
        g_assert_cmpstr (amm_event_type_to_string (cases[i].type), ==, cases[i].wire);
    }
  g_assert_cmpint (amm_event_type_from_string (NULL), ==, AMM_EVENT_UNKNOWN);
  g_assert_cmpstr (amm_event_type_to_string (AMM_EVENT_UNKNOWN), ==, "UNKNOWN");
}

/* ---- conversations ---------------------------------------------------------------------- */

static void
test_conversation_valid (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) n = parse (CONVERSATION);
  g_autoptr (AmmConversation) c = amm_conversation_parse (n, "https://h:8443", &error);
  AmmMessage *m0, *m1;

  g_assert_no_error (error);
  g_assert_cmpstr (c->id, ==, "c1");
  g_assert_cmpstr (c->href, ==, "https://h:8443/aem/conversations/c1");
  g_assert_cmpstr (c->subject, ==, "Lunch");
  g_assert_true (c->active);
  g_assert_false (c->closed);
  g_assert_cmpstr (c->last_updated_str, ==, "2026-11-27T07:45:40.728Z");
  g_assert_nonnull (c->last_updated);
  g_assert_cmpuint (c->unread_count, ==, 2);
  g_assert_true (c->multiparty);
  g_assert_cmpstr (c->participants_href, ==, "https://h:8443/aem/conversations/c1/participants");
  g_assert_cmpuint (c->messages->len, ==, 2);
  m0 = g_ptr_array_index (c->messages, 0);
  m1 = g_ptr_array_index (c->messages, 1);
  g_assert_cmpstr (m0->id, ==, "m2");   /* newest first, order kept */
  g_assert_cmpstr (m1->id, ==, "m1");
  g_assert_cmpint (m1->event_type, ==, AMM_EVENT_START);
  g_assert_cmpstr (m1->body, ==, "");
}

/* What a cache keeps: every field, the newest n messages (the same objects), in order. */
static void
test_conversation_copy_newest (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) n = parse (CONVERSATION);
  g_autoptr (AmmConversation) c = amm_conversation_parse (n, "https://h:8443", &error);
  g_autoptr (AmmConversation) one = NULL;
  g_autoptr (AmmConversation) all = NULL;

  g_assert_no_error (error);
  one = amm_conversation_copy_newest (c, 1);
  g_assert_true (one != c);
  g_assert_cmpstr (one->id, ==, c->id);
  g_assert_cmpstr (one->href, ==, c->href);
  g_assert_cmpstr (one->subject, ==, "Lunch");
  g_assert_cmpint (one->active, ==, c->active);
  g_assert_cmpint (one->closed, ==, c->closed);
  g_assert_cmpstr (one->last_updated_str, ==, c->last_updated_str);
  g_assert_true (g_date_time_equal (one->last_updated, c->last_updated));
  g_assert_cmpuint (one->unread_count, ==, 2);
  g_assert_true (one->multiparty);
  g_assert_cmpstr (one->participants_href, ==, c->participants_href);
  g_assert_cmpuint (one->messages->len, ==, 1);
  g_assert_true (g_ptr_array_index (one->messages, 0) == g_ptr_array_index (c->messages, 0));
  all = amm_conversation_copy_newest (c, 10);   /* more than it has: all of them */
  g_assert_cmpuint (all->messages->len, ==, 2);
  g_assert_cmpstr (((AmmMessage *) g_ptr_array_index (all->messages, 1))->id, ==, "m1");
  g_clear_pointer (&c, amm_conversation_unref);  /* the copies hold their own references */
  g_assert_cmpstr (((AmmMessage *) g_ptr_array_index (one->messages, 0))->id, ==, "m2");
}

static void
test_conversation_defaults (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) n = parse ("{'id': 'c9', 'href': '/aem/conversations/c9',"
                                  " 'messages': [{'id': 'm1', 'from': {'address': 'b@x'}, 'to': [],"
                                  "               'receivedDate': '2026-11-27T07:45:40.728Z'}]}");
  g_autoptr (AmmConversation) c = amm_conversation_parse (n, "https://h:8443", &error);
  AmmMessage *m;

  g_assert_no_error (error);
  g_assert_cmpstr (c->subject, ==, "");
  g_assert_cmpstr (c->href, ==, "https://h:8443/aem/conversations/c9");
  g_assert_true (c->active);
  g_assert_false (c->closed);
  g_assert_null (c->last_updated_str);
  g_assert_null (c->last_updated);
  g_assert_cmpuint (c->unread_count, ==, 0);
  g_assert_false (c->multiparty);
  g_assert_null (c->participants_href);
  g_assert_cmpuint (c->messages->len, ==, 1);
  /* a message without threadId inside a conversation inherits the conversation's id */
  m = g_ptr_array_index (c->messages, 0);
  g_assert_cmpstr (m->thread_id, ==, "c9");

  {
    /* an empty message page */
    g_autoptr (JsonNode) e = parse ("{'id': 'c9', 'subject': 'x', 'messages': []}");
    g_autoptr (AmmConversation) ec = amm_conversation_parse (e, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (ec->messages);
    g_assert_cmpuint (ec->messages->len, ==, 0);
  }
  {
    g_autoptr (JsonNode) e = parse ("{'id': 'c9'}");
    g_autoptr (AmmConversation) ec = amm_conversation_parse (e, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (ec->messages);
    g_assert_cmpstr (ec->subject, ==, "");
  }
}

static gboolean
parse_conversation (JsonNode *root, GError **error)
{
  g_autoptr (AmmConversation) c = amm_conversation_parse (root, "https://h:8443", error);
  return c != NULL;
}

static void
test_conversation_invalid (void)
{
  static const Mutation muts[] = {
    { "id", NULL, "conversation.id: missing required member" },
    { "id", "1", "conversation.id: expected string, got integer" },
    { "subject", "5", "conversation.subject: expected string, got integer" },
    { "subject", "{}", "conversation.subject: expected string, got object" },
    { "subject", "false", "conversation.subject: expected string, got boolean" },
    { "subject", NULL, NULL },
    { "href", "[]", "conversation.href: expected string, got array" },
    { "flags", "'active'", "conversation.flags: expected object, got string" },
    { "flags.active", "'true'", "conversation.flags.active: expected boolean, got string" },
    { "flags.closed", "1", "conversation.flags.closed: expected boolean, got integer" },
    { "lastUpdated", "'soon'", "conversation.lastUpdated: invalid ISO-8601 timestamp" },
    { "lastUpdated", "0", "conversation.lastUpdated: expected string, got integer" },
    { "lastUpdated", NULL, NULL },
    { "unreadCount", "-1", "conversation.unreadCount: integer out of range" },
    { "unreadCount", "'2'", "conversation.unreadCount: expected integer, got string" },
    { "unreadCount", "1e20", "conversation.unreadCount: expected integer, got number" },
    { "unreadCount", "9223372036854775807", "conversation.unreadCount: integer out of range" },
    { "isMultiparty", "'no'", "conversation.isMultiparty: expected boolean, got string" },
    { "participants", "[]", "conversation.participants: expected object, got array" },
    { "participants.href", "1", "conversation.participants.href: expected string, got integer" },
    { "messages", "{}", "conversation.messages: expected array, got object" },
    { "messages", "[1]", "conversation.messages[0]: expected object, got integer" },
    { "messages[1].id", NULL, "conversation.messages[1].id: missing required member" },
    { "messages[1].from.address", "[]", "conversation.messages[1].from.address: expected string, got array" },
    { "messages[0].receivedDate", "'x'", "conversation.messages[0].receivedDate: invalid ISO-8601" },
    { "messages[0].threadId", NULL, NULL },
    { "messages[0].to", NULL, "conversation.messages[0].to: missing required member" },
  };
  run_mutations (CONVERSATION, muts, G_N_ELEMENTS (muts), parse_conversation);
}

/* ---- conversation lists ----------------------------------------------------------------- */

static void
test_list_valid (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) n = parse (LIST);
  g_autoptr (AmmConversationList) l = amm_conversation_list_parse (n, "https://h:8443", &error);
  AmmConversation *c2;
  AmmMessage *left;

  g_assert_no_error (error);
  g_assert_cmpuint (l->conversations->len, ==, 2);
  g_assert_cmpstr (l->last_updated, ==, "2026-11-27T08:00:00.000Z");
  g_assert_false (l->more_search_results);
  c2 = g_ptr_array_index (l->conversations, 1);
  g_assert_false (c2->active);
  g_assert_cmpstr (c2->subject, ==, "Left");
  left = g_ptr_array_index (c2->messages, 0);
  g_assert_cmpint (left->event_type, ==, AMM_EVENT_LEFT);
  g_assert_cmpuint (left->event_participants->len, ==, 1);
  g_assert_cmpstr (left->body, ==, "");

  {
    g_autoptr (JsonNode) e = parse ("{'conversations': [], 'moreSearchResults': true}");
    g_autoptr (AmmConversationList) el = amm_conversation_list_parse (e, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (el->conversations->len, ==, 0);
    g_assert_null (el->last_updated);   /* last_updated may be absent */
    g_assert_true (el->more_search_results);
  }
  {
    g_autoptr (JsonNode) e = parse ("{'conversations': [], 'lastUpdated': '1970-01-01T00:00:00.000Z'}");
    g_autoptr (AmmConversationList) el = amm_conversation_list_parse (e, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (el->last_updated, ==, AMM_EPOCH_TIMESTAMP);
  }
}

static gboolean
parse_list (JsonNode *root, GError **error)
{
  g_autoptr (AmmConversationList) l = amm_conversation_list_parse (root, NULL, error);
  return l != NULL;
}

static void
test_list_invalid (void)
{
  static const Mutation muts[] = {
    { "conversations", NULL, "conversations: missing required member" },
    { "conversations", "{}", "conversations: expected array, got object" },
    { "conversations", "null", "conversations: expected array, got null" },
    { "conversations", "[[]]", "conversations[0]: expected object, got array" },
    { "lastUpdated", "'not a date'", "lastUpdated: invalid ISO-8601 timestamp" },
    { "lastUpdated", "1764229540728", "lastUpdated: expected string, got integer" },
    { "lastUpdated", "null", NULL },
    { "moreSearchResults", "'false'", "moreSearchResults: expected boolean, got string" },
    { "conversations[1].subject", "null", NULL },
    { "conversations[1].subject", "42", "conversations[1].subject: expected string, got integer" },
    { "conversations[1].flags.active", "'false'", "conversations[1].flags.active: expected boolean, got string" },
    { "conversations[0].messages[0].from", "[]", "conversations[0].messages[0].from: expected object, got array" },
    { "conversations[1].messages[0].event.participants", "[{}]",
      "conversations[1].messages[0].event.participants[0].address: missing required member" },
  };
  run_mutations (LIST, muts, G_N_ELEMENTS (muts), parse_list);
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) n = parse ("[]");
    g_assert_null (amm_conversation_list_parse (n, NULL, &error));
    assert_malformed (error, "expected object, got array");
  }
}

/* ---- frames ----------------------------------------------------------------------------- */

static AmmFrame *
frame (const char *doc, GError **error)
{
  const char *t = q (doc);
  return amm_frame_parse (t, strlen (t), error);
}

static void
test_frame_kinds (void)
{
  g_autoptr (GError) error = NULL;

  {
    g_autoptr (AmmFrame) f = frame ("{'discovery': {'version': '1', 'applications': ['AMM'], 'capabilities': [],"
                                    " 'sessionManagement': {}, 'commandURL': 'https://h:8443/aem/notifications/command/abc'}}", &error);
    g_assert_no_error (error);
    g_assert_cmpint (f->type, ==, AMM_FRAME_DISCOVERY);
    g_assert_cmpstr (f->name, ==, "discovery");
    g_assert_cmpstr (f->command_url, ==, "https://h:8443/aem/notifications/command/abc");
    g_assert_null (f->request_id);
  }
  {
    g_autoptr (AmmFrame) f = frame ("{'subscribed': {'results': {'successful': [{'application': 'AMM',"
                                    " 'service': 'conversation', 'resource': 'https://h/aem/conversations'}]}, 'version': '1'}}", &error);
    g_assert_no_error (error);
    g_assert_cmpint (f->type, ==, AMM_FRAME_SUBSCRIBED);
    g_assert_cmpstr (f->service, ==, AMM_CHANNEL_SERVICE_CONVERSATION);
    g_assert_cmpstr (f->resource, ==, "https://h/aem/conversations");
  }
  {
    g_autoptr (AmmFrame) f = frame ("{'unsubscribed': {'results': {'successful': [{'application': 'AMM',"
                                    " 'service': 'chatState', 'resource': 'C/c1'}]}}}", &error);
    g_assert_no_error (error);
    g_assert_cmpint (f->type, ==, AMM_FRAME_UNSUBSCRIBED);
    g_assert_cmpstr (f->service, ==, "chatState");
    g_assert_cmpstr (f->resource, ==, "C/c1");
  }
  {
    g_autoptr (AmmFrame) f = frame ("{'resourceState': {'requestId': 'myGetState', 'results': {'successful': [{'application': 'AMM',"
                                    " 'service': 'conversation', 'resource': 'C', 'state': {'entityTag': '7'}}]}, 'version': '1'}}", &error);
    g_assert_no_error (error);
    g_assert_cmpint (f->type, ==, AMM_FRAME_RESOURCE_STATE);
    g_assert_cmpstr (f->entity_tag, ==, "7");
    g_assert_cmpstr (f->request_id, ==, "myGetState");
    g_assert_cmpstr (f->resource, ==, "C");
  }
  {
    g_autoptr (AmmFrame) f = frame ("{'resourceState': {'results': {'successful': [{'service': 'conversation',"
                                    " 'state': {'entityTag': 12}}]}}}", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (f->entity_tag, ==, "12");
  }
  {
    g_autoptr (AmmFrame) f = frame ("{'notified': {'requestId': 'VGS4I8qOMm', 'results': {'successful': [{'service': 'chatState'}]}, 'version': '1'}}", &error);
    g_assert_no_error (error);
    g_assert_cmpint (f->type, ==, AMM_FRAME_NOTIFIED);
    g_assert_cmpstr (f->request_id, ==, "VGS4I8qOMm");
    g_assert_cmpstr (f->service, ==, "chatState");
  }
  {
    g_autoptr (AmmFrame) f = frame ("{'notification': {'application': 'AMM', 'service': 'conversation', 'resource': 'C',"
                                    " 'contents': {'entityTag': '17'}, 'version': '1'}}", &error);
    g_assert_no_error (error);
    g_assert_cmpint (f->type, ==, AMM_FRAME_NOTIFICATION);
    g_assert_cmpstr (f->service, ==, "conversation");
    g_assert_cmpstr (f->resource, ==, "C");
    g_assert_cmpstr (f->entity_tag, ==, "17");
    g_assert_nonnull (f->contents);
    g_assert_true (JSON_NODE_HOLDS_OBJECT (f->contents));
  }
  {
    g_autoptr (AmmFrame) f = frame ("{'notification': {'service': 'conversation', 'resource': 'C', 'contents': {'entityTag': 17}}}", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (f->entity_tag, ==, "17");
  }
  {
    g_autoptr (AmmFrame) f = frame ("{'notification': {'service': 'conversation', 'contents': {'entityTag': 17.0}}}", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (f->entity_tag, ==, "17");
  }
  {
    g_autoptr (AmmFrame) f = frame ("{'notification': {'application': 'AMM', 'service': 'chatState', 'resource': 'C/c1',"
                                    " 'contents': {'action': 'typing', 'state': 'composing', 'address': 'alice@example.com',"
                                    " 'timestamp': '2026-11-27T07:45:40.728Z'}, 'version': '1'}}", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (f->service, ==, "chatState");
    g_assert_null (f->entity_tag);
    g_assert_cmpstr (json_object_get_string_member (json_node_get_object (f->contents), "state"), ==, "composing");
  }
  {
    g_autoptr (AmmFrame) f = frame ("{'notification': {'service': 'conversation'}}", &error);
    g_assert_no_error (error);
    g_assert_null (f->contents);
    g_assert_null (f->entity_tag);
  }
  {
    g_autoptr (AmmFrame) f = frame ("{'pong': {'requestId': '906b6fa9091a2ca5fc2aa6bad33e33ee', 'version': '1'}}", &error);
    g_assert_no_error (error);
    g_assert_cmpint (f->type, ==, AMM_FRAME_PONG);
    g_assert_cmpstr (f->request_id, ==, "906b6fa9091a2ca5fc2aa6bad33e33ee");
  }
  {
    g_autoptr (AmmFrame) f = frame ("{'subscribed': {'results': {'successful': []}}}", &error);
    g_assert_no_error (error);
    g_assert_null (f->service);
  }
  {
    g_autoptr (AmmFrame) f = frame ("{'subscribed': {}}", &error);
    g_assert_no_error (error);
    g_assert_cmpint (f->type, ==, AMM_FRAME_SUBSCRIBED);
  }
}

static void
test_frame_unknown (void)
{
  static const char *docs[] = {
    "{'chatState': {'requestId': 'r1'}}", "{'futureFrame': 5}", "{'ping': {'requestId': 'x'}}",
    "{'x': null}", "{'Pong': {}}",
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (docs); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (AmmFrame) f = frame (docs[i], &error);
      g_assert_no_error (error);
      g_assert_cmpint (f->type, ==, AMM_FRAME_UNKNOWN);
      g_assert_nonnull (f->name);
    }
  {
    g_autoptr (AmmFrame) f = frame (docs[0], NULL);
    g_assert_cmpstr (f->name, ==, "chatState");
    g_assert_cmpstr (f->request_id, ==, "r1");
  }
}

static void
test_frame_garbage (void)
{
  static const struct { const char *doc; const char *needle; } cases[] = {
    { "", "empty" },
    { "not json", "invalid JSON" },
    { "[]", "expected a JSON object, got array" },
    { "'pong'", "expected a JSON object, got string" },
    { "{}", "exactly one top-level member, got 0" },
    { "{'pong': {}, 'notification': {}}", "exactly one top-level member, got 2" },
    { "{'pong': 5}", "pong: expected object, got integer" },
    { "{'pong': null}", "pong: expected object, got null" },
    { "{'pong': {'requestId': 5}}", "pong.requestId: expected string, got integer" },
    { "{'discovery': {'commandURL': ['x']}}", "discovery.commandURL: expected string, got array" },
    { "{'notification': {'contents': 'x'}}", "notification.contents: expected object, got string" },
    { "{'notification': {'contents': {'entityTag': true}}}", "notification.contents.entityTag: expected string or number, got boolean" },
    { "{'notification': {'contents': {'entityTag': {}}}}", "notification.contents.entityTag: expected string or number, got object" },
    { "{'notification': {'service': 1}}", "notification.service: expected string, got integer" },
    { "{'subscribed': {'results': []}}", "subscribed.results: expected object, got array" },
    { "{'subscribed': {'results': {'successful': {}}}}", "subscribed.results.successful: expected array, got object" },
    { "{'subscribed': {'results': {'successful': [5]}}}", "subscribed.results.successful[0]: expected object, got integer" },
    { "{'subscribed': {'results': {'successful': [{'service': []}]}}}", "subscribed.results.successful[0].service: expected string" },
    { "{'resourceState': {'results': {'successful': [{'state': {'entityTag': [1]}}]}}}",
      "resourceState.results.successful[0].state.entityTag: expected string or number, got array" },
    { "{'resourceState': {'results': {'successful': [{'state': 7}]}}}",
      "resourceState.results.successful[0].state: expected object, got integer" },
    { "{'pong': {'requestId': 99999999999999999999999}}", "out of range" },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (AmmFrame) f = frame (cases[i].doc, &error);
      if (f != NULL)
        g_printerr ("frame %s parsed\n", cases[i].doc);
      g_assert_null (f);
      assert_malformed (error, cases[i].needle);
    }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (amm_frame_parse (NULL, 0, &error));
    assert_malformed (error, "empty");
  }
  {
    /* the length is honoured: bytes after it are not part of the frame */
    g_autoptr (GError) error = NULL;
    const char *t = "{\"pong\":{\"requestId\":\"a\"}}{\"pong\":{}}";
    g_autoptr (AmmFrame) f = amm_frame_parse (t, strlen ("{\"pong\":{\"requestId\":\"a\"}}"), &error);
    g_assert_no_error (error);
    g_assert_cmpstr (f->request_id, ==, "a");
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (AmmFrame) f = amm_frame_parse ("{\"pong\":{}}", (gsize) -1, &error);
    g_assert_no_error (error);
    g_assert_cmpint (f->type, ==, AMM_FRAME_PONG);
  }
}

/* ---- error bodies ----------------------------------------------------------------------- */

static AmmErrorBody *
error_body (const char *doc, GError **error)
{
  const char *t = q (doc);
  return amm_error_body_parse (t, strlen (t), error);
}

static void
test_error_body (void)
{
  g_autoptr (GError) error = NULL;

  {
    g_autoptr (AmmErrorBody) b = error_body ("{'errorCode': 'AUTHENTICATION_FAILED', 'errorMsg': 'Invalid credentials',"
                                             " 'displayMsg': 'Wrong user name or password.'}", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (b->error_code, ==, "AUTHENTICATION_FAILED");
    g_assert_cmpstr (b->error_msg, ==, "Invalid credentials");
    g_assert_cmpstr (b->display_msg, ==, "Wrong user name or password.");
  }
  {
    g_autoptr (AmmErrorBody) b = error_body ("{'error': {'errorCode': 'BODY_LENGTH_EXCEEDED', 'errorMsg': 'too long'}}", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (b->error_code, ==, "BODY_LENGTH_EXCEEDED");
    g_assert_cmpstr (b->error_msg, ==, "too long");
    g_assert_null (b->display_msg);
  }
  {
    g_autoptr (AmmErrorBody) b = error_body ("{'errorCode': 401, 'displayMsg': null, 'errorMsg': 'x'}", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (b->error_code, ==, "401");
    g_assert_null (b->display_msg);
  }
  {
    /* "error" is only a wrapper when it is the single member */
    g_autoptr (AmmErrorBody) b = error_body ("{'error': {'errorMsg': 'inner'}, 'errorMsg': 'outer'}", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (b->error_msg, ==, "outer");
  }
  {
    static const struct { const char *doc; const char *needle; } bad[] = {
      { "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", "invalid JSON" },
      { "Internal Server Error", "invalid JSON" },
      { "", "empty" },
      { "[]", "expected a JSON object, got array" },
      { "{}", "not an error.v1 document" },
      { "{'status': 500}", "not an error.v1 document" },
      { "{'error': 'x'}", "not an error.v1 document" },
      { "{'errorMsg': 5}", "errorMsg: expected string, got integer" },
      { "{'displayMsg': []}", "displayMsg: expected string, got array" },
      { "{'errorCode': true}", "errorCode: expected string or number, got boolean" },
      { "{'error': {'displayMsg': {}}}", "error.displayMsg: expected string, got object" },
    };
    gsize i;
    for (i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr (GError) e2 = NULL;
        g_autoptr (AmmErrorBody) b = error_body (bad[i].doc, &e2);
        g_assert_null (b);
        assert_malformed (e2, bad[i].needle);
      }
  }
  amm_error_body_free (NULL);
}

/* ---- ref counting ----------------------------------------------------------------------- */

static void
test_refcount (void)
{
  g_autoptr (JsonNode) n = parse (CONVERSATION);
  AmmConversation *c = amm_conversation_parse (n, NULL, NULL);
  AmmMessage *m = amm_message_ref (g_ptr_array_index (c->messages, 0));
  AmmEntity *e = amm_entity_ref (m->from);

  g_assert_true (amm_conversation_ref (c) == c);
  amm_conversation_unref (c);
  amm_conversation_unref (c);   /* the message and entity outlive it */
  g_assert_cmpstr (m->id, ==, "m2");
  g_assert_cmpstr (e->address, ==, "bob@example.com");
  amm_message_unref (m);
  g_assert_cmpstr (e->address, ==, "bob@example.com");
  amm_entity_unref (e);

  g_assert_null (amm_entity_ref (NULL));
  g_assert_null (amm_message_ref (NULL));
  amm_entity_unref (NULL);
  amm_part_unref (NULL);
  amm_message_unref (NULL);
  amm_conversation_unref (NULL);
  amm_conversation_list_unref (NULL);
  amm_resources_unref (NULL);
  amm_frame_unref (NULL);
  {
    g_autoptr (AmmFrame) f = frame ("{'pong': {}}", NULL);
    g_autoptr (AmmFrame) f2 = amm_frame_ref (f);
    g_autoptr (JsonNode) ln = parse (LIST);
    g_autoptr (AmmConversationList) l = amm_conversation_list_parse (ln, NULL, NULL);
    g_autoptr (AmmConversationList) l2 = amm_conversation_list_ref (l);
    g_autoptr (JsonNode) rn = parse (RESOURCES_V4);
    g_autoptr (AmmResources) r = amm_resources_parse (rn, AMM_VERSION_3, NULL, NULL);
    g_autoptr (AmmResources) r2 = amm_resources_ref (r);
    g_autoptr (AmmPart) p = amm_part_ref (g_ptr_array_index (((AmmMessage *) g_ptr_array_index (
      ((AmmConversation *) g_ptr_array_index (l->conversations, 0))->messages, 0))->to, 0));
    g_assert_true (f2 == f);
    g_assert_true (l2 == l);
    g_assert_true (r2 == r);
    g_assert_nonnull (p);
  }
}

/* ---- hostile input: every member replaced by every type ------------------------------- */

typedef gboolean (*NodeParser) (JsonNode *root, GError **error);

static gboolean
parse_frame_node (JsonNode *root, GError **error)
{
  g_autofree char *text = json_to_string (root, FALSE);
  g_autoptr (AmmFrame) f = amm_frame_parse (text, strlen (text), error);
  return f != NULL;
}

static gboolean
parse_error_node (JsonNode *root, GError **error)
{
  g_autofree char *text = json_to_string (root, FALSE);
  g_autoptr (AmmErrorBody) b = amm_error_body_parse (text, strlen (text), error);
  return b != NULL;
}

static gboolean
parse_v_auto (JsonNode *root, GError **error)
{
  g_autoptr (AmmResources) r = amm_resources_parse (root, AMM_VERSION_AUTO, "https://h", error);
  return r != NULL;
}

static gboolean
parse_part_node (JsonNode *root, GError **error)
{
  g_autoptr (AmmPart) p = amm_part_parse (root, "https://h", error);
  return p != NULL;
}

static gboolean
parse_entity_node (JsonNode *root, GError **error)
{
  g_autoptr (AmmEntity) e = amm_entity_parse (root, error);
  return e != NULL;
}

static const char *const replacements[] = {
  NULL, "null", "0", "-1", "1.5", "1e308", "9223372036854775807", "-9223372036854775808",
  "''", "'x'", "'2026-11-27T07:45:40.728Z'", "true", "false", "[]", "[null]", "[1, 'a', {}]",
  "{}", "{'href': 5}", "{'address': null}", "[[[[[]]]]]",
};

/* Apply replacement r to the n-th object member in depth-first order; FALSE when there is none. */
static gboolean
mutate_nth (JsonNode *node, guint *counter, guint target, const char *replacement)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *obj = json_node_get_object (node);
      g_autoptr (GList) members = json_object_get_members (obj);
      GList *l;

      for (l = members; l != NULL; l = l->next)
        {
          const char *name = l->data;
          if ((*counter)++ == target)
            {
              if (replacement == NULL)
                json_object_remove_member (obj, name);
              else
                json_object_set_member (obj, name, parse (replacement));
              return TRUE;
            }
          if (mutate_nth (json_object_get_member (obj, name), counter, target, replacement))
            return TRUE;
        }
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *arr = json_node_get_array (node);
      guint i;

      for (i = 0; i < json_array_get_length (arr); i++)
        if (mutate_nth (json_array_get_element (arr, i), counter, target, replacement))
          return TRUE;
    }
  return FALSE;
}

static void
check_total (NodeParser fn, JsonNode *root)
{
  g_autoptr (GError) error = NULL;

  if (!fn (root, &error))
    assert_malformed (error, NULL);
  else
    g_assert_no_error (error);
}

static void
test_hostile_mutations (void)
{
  static const struct { const char *doc; NodeParser fn; } docs[] = {
    { RESOURCES_V4, parse_v4 }, { RESOURCES_V4, parse_v_auto }, { RESOURCES_V3, parse_v3 },
    { RESOURCES_V3, parse_v_auto }, { MESSAGE, parse_message }, { CONVERSATION, parse_conversation },
    { LIST, parse_list },
    { "{'notification': {'application': 'AMM', 'service': 'conversation', 'resource': 'C',"
      " 'contents': {'entityTag': '17'}, 'version': '1'}}", parse_frame_node },
    { "{'resourceState': {'requestId': 'r', 'results': {'successful': [{'service': 's', 'resource': 'r',"
      " 'state': {'entityTag': '7'}}]}}}", parse_frame_node },
    { "{'discovery': {'commandURL': 'https://h/c', 'version': '1'}}", parse_frame_node },
    { "{'error': {'errorCode': 'X', 'errorMsg': 'y', 'displayMsg': 'z'}}", parse_error_node },
    { "{'partId': 'p', 'mimeType': 'a/b', 'size': 1, 'disposition': 'd', 'media': 'm'}", parse_part_node },
    { "{'address': 'a@b', 'givenName': 'A', 'surname': 'B', 'type': 'CONTACT'}", parse_entity_node },
    { "{'address': 'a@b', 'phoneNumbers': [{'type': 'WORK', 'value': '+1 555', 'primary': true, 'verified': false,"
      " 'canonicalForm': '+1555', 'customType': 'Desk'}]}", parse_entity_node },
  };
  gsize d, r;
  guint runs = 0;

  for (d = 0; d < G_N_ELEMENTS (docs); d++)
    for (r = 0; r < G_N_ELEMENTS (replacements); r++)
      {
        guint target;
        for (target = 0;; target++)
          {
            g_autoptr (JsonNode) root = parse (docs[d].doc);
            guint counter = 0;

            if (!mutate_nth (root, &counter, target, replacements[r]))
              break;
            check_total (docs[d].fn, root);
            runs++;
          }
        /* the whole document replaced */
        if (replacements[r] != NULL)
          {
            g_autoptr (JsonNode) whole = parse (replacements[r]);
            if (docs[d].fn != parse_frame_node && docs[d].fn != parse_error_node)
              check_total (docs[d].fn, whole);
          }
      }
  g_test_message ("%u mutated documents parsed", runs);
}

/* Every prefix of a document is malformed; random byte damage never crashes. */
static void
test_hostile_bytes (void)
{
  static const char *const docs[] = { RESOURCES_V4, RESOURCES_V3, MESSAGE, CONVERSATION, LIST };
  g_autoptr (GRand) rand = g_rand_new_with_seed (20261127);
  gsize d;

  for (d = 0; d < G_N_ELEMENTS (docs); d++)
    {
      const char *text = q (docs[d]);
      gsize len = strlen (text), cut;
      int round;

      for (cut = 0; cut < len; cut++)
        {
          g_autoptr (GError) e1 = NULL;
          g_autoptr (GError) e2 = NULL;
          g_autoptr (GError) e3 = NULL;
          g_autoptr (JsonNode) n = amm_json_parse (text, cut, &e1);
          g_autoptr (AmmFrame) f = amm_frame_parse (text, cut, &e2);
          g_autoptr (AmmErrorBody) b = amm_error_body_parse (text, cut, &e3);

          g_assert_null (n);
          assert_malformed (e1, NULL);
          g_assert_null (f);
          assert_malformed (e2, NULL);
          g_assert_null (b);
          assert_malformed (e3, NULL);
        }

      for (round = 0; round < 300; round++)
        {
          g_autofree char *copy = g_strdup (text);
          g_autoptr (GError) error = NULL;
          g_autoptr (JsonNode) n = NULL;
          int flips = g_rand_int_range (rand, 1, 6), k;

          for (k = 0; k < flips; k++)
            copy[g_rand_int_range (rand, 0, (gint32) len)] = (char) g_rand_int_range (rand, 1, 256);
          n = amm_json_parse (copy, len, &error);
          if (n == NULL)
            {
              assert_malformed (error, NULL);
              continue;
            }
          check_total (parse_v4, n);
          check_total (parse_v3, n);
          check_total (parse_message, n);
          check_total (parse_conversation, n);
          check_total (parse_list, n);
          {
            g_autoptr (GError) fe = NULL;
            g_autoptr (AmmFrame) f = amm_frame_parse (copy, len, &fe);
            g_autoptr (GError) be = NULL;
            g_autoptr (AmmErrorBody) b = amm_error_body_parse (copy, len, &be);
            if (f == NULL)
              assert_malformed (fe, NULL);
            if (b == NULL)
              assert_malformed (be, NULL);
          }
        }
    }
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  strings = g_ptr_array_new_with_free_func (g_free);

  g_test_add_func ("/models/error/quark", test_error_quark);
  g_test_add_func ("/models/error/transient", test_error_transient);

  g_test_add_func ("/models/json/parse-valid", test_json_parse_valid);
  g_test_add_func ("/models/json/parse-invalid", test_json_parse_invalid);
  g_test_add_func ("/models/json/accessors", test_json_accessors);
  g_test_add_func ("/models/json/string-array", test_json_string_array);
  g_test_add_func ("/models/json/href", test_json_href);

  g_test_add_func ("/models/time/parse", test_time_parse);
  g_test_add_func ("/models/time/format-arith", test_time_format_arith);

  g_test_add_func ("/models/version/strings", test_version_strings);

  g_test_add_func ("/models/resources/v4-valid", test_resources_v4_valid);
  g_test_add_func ("/models/resources/v4-defaults", test_resources_v4_defaults);
  g_test_add_func ("/models/resources/v4-invalid", test_resources_v4_invalid);
  g_test_add_func ("/models/resources/v3-valid", test_resources_v3);
  g_test_add_func ("/models/resources/v3-invalid", test_resources_v3_invalid);
  g_test_add_func ("/models/resources/relative-hrefs", test_resources_relative_hrefs);
  g_test_add_func ("/models/resources/detect-version", test_resources_detect_version);
  g_test_add_func ("/models/resources/not-object", test_resources_not_object);

  g_test_add_func ("/models/entity/parse", test_entity);
  g_test_add_func ("/models/entity/display-name", test_entity_display_name);
  g_test_add_func ("/models/entity/phone-numbers", test_entity_phone_numbers);
  g_test_add_func ("/models/part/parse", test_part);

  g_test_add_func ("/models/message/valid", test_message_valid);
  g_test_add_func ("/models/message/defaults", test_message_defaults);
  g_test_add_func ("/models/message/invalid", test_message_invalid);
  g_test_add_func ("/models/message/events", test_message_events);

  g_test_add_func ("/models/conversation/valid", test_conversation_valid);
  g_test_add_func ("/models/conversation/defaults", test_conversation_defaults);
  g_test_add_func ("/models/conversation/copy-newest", test_conversation_copy_newest);
  g_test_add_func ("/models/conversation/invalid", test_conversation_invalid);

  g_test_add_func ("/models/conversation-list/valid", test_list_valid);
  g_test_add_func ("/models/conversation-list/invalid", test_list_invalid);

  g_test_add_func ("/models/frame/kinds", test_frame_kinds);
  g_test_add_func ("/models/frame/unknown", test_frame_unknown);
  g_test_add_func ("/models/frame/garbage", test_frame_garbage);

  g_test_add_func ("/models/error-body/parse", test_error_body);
  g_test_add_func ("/models/refcount", test_refcount);

  g_test_add_func ("/models/hostile/mutations", test_hostile_mutations);
  g_test_add_func ("/models/hostile/bytes", test_hostile_bytes);

  rc = g_test_run ();
  g_ptr_array_unref (strings);
  return rc;
}
