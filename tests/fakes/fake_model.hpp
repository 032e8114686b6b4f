#pragma once
// What the demo model stand-in's two modes share (fake_model.cpp, fake_model_worker.cpp).

#include <string>

namespace fake_model {

// With --nvml-dir (the fake NVML's state directory), the use is also published where the fake
// driver reads it: procs/<pid> = "<the GPU's UUID from CUDA_VISIBLE_DEVICES> <MiB>".
extern std::string nvml_dir;

// Reports the simulated VRAM in use: $VRAMQ_SIM_VRAM_FILE (as a real run is seen through NVML),
// and the fake driver's file with --nvml-dir.
void report_vram(long long mb);

}  // namespace fake_model

int worker_main(int argc, char** argv);  // --worker: fake_model_worker.cpp
