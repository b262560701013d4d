/* e2e-xfer.c: attachments as libpurple file transfers, end to end.
 *
 * Alice and Bob are two accounts in one headless libpurple core (harness.c); the file-transfer
 * "user" (harness-xfer.c) accepts or declines offers and saves into a temp directory. Files go
 * through the plugin's send_file / the chat's "Send file…" menu, the test server, and come
 * back as RECEIVE transfers; every byte is compared (SHA-256).
 */
#include <string.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "harness.h"
#include "harness-xfer.h"

#define ALICE "alice@example.com"
#define BOB   "bob@example.com"
#define CAROL "carol@example.com"
#define LOGIN_MS 10000
#define XFER_MS  30000

/* A valid 1x1 JPEG (287 bytes). */
static const guint8 tiny_jpeg[] =
  "\xff\xd8\xff\xe0\x00\x10\x4a\x46\x49\x46\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb\x00\x43"
  "\x00\x10\x0b\x0c\x0e\x0c\x0a\x10\x0e\x0d\x0e\x12\x11\x10\x13\x18\x28\x1a\x18\x16\x16\x18\x31\x23"
  "\x25\x1d\x28\x3a\x33\x3d\x3c\x39\x33\x38\x37\x40\x48\x5c\x4e\x40\x44\x57\x45\x37\x38\x50\x6d\x51"
  "\x57\x5f\x62\x67\x68\x67\x3e\x4d\x71\x79\x70\x64\x78\x5c\x65\x67\x63\xff\xdb\x00\x43\x01\x11\x12"
  "\x12\x18\x15\x18\x2f\x1a\x1a\x2f\x63\x42\x38\x42\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63"
  "\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63"
  "\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\x63\xff\xc0\x00\x11\x08\x00\x01\x00\x01\x03"
  "\x01\x22\x00\x02\x11\x01\x03\x11\x01\xff\xc4\x00\x15\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00"
  "\x00\x00\x00\x00\x00\x00\x00\x05\xff\xc4\x00\x14\x10\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
  "\x00\x00\x00\x00\x00\x00\xff\xc4\x00\x15\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
  "\x00\x00\x00\x04\x06\xff\xc4\x00\x14\x11\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
  "\x00\x00\x00\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00\x8e\x00\x2a\x87\xff\xd9";
#define TINY_JPEG_LEN (sizeof tiny_jpeg - 1)

static const guint8 mp4_header[] = { 0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'm', 'p', '4', '2' };
static const guint8 m4a_header[] = { 0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'M', '4', 'A', ' ' };

typedef struct {
  AmmTestServer *server;
  E2eAccount    *alice;
  E2eAccount    *bob;
  char          *src_dir;   /* files to send */
  char          *save_dir;  /* bob saves here */
} Fixture;

/* ---- files ---- */

static char *
make_file (Fixture *f, const char *name, const guint8 *header, gsize header_len, gsize size)
{
  char *path = g_build_filename (f->src_dir, name, NULL);
  FILE *fp = fopen (path, "wb");
  GRand *r = g_rand_new_with_seed ((guint32) size ^ 0x5eed);
  guint8 buf[65536];
  gsize done = 0;

  g_assert_nonnull (fp);
  while (done < size) {
    gsize n = MIN (sizeof buf, size - done);
    for (gsize i = 0; i < n; i++)
      buf[i] = (guint8) g_rand_int (r);
    if (done < header_len)
      memcpy (buf, header + done, MIN (header_len - done, n));
    g_assert_cmpuint (fwrite (buf, 1, n, fp), ==, n);
    done += n;
  }
  g_rand_free (r);
  fclose (fp);
  return path;
}

static char *
sha256_of (const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &data, &len, NULL))
    return NULL;
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, len);
}

static void
remove_dir (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d))) {
    g_autofree char *p = g_build_filename (dir, name, NULL);
    g_unlink (p);
  }
  if (d)
    g_dir_close (d);
  g_rmdir (dir);
}

static guint
dir_count (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  while (d && g_dir_read_name (d))
    n++;
  if (d)
    g_dir_close (d);
  return n;
}

/* ---- fixture ---- */

static void
setup_with (Fixture *f, const char *first_arg, ...)
{
  va_list ap;
  GPtrArray *args = g_ptr_array_new ();
  va_start (ap, first_arg);
  for (const char *a = first_arg; a; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  f->server = amm_test_server_startv ((const char * const *) args->pdata);
  g_ptr_array_free (args, TRUE);
  f->src_dir = g_dir_make_tmp ("amm-xfer-src-XXXXXX", NULL);
  f->save_dir = g_dir_make_tmp ("amm-xfer-save-XXXXXX", NULL);
  e2e_xfers_clear ();
  e2e_xfer_set_policy (E2E_XFER_ACCEPT, f->save_dir);
  f->alice = e2e_account_new (ALICE, "alice-pw", f->server, NULL);
  f->bob = e2e_account_new (BOB, "bob-pw", f->server, NULL);
  g_assert_true (e2e_account_login (f->alice, LOGIN_MS));
  g_assert_true (e2e_account_login (f->bob, LOGIN_MS));
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  setup_with (f, "--max-video-size", "300000000", NULL);
}

static void
fixture_setup_limits (Fixture *f, gconstpointer data)
{
  setup_with (f, "--max-image-size", "1000", "--no-rich-content", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->alice, e2e_account_free);
  g_clear_pointer (&f->bob, e2e_account_free);
  e2e_run_for (100);
  g_clear_pointer (&f->server, amm_test_server_free);
  remove_dir (f->src_dir);
  remove_dir (f->save_dir);
  g_free (f->src_dir);
  g_free (f->save_dir);
}

static PurpleConnection *
gc_of (E2eAccount *a)
{
  return purple_account_get_connection (a->account);
}

static guint
server_messages_with_parts (AmmTestServer *server, const char *user)
{
  g_autoptr (JsonNode) msgs = amm_test_server_messages (server, user);
  JsonArray *a = json_node_get_array (msgs);
  guint n = 0;
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonObject *m = json_array_get_object_element (a, i);
    if (json_object_has_member (m, "parts")
        && json_array_get_length (json_object_get_array_member (m, "parts")) > 0)
      n++;
  }
  return n;
}

/* Send `path` from alice to bob through the plugin, wait for both ends, compare the bytes. */
static void
send_and_receive (Fixture *f, const char *path)
{
  g_autofree char *name = g_path_get_basename (path);
  g_autofree char *want = sha256_of (path);
  E2eXfer *sx, *rx;

  serv_send_file (gc_of (f->alice), BOB, path);
  g_assert_true (e2e_xfer_wait_done (PURPLE_XFER_SEND, name, XFER_MS));
  sx = e2e_xfer_find (PURPLE_XFER_SEND, name);
  g_assert_cmpuint (sx->progress_updates, >, 0);
  g_assert_true (e2e_xfer_wait_done (PURPLE_XFER_RECEIVE, name, XFER_MS));
  rx = e2e_xfer_find (PURPLE_XFER_RECEIVE, name);
  g_assert_cmpstr (rx->who, ==, ALICE);
  g_assert_cmpuint (rx->progress_updates, >, 0);
  g_autofree char *saved = g_build_filename (f->save_dir, name, NULL);
  g_assert_cmpstr (rx->local, ==, saved);
  g_autofree char *got = sha256_of (saved);
  g_assert_cmpstr (got, ==, want);
}

/* ---- tests ---- */

static void
test_im_media (Fixture *f, gconstpointer data)
{
  g_autofree char *jpg = make_file (f, "photo.jpg", tiny_jpeg, TINY_JPEG_LEN, TINY_JPEG_LEN);
  g_autofree char *mp4 = make_file (f, "clip.mp4", mp4_header, sizeof mp4_header, 3 * 1024 * 1024 + 7);
  g_autofree char *m4a = make_file (f, "voice.m4a", m4a_header, sizeof m4a_header, 700 * 1024);

  send_and_receive (f, jpg);
  send_and_receive (f, mp4);
  send_and_receive (f, m4a);
  /* the small JPEG is also shown inline in bob's IM with alice */
  g_assert_true (e2e_account_wait_written (f->bob, PURPLE_MESSAGE_IMAGES, 1, XFER_MS));
  g_assert_cmpuint (e2e_count_written (f->bob, PURPLE_MESSAGE_IMAGES, NULL), ==, 1);
  /* the message text names the file */
  g_assert_cmpuint (e2e_count_written (f->bob, PURPLE_MESSAGE_RECV, "clip.mp4"), >=, 1);
  g_assert_cmpuint (e2e_notified_errors ()->len, ==, 0);
}

typedef struct {
  PurpleAccount *account;
  const char    *thread;
} ChatWait;

static gboolean
chat_open (gpointer data)
{
  ChatWait *w = data;
  return purple_find_conversation_with_account (PURPLE_CONV_TYPE_CHAT, w->thread, w->account) != NULL;
}

static guint chat_images;

static void
on_wrote_chat (PurpleAccount *account, const char *who, char *message, PurpleConversation *conv,
               PurpleMessageFlags flags, gpointer data)
{
  if (account == data && (flags & PURPLE_MESSAGE_IMAGES) && strstr (message, "<img id="))
    chat_images++;
}

static gboolean
chat_image_shown (gpointer data)
{
  return chat_images > 0;
}

static void
test_group (Fixture *f, gconstpointer data)
{
  const char *to[] = { ALICE, BOB, NULL };
  g_autoptr (JsonNode) m = amm_test_server_send (f->server, CAROL, to, NULL, "a group");
  g_autofree char *thread = g_strdup (json_object_get_string_member (json_node_get_object (m), "threadId"));
  g_autofree char *path = make_file (f, "plan.mp4", mp4_header, sizeof mp4_header, 1024 * 1024);
  g_autofree char *want = sha256_of (path);
  GHashTable *components;
  PurpleChat *pchat;
  PurplePluginProtocolInfo *prpl;
  GList *menu;
  PurpleMenuAction *send = NULL;

  /* alice's and bob's chat windows open with the first message */
  ChatWait wa = { f->alice->account, thread }, wb = { f->bob->account, thread };
  g_assert_true (e2e_wait (chat_open, &wa, XFER_MS));
  g_assert_true (e2e_wait (chat_open, &wb, XFER_MS));
  components = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert (components, g_strdup ("thread"), g_strdup (thread));
  pchat = purple_chat_new (f->alice->account, "group", components);
  purple_blist_add_chat (pchat, NULL, NULL);

  prpl = PURPLE_PLUGIN_PROTOCOL_INFO (purple_find_prpl ("prpl-amm"));
  menu = prpl->blist_node_menu ((PurpleBlistNode *) pchat);
  for (GList *l = menu; l; l = l->next) {
    PurpleMenuAction *a = l->data;
    if (a && g_str_has_prefix (a->label, "Send file"))
      send = a;
  }
  g_assert_nonnull (send);
  e2e_xfer_set_next_file (path);
  ((void (*) (PurpleBlistNode *, gpointer)) send->callback) ((PurpleBlistNode *) pchat, send->data);
  for (GList *l = menu; l; l = l->next)
    purple_menu_action_free (l->data);
  g_list_free (menu);

  g_assert_true (e2e_xfer_wait_done (PURPLE_XFER_SEND, "plan.mp4", XFER_MS));
  g_assert_true (e2e_xfer_wait_done (PURPLE_XFER_RECEIVE, "plan.mp4", XFER_MS));
  g_autofree char *saved = g_build_filename (f->save_dir, "plan.mp4", NULL);
  g_autofree char *got = sha256_of (saved);
  g_assert_cmpstr (got, ==, want);
  /* it went into the group conversation: carol sees it too */
  g_assert_cmpuint (server_messages_with_parts (f->server, CAROL), ==, 1);

  /* a small JPEG is also shown inline in bob's chat window */
  g_autofree char *jpg = make_file (f, "group.jpg", tiny_jpeg, TINY_JPEG_LEN, TINY_JPEG_LEN);
  chat_images = 0;
  purple_signal_connect (purple_conversations_get_handle (), "wrote-chat-msg", &chat_images,
                         PURPLE_CALLBACK (on_wrote_chat), f->bob->account);
  menu = prpl->blist_node_menu ((PurpleBlistNode *) pchat);
  e2e_xfer_set_next_file (jpg);
  for (GList *l = menu; l; l = l->next) {
    PurpleMenuAction *a = l->data;
    if (a && g_str_has_prefix (a->label, "Send file"))
      ((void (*) (PurpleBlistNode *, gpointer)) a->callback) ((PurpleBlistNode *) pchat, a->data);
    purple_menu_action_free (a);
  }
  g_list_free (menu);
  g_assert_true (e2e_xfer_wait_done (PURPLE_XFER_RECEIVE, "group.jpg", XFER_MS));
  g_assert_true (e2e_wait (chat_image_shown, NULL, XFER_MS));
  purple_signal_disconnect (purple_conversations_get_handle (), "wrote-chat-msg", &chat_images,
                            PURPLE_CALLBACK (on_wrote_chat));
  purple_blist_remove_chat (pchat);
}

static void
test_cancel_upload (Fixture *f, gconstpointer data)
{
  g_autofree char *path = make_file (f, "movie.mp4", mp4_header, sizeof mp4_header, 200 * 1024 * 1024);
  E2eXfer *sx;

  serv_send_file (gc_of (f->alice), BOB, path);
  g_assert_true (e2e_xfer_wait_bytes (PURPLE_XFER_SEND, "movie.mp4", 1024 * 1024, XFER_MS));
  sx = e2e_xfer_find (PURPLE_XFER_SEND, "movie.mp4");
  g_assert_nonnull (sx->xfer);
  g_assert_cmpint (sx->status, ==, PURPLE_XFER_STATUS_STARTED);
  purple_xfer_cancel_local (sx->xfer);
  g_assert_true (e2e_xfer_wait_ended (PURPLE_XFER_SEND, "movie.mp4", XFER_MS));
  g_assert_cmpint (e2e_xfer_find (PURPLE_XFER_SEND, "movie.mp4")->status, ==, PURPLE_XFER_STATUS_CANCEL_LOCAL);
  e2e_run_for (500);
  g_assert_cmpuint (server_messages_with_parts (f->server, BOB), ==, 0);
  g_assert_null (e2e_xfer_find (PURPLE_XFER_RECEIVE, "movie.mp4"));
  /* and the next transfer works */
  g_autofree char *small = make_file (f, "after.mp4", mp4_header, sizeof mp4_header, 5000);
  send_and_receive (f, small);
}

static void
test_cancel_download (Fixture *f, gconstpointer data)
{
  g_autofree char *path = make_file (f, "long.mp4", mp4_header, sizeof mp4_header, 128 * 1024 * 1024);
  g_autofree char *saved = g_build_filename (f->save_dir, "long.mp4", NULL);
  E2eXfer *rx;

  serv_send_file (gc_of (f->alice), BOB, path);
  g_assert_true (e2e_xfer_wait_done (PURPLE_XFER_SEND, "long.mp4", XFER_MS * 2));
  g_assert_true (e2e_xfer_wait_bytes (PURPLE_XFER_RECEIVE, "long.mp4", 1024 * 1024, XFER_MS));
  rx = e2e_xfer_find (PURPLE_XFER_RECEIVE, "long.mp4");
  g_assert_nonnull (rx->xfer);
  g_assert_cmpint (rx->status, ==, PURPLE_XFER_STATUS_STARTED);
  purple_xfer_cancel_local (rx->xfer);
  g_assert_true (e2e_xfer_wait_ended (PURPLE_XFER_RECEIVE, "long.mp4", XFER_MS));
  e2e_run_for (300);
  g_assert_cmpint (e2e_xfer_find (PURPLE_XFER_RECEIVE, "long.mp4")->status, ==, PURPLE_XFER_STATUS_CANCEL_LOCAL);
  g_assert_false (g_file_test (saved, G_FILE_TEST_EXISTS));
}

static gboolean
has_error_with (const char *needle)
{
  GPtrArray *errs = e2e_notified_errors ();
  for (guint i = 0; i < errs->len; i++)
    if (strstr (errs->pdata[i], needle))
      return TRUE;
  return FALSE;
}

static void
test_limits (Fixture *f, gconstpointer data)
{
  g_autofree char *big = make_file (f, "big.jpg", tiny_jpeg, TINY_JPEG_LEN, 2000);
  g_autofree char *doc = make_file (f, "notes.pdf", (const guint8 *) "%PDF-1.4", 8, 100);
  E2eXfer *x;

  serv_send_file (gc_of (f->alice), BOB, big);
  g_assert_true (e2e_xfer_wait_ended (PURPLE_XFER_SEND, "big.jpg", XFER_MS));
  x = e2e_xfer_find (PURPLE_XFER_SEND, "big.jpg");
  g_assert_cmpint (x->status, ==, PURPLE_XFER_STATUS_CANCEL_LOCAL);
  g_assert_cmpuint (x->bytes, ==, 0);
  g_assert_true (has_error_with ("maxImageSize"));
  g_assert_true (has_error_with ("1000 bytes"));

  serv_send_file (gc_of (f->alice), BOB, doc);
  g_assert_true (e2e_xfer_wait_ended (PURPLE_XFER_SEND, "notes.pdf", XFER_MS));
  g_assert_cmpint (e2e_xfer_find (PURPLE_XFER_SEND, "notes.pdf")->status, ==, PURPLE_XFER_STATUS_CANCEL_LOCAL);
  g_assert_true (has_error_with ("richContent"));

  e2e_run_for (300);
  g_assert_cmpuint (server_messages_with_parts (f->server, ALICE), ==, 0);
}

static void
test_decline (Fixture *f, gconstpointer data)
{
  g_autofree char *path = make_file (f, "unwanted.mp4", mp4_header, sizeof mp4_header, 4 * 1024 * 1024);

  e2e_xfer_set_policy (E2E_XFER_DECLINE, f->save_dir);
  serv_send_file (gc_of (f->alice), BOB, path);
  g_assert_true (e2e_xfer_wait_done (PURPLE_XFER_SEND, "unwanted.mp4", XFER_MS));
  g_assert_true (e2e_xfer_wait_ended (PURPLE_XFER_RECEIVE, "unwanted.mp4", XFER_MS));
  e2e_run_for (300);
  E2eXfer *rx = e2e_xfer_find (PURPLE_XFER_RECEIVE, "unwanted.mp4");
  g_assert_cmpuint (e2e_xfer_offers_answered (), >=, 1);
  g_assert_cmpuint (rx->bytes, ==, 0);
  g_assert_cmpint (rx->status, !=, PURPLE_XFER_STATUS_DONE);
  g_assert_cmpuint (dir_count (f->save_dir), ==, 0);
}

static void
test_truncated (Fixture *f, gconstpointer data)
{
  g_autofree char *path = make_file (f, "cut.mp4", mp4_header, sizeof mp4_header, 2 * 1024 * 1024);
  g_autofree char *saved = g_build_filename (f->save_dir, "cut.mp4", NULL);
  guint status = 0;
  g_autoptr (JsonNode) r = amm_test_server_control (f->server, "POST", "/control/fault",
                                                    "{\"truncateDownloads\":true}", &status);
  g_assert_cmpuint (status, ==, 200);

  serv_send_file (gc_of (f->alice), BOB, path);
  g_assert_true (e2e_xfer_wait_done (PURPLE_XFER_SEND, "cut.mp4", XFER_MS));
  g_assert_false (e2e_xfer_wait_done (PURPLE_XFER_RECEIVE, "cut.mp4", XFER_MS));
  g_assert_cmpint (e2e_xfer_find (PURPLE_XFER_RECEIVE, "cut.mp4")->status, ==, PURPLE_XFER_STATUS_CANCEL_LOCAL);
  g_assert_true (has_error_with ("cut short"));
  g_assert_false (g_file_test (saved, G_FILE_TEST_EXISTS));
}

/* Carol's client (a raw multipart POST) sends files with hostile names to bob. */
static void
test_hostile_names (Fixture *f, gconstpointer data)
{
  static const struct { const char *disposition, *saved; } names[] = {
    { "attachment; filename=\"../../etc/passwd\"", "passwd" },
    { "attachment; filename=\".hidden\"", "hidden" },
    { "attachment; filename*=UTF-8''a%01b%1B%5B31m%0Ac.txt", "ab[31mc.txt" },
  };
  g_autoptr (SoupSession) s = soup_session_new ();
  g_autofree char *url = g_strconcat (amm_test_server_get_base_url (f->server), "/aem/outbox", NULL);
  g_autofree char *cred = g_base64_encode ((const guchar *) CAROL ":carol-pw", strlen (CAROL ":carol-pw"));
  g_autofree char *auth = g_strconcat ("Basic ", cred, NULL);
  GString *body = g_string_new (NULL);

  g_string_append (body, "--B\r\nContent-Type:application/vnd.avaya.aem.message.v2+json;\r\n\r\n"
                         "{\"body\":\"files\",\"subject\":\"\",\"flags\":{\"sensitivity\":\"NORMAL\"},"
                         "\"to\":[{\"address\":\"" CAROL "\"},{\"address\":\"" BOB "\"}]}\r\n");
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_string_append_printf (body, "--B\r\nContent-Type:video/mp4\r\nContent-Transfer-Encoding:binary\r\n"
                                  "Content-Disposition:%s\r\n\r\nbytes-%u\r\n", names[i].disposition, i);
  g_string_append (body, "--B--\r\n");
  g_autoptr (GBytes) bytes = g_string_free_to_bytes (body);
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
  soup_message_set_request_body_from_bytes (msg, "multipart/related;boundary=\"B\"", bytes);
  g_autoptr (GBytes) resp = soup_session_send_and_read (s, msg, NULL, NULL);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 201);

  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_assert_true (e2e_xfer_wait_done (PURPLE_XFER_RECEIVE, names[i].saved, XFER_MS));
    g_autofree char *saved = g_build_filename (f->save_dir, names[i].saved, NULL);
    g_autofree char *contents = NULL;
    g_autofree char *expect = g_strdup_printf ("bytes-%u", i);
    g_assert_true (g_file_get_contents (saved, &contents, NULL, NULL));
    g_assert_cmpstr (contents, ==, expect);
  }
  g_assert_cmpuint (dir_count (f->save_dir), ==, G_N_ELEMENTS (names));
}

/* A file and its inline thumbnail (same name, as the SDK sends them): one offer, not two. */
static void
test_thumbnail_paired (Fixture *f, gconstpointer data)
{
  g_autofree char *file_b64 = g_base64_encode ((const guchar *) "the real file", 13);
  g_autofree char *thumb_b64 = g_base64_encode (tiny_jpeg, TINY_JPEG_LEN);
  g_autofree char *req = g_strdup_printf (
      "{\"from\":\"" CAROL "\",\"to\":[\"" BOB "\"],\"body\":\"pic\",\"attachments\":["
      "{\"filename\":\"pic.png\",\"mimeType\":\"image/png\",\"data\":\"%s\"},"
      "{\"filename\":\"pic.png\",\"mimeType\":\"image/jpeg\",\"data\":\"%s\",\"inline\":true}]}",
      file_b64, thumb_b64);
  guint status = 0;
  g_autoptr (JsonNode) r = amm_test_server_control (f->server, "POST", "/control/send", req, &status);
  g_assert_cmpuint (status, ==, 200);

  g_assert_true (e2e_xfer_wait_done (PURPLE_XFER_RECEIVE, "pic.png", XFER_MS));
  e2e_run_for (300);
  guint offers = 0;
  GPtrArray *all = e2e_xfers ();
  for (guint i = 0; i < all->len; i++)
    if (((E2eXfer *) all->pdata[i])->type == PURPLE_XFER_RECEIVE)
      offers++;
  g_assert_cmpuint (offers, ==, 1);
  g_autofree char *saved = g_build_filename (f->save_dir, "pic.png", NULL);
  g_autofree char *contents = NULL;
  g_assert_true (g_file_get_contents (saved, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "the real file");
  g_assert_cmpuint (e2e_count_received (f->bob, CAROL, "pic"), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  e2e_install_log_filter ();
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  e2e_init ();
  e2e_xfer_install ();

  g_test_add ("/e2e/xfer/im/jpg-mp4-m4a", Fixture, NULL, fixture_setup, test_im_media, fixture_teardown);
  g_test_add ("/e2e/xfer/group/menu-send", Fixture, NULL, fixture_setup, test_group, fixture_teardown);
  g_test_add ("/e2e/xfer/im/cancel-upload", Fixture, NULL, fixture_setup, test_cancel_upload, fixture_teardown);
  g_test_add ("/e2e/xfer/im/cancel-download", Fixture, NULL, fixture_setup, test_cancel_download, fixture_teardown);
  g_test_add ("/e2e/xfer/im/limits", Fixture, NULL, fixture_setup_limits, test_limits, fixture_teardown);
  g_test_add ("/e2e/xfer/im/decline", Fixture, NULL, fixture_setup, test_decline, fixture_teardown);
  g_test_add ("/e2e/xfer/im/truncated", Fixture, NULL, fixture_setup, test_truncated, fixture_teardown);
  g_test_add ("/e2e/xfer/im/thumbnail-paired", Fixture, NULL, fixture_setup, test_thumbnail_paired, fixture_teardown);
  g_test_add ("/e2e/xfer/im/hostile-names", Fixture, NULL, fixture_setup, test_hostile_names, fixture_teardown);
  int ret = g_test_run ();
  e2e_shutdown ();
  return ret;
}
