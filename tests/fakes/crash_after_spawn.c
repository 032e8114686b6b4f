/* LD_PRELOAD fault injection for tests: when $VRAMQ_TEST_CRASH_AFTER_SPAWN is 1, the process
 * kills itself (SIGKILL) right after a job's supervisor has been started, before it can store
 * that the job started: the server that dies between the start and the save, whose successor
 * must adopt the run and never start it twice. A supervisor starts either forked by the launcher
 * (the server has just received the launcher's "pid=N" answer: recv) or spawned (posix_spawn of
 * vramq-supervise, not the launcher itself). Injected from outside: the server has no such
 * hook. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int armed(void) {
  const char* crash = getenv("VRAMQ_TEST_CRASH_AFTER_SPAWN");
  return crash != NULL && strcmp(crash, "1") == 0;
}

typedef int (*spawn_fn)(pid_t*, const char*, const posix_spawn_file_actions_t*,
                        const posix_spawnattr_t*, char* const[], char* const[]);

int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  static spawn_fn real;
  if (real == NULL) real = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawn");
  int rc = real(pid, path, actions, attr, argv, envp);
  size_t n = strlen(path);
  const char* name = "vramq-supervise";
  size_t k = strlen(name);
  int launcher = argv[0] != NULL && argv[1] != NULL && strcmp(argv[1], "--launcher") == 0;
  if (rc == 0 && armed() && !launcher && n >= k && strcmp(path + n - k, name) == 0) {
    raise(SIGKILL);
  }
  return rc;
}

typedef ssize_t (*recv_fn)(int, void*, size_t, int);

ssize_t recv(int fd, void* buf, size_t len, int flags) {
  static recv_fn real;
  if (real == NULL) real = (recv_fn)dlsym(RTLD_NEXT, "recv");
  ssize_t n = real(fd, buf, len, flags);
  if (n > 4 && armed() && memcmp(buf, "pid=", 4) == 0) raise(SIGKILL);
  return n;
}
