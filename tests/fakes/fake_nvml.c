/* A fake libnvidia-ml.so.1 for tests on machines without a GPU. It implements the subset of
 * NVML's C ABI that vramq uses, driven by files a test writes under $FAKE_NVML_DIR:
 *   devices        one line per GPU: "<uuid> <total_mib> <driver_mib> <name...>"; driver_mib is
 *                  used memory that no process accounts for (contexts, other containers)
 *   procs/<pid>    "<uuid> <mib>": process <pid> uses <mib> on that GPU while it is alive
 *                  (a dead PID's memory is freed, as the driver does); "<uuid> -" means the
 *                  driver cannot say how much (NVML_VALUE_NOT_AVAILABLE)
 *   fail           if present, every device query fails with NVML_ERROR_GPU_IS_LOST; as on
 *                  real hardware the library stays lost after the file goes, until the caller
 *                  re-initialises it (nvmlShutdown + nvmlInit)
 *   lost           "<uuid>" lines: those GPUs fail every query with NVML_ERROR_GPU_IS_LOST (fallen
 *                  off the bus) while the others answer; each stays lost, even after its line
 *                  goes, until the library is re-initialised (a reset brings it back)
 *   no_processes   if present, process lists fail with NVML_ERROR_NOT_SUPPORTED (as on GPUs
 *                  and virtualised setups that do not report processes)
 *   reserved_mib   "<mib>": memory the driver reserves on every GPU; memory v2 reports it in
 *                  `reserved` (and not in `used`), v1 counts it as used, as the real library
 *   context_mib    "<mib>": each process's CUDA context, added to what it reports, as the real
 *                  per-process figure includes the context
 *   linger_ms      "<ms>": a dead process's memory stays listed (under its PID) this long
 *                  before the driver frees it, as a real driver takes a moment to
 * Built three times: the full library (memory v2, processes v3/v2); with FAKE_NVML_NO_V3, one
 * without processes v3 (drivers before R510); with FAKE_NVML_LEGACY, one with only the oldest
 * entry points (memory v1, processes v1): vramq's fallbacks are exercised on each. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

typedef int nvmlReturn_t;
enum {
  NVML_SUCCESS = 0,
  NVML_ERROR_UNINITIALIZED = 1,
  NVML_ERROR_INVALID_ARGUMENT = 2,
  NVML_ERROR_NOT_SUPPORTED = 3,
  NVML_ERROR_NOT_FOUND = 6,
  NVML_ERROR_INSUFFICIENT_SIZE = 7,
  NVML_ERROR_GPU_IS_LOST = 15,
  NVML_ERROR_UNKNOWN = 999
};

typedef struct {
  unsigned long long total, free, used;
} nvmlMemory_t;
typedef struct {
  unsigned int version;
  unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
typedef struct {
  unsigned int pid;
  unsigned long long usedGpuMemory;
} nvmlProcessInfo_v1_t;
typedef struct {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_v2_t;

#define MAX_DEVICES 16
#define MAX_PROCS 256
#define MIB (1024ULL * 1024ULL)
#define NOT_AVAILABLE (~0ULL)

struct device {
  char uuid[96];
  char name[96];
  unsigned long long total_mib, driver_mib;
};
/* A handle is a pointer into this table. */
static struct device devices[MAX_DEVICES];
static int device_count;
static int initialized;
static int lost; /* a GPU was lost: every call fails until the next nvmlInit */
static int device_lost[MAX_DEVICES]; /* this GPU was lost: its calls fail until nvmlInit */

/* Whether `uuid` is listed in the `lost` file. */
static int listed_lost(const char* uuid);

static const char* dir(void) {
  const char* d = getenv("FAKE_NVML_DIR");
  return d != NULL ? d : ".";
}

static int flag(const char* name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir(), name);
  FILE* f = fopen(path, "r");
  if (f == NULL) return 0;
  fclose(f);
  return 1;
}

static int load_devices(void) {
  char path[4096];
  snprintf(path, sizeof path, "%s/devices", dir());
  FILE* f = fopen(path, "r");
  if (f == NULL) return -1;
  device_count = 0;
  char line[512];
  while (device_count < MAX_DEVICES && fgets(line, sizeof line, f) != NULL) {
    struct device* d = &devices[device_count];
    int used = 0;
    if (sscanf(line, "%95s %llu %llu %n", d->uuid, &d->total_mib, &d->driver_mib, &used) < 3)
      continue;
    snprintf(d->name, sizeof d->name, "%s", line + used);
    d->name[strcspn(d->name, "\n")] = '\0';
    ++device_count;
  }
  fclose(f);
  return 0;
}

static unsigned long long number_file(const char* name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir(), name);
  FILE* f = fopen(path, "r");
  if (f == NULL) return 0;
  unsigned long long v = 0;
  if (fscanf(f, "%llu", &v) != 1) v = 0;
  fclose(f);
  return v;
}

/* Whether a dead process's memory is still listed: since when it has been seen dead is kept
 * in procs/<pid>.dead (milliseconds, CLOCK_REALTIME). */
static int still_lingering(const char* procs_dir, const char* pid) {
  unsigned long long linger = number_file("linger_ms");
  if (linger == 0) return 0;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  unsigned long long now = (unsigned long long)ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000ULL;
  char path[4096 + 512];
  snprintf(path, sizeof path, "%s/%s.dead", procs_dir, pid);
  unsigned long long since = 0;
  FILE* f = fopen(path, "r");
  if (f != NULL) {
    if (fscanf(f, "%llu", &since) != 1) since = 0;
    fclose(f);
  }
  if (since == 0) {
    f = fopen(path, "w");
    if (f != NULL) {
      fprintf(f, "%llu\n", now);
      fclose(f);
    }
    return 1;
  }
  return now - since < linger;
}

struct proc {
  unsigned int pid;
  unsigned long long bytes;
};

/* The live processes on device `d`; returns how many. */
static int load_procs(const struct device* d, struct proc* out, int max) {
  char path[4096];
  snprintf(path, sizeof path, "%s/procs", dir());
  DIR* procs = opendir(path);
  if (procs == NULL) return 0;
  int n = 0;
  struct dirent* e;
  while (n < max && (e = readdir(procs)) != NULL) {
    char* end = NULL;
    long pid = strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH && !still_lingering(path, e->d_name)) continue;
    char file[4096 + 512];
    snprintf(file, sizeof file, "%s/%s", path, e->d_name);
    FILE* f = fopen(file, "r");
    if (f == NULL) continue;
    char uuid[96], mib[32];
    int got = fscanf(f, "%95s %31s", uuid, mib);
    fclose(f);
    if (got != 2 || strcmp(uuid, d->uuid) != 0) continue;
    out[n].pid = (unsigned int)pid;
    out[n].bytes = strcmp(mib, "-") == 0
                       ? NOT_AVAILABLE
                       : (strtoull(mib, NULL, 10) + number_file("context_mib")) * MIB;
    ++n;
  }
  closedir(procs);
  return n;
}

static unsigned long long used_bytes(const struct device* d) {
  struct proc procs[MAX_PROCS];
  int n = load_procs(d, procs, MAX_PROCS);
  unsigned long long used = d->driver_mib * MIB;
  for (int i = 0; i < n; ++i)
    if (procs[i].bytes != NOT_AVAILABLE) used += procs[i].bytes;
  unsigned long long total = d->total_mib * MIB;
  return used > total ? total : used;
}

static int listed_lost(const char* uuid) {
  char path[4096];
  snprintf(path, sizeof path, "%s/lost", dir());
  FILE* f = fopen(path, "r");
  if (f == NULL) return 0;
  char line[128];
  int found = 0;
  while (!found && fgets(line, sizeof line, f) != NULL) {
    line[strcspn(line, "\n")] = '\0';
    found = strcmp(line, uuid) == 0;
  }
  fclose(f);
  return found;
}

static nvmlReturn_t check(void* device) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (flag("fail")) lost = 1;
  if (lost) return NVML_ERROR_GPU_IS_LOST;
  if (device == NULL) return NVML_ERROR_INVALID_ARGUMENT;
  int i = (int)((struct device*)device - devices);
  if (listed_lost(devices[i].uuid)) device_lost[i] = 1;
  if (device_lost[i]) return NVML_ERROR_GPU_IS_LOST;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlInit_v2(void) {
  if (load_devices() != 0) return NVML_ERROR_UNKNOWN;
  initialized = 1;
  lost = flag("fail");
  for (int i = 0; i < device_count; ++i)
    device_lost[i] = listed_lost(devices[i].uuid);
  return NVML_SUCCESS;
}
nvmlReturn_t nvmlInit(void) { return nvmlInit_v2(); }
nvmlReturn_t nvmlShutdown(void) {
  initialized = 0;
  return NVML_SUCCESS;
}

const char* nvmlErrorString(nvmlReturn_t rc) {
  switch (rc) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    default: return "Unknown Error";
  }
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (flag("fail")) lost = 1;
  if (lost) return NVML_ERROR_GPU_IS_LOST;
  *count = (unsigned int)device_count;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, void** device) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (index >= (unsigned int)device_count) return NVML_ERROR_INVALID_ARGUMENT;
  *device = &devices[index];
  return NVML_SUCCESS;
}

static nvmlReturn_t copy_text(const char* text, char* out, unsigned int length) {
  if (strlen(text) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  memcpy(out, text, strlen(text) + 1);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUUID(void* device, char* uuid, unsigned int length) {
  nvmlReturn_t rc = check(device);
  return rc != NVML_SUCCESS ? rc : copy_text(((struct device*)device)->uuid, uuid, length);
}

nvmlReturn_t nvmlDeviceGetName(void* device, char* name, unsigned int length) {
  nvmlReturn_t rc = check(device);
  return rc != NVML_SUCCESS ? rc : copy_text(((struct device*)device)->name, name, length);
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(void* device, nvmlMemory_t* memory) {
  nvmlReturn_t rc = check(device);
  if (rc != NVML_SUCCESS) return rc;
  const struct device* d = device;
  memory->total = d->total_mib * MIB;
  memory->used = used_bytes(d) + number_file("reserved_mib") * MIB; /* v1: reserved is used */
  if (memory->used > memory->total) memory->used = memory->total;
  memory->free = memory->total - memory->used;
  return NVML_SUCCESS;
}

/* The processes' list, in either struct layout; the size protocol of the real library. */
#define FILL_PROCESSES(type)                                        \
  nvmlReturn_t rc = check(device);                                  \
  if (rc != NVML_SUCCESS) return rc;                                \
  if (flag("no_processes")) return NVML_ERROR_NOT_SUPPORTED;        \
  struct proc procs[MAX_PROCS];                                     \
  int n = load_procs(device, procs, MAX_PROCS);                     \
  if (*count < (unsigned int)n || (infos == NULL && n > 0)) {       \
    *count = (unsigned int)n;                                       \
    return NVML_ERROR_INSUFFICIENT_SIZE;                            \
  }                                                                 \
  for (int i = 0; i < n; ++i) {                                     \
    memset(&infos[i], 0, sizeof(type));                             \
    infos[i].pid = procs[i].pid;                                    \
    infos[i].usedGpuMemory = procs[i].bytes;                        \
  }                                                                 \
  *count = (unsigned int)n;                                         \
  return NVML_SUCCESS;

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(void* device, unsigned int* count,
                                                  nvmlProcessInfo_v1_t* infos) {
  FILL_PROCESSES(nvmlProcessInfo_v1_t)
}

#ifndef FAKE_NVML_LEGACY
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(void* device, nvmlMemory_v2_t* memory) {
  nvmlReturn_t rc = check(device);
  if (rc != NVML_SUCCESS) return rc;
  if (memory->version != (unsigned int)(sizeof(nvmlMemory_v2_t) | (2U << 24U)))
    return NVML_ERROR_INVALID_ARGUMENT;  /* NVML_ERROR_ARGUMENT_VERSION_MISMATCH in real NVML */
  const struct device* d = device;
  memory->total = d->total_mib * MIB;
  memory->reserved = number_file("reserved_mib") * MIB;
  memory->used = used_bytes(d);
  if (memory->used + memory->reserved > memory->total) memory->used = memory->total - memory->reserved;
  memory->free = memory->total - memory->used - memory->reserved;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(void* device, unsigned int* count,
                                                     nvmlProcessInfo_v2_t* infos) {
  FILL_PROCESSES(nvmlProcessInfo_v2_t)
}

#ifndef FAKE_NVML_NO_V3
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(void* device, unsigned int* count,
                                                     nvmlProcessInfo_v2_t* infos) {
  FILL_PROCESSES(nvmlProcessInfo_v2_t)
}
#endif
#endif
