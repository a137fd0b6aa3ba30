#pragma once

#include <string>
#include <vector>

namespace sluice::app {

// A summary of the files a reload reads: the config file, every file under the
// schemas folder and the `also` files (certificates and keys), each as path, size, modification
// time and inode. Symlinks are followed, because a Kubernetes ConfigMap volume is symlinks into a
// timestamped folder that kubelet swaps atomically; the swap changes every file's inode. Two equal
// fingerprints: nothing a reload would read has changed. A missing or unreadable file is part of
// the fingerprint too, never an error.
std::string files_fingerprint(const std::string& config_path, const std::string& schemas_dir,
                              const std::vector<std::string>& also = {});

}  // namespace sluice::app
