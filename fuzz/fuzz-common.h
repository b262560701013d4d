/* fuzz-common.h: shared setup of the libFuzzer targets (fuzz/fuzz-*.c, `make fuzz`).
 *
 * Every target feeds the project's own parsers and mappers with arbitrary bytes. A GLib
 * critical or warning aborts (it would be a bug: the parsers are total), and so does any
 * sanitizer report. System json-glib is not instrumented; the project's code around it is.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

static GLogWriterOutput
fuzz_quiet_writer (GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) {
    g_log_writer_default (level, fields, n, data);
    abort ();
  }
  return G_LOG_WRITER_HANDLED; /* debug/info/message: drop */
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_log_set_writer_func (fuzz_quiet_writer, NULL, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  return 0;
}

/* A NUL-terminated copy (the parsers that take C strings). */
static inline char *
fuzz_strndup (const uint8_t *data, size_t size)
{
  char *s = g_malloc (size + 1);
  memcpy (s, data, size);
  s[size] = '\0';
  return s;
}
