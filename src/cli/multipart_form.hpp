#pragma once
// A submit with files as multipart/form-data (vramq submit --file NAME=PATH): the job's JSON as
// the part "job", then each file as the part NAME (server/upload_reader.hpp reads it). The files
// are read whole into memory: the server streams them to disk, and the CLI keeps it simple.

#include <string>
#include <vector>

#include "core/error.hpp"

namespace vramq::cli {

struct Form {
  std::string boundary;
  std::string body;
};

// `files`: "NAME=PATH" each; an error names the one that is malformed or cannot be read.
core::Result<Form> multipart_submit(const std::string& job, const std::vector<std::string>& files);

}  // namespace vramq::cli
