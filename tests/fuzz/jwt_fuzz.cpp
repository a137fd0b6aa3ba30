// Bearer credentials are the client's bytes: a JWT reaches auth::jwt_verifier before
// anything else of the request is trusted, and an upgrade's Origin header reaches
// auth::origin_allowed. This target feeds both. Properties: a refusal always says why
// in one short UTF-8 sentence (never the token), a verdict does not change when asked again, and a
// token that passes was signed with the target's own secret and names its grants.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "auth/jwt.hpp"
#include "auth/origin.hpp"
#include "fuzz_check.hpp"

using namespace sluice::auth;
using sluice::fuzz::is_utf8;
using sluice::fuzz::require;

namespace {

const jwt_verifier& verifier() {
    static const jwt_verifier v = [] {
        auto path = std::filesystem::temp_directory_path() / "sluice-fuzz-jwt.secret";
        std::ofstream(path) << std::string(48, 's');
        jwt_settings s;
        s.hmac_secrets.push_back({"k1", path.string()});
        s.audience = {"sluice"};
        auto keys = jwt_keyring::load(s);
        std::filesystem::remove(path);
        return jwt_verifier(s, std::move(keys));
    }();
    return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto cut = input.find('\n');
    auto token = input.substr(0, cut);
    constexpr std::int64_t now = 1'800'000'000;
    auto r = verifier().verify(token, now);
    if (!r.ok) {
        require(!r.why.empty() && is_utf8(r.why), "a refusal says why, in UTF-8");
        require(r.why.size() <= 200, "a refusal is one short sentence, not the token");
    } else {
        require(r.expires_at == 0 || now < r.expires_at + 30, "an accepted token has not expired");
        require(is_utf8(r.who.name), "the principal's name is UTF-8");
    }
    auto again = verifier().verify(token, now);
    require(again.ok == r.ok && again.why == r.why, "a verdict does not change when asked again");

    if (cut != std::string_view::npos) {
        auto origin = input.substr(cut + 1);
        bool own = origin_allowed(origin, "broker:8080", {});
        require(own == origin_allowed(origin, "broker:8080", {}), "origin checks are stable");
        origin_allowed(origin, "broker:8080", {"https://*.example.com", "null"});
        origin_entry_problem(origin);
    }
    return 0;
}
