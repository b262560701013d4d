/* test-attachments.c: the attachment helpers, and uploads/downloads of the core against the
 * test server (multipart/related, streaming, limits, cancel, truncation, foreign URLs).
 *
 * Run: AMM_SERVER=build/amm-server AMM_TLS_DIR=build/tls build/tests/test-attachments
 */
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "amm-attachments.h"
#include "amm-client.h"
#include "amm-protocol.h"
#include "amm-test-server.h"
#include "amm-test-loop.h"

#define ALICE "alice@example.com"
#define BOB   "bob@example.com"
#define CAROL "carol@example.com"
#define WAIT_MS 30000

/* ---- waiting ---- */

typedef struct {
  gboolean      done;
  gboolean      ok;
  GError       *error;
  gpointer      result;
  guint64       progress_done, progress_total;
  guint         progress_calls;
  GCancellable *cancel_at;     /* cancelled once progress_done >= cancel_after */
  guint64       cancel_after;
} Op;

static gboolean
op_done (gpointer data)
{
  return ((Op *) data)->done;
}

static void
op_clear (Op *op)
{
  g_clear_error (&op->error);
}

static void
on_progress (guint64 done, guint64 total, gpointer data)
{
  Op *op = data;
  g_assert_cmpuint (done, <=, total);
  g_assert_cmpuint (done, >=, op->progress_done);
  op->progress_done = done;
  op->progress_total = total;
  op->progress_calls++;
  if (op->cancel_at && done >= op->cancel_after)
    g_cancellable_cancel (op->cancel_at);
}

static void
on_connect (GObject *src, GAsyncResult *res, gpointer data)
{
  Op *op = data;
  op->ok = amm_client_connect_finish (AMM_CLIENT (src), res, &op->error);
  op->done = TRUE;
}

static void
on_sent (GObject *src, GAsyncResult *res, gpointer data)
{
  Op *op = data;
  op->result = amm_client_send_file_finish (AMM_CLIENT (src), res, &op->error);
  op->ok = op->result != NULL;
  op->done = TRUE;
}

static void
on_downloaded (GObject *src, GAsyncResult *res, gpointer data)
{
  Op *op = data;
  op->ok = amm_client_download_finish (AMM_CLIENT (src), res, &op->error);
  op->done = TRUE;
}

static void
on_downloaded_bytes (GObject *src, GAsyncResult *res, gpointer data)
{
  Op *op = data;
  op->result = amm_client_download_bytes_finish (AMM_CLIENT (src), res, &op->error);
  op->ok = op->result != NULL;
  op->done = TRUE;
}

static AmmClient *
connected_client (AmmTestServer *server, const char *user, const char *password)
{
  g_autoptr (AmmSettings) s = amm_settings_new ();
  g_autoptr (GError) error = NULL;
  s->username = g_strdup (user);
  s->password = g_strdup (password);
  s->host = g_strdup ("127.0.0.1");
  s->port = amm_test_server_get_port (server);
  s->use_tls = amm_test_server_is_tls (server);
  if (s->use_tls)
    s->ca_file = g_strdup (amm_test_server_get_ca_file (server));
  AmmClient *c = amm_client_new (s, &error);
  g_assert_no_error (error);
  Op op = { 0 };
  amm_client_connect_async (c, NULL, on_connect, &op);
  g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
  g_assert_no_error (op.error);
  return c;
}

/* ---- files ---- */

static char *tmp_dir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

/* A file of `size` bytes: `header` then pseudo-random bytes (seeded: reproducible). */
static char *
make_file (const char *name, const guint8 *header, gsize header_len, gsize size)
{
  char *path = tmp_path (name);
  FILE *f = fopen (path, "wb");
  g_assert_nonnull (f);
  GRand *r = g_rand_new_with_seed ((guint32) size);
  guint8 buf[65536];
  gsize done = 0;
  while (done < size) {
    gsize n = MIN (sizeof buf, size - done);
    for (gsize i = 0; i < n; i += 4) {
      guint32 v = g_rand_int (r);
      memcpy (buf + i, &v, MIN (4, n - i));
    }
    if (done < header_len)
      memcpy (buf, header + done, MIN (header_len - done, n));
    g_assert_cmpuint (fwrite (buf, 1, n, f), ==, n);
    done += n;
  }
  g_rand_free (r);
  fclose (f);
  return path;
}

static char *
file_sha256 (const char *path)
{
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  FILE *f = fopen (path, "rb");
  guint8 buf[65536];
  size_t n;
  g_assert_nonnull (f);
  while ((n = fread (buf, 1, sizeof buf, f)) > 0)
    g_checksum_update (sum, buf, n);
  fclose (f);
  char *out = g_strdup (g_checksum_get_string (sum));
  g_checksum_free (sum);
  return out;
}

static const guint8 mp4_header[] = { 0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'm', 'p', '4', '2' };
static const guint8 jpeg_header[] = { 0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0 };

static guint64
server_requests (AmmTestServer *server)
{
  guint status = 0;
  g_autoptr (JsonNode) stats = amm_test_server_control (server, "GET", "/control/stats", NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  return json_object_get_int_member (json_node_get_object (stats), "requests");
}

/* Messages with parts the user can see on the server. */
static guint
server_messages_with_parts (AmmTestServer *server, const char *user)
{
  g_autoptr (JsonNode) msgs = amm_test_server_messages (server, user);
  JsonArray *a = json_node_get_array (msgs);
  guint n = 0;
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonObject *m = json_array_get_object_element (a, i);
    if (json_object_has_member (m, "parts") && json_array_get_length (json_object_get_array_member (m, "parts")) > 0)
      n++;
  }
  return n;
}

/* ---- pure helpers ---- */

static void
test_sanitize (void)
{
  static const struct { const char *in, *out; } cases[] = {
    { "photo.jpg", "photo.jpg" },
    { "../../etc/passwd", "passwd" },
    { "..\\..\\windows\\system32\\evil.exe", "evil.exe" },
    { "/absolute/path.txt", "path.txt" },
    { ".hidden", "hidden" },
    { "...", "attachment" },
    { "..", "attachment" },
    { ".", "attachment" },
    { "", "attachment" },
    { NULL, "attachment" },
    { "dir/", "attachment" },
    { "a\nb\rc\td\x01" "e\x7f.txt", "abcde.txt" },
    { "  .  spaced  ", "spaced" },
    { "trailing.dots...", "trailing.dots" },
    { "con:fig*?.txt", "con_fig__.txt" },
    { "\xe2\x80\xae" "gpj.exe", "gpj.exe" },        /* U+202E right-to-left override */
    { "caf\xc3\xa9.png", "caf\xc3\xa9.png" },
    { "bad\xff\xfe.bin", "bad\xef\xbf\xbd\xef\xbf\xbd.bin" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *got = amm_attachment_sanitize_filename (cases[i].in);
    g_assert_cmpstr (got, ==, cases[i].out);
  }

  /* length: at most 128 bytes, on a character boundary, the extension kept */
  g_autoptr (GString) longname = g_string_new (NULL);
  for (int i = 0; i < 100; i++)
    g_string_append (longname, "\xc3\xa9");  /* é, 2 bytes */
  g_string_append (longname, ".jpeg");
  g_autofree char *cut = amm_attachment_sanitize_filename (longname->str);
  g_assert_cmpuint (strlen (cut), <=, AMM_FILENAME_MAX_BYTES);
  g_assert_true (g_utf8_validate (cut, -1, NULL));
  g_assert_true (g_str_has_suffix (cut, ".jpeg"));
  g_assert_cmpuint (strlen (cut), >=, AMM_FILENAME_MAX_BYTES - 1);

  g_autofree char *ascii = g_strnfill (300, 'x');
  g_autofree char *cut2 = amm_attachment_sanitize_filename (ascii);
  g_assert_cmpuint (strlen (cut2), ==, AMM_FILENAME_MAX_BYTES);

  /* never a separator, a control char, or a leading dot, whatever the input */
  GRand *r = g_rand_new_with_seed (7);
  for (int round = 0; round < 2000; round++) {
    char in[64];
    int n = g_rand_int_range (r, 0, sizeof in - 1);
    for (int i = 0; i < n; i++)
      in[i] = (char) g_rand_int_range (r, 1, 256);
    in[n] = '\0';
    g_autofree char *out = amm_attachment_sanitize_filename (in);
    g_assert_true (*out);
    g_assert_true (g_utf8_validate (out, -1, NULL));
    g_assert_null (strchr (out, '/'));
    g_assert_null (strchr (out, '\\'));
    g_assert_cmpint (out[0], !=, '.');
    g_assert_cmpuint (strlen (out), <=, AMM_FILENAME_MAX_BYTES);
    for (const char *p = out; *p; p = g_utf8_next_char (p))
      g_assert_false (g_unichar_iscntrl (g_utf8_get_char (p)));
  }
  g_rand_free (r);
}

static void
test_mime (void)
{
  static const struct { const char *name, *mime; AmmAttachmentKind kind; } cases[] = {
    { "photo.jpg", "image/jpeg", AMM_ATTACHMENT_IMAGE },
    { "PHOTO.JPEG", "image/jpeg", AMM_ATTACHMENT_IMAGE },
    { "clip.mp4", "video/mp4", AMM_ATTACHMENT_VIDEO },
    { "voice.m4a", "audio/mp4", AMM_ATTACHMENT_AUDIO },
    { "song.mp3", "audio/mpeg", AMM_ATTACHMENT_AUDIO },
    { "doc.pdf", "application/pdf", AMM_ATTACHMENT_GENERIC },
    { "noext", NULL, AMM_ATTACHMENT_GENERIC },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *mime = amm_attachment_guess_mime (cases[i].name);
    if (cases[i].mime)
      g_assert_cmpstr (mime, ==, cases[i].mime);
    g_assert_nonnull (strchr (mime, '/'));
    g_assert_cmpint (amm_attachment_kind (mime), ==, cases[i].kind);
  }
}

static void
test_limits (void)
{
  AmmLimits l = { .max_image_size = 1000, .max_video_size = 0, .max_audio_size = 500,
                  .max_generic_attachment_size = 100, .rich_content = FALSE };
  g_autoptr (GError) error = NULL;

  g_assert_true (amm_attachment_check_limits (&l, "a.jpg", "image/jpeg", 1000, &error));
  g_assert_no_error (error);
  g_assert_false (amm_attachment_check_limits (&l, "a.jpg", "image/jpeg", 1001, &error));
  g_assert_error (error, AMM_ERROR, AMM_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "maxImageSize"));
  g_assert_nonnull (strstr (error->message, "1000 bytes"));
  g_assert_nonnull (strstr (error->message, "a.jpg"));
  g_clear_error (&error);
  g_assert_true (amm_attachment_check_limits (&l, "v.mp4", "video/mp4", G_MAXUINT32 * 4ull, &error));
  g_assert_false (amm_attachment_check_limits (&l, "s.m4a", "audio/mp4", 501, &error));
  g_assert_nonnull (strstr (error->message, "maxAudioSize"));
  g_clear_error (&error);
  g_assert_false (amm_attachment_check_limits (&l, "d.pdf", "application/pdf", 10, &error));
  g_assert_error (error, AMM_ERROR, AMM_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "richContent"));
  g_clear_error (&error);
  l.rich_content = TRUE;
  g_assert_true (amm_attachment_check_limits (&l, "d.pdf", "application/pdf", 100, &error));
  g_assert_false (amm_attachment_check_limits (&l, "d.pdf", "application/pdf", 101, &error));
  g_assert_nonnull (strstr (error->message, "maxGenericAttachmentSize"));
  g_clear_error (&error);
  g_assert_false (amm_attachment_check_limits (&l, "e.jpg", "image/jpeg", 0, &error));
  g_assert_nonnull (strstr (error->message, "empty"));
}

static void
test_framing (void)
{
  g_autoptr (GBytes) head = NULL;
  g_autoptr (GBytes) tail = NULL;
  amm_attachment_framing ("B", AMM_TYPE_MESSAGE_V2, "{\"body\":\"a picture\"}", "image/jpeg",
                          "pho\"to.jpg", &head, &tail);
  g_autofree char *h = g_strndup (g_bytes_get_data (head, NULL), g_bytes_get_size (head));
  g_autofree char *t = g_strndup (g_bytes_get_data (tail, NULL), g_bytes_get_size (tail));
  g_assert_cmpstr (h, ==,
                   "--B\r\nContent-Type:application/vnd.avaya.aem.message.v2+json;\r\n\r\n"
                   "{\"body\":\"a picture\"}\r\n"
                   "--B\r\nContent-Type:image/jpeg\r\nContent-Transfer-Encoding:binary\r\n"
                   "Content-Disposition:attachment; filename=\"pho\\\"to.jpg\"\r\n\r\n");
  g_assert_cmpstr (t, ==, "\r\n--B--\r\n");

  /* and libsoup parses it back */
  g_autoptr (GBytes) file = g_bytes_new_static ("\xff\xd8\r\n--Bx", 8);
  GByteArray *all = g_byte_array_new ();
  g_byte_array_append (all, g_bytes_get_data (head, NULL), g_bytes_get_size (head));
  g_byte_array_append (all, g_bytes_get_data (file, NULL), g_bytes_get_size (file));
  g_byte_array_append (all, g_bytes_get_data (tail, NULL), g_bytes_get_size (tail));
  g_autoptr (GBytes) body = g_byte_array_free_to_bytes (all);
  SoupMessageHeaders *mh = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  soup_message_headers_replace (mh, "Content-Type", "multipart/related;boundary=\"B\"");
  SoupMultipart *mp = soup_multipart_new_from_message (mh, body);
  g_assert_nonnull (mp);
  g_assert_cmpint (soup_multipart_get_length (mp), ==, 2);
  SoupMessageHeaders *ph;
  GBytes *pb;
  soup_multipart_get_part (mp, 1, &ph, &pb);
  g_assert_true (g_bytes_equal (pb, file));
  g_assert_cmpstr (soup_message_headers_get_content_type (ph, NULL), ==, "image/jpeg");
  soup_multipart_free (mp);
  soup_message_headers_unref (mh);

  g_autofree char *b1 = amm_attachment_new_boundary ();
  g_autofree char *b2 = amm_attachment_new_boundary ();
  g_assert_cmpstr (b1, !=, b2);
}

static AmmPart *
part_from (const char *json)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_data (p, json, -1, &error));
  AmmPart *part = amm_part_parse (json_parser_get_root (p), "http://h:1", &error);
  g_assert_no_error (error);
  return part;
}

static void
test_pairing (void)
{
  AmmMessage msg = { 0 };
  msg.parts = g_ptr_array_new_with_free_func ((GDestroyNotify) amm_part_unref);
  g_ptr_array_add (msg.parts, part_from ("{\"partId\":\"p1\",\"mimeType\":\"image/jpeg\",\"size\":10,"
                                         "\"disposition\":\"attachment; filename=\\\"photo.jpg\\\"\",\"media\":\"/m/p1\"}"));
  g_ptr_array_add (msg.parts, part_from ("{\"partId\":\"p2\",\"mimeType\":\"image/jpeg\",\"size\":5,"
                                         "\"disposition\":\"inline; filename=\\\"photo.jpg\\\"\",\"media\":\"/m/p2\"}"));
  g_ptr_array_add (msg.parts, part_from ("{\"partId\":\"p3\",\"mimeType\":\"video/mp4\",\"size\":99,"
                                         "\"disposition\":\"attachment; filename=\\\"../x/clip.mp4\\\"\",\"media\":\"/m/p3\"}"));
  g_ptr_array_add (msg.parts, part_from ("{\"partId\":\"p4\",\"mimeType\":\"image/png\",\"size\":7,"
                                         "\"disposition\":\"inline; filename=\\\"lone.png\\\"\",\"media\":\"/m/p4\"}"));
  g_autoptr (GPtrArray) atts = amm_message_get_attachments (&msg);
  g_assert_cmpuint (atts->len, ==, 3);
  AmmAttachment *a = atts->pdata[0];
  g_assert_cmpstr (a->part->part_id, ==, "p1");
  g_assert_nonnull (a->thumbnail);
  g_assert_cmpstr (a->thumbnail->part_id, ==, "p2");
  g_assert_cmpstr (a->filename, ==, "photo.jpg");
  a = atts->pdata[1];
  g_assert_cmpstr (a->part->part_id, ==, "p3");
  g_assert_null (a->thumbnail);
  g_assert_cmpstr (a->filename, ==, "clip.mp4");
  a = atts->pdata[2];
  g_assert_cmpstr (a->part->part_id, ==, "p4");
  g_assert_cmpstr (a->filename, ==, "lone.png");
  g_assert_true (amm_part_is_inline (a->part));
  g_ptr_array_unref (msg.parts);
}

/* ---- against the server ---- */

static AmmMessage *
send_file (AmmClient *c, const char *thread_id, const char *to, const char *body, const char *path,
           Op *op)
{
  const char *tos[] = { to, NULL };
  amm_client_send_file_async (c, thread_id, to ? tos : NULL, body, path, NULL, on_progress, op,
                              op->cancel_at, on_sent, op);
  g_assert_true (amm_test_wait_for (op_done, op, WAIT_MS * 4));
  return op->result;
}

static void
roundtrip (AmmTestServer *server, const char *name, const guint8 *header, gsize header_len,
           gsize size, const char *mime)
{
  g_autoptr (AmmClient) alice = connected_client (server, ALICE, "alice-pw");
  g_autoptr (AmmClient) bob = connected_client (server, BOB, "bob-pw");
  g_autofree char *path = make_file (name, header, header_len, size);
  g_autofree char *want = file_sha256 (path);
  Op op = { 0 };
  g_autoptr (AmmMessage) m = send_file (alice, NULL, BOB, "here it is", path, &op);
  g_assert_no_error (op.error);
  g_assert_nonnull (m);
  g_assert_cmpstr (m->body, ==, "here it is");
  g_assert_cmpuint (op.progress_done, ==, size);
  g_assert_cmpuint (op.progress_total, ==, size);
  g_assert_cmpuint (m->parts->len, ==, 1);
  AmmPart *part = m->parts->pdata[0];
  g_assert_cmpstr (part->mime_type, ==, mime);
  g_assert_cmpint (part->size, ==, (gint64) size);
  g_autofree char *fname = amm_part_get_filename (part);
  g_assert_cmpstr (fname, ==, name);

  /* bob fetches it */
  g_autofree char *dest = tmp_path ("downloaded.bin");
  Op d = { 0 };
  amm_client_download_async (bob, part, dest, on_progress, &d, NULL, on_downloaded, &d);
  g_assert_true (amm_test_wait_for (op_done, &d, WAIT_MS));
  g_assert_no_error (d.error);
  g_assert_cmpuint (d.progress_done, ==, size);
  g_autofree char *got = file_sha256 (dest);
  g_assert_cmpstr (got, ==, want);
  g_unlink (dest);
  g_unlink (path);

  /* a non-participant may not */
  g_autoptr (AmmClient) carol = connected_client (server, CAROL, "carol-pw");
  Op c = { 0 };
  amm_client_download_async (carol, part, dest, NULL, NULL, NULL, on_downloaded, &c);
  g_assert_true (amm_test_wait_for (op_done, &c, WAIT_MS));
  g_assert_error (c.error, AMM_ERROR, AMM_ERROR_FORBIDDEN);
  g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
  op_clear (&c);
}

static void
test_roundtrip (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  roundtrip (server, "photo.jpg", jpeg_header, sizeof jpeg_header, 200 * 1024, "image/jpeg");
  roundtrip (server, "clip.mp4", mp4_header, sizeof mp4_header, 5 * 1024 * 1024 + 17, "video/mp4");
  roundtrip (server, "voice.m4a", mp4_header, sizeof mp4_header, 1, "audio/mp4");
}

static void
test_roundtrip_tls (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--tls", NULL);
  roundtrip (server, "clip.mp4", mp4_header, sizeof mp4_header, 3 * 1024 * 1024, "video/mp4");
}

static void
test_roundtrip_21 (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--api", "2.1", NULL);
  roundtrip (server, "photo.jpg", jpeg_header, sizeof jpeg_header, 70000, "image/jpeg");
}

/* A reply in the conversation: the thread id, and bytes into memory (previews). */
static void
test_thread_and_bytes (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  g_autoptr (AmmClient) alice = connected_client (server, ALICE, "alice-pw");
  g_autofree char *path = make_file ("a.jpg", jpeg_header, sizeof jpeg_header, 3000);
  Op op1 = { 0 }, op2 = { 0 };
  g_autoptr (AmmMessage) m1 = send_file (alice, NULL, BOB, "", path, &op1);
  g_assert_no_error (op1.error);
  g_autoptr (AmmMessage) m2 = send_file (alice, m1->thread_id, NULL, "again", path, &op2);
  g_assert_no_error (op2.error);
  g_assert_cmpstr (m2->thread_id, ==, m1->thread_id);

  Op b = { 0 };
  amm_client_download_bytes_async (alice, m2->parts->pdata[0], 256 * 1024, NULL, on_downloaded_bytes, &b);
  g_assert_true (amm_test_wait_for (op_done, &b, WAIT_MS));
  g_assert_no_error (b.error);
  g_autofree char *contents = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_assert_cmpmem (g_bytes_get_data (b.result, NULL), g_bytes_get_size (b.result), contents, len);
  g_bytes_unref (b.result);

  Op small = { 0 };
  amm_client_download_bytes_async (alice, m2->parts->pdata[0], 100, NULL, on_downloaded_bytes, &small);
  g_assert_true (amm_test_wait_for (op_done, &small, WAIT_MS));
  g_assert_error (small.error, AMM_ERROR, AMM_ERROR_TOO_LARGE);
  op_clear (&small);
  g_unlink (path);
}

static void
test_limits_before_upload (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--max-image-size", "1000",
                                                            "--no-rich-content", NULL);
  g_autoptr (AmmClient) alice = connected_client (server, ALICE, "alice-pw");
  g_autofree char *big = make_file ("big.jpg", jpeg_header, sizeof jpeg_header, 2000);
  g_autofree char *doc = make_file ("doc.pdf", (const guint8 *) "%PDF-1.4", 8, 50);
  guint64 before = server_requests (server);

  Op op = { 0 };
  g_assert_null (send_file (alice, NULL, BOB, "big", big, &op));
  g_assert_error (op.error, AMM_ERROR, AMM_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (op.error->message, "maxImageSize"));
  g_assert_nonnull (strstr (op.error->message, "1000 bytes"));
  g_assert_cmpuint (op.progress_calls, ==, 0);
  op_clear (&op);

  Op op2 = { 0 };
  g_assert_null (send_file (alice, NULL, BOB, "doc", doc, &op2));
  g_assert_error (op2.error, AMM_ERROR, AMM_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (op2.error->message, "richContent"));
  op_clear (&op2);

  g_autofree char *missing = tmp_path ("does-not-exist.jpg");
  Op op3 = { 0 };
  g_assert_null (send_file (alice, NULL, BOB, "x", missing, &op3));
  g_assert_error (op3.error, AMM_ERROR, AMM_ERROR_REJECTED);
  op_clear (&op3);

  /* nothing reached the server (only the stats calls themselves) */
  g_assert_cmpuint (server_requests (server), ==, before);
  g_assert_cmpuint (server_messages_with_parts (server, ALICE), ==, 0);
  g_unlink (big);
  g_unlink (doc);
}

/* The server enforces its limits too (a client that does not check, e.g. stale limits). */
static void
test_server_limits (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_start ("--max-video-size", "100", "--no-rich-content", NULL);
  g_autoptr (SoupSession) s = soup_session_new ();
  g_autofree char *url = g_strconcat (amm_test_server_get_base_url (server), "/aem/outbox", NULL);
  g_autofree char *auth = g_strconcat ("Basic ", "YWxpY2VAZXhhbXBsZS5jb206YWxpY2UtcHc=", NULL);
  struct { const char *mime; gsize size; const char *raw; guint status; const char *code; } cases[] = {
    { "video/mp4", 101, NULL, 413, "ATTACHMENT_SIZE_EXCEEDED" },
    { "application/zip", 10, NULL, 415, "UNSUPPORTED_MEDIA_TYPE" },
    { "video/mp4", 100, NULL, 201, NULL },
    { NULL, 0, "--B\r\nContent-Type:" AMM_TYPE_MESSAGE_V2 "\r\n\r\n{}\r\n--B\r\nno end", 400, "INVALID_PARAMETER" },
    { NULL, 0, "no boundary at all", 400, "INVALID_PARAMETER" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GBytes) body = NULL;
    if (cases[i].raw) {
      body = g_bytes_new_static (cases[i].raw, strlen (cases[i].raw));
    } else {
      g_autoptr (GBytes) head = NULL;
      g_autoptr (GBytes) tail = NULL;
      amm_attachment_framing ("B", AMM_TYPE_MESSAGE_V2, "{\"body\":\"x\",\"to\":[{\"address\":\"bob@example.com\"}]}",
                              cases[i].mime, "f", &head, &tail);
      GByteArray *all = g_byte_array_new ();
      g_byte_array_append (all, g_bytes_get_data (head, NULL), g_bytes_get_size (head));
      for (gsize k = 0; k < cases[i].size; k++)
        g_byte_array_append (all, (const guint8 *) "z", 1);
      g_byte_array_append (all, g_bytes_get_data (tail, NULL), g_bytes_get_size (tail));
      body = g_byte_array_free_to_bytes (all);
    }
    g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
    soup_message_set_request_body_from_bytes (msg, "multipart/related;boundary=\"B\"", body);
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) resp = soup_session_send_and_read (s, msg, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (soup_message_get_status (msg), ==, cases[i].status);
    if (cases[i].code) {
      g_autofree char *text = g_strndup (g_bytes_get_data (resp, NULL), g_bytes_get_size (resp));
      g_assert_nonnull (strstr (text, cases[i].code));
    }
  }
}

static void
test_cancel_upload (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  g_autoptr (AmmClient) alice = connected_client (server, ALICE, "alice-pw");
  g_autofree char *path = make_file ("movie.mp4", mp4_header, sizeof mp4_header, 96 * 1024 * 1024);
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  Op op = { .cancel_at = cancel, .cancel_after = 1024 * 1024 };
  g_assert_null (send_file (alice, NULL, BOB, "never", path, &op));
  g_assert_error (op.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (op.progress_done, <, 96 * 1024 * 1024);
  op_clear (&op);
  /* the server stored nothing, and the client still works */
  g_usleep (200 * 1000);
  g_assert_cmpuint (server_messages_with_parts (server, ALICE), ==, 0);
  g_assert_cmpuint (server_messages_with_parts (server, BOB), ==, 0);
  Op again = { 0 };
  g_autofree char *small = make_file ("ok.mp4", mp4_header, sizeof mp4_header, 4096);
  g_autoptr (AmmMessage) m = send_file (alice, NULL, BOB, "after cancel", small, &again);
  g_assert_no_error (again.error);
  g_assert_cmpuint (server_messages_with_parts (server, ALICE), ==, 1);
  g_unlink (path);
  g_unlink (small);
}

static void
test_download_faults (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  g_autoptr (AmmClient) alice = connected_client (server, ALICE, "alice-pw");
  g_autoptr (AmmClient) bob = connected_client (server, BOB, "bob-pw");
  g_autofree char *path = make_file ("clip.mp4", mp4_header, sizeof mp4_header, 8 * 1024 * 1024);
  Op op = { 0 };
  g_autoptr (AmmMessage) m = send_file (alice, NULL, BOB, "clip", path, &op);
  g_assert_no_error (op.error);
  AmmPart *part = m->parts->pdata[0];
  g_autofree char *dest = tmp_path ("dl.mp4");

  /* cut short by the server */
  guint status = 0;
  g_autoptr (JsonNode) f1 = amm_test_server_control (server, "POST", "/control/fault",
                                                     "{\"truncateDownloads\":true}", &status);
  g_assert_cmpuint (status, ==, 200);
  Op d = { 0 };
  amm_client_download_async (bob, part, dest, on_progress, &d, NULL, on_downloaded, &d);
  g_assert_true (amm_test_wait_for (op_done, &d, WAIT_MS));
  g_assert_false (d.ok);
  g_assert_error (d.error, AMM_ERROR, AMM_ERROR_NETWORK);
  g_assert_nonnull (strstr (d.error->message, "cut short"));
  g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
  op_clear (&d);
  /* clearing every fault clears this one too: the same download now completes */
  g_autoptr (JsonNode) f2 = amm_test_server_control (server, "DELETE", "/control/fault", NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  Op ok = { 0 };
  amm_client_download_async (bob, part, dest, NULL, NULL, NULL, on_downloaded, &ok);
  g_assert_true (amm_test_wait_for (op_done, &ok, WAIT_MS));
  g_assert_no_error (ok.error);
  g_assert_true (ok.ok);
  op_clear (&ok);
  g_assert_cmpint (g_unlink (dest), ==, 0);

  /* a size that disagrees with the part's */
  AmmPart wrong = *part;
  wrong.size = part->size + 1;
  Op w = { 0 };
  amm_client_download_async (bob, &wrong, dest, NULL, NULL, NULL, on_downloaded, &w);
  g_assert_true (amm_test_wait_for (op_done, &w, WAIT_MS));
  g_assert_error (w.error, AMM_ERROR, AMM_ERROR_MALFORMED);
  g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
  op_clear (&w);

  /* cancelled half way: no file left */
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  Op c = { .cancel_at = cancel, .cancel_after = 512 * 1024 };
  amm_client_download_async (bob, part, dest, on_progress, &c, cancel, on_downloaded, &c);
  g_assert_true (amm_test_wait_for (op_done, &c, WAIT_MS));
  g_assert_error (c.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
  op_clear (&c);

  /* an existing file is written in place (a reader that opened it sees the bytes as they
   * arrive, as Bitlbee does); when the download fails, the partial file is removed */
  g_assert_true (g_file_set_contents (dest, "old content", -1, NULL));
  GStatBuf before;
  g_assert_cmpint (g_stat (dest, &before), ==, 0);
  int reader = g_open (dest, O_RDONLY, 0);
  g_assert_cmpint (reader, >=, 0);
  Op ip = { 0 };
  amm_client_download_async (bob, part, dest, NULL, NULL, NULL, on_downloaded, &ip);
  g_assert_true (amm_test_wait_for (op_done, &ip, WAIT_MS));
  g_assert_no_error (ip.error);
  GStatBuf after;
  g_assert_cmpint (g_stat (dest, &after), ==, 0);
  g_assert_cmpuint (after.st_ino, ==, before.st_ino);
  struct stat through_reader;
  g_assert_cmpint (fstat (reader, &through_reader), ==, 0);
  g_assert_cmpint (through_reader.st_size, ==, part->size);
  close (reader);
  op_clear (&ip);

  g_autoptr (JsonNode) f3 = amm_test_server_control (server, "POST", "/control/fault",
                                                     "{\"truncateDownloads\":true}", &status);
  Op k = { 0 };
  amm_client_download_async (bob, part, dest, NULL, NULL, NULL, on_downloaded, &k);
  g_assert_true (amm_test_wait_for (op_done, &k, WAIT_MS));
  g_assert_error (k.error, AMM_ERROR, AMM_ERROR_NETWORK);
  op_clear (&k);
  g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
  g_unlink (path);
}

static void
test_foreign_url (void)
{
  g_autoptr (AmmTestServer) server = amm_test_server_startv (NULL);
  g_autoptr (AmmClient) bob = connected_client (server, BOB, "bob-pw");
  g_autofree char *dest = tmp_path ("foreign.bin");
  guint16 port = amm_test_server_get_port (server);
  g_autofree char *other_port = g_strdup_printf ("http://127.0.0.1:%u/aem/media/p1", (guint) (port == 1 ? 2 : port - 1));
  g_autofree char *other_scheme = g_strdup_printf ("https://127.0.0.1:%u/aem/media/p1", port);
  const char *urls[] = { "http://evil.example.com/aem/media/p1", other_port, other_scheme,
                         "file:///etc/passwd", "not a url", NULL };
  guint64 before = server_requests (server);
  for (guint i = 0; i < G_N_ELEMENTS (urls); i++) {
    AmmPart part = { .part_id = (char *) "p1", .mime_type = (char *) "image/jpeg", .size = 5,
                     .disposition = (char *) "attachment; filename=\"x.jpg\"", .media = (char *) urls[i] };
    Op op = { 0 };
    amm_client_download_async (bob, &part, dest, NULL, NULL, NULL, on_downloaded, &op);
    g_assert_true (amm_test_wait_for (op_done, &op, WAIT_MS));
    g_assert_error (op.error, AMM_ERROR, AMM_ERROR_REJECTED);
    if (i == 0)
      g_assert_nonnull (strstr (op.error->message, "evil.example.com"));
    op_clear (&op);
  }
  g_assert_cmpuint (server_requests (server), ==, before);
  g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
  g_autoptr (GError) error = NULL;
  g_autofree char *good = g_strdup_printf ("http://127.0.0.1:%u/aem/media/p9", port);
  g_assert_true (amm_client_check_media_url (bob, good, &error));
  g_autofree char *upper = g_strdup_printf ("HTTP://127.0.0.1:%u/aem/media/p9", port);
  g_assert_true (amm_client_check_media_url (bob, upper, &error));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("amm-attachments-XXXXXX", NULL);
  g_assert_nonnull (tmp_dir);
  g_test_add_func ("/attachments/sanitize", test_sanitize);
  g_test_add_func ("/attachments/mime", test_mime);
  g_test_add_func ("/attachments/limits", test_limits);
  g_test_add_func ("/attachments/framing", test_framing);
  g_test_add_func ("/attachments/pairing", test_pairing);
  g_test_add_func ("/attachments/roundtrip", test_roundtrip);
  g_test_add_func ("/attachments/roundtrip-tls", test_roundtrip_tls);
  g_test_add_func ("/attachments/roundtrip-2.1", test_roundtrip_21);
  g_test_add_func ("/attachments/thread-and-bytes", test_thread_and_bytes);
  g_test_add_func ("/attachments/limits-before-upload", test_limits_before_upload);
  g_test_add_func ("/attachments/server-limits", test_server_limits);
  g_test_add_func ("/attachments/cancel-upload", test_cancel_upload);
  g_test_add_func ("/attachments/download-faults", test_download_faults);
  g_test_add_func ("/attachments/foreign-url", test_foreign_url);
  int rc = g_test_run ();
  g_rmdir (tmp_dir);
  g_free (tmp_dir);
  return rc;
}
