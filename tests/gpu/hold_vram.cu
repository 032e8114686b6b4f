// hold_vram: a tiny CUDA program for tests/gpu/check_real_gpu.sh. It allocates MIB MiB on the GPU
// vramq gave it (CUDA_VISIBLE_DEVICES), touches it so the memory is really committed, holds it
// for SECONDS (growing to GROW_TO_MIB halfway if asked), frees it and prints a JSON line.
// With OOM_BELOW_MIB, when vramq reserved less than that ($VRAMQ_VRAM_MB) it instead asks for more
// than the whole GPU and dies of the CUDA runtime's own out-of-memory error.
// usage: hold_vram MIB SECONDS [GROW_TO_MIB] [OOM_BELOW_MIB]
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int fail(const char* what, cudaError_t e) {
  fprintf(stderr, "%s: %s: %s\n", what, cudaGetErrorName(e), cudaGetErrorString(e));
  return 1;
}

static int hold(size_t mib, void** out) {
  cudaError_t e = cudaMalloc(out, mib << 20);
  if (e != cudaSuccess) return fail("cudaMalloc", e);
  e = cudaMemset(*out, 1, mib << 20);
  if (e != cudaSuccess) return fail("cudaMemset", e);
  e = cudaDeviceSynchronize();
  return e == cudaSuccess ? 0 : fail("cudaDeviceSynchronize", e);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: hold_vram MIB SECONDS [GROW_TO_MIB] [OOM_BELOW_MIB]\n");
    return 2;
  }
  size_t mib = strtoull(argv[1], NULL, 10);
  double seconds = atof(argv[2]);
  size_t grow_to = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
  size_t oom_below = argc > 4 ? strtoull(argv[4], NULL, 10) : 0;
  const char* reserved = getenv("VRAMQ_VRAM_MB");
  if (oom_below > 0 && (reserved == NULL || strtoull(reserved, NULL, 10) < oom_below)) {
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    void* p = NULL;
    return fail("cudaMalloc of more than the whole GPU", cudaMalloc(&p, total_b + (1ULL << 30)));
  }
  void* a = NULL;
  void* b = NULL;
  if (hold(mib, &a) != 0) return 1;
  if (grow_to > mib) {
    usleep((useconds_t)(seconds * 5e5));
    if (hold(grow_to - mib, &b) != 0) return 1;
    usleep((useconds_t)(seconds * 5e5));
  } else {
    usleep((useconds_t)(seconds * 1e6));
  }
  cudaFree(a);
  if (b != NULL) cudaFree(b);
  printf("{\"held_mib\": %zu, \"grew_to_mib\": %zu}\n", mib, grow_to);
  return 0;
}
