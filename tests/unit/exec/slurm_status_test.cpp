// What the Slurm 22.05 tools answer (samples taken from a real one-node cluster), parsed; and the
// GPUs of a cluster as readings (gpu/slurm_gpu_source's pure part).
#include "exec/slurm_status.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "exec/slurm_run_record.hpp"
#include "gpu/slurm_gpu_source.hpp"

namespace vramq::exec {
namespace {

constexpr std::string_view kSqueue = R"j({"meta": {}, "errors": [], "jobs": [
 {"job_id": 1, "name": "vramq-ab-1.1", "cluster": "lab", "job_state": "CANCELLED",
  "state_reason": "None", "exit_code": 15, "start_time": 1795982096, "nodes": "node1",
  "gres_detail": []},
 {"job_id": 3, "name": "vramq-ab-3.1", "cluster": "lab", "job_state": "RUNNING",
  "state_reason": "None", "exit_code": 0, "start_time": 1795982106, "nodes": "node1",
  "gres_detail": ["shard:14(IDX:0)"]},
 {"job_id": 4, "name": "other", "cluster": "lab", "job_state": "RUNNING",
  "state_reason": "None", "exit_code": 0, "start_time": 1795982106, "nodes": "node1",
  "gres_detail": ["shard:6(IDX:1)"]},
 {"job_id": 5, "name": "vramq-ab-5.2", "cluster": "lab", "job_state": "PENDING",
  "state_reason": "Resources", "exit_code": 0, "start_time": 0, "nodes": "",
  "gres_detail": []},
 {"job_id": 6, "name": "vramq-ab-6.1", "cluster": "lab", "job_state": "FAILED",
  "state_reason": "NonZeroExitCode", "exit_code": 768, "nodes": "node1", "gres_detail": []}
]})j";

TEST(SlurmStatus, SqueueJsonGivesStatesReasonsAndGpus) {
  auto jobs = parse_squeue_json(kSqueue);
  ASSERT_TRUE(jobs) << jobs.error().message;
  ASSERT_EQ(jobs->size(), 5U);
  const SlurmJobStatus& running = (*jobs)[1];
  EXPECT_EQ(running.id, 3);
  EXPECT_EQ(running.name, "vramq-ab-3.1");
  EXPECT_EQ(running.cluster, "lab");
  EXPECT_TRUE(is_running(running.state));
  ASSERT_EQ(running.gres.size(), 1U);
  EXPECT_EQ(running.gres[0].name, "shard");
  EXPECT_EQ(running.gres[0].count, 14);
  EXPECT_EQ(running.gres[0].indexes, std::vector<int>{0});
  EXPECT_EQ(running.start_time, 1795982106);
  EXPECT_TRUE(is_pending((*jobs)[3].state));
  EXPECT_EQ((*jobs)[3].reason, "Resources");
  EXPECT_TRUE(is_ended((*jobs)[4].state));
  EXPECT_EQ((*jobs)[4].raw_exit, 768);
  EXPECT_TRUE(is_ended((*jobs)[0].state));
}

TEST(SlurmStatus, NewerSlurmsWrappedNumbersAndStateLists) {
  auto jobs = parse_squeue_json(
      R"({"jobs": [{"job_id": 9, "name": "n", "job_state": ["RUNNING"],
          "exit_code": {"set": true, "number": 0}, "start_time": {"number": 17}}]})");
  ASSERT_TRUE(jobs);
  ASSERT_EQ(jobs->size(), 1U);
  EXPECT_EQ((*jobs)[0].state, "RUNNING");
  EXPECT_EQ((*jobs)[0].start_time, 17);
}

TEST(SlurmStatus, JobsAreFoundByNameOnTheirCluster) {
  auto jobs = parse_squeue_json(kSqueue);
  ASSERT_TRUE(jobs);
  const SlurmJobStatus* j = find_named(*jobs, "vramq-ab-5.2", "lab");
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(j->id, 5);
  EXPECT_EQ(find_named(*jobs, "vramq-ab-5.2", "other-cluster"), nullptr);
  EXPECT_EQ(find_named(*jobs, "vramq-ab-5.1", "lab"), nullptr);  // another attempt's name
  EXPECT_EQ(slurm_gpu_uuid("node1", 1), "node1/1");
}

TEST(SlurmStatus, BadSqueueAnswersAreErrors) {
  EXPECT_FALSE(parse_squeue_json("Unable to contact slurm controller"));
  EXPECT_FALSE(parse_squeue_json(R"({"meta": {}})"));
  EXPECT_FALSE(parse_squeue_json(""));
}

TEST(SlurmStatus, GresDetail) {
  auto g = parse_gres_detail("gpu:2(IDX:0-1)");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->name, "gpu");
  EXPECT_EQ(g->count, 2);
  EXPECT_EQ(g->indexes, (std::vector<int>{0, 1}));
  g = parse_gres_detail("gpu:tesla:1(IDX:3)");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->count, 1);
  EXPECT_EQ(g->indexes, std::vector<int>{3});
  g = parse_gres_detail("vram:48K");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->count, 49152);
  EXPECT_TRUE(g->indexes.empty());
  EXPECT_EQ(parse_gres_detail("gpu:1(IDX:0,2-3)")->indexes, (std::vector<int>{0, 2, 3}));
  EXPECT_FALSE(parse_gres_detail("nonsense"));
  EXPECT_FALSE(parse_gres_detail("vram:9223372036854775807K"));  // would overflow
  EXPECT_FALSE(parse_gres_detail("gpu:1(IDX:3-1)"));
}

TEST(SlurmStatus, ScontrolJobExitCodeAndSignal) {
  auto e = parse_scontrol_job(
      "JobId=4 JobName=vq-4 UserId=root(0) JobState=FAILED Reason=NonZeroExitCode "
      "Dependency=(null) ExitCode=3:0 RunTime=00:00:00 Command=/x.sh /bin/sh -c exit 3 "
      "WorkDir=/tmp");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->state, "FAILED");
  EXPECT_EQ(e->reason, "NonZeroExitCode");
  EXPECT_EQ(e->exit_code, 3);
  EXPECT_EQ(e->signal, 0);
  e = parse_scontrol_job("JobId=1 JobState=CANCELLED Reason=None ExitCode=0:15");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->signal, 15);
  EXPECT_FALSE(parse_scontrol_job("slurm_load_jobs error: Invalid job id specified"));
}

TEST(SlurmStatus, ScontrolNodes) {
  auto nodes = parse_scontrol_nodes(
      "NodeName=node1 Arch=x86_64 CPUTot=16 Gres=gpu:2,shard:48,vram:48K GresDrain=N/A "
      "GresUsed=gpu:0,shard:(null):2(IDX:0-1),vram:0 State=MIXED Partitions=main\n"
      "NodeName=node2 Gres=(null) State=DOWN+NOT_RESPONDING Reason=Not responding "
      "[slurm@2026-11-29T19:54:51]\n");
  ASSERT_EQ(nodes.size(), 2U);
  EXPECT_EQ(nodes[0].name, "node1");
  EXPECT_EQ(nodes[0].gres.at("gpu"), 2);
  EXPECT_EQ(nodes[0].gres.at("shard"), 48);
  EXPECT_EQ(nodes[0].gres.at("vram"), 49152);
  EXPECT_TRUE(node_usable(nodes[0].state));
  EXPECT_TRUE(nodes[1].gres.empty());
  EXPECT_FALSE(node_usable(nodes[1].state));
  EXPECT_EQ(nodes[1].reason, "Not responding [slurm@2026-11-29T19:54:51]");
}

TEST(SlurmGpus, ShardsPerGpuFromTheNodeAndUseFromRunningJobs) {
  auto jobs = parse_squeue_json(kSqueue);
  ASSERT_TRUE(jobs);
  auto nodes = parse_scontrol_nodes("NodeName=node1 Gres=gpu:2,shard:48,vram:48K State=MIXED\n");
  core::SlurmSettings s{.shard_mb = 1024};
  std::vector<gpu::GpuInfo> gpus = gpu::slurm_gpus(nodes, *jobs, s, "vramq-ab-");
  ASSERT_EQ(gpus.size(), 2U);
  EXPECT_EQ(gpus[0].uuid, "node1/0");
  EXPECT_EQ(gpus[0].node, "node1");
  EXPECT_EQ(gpus[0].total_mb, 24576);
  EXPECT_EQ(gpus[0].used_mb, 14336);  // job 3 (ours)
  EXPECT_EQ(gpus[0].foreign_mb, 0);
  EXPECT_EQ(gpus[1].used_mb, 6144);  // job 4 (someone else's)
  EXPECT_EQ(gpus[1].foreign_mb, 6144);
  EXPECT_TRUE(gpus[1].error.empty());

  s.mode = core::SlurmVramMode::vram;
  gpus = gpu::slurm_gpus(nodes, {}, s, "vramq-ab-");
  EXPECT_EQ(gpus[0].total_mb, 24576);  // 48K units of 1 MiB over 2 GPUs

  nodes[0].state = "DRAIN";
  nodes[0].reason = "maintenance";
  gpus = gpu::slurm_gpus(nodes, {}, s, "vramq-ab-");
  EXPECT_EQ(gpus[0].error, "node node1 is DRAIN: maintenance");
}

// Ends vramq did not cause: Slurm says 0:0 for them, and none may pass for a success.
TEST(SlurmRunEnd, OnlyARunToItsEndOrASignalHasAnExitStatus) {
  auto end = [](std::string state, int code, int sig, std::string reason = "None") {
    return std::optional<SlurmJobEnd>(SlurmJobEnd{
        .state = std::move(state), .reason = std::move(reason), .exit_code = code, .signal = sig});
  };
  EXPECT_EQ(slurm_run_end(end("COMPLETED", 0, 0), nullptr, 7), (core::RunEnd{.exit_code = 0}));
  EXPECT_EQ(slurm_run_end(end("FAILED", 3, 0), nullptr, 7), (core::RunEnd{.exit_code = 3}));
  EXPECT_EQ(slurm_run_end(end("CANCELLED", 0, 9), nullptr, 7), (core::RunEnd{.signal = 9}));
  for (const char* state : {"CANCELLED", "TIMEOUT", "PREEMPTED", "NODE_FAIL", "BOOT_FAIL",
                            "DEADLINE", "OUT_OF_MEMORY"}) {
    std::optional<core::RunEnd> r = slurm_run_end(end(state, 0, 0), nullptr, 7);
    ASSERT_TRUE(r) << state;
    EXPECT_EQ(r->lost, fmt::format("Slurm ended job 7 as {}", state));
    EXPECT_FALSE(r->exit_code) << state;
    core::RunOutcome o = core::run_outcome({}, *r);
    EXPECT_EQ(o.state, core::JobState::failed) << state;
  }
  EXPECT_EQ(slurm_run_end(end("TIMEOUT", 0, 0, "TimeLimit"), nullptr, 7)->lost,
            "Slurm ended job 7 as TIMEOUT: TimeLimit");
  // scontrol has forgotten it: squeue's last word and its raw wait status decide.
  SlurmJobStatus seen{.id = 7, .state = "COMPLETED", .raw_exit = 768};
  EXPECT_EQ(slurm_run_end(std::nullopt, &seen, 7), (core::RunEnd{.exit_code = 3}));
  seen.state = "FAILED";
  seen.raw_exit = 9;
  EXPECT_EQ(slurm_run_end(std::nullopt, &seen, 7), (core::RunEnd{.signal = 9}));
  seen.state = "PREEMPTED";
  seen.raw_exit = 0;
  EXPECT_EQ(slurm_run_end(std::nullopt, &seen, 7)->lost, "Slurm ended job 7 as PREEMPTED");
  EXPECT_FALSE(slurm_run_end(std::nullopt, nullptr, 7));
}

TEST(SlurmRunRecord, WhatIsWrittenIsReadBackAndAnythingElseRefused) {
  SlurmRunRecord r{
      .cluster = "lab", .name = "vramq-0a1b2c3d-7.1", .slurm_id = 412, .unclear = true};
  EXPECT_EQ(parse_run_record(format_run_record(r)), r);
  SlurmRunRecord before_sbatch{.cluster = "lab", .name = "vramq-0a1b2c3d-8.2"};
  EXPECT_EQ(parse_run_record(format_run_record(before_sbatch)), before_sbatch);
  EXPECT_EQ(parse_run_record("name=n\nfuture_key=x\n"), (SlurmRunRecord{.name = "n"}));
  for (const char* bad : {"", "cluster=lab\n", "name=n\nslurm_id=12x\n", "name=n\nslurm_id=-1\n",
                          "name=n\nunclear=yes\n", "name=n\ngarbage\n"}) {
    EXPECT_FALSE(parse_run_record(bad)) << bad;
  }
}

}  // namespace
}  // namespace vramq::exec
