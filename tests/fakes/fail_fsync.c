/* LD_PRELOAD fault injection for tests: fsync() and fdatasync() fail with EIO while the file
 * named by $VRAMQ_TEST_FAIL_FSYNC exists, as they do on a disk that fails its writes. A failing
 * disk cannot be had on a test machine; everything else stays real (the server, SQLite, the
 * files). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static int failing(void) {
  const char* trigger = getenv("VRAMQ_TEST_FAIL_FSYNC");
  return trigger != NULL && access(trigger, F_OK) == 0;
}

/* The call `name` of libc, unless the trigger says it fails. */
static int sync_or_fail(const char* name, int (**real)(int), int fd) {
  if (failing()) {
    errno = EIO;
    return -1;
  }
  if (*real == NULL) *real = (int (*)(int))dlsym(RTLD_NEXT, name);
  return (*real)(fd);
}

int fsync(int fd) {
  static int (*real)(int);
  return sync_or_fail("fsync", &real, fd);
}

int fdatasync(int fd) {
  static int (*real)(int);
  return sync_or_fail("fdatasync", &real, fd);
}
