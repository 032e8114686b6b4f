/* LD_PRELOAD fault injection for tests: when $VRAMQ_TEST_CRASH_AFTER_SPAWN is 1, the process
 * kills itself (SIGKILL) right after it has spawned a job's supervisor, before it can store that
 * the job started: the server that dies between the spawn and the save, whose successor must
 * adopt the run and never start it twice. Injected from outside: the server has no such hook. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>

typedef int (*spawn_fn)(pid_t*, const char*, const posix_spawn_file_actions_t*,
                        const posix_spawnattr_t*, char* const[], char* const[]);

int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  static spawn_fn real;
  if (real == NULL) real = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawn");
  int rc = real(pid, path, actions, attr, argv, envp);
  const char* crash = getenv("VRAMQ_TEST_CRASH_AFTER_SPAWN");
  size_t n = strlen(path);
  const char* name = "vramq-supervise";
  size_t k = strlen(name);
  if (rc == 0 && crash != NULL && strcmp(crash, "1") == 0 && n >= k &&
      strcmp(path + n - k, name) == 0) {
    raise(SIGKILL);
  }
  return rc;
}
