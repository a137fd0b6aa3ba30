#include "app/config_watch.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <vector>

namespace sluice::app {

namespace {

std::string describe(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return path + " missing\n";
    return path + ' ' + std::to_string(st.st_size) + ' ' + std::to_string(st.st_mtim.tv_sec) + '.' +
           std::to_string(st.st_mtim.tv_nsec) + ' ' + std::to_string(st.st_ino) + '\n';
}

}  // namespace

std::string files_fingerprint(const std::string& config_path, const std::string& schemas_dir,
                              const std::vector<std::string>& also) {
    namespace fs = std::filesystem;
    std::vector<std::string> files;
    std::error_code ec;
    auto options = fs::directory_options::follow_directory_symlink |
                   fs::directory_options::skip_permission_denied;
    for (fs::recursive_directory_iterator it(schemas_dir, options, ec), end; !ec && it != end;
         it.increment(ec)) {
        std::error_code type_ec;
        if (it->is_regular_file(type_ec)) files.push_back(it->path().string());
    }
    std::sort(files.begin(), files.end());  // directory order is not stable
    std::string out = describe(config_path);
    if (ec) out += schemas_dir + " unreadable\n";
    for (const auto& f : files) out += describe(f);
    for (const auto& f : also) out += describe(f);
    return out;
}

}  // namespace sluice::app
